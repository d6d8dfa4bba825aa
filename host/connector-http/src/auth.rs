//! Who may call the HTTP API: bearer tokens with topic scopes (`[auth]`).
//!
//! ```toml
//! [[auth.tokens]]
//! name = "erp"
//! token = "${ERP_TOKEN}"        # or sha256 = "<hex digest of the token>"
//! publish = ["orders", "invoices.*"]
//! read = ["invoices.checked"]   # server-sent events, tail, subscriptions
//! admin = false                 # subscription management and other admin endpoints
//! ```
//!
//! Clients send `Authorization: Bearer <token>`, or, on a TLS listener with
//! `[hub.tls] client_ca`, present a client certificate that an entry names with
//! `client_cert_subject = "CN=erp"` or `client_cert_sha256 = "<fingerprint>"` (see
//! [`crate::tls`]); a request with an `Authorization` header is judged by the header. A missing, malformed or unknown token is
//! answered `401` (with `WWW-Authenticate: Bearer`), a known token used outside its scopes
//! `403`; both as `application/problem+json` that never quotes the token. Presented tokens
//! are hashed (SHA-256) and the digest compared with every configured digest in constant
//! time, so neither the comparison's timing nor a `sha256 =` entry reveals a token.
//!
//! Every endpoint asks [`Authorizer::check`] for the [`Scope`] it needs:
//!
//! ```
//! use weft_connector_http::auth::{AuthConfig, Authorizer, Scope, TokenConfig};
//! let config = AuthConfig {
//!     tokens: vec![TokenConfig {
//!         name: "erp".into(),
//!         token: Some("s3cret-token-value".into()),
//!         publish: vec!["invoices.*".into()],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let auth = Authorizer::new(&config, "0.0.0.0:8080".parse().ok()).unwrap();
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", "Bearer s3cret-token-value".parse().unwrap());
//! assert!(auth.check(&headers, Scope::Publish("invoices.in")).is_ok());
//! assert_eq!(auth.check(&headers, Scope::Read("invoices.in")).unwrap_err().status(), 403);
//! assert_eq!(auth.check(&http::HeaderMap::new(), Scope::Publish("x")).unwrap_err().status(), 401);
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use http_body_util::Full;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use weft_connector::Finding;

/// `[auth]`: the tokens that may call the HTTP API and what each may do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether requests without an `Authorization` header are served, with every right
    /// (publish and read on every topic, admin). Unset: `true` when the listener is on a
    /// loopback address and no token is configured, `false` otherwise. A listener on any
    /// other address without tokens is refused unless this is `true` (e.g. behind a
    /// gateway that authenticates).
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// Who may read `/metrics`: `open` (default: anyone who reaches the port) or `token`
    /// (any configured token, whatever its scopes). `/healthz` and `/readyz` stay open.
    #[serde(default)]
    pub metrics: MetricsAccess,
    /// The bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// `[auth] metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// `/metrics` needs no token.
    #[default]
    Open,
    /// `/metrics` needs a configured token (any scopes).
    Token,
}

/// `[[auth.tokens]]`: one bearer token and its scopes.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token's name: shown in logs and problems instead of the token.
    pub name: String,
    /// The token itself, usually `"${VAR}"` from the environment (at least 16
    /// characters). Exactly one of `token` and `sha256` is set.
    #[serde(default)]
    pub token: Option<String>,
    /// The lowercase or uppercase hex SHA-256 digest of the token (64 hex digits), so the
    /// configuration does not hold the token: `printf %s "$TOKEN" | sha256sum`.
    #[serde(default)]
    pub sha256: Option<String>,
    /// A client certificate (TLS listener with `[hub.tls] client_ca`) whose subject has
    /// these attributes, e.g. `"CN=erp"` or `"CN=erp, O=Acme"`, is this token (its other
    /// subject attributes do not matter; attribute names are case-insensitive, values
    /// exact; no commas inside values).
    #[serde(default)]
    pub client_cert_subject: Option<String>,
    /// A client certificate (TLS listener with `[hub.tls] client_ca`) with this SHA-256
    /// fingerprint of its DER form (64 hex digits, `:` allowed: `openssl x509 -noout
    /// -fingerprint -sha256`) is this token.
    #[serde(default)]
    pub client_cert_sha256: Option<String>,
    /// Topics the token may post events to: names, `prefix.*` (every topic starting with
    /// `prefix.`) or `*` (every topic).
    #[serde(default)]
    pub publish: Vec<String>,
    /// Topics the token may read (server-sent events, tail, subscriptions); same patterns.
    #[serde(default)]
    pub read: Vec<String>,
    /// Subscription management and the other admin endpoints.
    #[serde(default)]
    pub admin: bool,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field(
                "token",
                &self.token.as_ref().map(|_| weft_connector::redact::MASK),
            )
            .field("sha256", &self.sha256)
            .field("client_cert_subject", &self.client_cert_subject)
            .field("client_cert_sha256", &self.client_cert_sha256)
            .field("publish", &self.publish)
            .field("read", &self.read)
            .field("admin", &self.admin)
            .finish()
    }
}

