//! weft's configuration file: one TOML document, `${ENV}` substitution for secrets, every
//! field documented, unknown fields refused. `weft config schema` prints the JSON Schema.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_router::RouteSpec;
use weft_runtime::PluginSpec;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hub-wide settings.
    #[serde(default)]
    pub hub: HubConfig,
    /// Who may call the HTTP API: bearer tokens with topic scopes.
    #[serde(default)]
    pub auth: weft_connector_http::AuthConfig,
    /// WebAssembly engine settings.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Shared key-value backends for plugin state.
    #[serde(default)]
    pub kv: KvConfig,
    /// OpenTelemetry traces (off by default; the standard `OTEL_*` variables override it).
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The Subscriptions API and its deliveries (`/v1/subscriptions`).
    #[serde(default)]
    pub subscriptions: weft_subscriptions::SubscriptionsConfig,
    /// Plugins by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginSpec>,
    /// Sources by name. (Embedded log topics need no entry: use `topic:NAME` in `from`.)
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Sinks by name. (`topic:NAME` and `stdout` need no entry.)
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// Settings of embedded log topics by name (topics need no entry to be used).
    #[serde(default)]
    pub topics: BTreeMap<String, TopicConfig>,
    /// Routes: from sources through plugins to sinks.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// `[hub]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Address of the HTTP server (ingress, health, metrics). Empty string: no HTTP server.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Directory for the embedded log, plugin state and the compilation cache; relative to
    /// the config file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Largest HTTP request body accepted by the ingress, in bytes (larger: 413).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Default dead-letter destination of routes that name none.
    #[serde(default = "default_dead_letter")]
    pub dead_letter: String,
    /// Most events kept per embedded log topic. A ceiling: the oldest events are deleted
    /// only once every reader of the topic (route, subscription) has read them; when the
    /// ceiling is reached and nothing is read by all, the topic is full (HTTP 503 with
    /// `Retry-After`, `topic:` sinks retry) and nothing unread is lost.
    #[serde(default = "default_retention_events")]
    pub retention_events: u64,
    /// Most bytes (stored JSON) kept per embedded log topic; a ceiling like
    /// `retention_events`.
    #[serde(default = "default_retention_bytes")]
    pub retention_bytes: u64,
    /// Free space (bytes) the data directory's filesystem must keep: below it the ingress
    /// refuses new events (503) and sources keep acknowledging, until space is freed. 0
    /// turns the check off.
    #[serde(default = "default_min_free_bytes")]
    pub min_free_bytes: u64,
    /// Deliveries processed at once per source (1 keeps source order).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight events before handing them back, in ms.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// Log format: `text` or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Server-sent events (`GET /v1/topics/{topic}/events`): a comment line is sent on a
    /// stream that sent nothing else for this long, in ms, so proxies keep it open.
    #[serde(default = "default_sse_heartbeat_ms")]
    pub sse_heartbeat_ms: u64,
    /// Time a client has to send a complete request head, in ms, counted from the
    /// connection's start or the end of its previous response (so also the keep-alive
    /// idle limit); then the connection is closed.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Time a client has to send a request body once its head is in, in ms (`408`).
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// HTTP connections served at once; further ones get `503` and are closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long shutdown waits for open HTTP connections to finish, in ms; then they are
    /// closed.
    #[serde(default = "default_shutdown_timeout_ms")]
    pub shutdown_timeout_ms: u64,
    /// Most events in one batch request (larger: 413).
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// Largest HTTP request head (request line and headers), in bytes (larger: 431); at
    /// least 8192.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Serve HTTPS: certificate and key files (PEM, reloaded when they change), and
    /// optionally the CA for client certificates.
    #[serde(default)]
    pub tls: Option<weft_connector_http::TlsConfig>,
}

