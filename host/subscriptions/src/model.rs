//! The subscription object: what is stored ([`Record`]), how a request body becomes one
//! (every problem named by its field), and what the API returns (never the secrets).
//!
//! The body follows the Subscriptions API's OpenAPI document (`Subscription`,
//! `SubscriptionRequest`). weft's own settings live in `config`, a map of strings:
//!
//! | key | meaning |
//! |---|---|
//! | `topic` | the embedded-log topic the subscription reads (required) |
//! | `from` | where a new subscription starts: `latest` (default), `earliest`, a log offset, an RFC 3339 time or an event id |
//! | `paused` | `"true"` stops deliveries (the position is kept; retention waits) |
//! | `concurrency` | deliveries in flight at once, `"1"` (default: in order) to `"64"` |
//! | `max_elapsed_ms` | how long one event is retried before it is dead-lettered (default `[subscriptions] max_elapsed_ms`) |
//! | `secret` | the Standard Webhooks signing key (`whsec_…`): returned once, by the create call; a `PUT` may set a new one |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::filter::{Conditions, Filter};

/// How a sink is authenticated (`sinkcredential`); write-only: never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "credentialtype", rename_all = "UPPERCASE")]
pub enum Credential {
    /// `Authorization: Basic base64(identifier:secret)`.
    Plain {
        /// The account or user name.
        identifier: String,
        /// The password.
        secret: String,
    },
    /// `Authorization: <accesstokentype> <accesstoken>`.
    Accesstoken {
        /// The token.
        accesstoken: String,
        /// `bearer` unless given.
        accesstokentype: String,
        /// When the token expires (RFC 3339), as given.
        accesstokenexpiresutc: String,
    },
}

impl Credential {
    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        use base64::Engine as _;
        match self {
            Credential::Plain { identifier, secret } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{identifier}:{secret}"))
            ),
            Credential::Accesstoken {
                accesstoken,
                accesstokentype,
                ..
            } => {
                let scheme = if accesstokentype.eq_ignore_ascii_case("bearer") {
                    "Bearer"
                } else {
                    accesstokentype.as_str()
                };
                format!("{scheme} {accesstoken}")
            }
        }
    }
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The subscription's id (assigned by weft).
    pub id: String,
    /// Increases with every update; a running delivery restarts when it changes.
    pub revision: u64,
    /// Only events with this `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Only events with one of these types (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// The filters as given (checked; compiled when the delivery starts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Value>,
    /// Where events are sent.
    pub sink: String,
    /// Always `HTTP` here.
    pub protocol: String,
    /// Headers added to every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The request method (`POST` unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// How the sink is authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
    /// The topic read.
    pub topic: String,
    /// Where a new subscription starts, as given (`latest` by default).
    pub from: String,
    /// Deliveries stopped (position kept).
    #[serde(default)]
    pub paused: bool,
    /// Deliveries in flight at once (1: in order).
    pub concurrency: u32,
    /// How long one event is retried before it is dead-lettered, in milliseconds.
    pub max_elapsed_ms: u64,
    /// The Standard Webhooks signing secret (`whsec_…`).
    pub secret: String,
    /// Who created it (the token's name, or `anonymous`).
    pub owner: String,
}

/// A problem in a request, located by the JSON path of its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// E.g. `config.topic`, `filters[0].exact.type`, `sink`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl From<crate::filter::FilterError> for FieldError {
    fn from(e: crate::filter::FilterError) -> Self {
        FieldError {
            field: e.field,
            message: e.message,
        }
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Defaults and bounds applied to requests.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// `config.max_elapsed_ms` when not given.
    pub max_elapsed_ms: u64,
}

/// The keys weft reads from `config`.
pub const CONFIG_KEYS: [&str; 6] = [
    "topic",
    "from",
    "paused",
    "concurrency",
    "max_elapsed_ms",
    "secret",
];

/// Most deliveries in flight for one subscription.
pub const MAX_CONCURRENCY: u32 = 64;

/// A checked request: everything of a [`Record`] but its identity and secret.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The record, with `id`, `revision`, `secret` and `owner` still empty.
    pub record: Record,
    /// A new secret given in `config.secret` (a `PUT` that rotates the key).
    pub secret: Option<String>,
    /// Whether `sinkcredential` was in the request (a `PUT` without it keeps the stored one).
    pub credential_given: bool,
}