/// The least length of a `token =` value.
pub const MIN_TOKEN_LEN: usize = 16;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Post events to a topic.
    Publish(&'a str),
    /// Read a topic (server-sent events, tail, subscriptions).
    Read(&'a str),
    /// Admin endpoints (subscription management, …).
    Admin,
    /// `GET /metrics`.
    Metrics,
}

impl std::fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Publish(t) => write!(f, "publish to topic `{t}`"),
            Scope::Read(t) => write!(f, "read topic `{t}`"),
            Scope::Admin => write!(f, "use admin endpoints"),
            Scope::Metrics => write!(f, "read metrics"),
        }
    }
}

/// Who made an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No token (anonymous access is on, or the endpoint is open).
    Anonymous,
    /// The token with this `name`.
    Token(Arc<str>),
}

impl Principal {
    /// The token's name, or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Token(name) => name,
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable credential: `401`.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A known token outside its scopes: `403`.
    #[error("token `{token}` may not {scope}")]
    Forbidden {
        /// The token's name.
        token: Arc<str>,
        /// What was asked, e.g. "publish to topic `orders`".
        scope: String,
    },
}

impl AuthError {
    /// `401` or `403`.
    pub fn status(&self) -> u16 {
        self.status_code().as_u16()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// The `application/problem+json` body (RFC 9457); never contains the token.
    pub fn problem(&self) -> serde_json::Value {
        let title = match self {
            AuthError::Unauthenticated(_) => "unauthorized",
            AuthError::Forbidden { .. } => "forbidden",
        };
        serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": self.status(),
            "detail": self.to_string(),
        })
    }

    /// The whole response: status, `WWW-Authenticate` for `401`, problem+json body.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut builder = Response::builder()
            .status(self.status_code())
            .header(header::CONTENT_TYPE, "application/problem+json");
        match self {
            AuthError::Unauthenticated(_) => {
                builder = builder.header(
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"weft\", error=\"invalid_token\"",
                );
            }
            AuthError::Forbidden { .. } => {
                builder = builder.header(
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"weft\", error=\"insufficient_scope\"",
                );
            }
        }
        builder
            .body(Full::new(Bytes::from(self.problem().to_string())))
            .unwrap_or_default()
    }
}

/// A topic scope pattern: `*`, `prefix*` (written `prefix.*`) or an exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TopicPattern {
    Any,
    Prefix(String),
    Exact(String),
}

impl TopicPattern {
    fn parse(pattern: &str) -> Result<TopicPattern, String> {
        let valid = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if pattern == "*" {
            return Ok(TopicPattern::Any);
        }
        if let Some(prefix) = pattern.strip_suffix('*') {
            if prefix.is_empty() || !valid(prefix) {
                return Err(format!(
                    "`{pattern}`: a pattern is a topic name, `prefix.*` or `*` (topic names use a-z, A-Z, 0-9, `.`, `_`, `-`)"
                ));
            }
            return Ok(TopicPattern::Prefix(prefix.to_string()));
        }
        if pattern.is_empty() || pattern.len() > 128 || !valid(pattern) {
            return Err(format!(
                "`{pattern}` is not a topic name (1 to 128 of a-z, A-Z, 0-9, `.`, `_`, `-`) nor a pattern (`prefix.*`, `*`)"
            ));
        }
        Ok(TopicPattern::Exact(pattern.to_string()))
    }