/// How `weft run` writes its log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (no colour codes when stderr is not a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_data_dir() -> PathBuf {
    ".weft".into()
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_dead_letter() -> String {
    "topic:deadletter".into()
}
fn default_retention_events() -> u64 {
    1_000_000
}
fn default_retention_bytes() -> u64 {
    1 << 30
}
fn default_min_free_bytes() -> u64 {
    64 << 20
}
fn default_max_in_flight() -> usize {
    64
}
fn default_drain_timeout_ms() -> u64 {
    30_000
}
fn default_sse_heartbeat_ms() -> u64 {
    15_000
}
fn default_header_timeout_ms() -> u64 {
    10_000
}
fn default_body_timeout_ms() -> u64 {
    30_000
}
fn default_max_connections() -> usize {
    1024
}
fn default_shutdown_timeout_ms() -> u64 {
    10_000
}
fn default_max_batch_events() -> usize {
    1000
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: default_listen(),
            data_dir: default_data_dir(),
            max_body_bytes: default_max_body_bytes(),
            dead_letter: default_dead_letter(),
            retention_events: default_retention_events(),
            retention_bytes: default_retention_bytes(),
            min_free_bytes: default_min_free_bytes(),
            max_in_flight: default_max_in_flight(),
            drain_timeout_ms: default_drain_timeout_ms(),
            log_format: LogFormat::default(),
            sse_heartbeat_ms: default_sse_heartbeat_ms(),
            header_timeout_ms: default_header_timeout_ms(),
            body_timeout_ms: default_body_timeout_ms(),
            max_connections: default_max_connections(),
            shutdown_timeout_ms: default_shutdown_timeout_ms(),
            max_batch_events: default_max_batch_events(),
            max_header_bytes: default_max_header_bytes(),
            tls: None,
        }
    }
}

/// `[topics.NAME]`: one embedded log topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Events older than this (seconds since they were appended) are deleted even if a
    /// reader has not read them yet: an explicit choice to lose old events rather than
    /// fill the topic behind a dead reader. Each expiry of unread events is logged (warn:
    /// topic, count, reader) and counted in `weft_topic_expired_events_total`. Unset
    /// (default): events are only removed once every reader read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<u64>,
}

/// `[engine]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Cache compiled plugins under `<data_dir>/cache` so restarts do not recompile.
    #[serde(default = "default_true")]
    pub cache: bool,
    /// Use the pooling instance allocator (fast per-event instantiation).
    #[serde(default = "default_true")]
    pub pooling: bool,
    /// Plugin instances that may exist at once, across all plugins.
    #[serde(default = "default_max_instances")]
    pub max_concurrent_instances: u32,
}

fn default_true() -> bool {
    true
}
fn default_max_instances() -> u32 {
    256
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache: true,
            pooling: true,
            max_concurrent_instances: default_max_instances(),
        }
    }
}

/// `[kv]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// The Redis backend used by plugins with `kv = "redis"`.
    #[serde(default)]
    pub redis: Option<RedisKvConfig>,
}

/// `[kv.redis]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisKvConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://` for TLS.
    pub url: String,
}

/// Declares the connector kinds: the enum of config sections chosen by `type`, and the
/// one place that maps each kind to its connector crate's config type. Adding a connector
/// is one line here (CONTRIBUTING.md, "Adding a connector").
macro_rules! connector_kinds {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $connector:path {
            $($(#[$variant_meta:meta])* $kind:literal => $variant:ident($config:ty),)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type")]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $kind)] $variant($config),)+
        }

        impl $name {
            /// Every `type` value, in declaration order (checked against the connector
            /// crates and the README by a test).
            #[cfg_attr(not(test), allow(dead_code))]
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The `type` of this section.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $kind,)+
                }
            }

            /// The connector config behind this section.
            pub fn connector(&self) -> &dyn $connector {
                match self {
                    $(Self::$variant(config) => config,)+
                }
            }
        }
    };
}

connector_kinds! {
    /// `[sources.NAME]`, chosen by `type`.
    pub enum SourceConfig: weft_connector::SourceConnector {
        /// An embedded log topic with its own consumer cursor.
        "topic" => Topic(weft_connector_embedded::TopicSourceConfig),
        /// A Redis stream, read with a consumer group (at-least-once).
        "redis-stream" => RedisStream(weft_connector_redis::StreamSourceConfig),
        /// Redis pub/sub channels (best-effort: messages published while weft is
        /// disconnected are lost).
        "redis-pubsub" => RedisPubsub(weft_connector_redis::PubSubSourceConfig),
        /// A RabbitMQ queue with manual acknowledgements (at-least-once).
        "amqp" => Amqp(weft_connector_amqp::SourceConfig),
    }
}