/// Checks a create (`existing: None`) or update request body; every problem is reported.
pub fn parse_request(body: &Value, defaults: &Defaults) -> Result<Proposal, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![field_error(
            "(body)",
            "the request body is a JSON object (a subscription)",
        )]);
    };
    let known = [
        "id",
        "source",
        "types",
        "config",
        "filters",
        "sink",
        "sinkcredential",
        "protocol",
        "protocolsettings",
    ];
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            errors.push(field_error(
                key,
                format!("unknown property: a subscription has {}", known.join(", ")),
            ));
        }
    }
    let protocol = match object.get("protocol") {
        None | Some(Value::Null) => {
            errors.push(field_error("protocol", "required: \"HTTP\""));
            String::new()
        }
        Some(Value::String(p)) if p == "HTTP" => p.clone(),
        Some(Value::String(p))
            if ["MQTT3", "MQTT5", "AMQP", "NATS", "KAFKA"].contains(&p.as_str()) =>
        {
            errors.push(field_error(
                "protocol",
                format!("`{p}` is not delivered by this subscription manager: use \"HTTP\""),
            ));
            String::new()
        }
        Some(other) => {
            errors.push(field_error(
                "protocol",
                format!("`{other}` is not a protocol: use \"HTTP\" (case sensitive)"),
            ));
            String::new()
        }
    };
    let sink = match object.get("sink") {
        Some(Value::String(s)) => match check_sink(s) {
            Ok(()) => s.clone(),
            Err(e) => {
                errors.push(field_error("sink", e));
                String::new()
            }
        },
        None | Some(Value::Null) => {
            errors.push(field_error(
                "sink",
                "required: the URL events are delivered to, e.g. \"https://partner.example/hooks/weft\"",
            ));
            String::new()
        }
        Some(_) => {
            errors.push(field_error("sink", "must be a string (a URL)"));
            String::new()
        }
    };
    let source = match object.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(field_error(
                "source",
                "must be a non-empty string (a URI-reference)",
            ));
            None
        }
    };
    let mut types = Vec::new();
    match object.get("types") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                match t.as_str() {
                    Some(s) if !s.is_empty() => types.push(s.to_string()),
                    _ => errors.push(field_error(
                        &format!("types[{i}]"),
                        "must be a non-empty string (a CloudEvents type)",
                    )),
                }
            }
        }
        Some(_) => errors.push(field_error("types", "must be an array of strings")),
    }
    let mut filters = Vec::new();
    match object.get("filters") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, f) in items.iter().enumerate() {
                match Filter::parse(f, &format!("filters[{i}]")) {
                    Ok(_) => filters.push(f.clone()),
                    Err(e) => errors.push(e.into()),
                }
            }
        }
        Some(_) => errors.push(field_error("filters", "must be an array of filters")),
    }
    let (headers, method) = parse_protocol_settings(object.get("protocolsettings"), &mut errors);
    let credential_given = object.get("sinkcredential").is_some_and(|v| !v.is_null());
    let credential = parse_credential(object.get("sinkcredential"), &mut errors);

    // config
    let empty = Map::new();
    let config = match object.get("config") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            errors.push(field_error(
                "config",
                "must be an object of strings, e.g. {\"topic\": \"orders\"}",
            ));
            &empty
        }
    };
    let mut text = |key: &str| -> Option<String> {
        match config.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errors.push(field_error(
                    &format!("config.{key}"),
                    format!(
                        "must be a string (config values are strings), e.g. \"{}\"",
                        other.to_string().trim_matches('"')
                    ),
                ));
                None
            }
        }
    };
    let topic = text("topic");
    let from = text("from").unwrap_or_else(|| "latest".to_string());
    let paused = text("paused");
    let concurrency = text("concurrency");
    let max_elapsed = text("max_elapsed_ms");
    let secret = text("secret");
    for key in config.keys() {
        if !CONFIG_KEYS.contains(&key.as_str()) {
            errors.push(field_error(
                &format!("config.{key}"),
                format!("unknown key: weft reads {}", CONFIG_KEYS.join(", ")),
            ));
        }
    }
    let topic = match topic {
        Some(t) => match weft_connector_embedded::check_topic(&t) {
            Ok(()) => t,
            Err(e) => {
                errors.push(field_error("config.topic", e.to_string()));
                String::new()
            }
        },
        None => {
            if config.get("topic").is_none() {
                errors.push(field_error(
                    "config.topic",
                    "required: the topic this subscription reads, e.g. {\"topic\": \"invoices.checked\"}",
                ));
            }
            String::new()
        }
    };
    if let Err(e) = check_from(&from) {
        errors.push(field_error("config.from", e));
    }
    let paused = match paused.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            errors.push(field_error(
                "config.paused",
                format!("`{other}`: use \"true\" or \"false\""),
            ));
            false
        }
    };
    let concurrency = match concurrency.as_deref() {
        None => 1,
        Some(c) => {
            match c.parse::<u32>() {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    errors.push(field_error(
                    "config.concurrency",
                    format!("`{c}`: a whole number from 1 (in order, the default) to {MAX_CONCURRENCY}"),
                ));
                    1
                }
            }
        }
    };
    let max_elapsed_ms = match max_elapsed.as_deref() {
        None => defaults.max_elapsed_ms,
        Some(m) => match m.parse::<u64>() {
            Ok(n) if n >= 1000 => n,
            _ => {
                errors.push(field_error(
                    "config.max_elapsed_ms",
                    format!("`{m}`: milliseconds, at least 1000 (an outage of hours: e.g. \"86400000\" for a day)"),
                ));
                defaults.max_elapsed_ms
            }
        },
    };
    let secret = match secret {
        Some(s) => match check_secret(&s) {
            Ok(()) => Some(s),
            Err(e) => {
                errors.push(field_error("config.secret", e));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Proposal {
        record: Record {
            id: String::new(),
            revision: 0,
            source,
            types,
            filters,
            sink,
            protocol,
            headers,
            method,
            credential,
            topic,
            from,
            paused,
            concurrency,
            max_elapsed_ms,
            secret: String::new(),
            owner: String::new(),
        },
        secret,
        credential_given,
    })
}

fn check_sink(sink: &str) -> Result<(), String> {
    let url = url::Url::parse(sink).map_err(|e| format!("`{sink}` is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{}` URLs are not delivered over HTTP: use http:// or https://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".to_string());
    }
    if url.fragment().is_some() {
        return Err("the URL has a fragment (#…), which is never sent".to_string());
    }
    // the request is built from the URL text
    sink.parse::<http::Uri>()
        .map_err(|e| format!("`{sink}` is not a valid request URL: {e}"))?;
    Ok(())
}

fn check_from(from: &str) -> Result<(), String> {
    if from.trim().is_empty() {
        return Err(
            "empty: use latest, earliest, a log offset, an RFC 3339 time or an event id"
                .to_string(),
        );
    }
    Ok(())
}

fn check_secret(secret: &str) -> Result<(), String> {
    use base64::Engine as _;
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .ok_or("a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 bytes")?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "the key is {} bytes: Standard Webhooks keys are 24 to 64 bytes",
            key.len()
        ));
    }
    Ok(())
}

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    use base64::Engine as _;
    let key: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// A new subscription id: 32 hex digits.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn parse_protocol_settings(
    value: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut headers = BTreeMap::new();
    let mut method = None;
    let object = match value {
        None | Some(Value::Null) => return (headers, method),
        Some(Value::Object(o)) => o,
        Some(_) => {
            errors.push(field_error(
                "protocolsettings",
                "must be an object: {\"headers\": {…}, \"method\": \"POST\"}",
            ));
            return (headers, method);
        }
    };
    for (key, v) in object {
        match key.as_str() {
            "headers" => match v {
                Value::Object(h) => {
                    for (name, value) in h {
                        let at = format!("protocolsettings.headers.{name}");
                        let Some(value) = value.as_str() else {
                            errors.push(field_error(&at, "must be a string"));
                            continue;
                        };
                        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                            errors.push(field_error(&at, "not a valid HTTP header name"));
                        } else if http::HeaderValue::from_str(value).is_err() {
                            errors.push(field_error(&at, "not a valid HTTP header value"));
                        } else if is_reserved_header(name) {
                            errors.push(field_error(
                                &at,
                                "set by weft (content-type, content-length, host, webhook-*, ce-*, traceparent); use sinkcredential for authorization",
                            ));
                        } else {
                            headers.insert(name.to_ascii_lowercase(), value.to_string());
                        }
                    }
                }
                _ => errors.push(field_error(
                    "protocolsettings.headers",
                    "must be an object of header names and string values",
                )),
            },
            "method" => match v.as_str() {
                Some(m @ ("POST" | "PUT" | "PATCH")) => method = Some(m.to_string()),
                _ => errors.push(field_error(
                    "protocolsettings.method",
                    format!("`{v}`: use POST (the default), PUT or PATCH"),
                )),
            },
            other => errors.push(field_error(
                &format!("protocolsettings.{other}"),
                "unknown HTTP setting: use headers and method",
            )),
        }
    }
    (headers, method)
}