    fn matches(&self, topic: &str) -> bool {
        match self {
            TopicPattern::Any => true,
            TopicPattern::Prefix(p) => topic.len() > p.len() && topic.starts_with(p.as_str()),
            TopicPattern::Exact(t) => t == topic,
        }
    }
}

struct Token {
    name: Arc<str>,
    /// `None`: a client-certificate-only entry.
    digest: Option<[u8; 32]>,
    cert_subject: Option<Vec<(String, String)>>,
    cert_sha256: Option<[u8; 32]>,
    publish: Vec<TopicPattern>,
    read: Vec<TopicPattern>,
    admin: bool,
}

/// Decides, per request, who calls and whether they may do what they ask.
pub struct Authorizer {
    anonymous: bool,
    metrics_open: bool,
    tokens: Vec<Token>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("anonymous", &self.anonymous)
            .field("metrics_open", &self.metrics_open)
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &*t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AuthConfig {
    /// Whether requests without a token are served, for a listener on `listen`.
    pub fn anonymous_allowed(&self, listen: Option<SocketAddr>) -> bool {
        self.anonymous.unwrap_or_else(|| {
            self.tokens.is_empty() && listen.is_none_or(|a| a.ip().is_loopback())
        })
    }

    /// Every problem of `[auth]` for a listener on `listen` (`None`: no HTTP server):
    /// fields relative to `auth`, e.g. `tokens[0].sha256`.
    pub fn check(&self, listen: Option<SocketAddr>) -> Vec<Finding> {
        let mut found = Vec::new();
        let mut names = std::collections::HashSet::new();
        let mut digests = std::collections::HashMap::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let at = format!("tokens[{i}]");
            if t.name.is_empty() {
                found.push(Finding::error(format!("{at}.name"), "must not be empty"));
            } else if !names.insert(t.name.as_str()) {
                found.push(Finding::error(
                    format!("{at}.name"),
                    format!("duplicate token name `{}`", t.name),
                ));
            }
            let has_cert = t.client_cert_subject.is_some() || t.client_cert_sha256.is_some();
            if let Some(subject) = &t.client_cert_subject
                && let Err(e) = parse_subject(subject)
            {
                found.push(Finding::error(format!("{at}.client_cert_subject"), e));
            }
            if let Some(fingerprint) = &t.client_cert_sha256
                && parse_fingerprint(fingerprint).is_none()
            {
                found.push(Finding::error(
                    format!("{at}.client_cert_sha256"),
                    "not a SHA-256 fingerprint: 64 hex digits, `:` allowed (`openssl x509 -noout -fingerprint -sha256 -in client.pem`)",
                ));
            }
            match token_digest(t) {
                Ok(None) if !has_cert => found.push(Finding::error(
                    at.clone(),
                    "needs `token = \"${VAR}\"`, `sha256 = \"<hex digest of the token>\"`, `client_cert_subject` or `client_cert_sha256`",
                )),
                Ok(None) => {}
                Ok(Some(digest)) => {
                    if let Some(other) = digests.insert(digest, t.name.as_str()) {
                        found.push(Finding::error(
                            at.clone(),
                            format!("token `{}` has the same value as token `{other}`", t.name),
                        ));
                    }
                }
                Err((field, message)) => {
                    found.push(Finding::error(format!("{at}{field}"), message))
                }
            }
            for (kind, patterns) in [("publish", &t.publish), ("read", &t.read)] {
                for (j, p) in patterns.iter().enumerate() {
                    if let Err(e) = TopicPattern::parse(p) {
                        found.push(Finding::error(format!("{at}.{kind}[{j}]"), e));
                    }
                }
            }
            if t.publish.is_empty() && t.read.is_empty() && !t.admin {
                found.push(Finding::warning(
                    at.clone(),
                    format!(
                        "token `{}` has no scope (publish, read, admin): it can only read /metrics",
                        t.name
                    ),
                ));
            }
        }
        if let Some(addr) = listen
            && !addr.ip().is_loopback()
            && self.tokens.is_empty()
            && self.anonymous != Some(true)
        {
            found.push(Finding::error(
                "",
                format!(
                    "hub.listen {addr} is not a loopback address: configure [[auth.tokens]] (clients send Authorization: Bearer <token>), or set [auth] anonymous = true if something in front of weft authenticates"
                ),
            ));
        }
        if self.anonymous == Some(true) && !self.tokens.is_empty() {
            found.push(Finding::warning(
                "anonymous",
                "anonymous = true: requests without a token may publish to and read every topic; the tokens only matter to clients that send one",
            ));
        }
        found
    }
}