connector_kinds! {
    /// `[sinks.NAME]`, chosen by `type`.
    pub enum SinkConfig: weft_connector::SinkConnector {
        /// Append to an embedded log topic.
        "topic" => Topic(weft_connector_embedded::TopicSinkConfig),
        /// JSON lines on stdout.
        "stdout" => Stdout(weft_connector_embedded::StdoutSinkConfig),
        /// JSON lines appended to a file (fsynced).
        "file" => File(weft_connector_embedded::FileSinkConfig),
        /// POST to a URL in CloudEvents HTTP binary mode.
        "webhook" => Webhook(weft_connector_http::WebhookConfig),
        /// `XADD` to a Redis stream.
        "redis-stream" => RedisStream(weft_connector_redis::StreamSinkConfig),
        /// `PUBLISH` to a Redis channel (best-effort: no subscriber, no delivery).
        "redis-pubsub" => RedisPubsub(weft_connector_redis::PubSubSinkConfig),
        /// Publish to a RabbitMQ exchange with publisher confirms.
        "amqp" => Amqp(weft_connector_amqp::SinkConfig),
    }
}

impl Config {
    /// The source a route's `from` entry names: `topic:NAME` (the embedded topic with
    /// consumer `weft`) or a key of `[sources]`.
    pub fn source(&self, reference: &str) -> Option<SourceConfig> {
        match reference.strip_prefix("topic:") {
            Some(topic) => Some(SourceConfig::Topic(
                weft_connector_embedded::TopicSourceConfig::new(topic),
            )),
            None => self.sources.get(reference).cloned(),
        }
    }

    /// The sink a route's `to` or `dead_letter` entry names: `topic:NAME`, a key of
    /// `[sinks]`, or `stdout`.
    pub fn sink(&self, reference: &str) -> Option<SinkConfig> {
        if let Some(topic) = reference.strip_prefix("topic:") {
            return Some(SinkConfig::Topic(
                weft_connector_embedded::TopicSinkConfig {
                    topic: topic.to_string(),
                },
            ));
        }
        match self.sinks.get(reference) {
            Some(sink) => Some(sink.clone()),
            None => (reference == "stdout").then(|| SinkConfig::Stdout(Default::default())),
        }
    }
}

impl HubConfig {
    /// The HTTP server's bounds.
    pub fn http_limits(&self) -> weft_connector_http::HttpLimits {
        use std::time::Duration;
        weft_connector_http::HttpLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
            shutdown_timeout: Duration::from_millis(self.shutdown_timeout_ms),
            max_batch_events: self.max_batch_events,
            max_header_bytes: self.max_header_bytes,
        }
    }

    /// The listen address, if the HTTP server is on.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
        if self.listen.is_empty() {
            return Ok(None);
        }
        self.listen.parse().map(Some).map_err(|e| {
            format!(
                "`{}` is not an address like 127.0.0.1:8080: {e}",
                self.listen
            )
        })
    }
}

/// A configuration file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Unreadable.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// One or more problems, each with its line and column.
    #[error("{}", .problems.join("\n"))]
    Invalid {
        /// `FILE:LINE:COLUMN: message`, in file order.
        problems: Vec<String>,
    },
}