fn is_reserved_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "content-type"
            | "content-length"
            | "host"
            | "transfer-encoding"
            | "connection"
            | "traceparent"
            | "tracestate"
    ) || name.starts_with("webhook-")
        || name.starts_with("ce-")
}

fn parse_credential(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<Credential> {
    let object = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => o,
        Some(_) => {
            errors.push(field_error(
                "sinkcredential",
                "must be an object with a credentialtype (PLAIN or ACCESSTOKEN)",
            ));
            return None;
        }
    };
    let text = |key: &str, errors: &mut Vec<FieldError>| -> Option<String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => {
                errors.push(field_error(
                    &format!("sinkcredential.{key}"),
                    "required: a non-empty string",
                ));
                None
            }
        }
    };
    match object.get("credentialtype").and_then(Value::as_str) {
        Some("PLAIN") => {
            let identifier = text("identifier", errors);
            let secret = text("secret", errors);
            if identifier.as_deref().is_some_and(|i| i.contains(':')) {
                errors.push(field_error(
                    "sinkcredential.identifier",
                    "must not contain `:` (HTTP Basic authentication)",
                ));
            }
            Some(Credential::Plain {
                identifier: identifier?,
                secret: secret?,
            })
        }
        Some("ACCESSTOKEN") => {
            let accesstoken = text("accesstoken", errors);
            let expires = text("accesstokenexpiresutc", errors);
            if let Some(e) = &expires
                && chrono::DateTime::parse_from_rfc3339(e).is_err()
            {
                errors.push(field_error(
                    "sinkcredential.accesstokenexpiresutc",
                    "an RFC 3339 time, e.g. 2027-01-01T00:00:00Z",
                ));
            }
            let accesstokentype = match object.get("accesstokentype") {
                None => "bearer".to_string(),
                Some(Value::String(t))
                    if http::HeaderValue::from_str(t).is_ok()
                        && !t.is_empty()
                        && !t.contains(' ') =>
                {
                    t.clone()
                }
                Some(_) => {
                    errors.push(field_error(
                        "sinkcredential.accesstokentype",
                        "a token type such as \"bearer\"",
                    ));
                    return None;
                }
            };
            let accesstoken = accesstoken?;
            if http::HeaderValue::from_str(&accesstoken).is_err() {
                errors.push(field_error(
                    "sinkcredential.accesstoken",
                    "not usable in an Authorization header",
                ));
                return None;
            }
            Some(Credential::Accesstoken {
                accesstoken,
                accesstokentype,
                accesstokenexpiresutc: expires?,
            })
        }
        Some("REFRESHTOKEN") => {
            errors.push(field_error(
                "sinkcredential.credentialtype",
                "REFRESHTOKEN is not supported: use PLAIN or ACCESSTOKEN",
            ));
            None
        }
        _ => {
            errors.push(field_error(
                "sinkcredential.credentialtype",
                "required: PLAIN or ACCESSTOKEN",
            ));
            None
        }
    }
}