/// The SHA-256 digest a token entry stands for (`None`: no bearer token, e.g. a
/// client-certificate-only entry), or (field suffix, problem).
fn token_digest(t: &TokenConfig) -> Result<Option<[u8; 32]>, (&'static str, String)> {
    match (&t.token, &t.sha256) {
        (Some(_), Some(_)) => Err(("", "set either `token` or `sha256`, not both".to_string())),
        (None, None) => Ok(None),
        (Some(token), None) => {
            if token.chars().count() < MIN_TOKEN_LEN {
                return Err((
                    ".token",
                    format!(
                        "too short: a token has at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
                    ),
                ));
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err((
                    ".token",
                    "contains whitespace or control characters (not sendable in an Authorization header)".to_string(),
                ));
            }
            Ok(Some(Sha256::digest(token.as_bytes()).into()))
        }
        (None, Some(hex_digest)) => {
            let bytes = hex::decode(hex_digest.trim())
                .ok()
                .filter(|b| b.len() == 32);
            bytes
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Some)
                .ok_or((
                    ".sha256",
                    "not a SHA-256 digest: 64 hex digits (`printf %s \"$TOKEN\" | sha256sum`)"
                        .to_string(),
                ))
        }
    }
}

/// `"CN=erp, O=Acme"` as (uppercase attribute name, value) pairs.
fn parse_subject(subject: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in subject.split(',') {
        let (name, value) = part.split_once('=').ok_or_else(|| {
            format!(
                "`{}` is not `NAME=value` (e.g. \"CN=erp, O=Acme\")",
                part.trim()
            )
        })?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || value.is_empty() {
            return Err(format!(
                "`{}` is not `NAME=value` (e.g. \"CN=erp, O=Acme\")",
                part.trim()
            ));
        }
        pairs.push((name.to_ascii_uppercase(), value.to_string()));
    }
    Ok(pairs)
}

/// A SHA-256 fingerprint in hex, with or without `:` separators.
fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex_digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    hex::decode(hex_digits)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
}

/// The subject attributes of a DER certificate as (uppercase short name, value) pairs.
fn certificate_subject(der: &[u8]) -> Option<Vec<(String, String)>> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let mut pairs = Vec::new();
    for attr in cert.subject().iter_attributes() {
        let name = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
            .map(str::to_string)
            .unwrap_or_else(|_| attr.attr_type().to_id_string());
        if let Ok(value) = attr.as_str() {
            pairs.push((name.to_ascii_uppercase(), value.to_string()));
        }
    }
    Some(pairs)
}

/// The token a verified TLS client certificate stands for
/// ([`Authorizer::identify_client_cert`]); the ingress puts it into each request's
/// extensions, where [`Authorizer::check_request`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertIdentity(usize);