impl LoadError {
    /// Each problem on its own (one for an unreadable file).
    pub fn problems(&self) -> Vec<String> {
        match self {
            LoadError::Invalid { problems } => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

/// Parses configuration text: TOML syntax first (a syntax error stops there), then
/// `${VAR}` / `${VAR:-default}` substituted into string values (never into the TOML text:
/// comments are ignored and a value is taken literally; `$${` is a literal `${`), then the
/// configuration's shape. Every unset variable, type mistake and unknown key is reported,
/// not only the first.
pub fn parse(text: &str, path: &str) -> Result<Config, LoadError> {
    let at = |span: std::ops::Range<usize>| {
        let (line, column) = line_column(text, span.start);
        format!("{path}:{line}:{column}")
    };
    let mut root = DeTable::parse(text).map_err(|e| LoadError::Invalid {
        problems: vec![format!(
            "{}: {}",
            at(e.span().unwrap_or(0..0)),
            e.message().trim()
        )],
    })?;
    let mut problems: Vec<(usize, String)> = Vec::new();
    if let Some((_, plugins)) = root
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref() == "plugins")
        && let DeValue::Table(plugins) = plugins.get_ref()
    {
        for (name, _) in plugins.iter() {
            if let Err(e) = check_plugin_name(name.get_ref()) {
                problems.push((name.span().start, format!("{}: {e}", at(name.span()))));
            }
        }
    }
    substitute_table(root.get_mut(), &mut |span, var| {
        problems.push((
            span.start,
            format!(
                "{}: environment variable `{var}` is not set (use ${{{var}:-default}} for a default)",
                at(span)
            ),
        ));
    });
    // Deserialize; on an error, note it, set the offending entry aside and try again, so
    // one run reports every shape problem (bounded: each round removes or replaces one
    // entry). A required field that was set aside is not reported again as missing.
    let mut set_aside_fields: Vec<String> = Vec::new();
    for _ in 0..256 {
        let error = match Config::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(config) if problems.is_empty() => return Ok(config),
            Ok(_) => break,
            Err(error) => error,
        };
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_string();
        let missing = quoted_after(&message, "missing field `");
        if !missing.is_some_and(|f| set_aside_fields.iter().any(|s| s == f)) {
            problems.push((span.start, format!("{}: {message}", at(span.clone()))));
        }
        match set_aside(&mut root, &span, &message) {
            Some(field) => set_aside_fields.push(field),
            None => break,
        }
    }
    problems.sort_by_key(|(offset, _)| *offset);
    problems.dedup();
    Err(LoadError::Invalid {
        problems: problems.into_iter().map(|(_, p)| p).collect(),
    })
}

/// A plugin name: 1 to 64 ASCII letters, digits, `-`, `_` or `.`, starting with a letter or
/// digit. It names the plugin's key-value namespace, its log lines and metric labels, so it
/// holds no separators (`:`, `/`), spaces or control characters.
pub fn check_plugin_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid plugin name `{}`: use 1 to 64 of a-z, A-Z, 0-9, `-`, `_`, `.`, starting with a letter or digit",
            name.escape_debug()
        ))
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Replaces `${VAR}` and `${VAR:-default}` in every string value of `table`; reports unset
/// variables (without a default) through `unset` with the value's span.
fn substitute_table(table: &mut DeTable<'_>, unset: &mut dyn FnMut(std::ops::Range<usize>, &str)) {
    for (_, value) in table.iter_mut() {
        substitute_value(value, unset);
    }
}

fn substitute_value(
    value: &mut Spanned<DeValue<'_>>,
    unset: &mut dyn FnMut(std::ops::Range<usize>, &str),
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(s) if s.contains("${") => {
            let replaced = substitute_env(s, |var| unset(span.clone(), var));
            *s = DeString::Owned(replaced);
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                substitute_value(item, unset);
            }
        }
        DeValue::Table(table) => substitute_table(table, unset),
        _ => {}
    }
}

/// `${VAR}` → the variable's value, `${VAR:-default}` → the value or `default`, `$${` →
/// a literal `${`. An unset variable without a default is reported and left empty.
pub fn substitute_env(text: &str, mut unset: impl FnMut(&str)) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[pos..]);
            return out;
        };
        let expr = &after[..end];
        let (var, default) = match expr.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (expr, None),
        };
        match (std::env::var(var), default) {
            (Ok(v), _) => out.push_str(&v),
            (Err(_), Some(d)) => out.push_str(d),
            (Err(_), None) => unset(var),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message
        .strip_prefix(prefix)?
        .split_once('`')
        .map(|(name, _)| name)
}