impl Record {
    /// The conditions an event must pass (filters compiled; they were checked when stored).
    pub fn conditions(&self) -> Result<Conditions, FieldError> {
        let filters = self
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| Filter::parse(f, &format!("filters[{i}]")).map_err(FieldError::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Conditions {
            types: self.types.clone(),
            source: self.source.clone(),
            filters,
        })
    }

    /// The consumer name of this subscription on its topic (its cursor and reader).
    pub fn consumer(&self) -> String {
        format!("subscription:{}", self.id)
    }

    /// The API's view: the Subscription object without secrets (`config.secret` only when
    /// `with_secret`, i.e. in the answer to the create call).
    pub fn view(&self, with_secret: bool) -> Value {
        let mut config = Map::new();
        config.insert("topic".into(), json!(self.topic));
        config.insert("from".into(), json!(self.from));
        config.insert("paused".into(), json!(self.paused.to_string()));
        config.insert("concurrency".into(), json!(self.concurrency.to_string()));
        config.insert(
            "max_elapsed_ms".into(),
            json!(self.max_elapsed_ms.to_string()),
        );
        if with_secret {
            config.insert("secret".into(), json!(self.secret));
        }
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        if let Some(s) = &self.source {
            out.insert("source".into(), json!(s));
        }
        if !self.types.is_empty() {
            out.insert("types".into(), json!(self.types));
        }
        out.insert("config".into(), Value::Object(config));
        if !self.filters.is_empty() {
            out.insert("filters".into(), json!(self.filters));
        }
        out.insert("sink".into(), json!(self.sink));
        out.insert("protocol".into(), json!(self.protocol));
        if !self.headers.is_empty() || self.method.is_some() {
            let mut settings = Map::new();
            if !self.headers.is_empty() {
                settings.insert("headers".into(), json!(self.headers));
            }
            if let Some(m) = &self.method {
                settings.insert("method".into(), json!(m));
            }
            out.insert("protocolsettings".into(), Value::Object(settings));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            max_elapsed_ms: 86_400_000,
        }
    }