impl Authorizer {
    /// Builds the authorizer for a listener on `listen`; refuses a configuration
    /// [`AuthConfig::check`] finds errors in.
    pub fn new(config: &AuthConfig, listen: Option<SocketAddr>) -> Result<Authorizer, String> {
        let errors: Vec<String> = config
            .check(listen)
            .into_iter()
            .filter(|f| f.severity == weft_connector::Severity::Error)
            .map(|f| {
                if f.field.is_empty() {
                    format!("auth: {}", f.message)
                } else {
                    format!("auth.{}: {}", f.field, f.message)
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let patterns = |list: &[String]| -> Vec<TopicPattern> {
            list.iter()
                .filter_map(|p| TopicPattern::parse(p).ok())
                .collect()
        };
        let tokens = config
            .tokens
            .iter()
            .filter_map(|t| {
                Some(Token {
                    name: t.name.as_str().into(),
                    digest: token_digest(t).ok()?,
                    cert_subject: t
                        .client_cert_subject
                        .as_deref()
                        .and_then(|s| parse_subject(s).ok()),
                    cert_sha256: t.client_cert_sha256.as_deref().and_then(parse_fingerprint),
                    publish: patterns(&t.publish),
                    read: patterns(&t.read),
                    admin: t.admin,
                })
            })
            .collect();
        Ok(Authorizer {
            anonymous: config.anonymous_allowed(listen),
            metrics_open: config.metrics == MetricsAccess::Open,
            tokens,
        })
    }

    /// Lets everything through without a token (tests, embedding on loopback).
    pub fn open() -> Authorizer {
        Authorizer {
            anonymous: true,
            metrics_open: true,
            tokens: Vec::new(),
        }
    }

    /// Whether requests without a token are served.
    pub fn anonymous(&self) -> bool {
        self.anonymous
    }

    /// Whether some token names a client certificate (`client_cert_subject` or
    /// `client_cert_sha256`).
    pub fn uses_client_certs(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| t.cert_subject.is_some() || t.cert_sha256.is_some())
    }

    /// The token a client certificate (DER, already verified against `[hub.tls]
    /// client_ca`) stands for: the first entry whose `client_cert_sha256` is the
    /// certificate's fingerprint or whose `client_cert_subject` attributes are all in its
    /// subject.
    pub fn identify_client_cert(&self, der: &[u8]) -> Option<ClientCertIdentity> {
        if !self.uses_client_certs() {
            return None;
        }
        let fingerprint: [u8; 32] = Sha256::digest(der).into();
        let subject = certificate_subject(der).unwrap_or_default();
        self.tokens
            .iter()
            .position(|t| {
                t.cert_sha256 == Some(fingerprint)
                    || t.cert_subject
                        .as_ref()
                        .is_some_and(|wanted| wanted.iter().all(|w| subject.contains(w)))
            })
            .map(ClientCertIdentity)
    }

    /// [`Authorizer::check`] for a whole request: also takes the verified client
    /// certificate's [`ClientCertIdentity`] from its extensions (used when the request
    /// has no `Authorization` header).
    pub fn check_request<B>(
        &self,
        req: &http::Request<B>,
        scope: Scope<'_>,
    ) -> Result<Principal, AuthError> {
        self.check_with(req.headers(), req.extensions().get(), scope)
    }

    /// Who sent `headers` and whether they may do `scope`. A request that sends an
    /// `Authorization` header is judged by it, even where anonymous access is on.
    pub fn check(&self, headers: &HeaderMap, scope: Scope<'_>) -> Result<Principal, AuthError> {
        self.check_with(headers, None, scope)
    }

    /// [`Authorizer::check_request`] for a request head (endpoints that read the body
    /// first, such as the Subscriptions API).
    pub fn check_parts(
        &self,
        parts: &http::request::Parts,
        scope: Scope<'_>,
    ) -> Result<Principal, AuthError> {
        self.check_with(&parts.headers, parts.extensions.get(), scope)
    }

    /// Whether the request may do `scope`; a "no" is not counted as a refusal (for
    /// filtering what a caller sees, e.g. the subscriptions listed).
    pub fn permits(&self, parts: &http::request::Parts, scope: Scope<'_>) -> bool {
        self.decide(&parts.headers, parts.extensions.get(), scope)
            .is_ok()
    }

    /// Who sent the request, without asking for a scope: `Err` (`401`, counted) when it
    /// carries no usable credential and anonymous access is off.
    pub fn principal(&self, parts: &http::request::Parts) -> Result<Principal, AuthError> {
        let cert = parts.extensions.get();
        match self.decide(&parts.headers, cert, Scope::Metrics) {
            Ok(Principal::Anonymous) if !self.anonymous => {
                // `/metrics` may be open; other endpoints are not
                self.check_with(&parts.headers, cert, Scope::Admin)
                    .map(|_| Principal::Anonymous)
            }
            Ok(p) => Ok(p),
            Err(e) => {
                metrics::counter!("weft_http_auth_denied_total", "reason" => "unauthenticated")
                    .increment(1);
                Err(e)
            }
        }
    }

    fn check_with(
        &self,
        headers: &HeaderMap,
        cert: Option<&ClientCertIdentity>,
        scope: Scope<'_>,
    ) -> Result<Principal, AuthError> {
        let result = self.decide(headers, cert, scope);
        if let Err(e) = &result {
            let reason = match e {
                AuthError::Unauthenticated(_) => "unauthenticated",
                AuthError::Forbidden { .. } => "forbidden",
            };
            metrics::counter!("weft_http_auth_denied_total", "reason" => reason).increment(1);
        }
        result
    }

    fn decide(
        &self,
        headers: &HeaderMap,
        cert: Option<&ClientCertIdentity>,
        scope: Scope<'_>,
    ) -> Result<Principal, AuthError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            if let Some(token) = cert.and_then(|c| self.tokens.get(c.0)) {
                return Self::allow(token, scope);
            }
            if self.anonymous && scope != Scope::Metrics
                || scope == Scope::Metrics && self.metrics_open
            {
                return Ok(Principal::Anonymous);
            }
            return Err(AuthError::Unauthenticated(
                "this endpoint needs a bearer token: send `Authorization: Bearer <token>`",
            ));
        };
        let token = value
            .as_bytes()
            .split_at_checked(7)
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|(_, token)| token.trim_ascii())
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Unauthenticated(
                "the Authorization header is not `Bearer <token>`",
            ))?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        // compare with every configured digest (no early exit)
        let mut found: Option<&Token> = None;
        for t in &self.tokens {
            if let Some(d) = &t.digest
                && bool::from(d[..].ct_eq(&digest[..]))
            {
                found = Some(t);
            }
        }
        let token = found.ok_or(AuthError::Unauthenticated("unknown bearer token"))?;
        Self::allow(token, scope)
    }

    fn allow(token: &Token, scope: Scope<'_>) -> Result<Principal, AuthError> {
        let allowed = match scope {
            Scope::Publish(topic) => token.publish.iter().any(|p| p.matches(topic)),
            Scope::Read(topic) => token.read.iter().any(|p| p.matches(topic)),
            Scope::Admin => token.admin,
            Scope::Metrics => true,
        };
        if allowed {
            Ok(Principal::Token(token.name.clone()))
        } else {
            Err(AuthError::Forbidden {
                token: token.name.clone(),
                scope: scope.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERP: &str = "erp-token-0123456789";
    const OPS: &str = "ops-token-9876543210";

    fn config() -> AuthConfig {
        AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "erp".into(),
                    token: Some(ERP.into()),
                    publish: vec!["orders".into(), "invoices.*".into()],
                    read: vec!["invoices.checked".into()],
                    ..Default::default()
                },
                TokenConfig {
                    name: "ops".into(),
                    sha256: Some(hex::encode(Sha256::digest(OPS.as_bytes()))),
                    admin: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn scopes_and_patterns() {
        let auth = Authorizer::new(&config(), "0.0.0.0:1".parse().ok()).unwrap();
        let erp = bearer(ERP);
        assert_eq!(
            auth.check(&erp, Scope::Publish("orders")),
            Ok(Principal::Token("erp".into()))
        );
        assert!(auth.check(&erp, Scope::Publish("invoices.in")).is_ok());
        assert!(auth.check(&erp, Scope::Publish("invoices.a.b")).is_ok());
        for topic in ["invoices", "invoicesx", "orders.x", "other"] {
            assert_eq!(
                auth.check(&erp, Scope::Publish(topic))
                    .unwrap_err()
                    .status(),
                403,
                "{topic}"
            );
        }
        assert!(auth.check(&erp, Scope::Read("invoices.checked")).is_ok());
        assert_eq!(
            auth.check(&erp, Scope::Read("orders"))
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(auth.check(&erp, Scope::Admin).unwrap_err().status(), 403);
        // the sha256 form
        let ops = bearer(OPS);
        assert!(auth.check(&ops, Scope::Admin).is_ok());
        assert_eq!(
            auth.check(&ops, Scope::Publish("orders"))
                .unwrap_err()
                .status(),
            403
        );
        // scheme is case-insensitive
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("bearer {ERP}").parse().unwrap(),
        );
        assert!(auth.check(&h, Scope::Publish("orders")).is_ok());
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_401_and_never_quoted() {
        let auth = Authorizer::new(&config(), "0.0.0.0:1".parse().ok()).unwrap();
        let unknown = "not-a-configured-token-value";
        for headers in [HeaderMap::new(), bearer(unknown), {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                format!("Basic {ERP}").parse().unwrap(),
            );
            h
        }] {
            let e = auth.check(&headers, Scope::Publish("orders")).unwrap_err();
            assert_eq!(e.status(), 401);
            let body = e.problem().to_string();
            assert!(!body.contains(unknown) && !body.contains(ERP), "{body}");
            let r = e.response();
            assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        // a prefix or extension of a real token is not it
        for t in [ERP[..ERP.len() - 1].to_string(), format!("{ERP}x")] {
            assert_eq!(
                auth.check(&bearer(&t), Scope::Publish("orders"))
                    .unwrap_err()
                    .status(),
                401
            );
        }
        let e = auth.check(&bearer(ERP), Scope::Admin).unwrap_err();
        assert!(!e.problem().to_string().contains(ERP));
        assert!(e.problem()["detail"].as_str().unwrap().contains("`erp`"));
    }

    #[test]
    fn anonymous_defaults() {
        let loopback = "127.0.0.1:8080".parse().ok();
        let public = "0.0.0.0:8080".parse().ok();
        let none = AuthConfig::default();
        assert!(none.anonymous_allowed(loopback));
        assert!(none.check(loopback).is_empty());
        assert!(!none.anonymous_allowed(public));
        let errors = none.check(public);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("not a loopback"), "{errors:?}");
        assert!(Authorizer::new(&none, public).is_err());
        let open = AuthConfig {
            anonymous: Some(true),
            ..Default::default()
        };
        assert!(open.check(public).is_empty());
        let auth = Authorizer::new(&open, public).unwrap();
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Publish("x")),
            Ok(Principal::Anonymous)
        );
        // tokens configured: loopback too needs one, unless anonymous = true
        let auth = Authorizer::new(&config(), loopback).unwrap();
        assert!(!auth.anonymous());
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Publish("orders"))
                .unwrap_err()
                .status(),
            401
        );
        // anonymous on, a wrong token sent: still 401
        let mut with = config();
        with.anonymous = Some(true);
        let auth = Authorizer::new(&with, public).unwrap();
        assert!(auth.check(&HeaderMap::new(), Scope::Publish("x")).is_ok());
        assert_eq!(
            auth.check(&bearer("wrong-token-wrong-token"), Scope::Publish("x"))
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn metrics_access() {
        let mut c = config();
        let auth = Authorizer::new(&c, None).unwrap();
        assert!(auth.check(&HeaderMap::new(), Scope::Metrics).is_ok());
        c.metrics = MetricsAccess::Token;
        c.anonymous = Some(true);
        let auth = Authorizer::new(&c, None).unwrap();
        assert_eq!(
            auth.check(&HeaderMap::new(), Scope::Metrics)
                .unwrap_err()
                .status(),
            401
        );
        assert!(auth.check(&bearer(OPS), Scope::Metrics).is_ok());
    }

    #[test]
    fn client_certificates_identify_their_token() {
        let cert = |cn: &str, org: &str| {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, org);
            let key = rcgen::KeyPair::generate().unwrap();
            params.self_signed(&key).unwrap().der().to_vec()
        };
        let erp = cert("erp", "Acme");
        let pinned = cert("pinned", "Acme");
        let fingerprint = hex::encode_upper(Sha256::digest(&pinned));
        let with_colons = fingerprint
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        let c = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "erp".into(),
                    client_cert_subject: Some("cn=erp, O=Acme".into()),
                    publish: vec!["orders".into()],
                    ..Default::default()
                },
                TokenConfig {
                    name: "pinned".into(),
                    token: Some(ERP.into()),
                    client_cert_sha256: Some(with_colons),
                    read: vec!["orders".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert!(c.check(None).is_empty(), "{:?}", c.check(None));
        let auth = Authorizer::new(&c, "0.0.0.0:1".parse().ok()).unwrap();
        assert!(auth.uses_client_certs());
        let request = |der: &[u8]| {
            let mut r = http::Request::new(());
            if let Some(id) = auth.identify_client_cert(der) {
                r.extensions_mut().insert(id);
            }
            r
        };
        let r = request(&erp);
        assert_eq!(
            auth.check_request(&r, Scope::Publish("orders")),
            Ok(Principal::Token("erp".into()))
        );
        assert_eq!(
            auth.check_request(&r, Scope::Read("orders"))
                .unwrap_err()
                .status(),
            403
        );
        let r = request(&pinned);
        assert!(auth.check_request(&r, Scope::Read("orders")).is_ok());
        // every configured attribute must be in the subject
        assert!(auth.identify_client_cert(&cert("erp", "Other")).is_none());
        assert!(auth.identify_client_cert(&cert("erpx", "Acme")).is_none());
        assert!(auth.identify_client_cert(b"not DER").is_none());
        let r = request(&cert("nobody", "Acme"));
        assert_eq!(
            auth.check_request(&r, Scope::Publish("orders"))
                .unwrap_err()
                .status(),
            401
        );
        // the header wins over the certificate
        let mut r = request(&erp);
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Bearer wrong-token-wrong-token".parse().unwrap(),
        );
        assert_eq!(
            auth.check_request(&r, Scope::Publish("orders"))
                .unwrap_err()
                .status(),
            401
        );
        // problems are located
        let bad = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "a".into(),
                    client_cert_subject: Some("erp".into()),
                    admin: true,
                    ..Default::default()
                },
                TokenConfig {
                    name: "b".into(),
                    client_cert_sha256: Some("abc".into()),
                    admin: true,
                    ..Default::default()
                },
                TokenConfig {
                    name: "c".into(),
                    admin: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let found: Vec<String> = bad
            .check(None)
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("tokens[0].client_cert_subject: `erp`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("tokens[1].client_cert_sha256: not a SHA-256")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|f| f.starts_with("tokens[2]: needs")),
            "{found:?}"
        );
    }

    #[test]
    fn config_problems_are_located() {
        let c = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "a".into(),
                    token: Some("short".into()),
                    publish: vec!["bad topic".into(), "x*y".into(), "*".into()],
                    ..Default::default()
                },
                TokenConfig {
                    name: "a".into(),
                    sha256: Some("abc".into()),
                    publish: vec!["*".into()],
                    ..Default::default()
                },
                TokenConfig {
                    name: "b".into(),
                    token: Some(ERP.into()),
                    sha256: Some(hex::encode([0u8; 32])),
                    admin: true,
                    ..Default::default()
                },
                TokenConfig {
                    name: "c".into(),
                    sha256: Some(hex::encode(Sha256::digest(ERP.as_bytes()))),
                    admin: true,
                    ..Default::default()
                },
                TokenConfig {
                    name: "d".into(),
                    token: Some(ERP.into()),
                    admin: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let found: Vec<String> = c
            .check(None)
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let has = |needle: &str| found.iter().any(|f| f.starts_with(needle));
        assert!(has("tokens[0].token: too short"), "{found:?}");
        assert!(has("tokens[0].publish[0]: `bad topic`"), "{found:?}");
        assert!(has("tokens[0].publish[1]: `x*y`"), "{found:?}");
        assert!(!has("tokens[0].publish[2]"), "{found:?}");
        assert!(has("tokens[1].name: duplicate"), "{found:?}");
        assert!(has("tokens[1].sha256: not a SHA-256"), "{found:?}");
        assert!(has("tokens[2]: set either"), "{found:?}");
        assert!(
            has("tokens[4]: token `d` has the same value as token `c`"),
            "{found:?}"
        );
        // the debug form of a token entry hides the token
        assert!(!format!("{:?}", c.tokens[4]).contains(ERP));
    }
}