/// The key path of the entry whose key or value has `span`.
fn locate(table: &DeTable<'_>, span: &std::ops::Range<usize>) -> Option<Vec<String>> {
    for (key, value) in table.iter() {
        if key.span() == *span || value.span() == *span {
            return Some(vec![key.get_ref().to_string()]);
        }
        let inner =
            match value.get_ref() {
                DeValue::Table(inner) => locate(inner, span).map(|p| (key, p)),
                DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| match item
                    .get_ref()
                {
                    DeValue::Table(inner) => locate(inner, span).map(|mut p| {
                        p.insert(0, format!("[{i}]"));
                        (key, p)
                    }),
                    _ => None,
                }),
                _ => None,
            };
        if let Some((key, mut path)) = inner {
            path.insert(0, key.get_ref().to_string());
            return Some(path);
        }
    }
    None
}

/// The table holding the last element of `path` (array steps are `[i]`).
fn parent_of<'t, 'i>(table: &'t mut DeTable<'i>, path: &[String]) -> Option<&'t mut DeTable<'i>> {
    let mut current = table;
    let mut steps = path[..path.len().saturating_sub(1)].iter().peekable();
    while let Some(step) = steps.next() {
        let value = current.iter_mut().find(|(k, _)| k.get_ref() == step)?.1;
        current = match value.get_mut() {
            DeValue::Table(inner) => inner,
            DeValue::Array(items) => {
                let index: usize = steps.next()?.trim_matches(['[', ']']).parse().ok()?;
                match items.get_mut(index)?.get_mut() {
                    DeValue::Table(inner) => inner,
                    _ => return None,
                }
            }
            _ => return None,
        };
    }
    Some(current)
}

fn remove(table: &mut DeTable<'_>, name: &str) -> bool {
    let key = table.keys().find(|k| k.get_ref() == name).cloned();
    key.is_some_and(|key| table.remove(&key).is_some())
}

/// Sets aside the entry an error points at, so the next round finds the next problem: an
/// unknown key is removed (also inside a section, where internally tagged sections report
/// their inner errors); a value of the wrong type is replaced by a value of a type the
/// field accepts (found by trying), or removed. Returns the name set aside; `None` when
/// nothing can be found (stop).
fn set_aside(
    root: &mut Spanned<DeTable<'_>>,
    span: &std::ops::Range<usize>,
    message: &str,
) -> Option<String> {
    let path = locate(root.get_ref(), span)?;
    let name = path.last()?.clone();
    if let Some(field) = quoted_after(message, "unknown field `") {
        let parent = parent_of(root.get_mut(), &path)?;
        let entry = parent.iter_mut().find(|(k, _)| *k.get_ref() == name)?.1;
        if let DeValue::Table(inner) = entry.get_mut()
            && remove(inner, field)
        {
            return Some(field.to_string());
        }
        remove(parent, &name);
        return Some(name);
    }
    for candidate in placeholders() {
        let mut trial = root.clone();
        let parent = parent_of(trial.get_mut(), &path)?;
        let entry = parent.iter_mut().find(|(k, _)| *k.get_ref() == name)?.1;
        if matches!(entry.get_ref(), DeValue::Table(_)) {
            break;
        }
        *entry = Spanned::new(span.clone(), candidate);
        let accepted = match Config::deserialize(toml::de::Deserializer::from(trial.clone())) {
            Ok(_) => true,
            Err(e) => e.span().as_ref() != Some(span),
        };
        if accepted {
            *root = trial;
            return Some(name);
        }
    }
    remove(parent_of(root.get_mut(), &path)?, &name);
    Some(name)
}

/// Values of every TOML type, to stand in for a value of the wrong type.
fn placeholders() -> impl Iterator<Item = DeValue<'static>> {
    [
        DeValue::String(DeString::Borrowed("")),
        DeValue::Integer(toml::de::DeInteger::default()),
        DeValue::Boolean(false),
        DeValue::Array(toml::de::DeArray::new()),
        DeValue::Table(DeTable::new()),
    ]
    .into_iter()
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// The JSON Schema of the configuration.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}

