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
    /// WebAssembly engine settings.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Shared key-value backends for plugin state.
    #[serde(default)]
    pub kv: KvConfig,
    /// Plugins by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginSpec>,
    /// Sources by name. (Embedded log topics need no entry: use `topic:NAME` in `from`.)
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Sinks by name. (`topic:NAME` and `stdout` need no entry.)
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
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
    /// Events kept per embedded log topic (older ones are deleted).
    #[serde(default = "default_retention_events")]
    pub retention_events: u64,
    /// Deliveries processed at once per source (1 keeps source order).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight events before handing them back, in ms.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// Log format: `text` or `json`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
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
fn default_max_in_flight() -> usize {
    64
}
fn default_drain_timeout_ms() -> u64 {
    30_000
}
fn default_log_format() -> String {
    "text".into()
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: default_listen(),
            data_dir: default_data_dir(),
            max_body_bytes: default_max_body_bytes(),
            dead_letter: default_dead_letter(),
            retention_events: default_retention_events(),
            max_in_flight: default_max_in_flight(),
            drain_timeout_ms: default_drain_timeout_ms(),
            log_format: default_log_format(),
        }
    }
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

/// `[sources.NAME]`, chosen by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SourceConfig {
    /// An embedded log topic with its own consumer cursor.
    Topic(TopicSourceConfig),
    /// A Redis stream, read with a consumer group (at-least-once).
    RedisStream(weft_connector_redis::StreamSourceConfig),
    /// Redis pub/sub channels (best-effort: messages published while weft is
    /// disconnected are lost).
    RedisPubsub(weft_connector_redis::PubSubSourceConfig),
    /// A RabbitMQ queue with manual acknowledgements (at-least-once).
    Amqp(weft_connector_amqp::SourceConfig),
}

/// `type = "topic"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSourceConfig {
    /// The topic.
    pub topic: String,
    /// Consumer name: each consumer has its own durable cursor.
    #[serde(default = "default_consumer")]
    pub consumer: String,
}

fn default_consumer() -> String {
    "weft".into()
}

/// `[sinks.NAME]`, chosen by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SinkConfig {
    /// Append to an embedded log topic.
    Topic(TopicSinkConfig),
    /// JSON lines on stdout.
    Stdout(EmptyConfig),
    /// JSON lines appended to a file (fsynced).
    File(FileSinkConfig),
    /// POST to a URL in CloudEvents HTTP binary mode.
    Webhook(weft_connector_http::WebhookConfig),
    /// `XADD` to a Redis stream.
    RedisStream(weft_connector_redis::StreamSinkConfig),
    /// `PUBLISH` to a Redis channel (best-effort: no subscriber, no delivery).
    RedisPubsub(weft_connector_redis::PubSubSinkConfig),
    /// Publish to a RabbitMQ exchange with publisher confirms.
    Amqp(weft_connector_amqp::SinkConfig),
}

/// A section with no settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyConfig {}

/// `type = "topic"` sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSinkConfig {
    /// The topic.
    pub topic: String,
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File path, relative to the config file.
    pub path: PathBuf,
}

impl HubConfig {
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
    /// A `${VAR}` is not set.
    #[error(
        "{path}:{line}: environment variable `{var}` is not set (use ${{{var}:-default}} for a default)"
    )]
    Env {
        /// The file.
        path: String,
        /// Line (1-based).
        line: usize,
        /// The variable.
        var: String,
    },
    /// Not valid TOML, or not the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
}

/// Replaces `${VAR}` and `${VAR:-default}` with environment values (`$${` escapes).
/// Comment lines are left alone.
pub fn substitute_env(text: &str, path: &str) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
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
                rest = "";
                break;
            };
            let expr = &after[..end];
            let (var, default) = match expr.split_once(":-") {
                Some((v, d)) => (v, Some(d)),
                None => (expr, None),
            };
            match (std::env::var(var), default) {
                (Ok(v), _) => out.push_str(&v),
                (Err(_), Some(d)) => out.push_str(d),
                (Err(_), None) => {
                    return Err(LoadError::Env {
                        path: path.to_string(),
                        line: index + 1,
                        var: var.to_string(),
                    });
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Parses configuration text (after `${ENV}` substitution).
pub fn parse(text: &str, path: &str) -> Result<Config, LoadError> {
    let text = substitute_env(text, path)?;
    toml::from_str(&text).map_err(|e| LoadError::Parse {
        path: path.to_string(),
        message: describe_toml_error(&text, &e),
    })
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let col = span.start
                - text[..span.start.min(text.len())]
                    .rfind('\n')
                    .map_or(0, |i| i + 1)
                + 1;
            format!("line {line}, column {col}: {message}")
        }
        None => message,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_substitution() {
        // SAFETY-free: set_var is unsafe in edition 2024, so use a variable the test
        // environment always has.
        let home = std::env::var("PATH").unwrap();
        let out = substitute_env(
            "a = \"${PATH}\"\nb = \"${WEFT_SURELY_UNSET_VAR:-dflt}\"\n# ${NOPE}\nc = \"$${X}\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(
            out,
            format!("a = \"{home}\"\nb = \"dflt\"\n# ${{NOPE}}\nc = \"${{X}}\"\n")
        );
        let err =
            substitute_env("x = 1\ny = \"${WEFT_SURELY_UNSET_VAR}\"\n", "f.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.toml:2: environment variable `WEFT_SURELY_UNSET_VAR` is not set (use ${WEFT_SURELY_UNSET_VAR:-default} for a default)"
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let err = parse("[hub]\nlisten = \"127.0.0.1:1\"\nlisen = 2\n", "w.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("lisen"), "{msg}");
    }

    #[test]
    fn empty_config_has_defaults() {
        let c = parse("", "x").unwrap();
        assert_eq!(c.hub.listen, "127.0.0.1:8080");
        assert!(c.routes.is_empty());
    }

    #[test]
    fn schema_names_the_sections() {
        let s = schema().to_string();
        for key in ["hub", "plugins", "routes", "allow_http", "memory_mib"] {
            assert!(s.contains(key), "{key}");
        }
    }
}