    fn fields(body: Value) -> Vec<String> {
        parse_request(&body, &defaults())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_minimal_request_gets_the_defaults() {
        let p = parse_request(
            &json!({"protocol": "HTTP", "sink": "http://127.0.0.1:9/in", "config": {"topic": "orders"}}),
            &defaults(),
        )
        .unwrap();
        assert_eq!(p.record.topic, "orders");
        assert_eq!(p.record.from, "latest");
        assert_eq!(p.record.concurrency, 1);
        assert_eq!(p.record.max_elapsed_ms, 86_400_000);
        assert!(!p.record.paused);
        assert!(p.secret.is_none());
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        assert_eq!(fields(json!({})), ["protocol", "sink", "config.topic"]);
        assert_eq!(
            fields(
                json!({"protocol": "MQTT5", "sink": "ftp://x/", "config": {"topic": "a b", "paused": "yes", "concurrency": "0", "max_elapsed_ms": "5", "nope": "1", "secret": "short"}})
            ),
            [
                "protocol",
                "sink",
                "config.nope",
                "config.topic",
                "config.paused",
                "config.concurrency",
                "config.max_elapsed_ms",
                "config.secret"
            ]
        );
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t", "paused": true}})
            ),
            ["config.paused"]
        );
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t"}, "filters": [{"exact": {"type": "a"}}, {"sql": "type ="}]})
            ),
            ["filters[1].sql"]
        );
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t"}, "types": ["", 3], "source": ""})
            ),
            ["source", "types[0]", "types[1]"]
        );
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t"}, "protocolsettings": {"headers": {"webhook-id": "x", "x-ok": "1"}, "method": "GET", "qos": 1}})
            ),
            [
                "protocolsettings.headers.webhook-id",
                "protocolsettings.method",
                "protocolsettings.qos"
            ]
        );
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t"}, "sinkcredential": {"credentialtype": "REFRESHTOKEN"}})
            ),
            ["sinkcredential.credentialtype"]
        );
        assert_eq!(fields(json!([1])), ["(body)"]);
        assert_eq!(
            fields(
                json!({"protocol": "HTTP", "sink": "http://h/", "config": {"topic": "t"}, "extra": 1})
            ),
            ["extra"]
        );
    }

    #[test]
    fn credentials_become_authorization_headers_and_are_never_shown() {
        let p = parse_request(
            &json!({"protocol": "HTTP", "sink": "https://h/", "config": {"topic": "t"},
                "sinkcredential": {"credentialtype": "PLAIN", "identifier": "erp", "secret": "pw"}}),
            &defaults(),
        )
        .unwrap();
        let credential = p.record.credential.clone().unwrap();
        assert_eq!(credential.authorization(), "Basic ZXJwOnB3");
        let view = p.record.view(false).to_string();
        assert!(
            !view.contains("pw") && !view.contains("sinkcredential"),
            "{view}"
        );
        let p = parse_request(
            &json!({"protocol": "HTTP", "sink": "https://h/", "config": {"topic": "t"},
                "sinkcredential": {"credentialtype": "ACCESSTOKEN", "accesstoken": "abc", "accesstokenexpiresutc": "2030-01-01T00:00:00Z"}}),
            &defaults(),
        )
        .unwrap();
        assert_eq!(p.record.credential.unwrap().authorization(), "Bearer abc");
    }

    #[test]
    fn the_view_shows_the_secret_only_when_asked() {
        let mut record = parse_request(
            &json!({"protocol": "HTTP", "sink": "https://h/", "config": {"topic": "t"}}),
            &defaults(),
        )
        .unwrap()
        .record;
        record.id = new_id();
        record.secret = new_secret();
        assert!(check_secret(&record.secret).is_ok());
        assert_eq!(record.view(true)["config"]["secret"], json!(record.secret));
        assert!(record.view(false)["config"].get("secret").is_none());
        // every config value is a string (the OpenAPI document's `config` schema)
        for (_, v) in record.view(true)["config"].as_object().unwrap() {
            assert!(v.is_string());
        }
    }
}