/// `[telemetry]`: OpenTelemetry traces exported over OTLP. Off unless an endpoint is set
/// here or in `OTEL_EXPORTER_OTLP_ENDPOINT` (or `traces = true`). The standard variables
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`,
/// `OTEL_TRACES_SAMPLER`, …) override these keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Force traces on (`true`, default endpoint `http://localhost:4318`) or off (`false`).
    /// Unset: on when an endpoint is configured.
    #[serde(default)]
    pub traces: Option<bool>,
    /// OTLP base URL, e.g. `http://otel-collector:4318` (`/v1/traces` is appended for
    /// HTTP) or `http://otel-collector:4317` for gRPC.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `http/protobuf` (default) or `grpc`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The `service.name` of weft's spans (default `weft`).
    #[serde(default)]
    pub service_name: Option<String>,
    /// Share of new traces recorded, 0.0–1.0 (default 1.0); a continued trace follows the
    /// sampling decision of its `traceparent`.
    #[serde(default)]
    pub sample_ratio: Option<f64>,
}

impl TelemetryConfig {
    /// The telemetry crate's settings.
    pub fn settings(&self) -> weft_telemetry::otel::OtelSettings {
        weft_telemetry::otel::OtelSettings {
            traces: self.traces,
            endpoint: self.endpoint.clone(),
            protocol: self.protocol.clone(),
            service_name: self.service_name.clone(),
            sample_ratio: self.sample_ratio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_substitution() {
        // set_var is unsafe in edition 2024, so use a variable the test environment has.
        let path = std::env::var("PATH").unwrap();
        let mut unset = Vec::new();
        let out = substitute_env(
            "${PATH}|${WEFT_SURELY_UNSET_VAR:-dflt}|$${X}|${WEFT_SURELY_UNSET_VAR}",
            |v| unset.push(v.to_string()),
        );
        assert_eq!(out, format!("{path}|dflt|${{X}}|"));
        assert_eq!(unset, ["WEFT_SURELY_UNSET_VAR"]);
    }

    #[test]
    fn env_values_are_literal_and_comments_ignored() {
        // a value that looks like TOML stays one string value; `${..}` in a comment is
        // not looked at
        let c = parse(
            "# ${WEFT_SURELY_UNSET_VAR}\n[hub]\nlisten = \"${WEFT_SURELY_UNSET_VAR:-\\\"\\nx = 1}\"\n",
            "w.toml",
        )
        .unwrap();
        assert_eq!(c.hub.listen, "\"\nx = 1");
        let err = parse(
            "[hub]\nlisten = \"${WEFT_SURELY_UNSET_VAR}\"\n[sinks.a]\ntype = \"webhook\"\nurl = \"${WEFT_SURELY_UNSET_VAR_2}\"\n",
            "w.toml",
        )
        .unwrap_err();
        let problems = err.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "w.toml:2:10: environment variable `WEFT_SURELY_UNSET_VAR` is not set"
            ),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("w.toml:5:7:"), "{problems:?}");
    }

    #[test]
    fn every_shape_problem_is_reported_in_one_run() {
        let text = "[hub]\nlisen = 2\nmax_in_flight = \"many\"\nlog_format = \"jsno\"\n\n[sinks.a]\ntype = \"webhook\"\nurl = 5\ntimeout = 3\n\n[[routes]]\nname = \"r\"\nfrom = [\"topic:a\"]\nto = [\"stdout\"]\nretries = 3\n";
        let problems = parse(text, "w.toml").unwrap_err().problems();
        let at: Vec<&str> = problems
            .iter()
            .map(|p| p.split(": ").next().unwrap())
            .collect();
        assert!(problems.iter().any(|p| p.contains("lisen")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("jsno")), "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("retries")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("timeout")),
            "{problems:?}"
        );
        assert!(at.contains(&"w.toml:2:1"), "{problems:?}");
        assert!(at.contains(&"w.toml:3:17"), "{problems:?}");
        assert!(at.contains(&"w.toml:4:14"), "{problems:?}");
        assert!(at.contains(&"w.toml:15:1"), "{problems:?}");
        // the url of the wrong type is reported once, not again as missing
        assert!(
            !problems.iter().any(|p| p.contains("missing field `url`")),
            "{problems:?}"
        );
        assert!(problems.len() >= 6, "{problems:?}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let err = parse("[hub]\nlisten = \"127.0.0.1:1\"\nlisen = 2\n", "w.toml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("w.toml:3:1: unknown field `lisen`"),
            "{msg}"
        );
        assert!(msg.contains("lisen"), "{msg}");
    }

    #[test]
    fn plugin_names_are_checked_with_their_line() {
        let text = "[plugins.good-1]\npath = \"a.wasm\"\n\n[plugins.\"a:b\"]\npath = \"b.wasm\"\n[plugins.\"x y\"]\npath = \"c.wasm\"\n";
        let problems = parse(text, "w.toml").unwrap_err().problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("w.toml:4:10: invalid plugin name `a:b`"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("w.toml:6:10:"), "{problems:?}");
        for name in ["json-map", "kv-a-123", "Rates_2", "v1.2"] {
            assert!(check_plugin_name(name).is_ok(), "{name}");
        }
        for name in ["", "-x", "a/b", "a\nb", &"x".repeat(65)] {
            assert!(check_plugin_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn auth_tokens_and_http_limits_parse() {
        let c = parse(
            "[hub]\nheader_timeout_ms = 5\nmax_connections = 7\n[auth]\nmetrics = \"token\"\n[[auth.tokens]]\nname = \"erp\"\ntoken = \"0123456789abcdef\"\npublish = [\"orders\", \"invoices.*\"]\nread = [\"invoices.checked\"]\nadmin = false\n",
            "w.toml",
        )
        .unwrap();
        assert_eq!(c.auth.tokens[0].publish, ["orders", "invoices.*"]);
        assert_eq!(c.hub.http_limits().max_connections, 7);
        let err = parse(
            "[[auth.tokens]]\nname = \"a\"\nscopes = [\"admin\"]\n",
            "w.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("w.toml:3:1: unknown field `scopes`"),
            "{err}"
        );
    }

    #[test]
    fn empty_config_has_defaults() {
        let c = parse("", "x").unwrap();
        assert_eq!(c.hub.listen, "127.0.0.1:8080");
        assert!(c.routes.is_empty());
    }

    /// Adding a connector = its crate + one line in `connector_kinds!`: every
    /// `host/connector-*` crate must be registered there, every kind documented in the README.
    #[test]
    fn every_connector_crate_is_registered_and_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let registry = include_str!("config.rs");
        let registry = &registry[registry.find("connector_kinds! {").unwrap()..];
        let mut crates = 0;
        for entry in std::fs::read_dir(root.join("host")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            let Some(system) = name.strip_prefix("connector-") else {
                continue;
            };
            crates += 1;
            let path = format!("weft_connector_{}::", system.replace('-', "_"));
            assert!(
                registry.contains(&path),
                "host/{name} has no line in connector_kinds! (host/weft/src/config.rs)"
            );
        }
        assert!(crates >= 4, "found only {crates} connector crates");
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for kind in SourceConfig::KINDS.iter().chain(SinkConfig::KINDS) {
            assert!(
                readme.contains(&format!("`{kind}`")) || readme.contains(&format!("\"{kind}\"")),
                "connector kind `{kind}` is not documented in README.md"
            );
        }
        let schema = schema().to_string();
        for kind in SourceConfig::KINDS.iter().chain(SinkConfig::KINDS) {
            assert!(schema.contains(&format!("\"{kind}\"")), "{kind}");
        }
    }

    #[test]
    fn references_resolve_to_connector_sections() {
        let c = parse(
            "[sinks.out]\ntype = \"file\"\npath = \"o.jsonl\"\n[sources.q]\ntype = \"topic\"\ntopic = \"a\"\nconsumer = \"c\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.sink("out").unwrap().kind(), "file");
        assert_eq!(c.sink("stdout").unwrap().kind(), "stdout");
        assert_eq!(c.sink("topic:t").unwrap().kind(), "topic");
        assert!(c.sink("nope").is_none());
        let q = c.source("q").unwrap();
        assert_eq!(q.connector().ingress_topic(), Some("a"));
        assert_eq!(
            c.source("topic:b").unwrap().connector().ingress_topic(),
            Some("b")
        );
        assert!(c.source("nope").is_none());
    }

    #[test]
    fn schema_names_the_sections() {
        let s = schema().to_string();
        for key in ["hub", "plugins", "routes", "allow_http", "memory_mib"] {
            assert!(s.contains(key), "{key}");
        }
    }
}
