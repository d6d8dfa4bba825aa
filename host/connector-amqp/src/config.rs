//! Configuration of the AMQP source and sink, as they appear under `[sources.NAME]` /
//! `[sinks.NAME]` with `type = "amqp"` (the `type` key belongs to the embedding config).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::binding::{ContentMode, HeaderSeparator};
use crate::routing_key::RoutingKeyTemplate;

/// An AMQP source: consumes one queue with manual acknowledgements.
///
/// ```toml
/// [sources.orders]
/// type = "amqp"
/// uri = "amqp://weft:${AMQP_PASSWORD}@rabbitmq:5672/%2f"
/// queue = "orders"
/// prefetch = 64
/// max_deliveries = 5
/// declare = true
///
/// [[sources.orders.topology.queues]]
/// name = "orders"
/// queue_type = "quorum"
/// dead_letter_exchange = "orders.dlx"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Broker URI: `amqp://user:pass@host:5672/vhost` or `amqps://…` for TLS. The vhost is
    /// percent-encoded (`%2f` is the default vhost `/`). Secrets come from `${ENV}`.
    pub uri: String,
    /// The queue to consume.
    pub queue: String,
    /// How many unacknowledged messages the broker may hand out at once (`basic.qos`
    /// prefetch count, per consumer).
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// A message delivered more often than this is dead-lettered by the source instead of
    /// being handed to the router again. The count comes from the quorum-queue
    /// `x-delivery-count` header; classic queues only tell first delivery (1) from
    /// redelivery (2).
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u32,
    /// `true`: declare the topology below (exchanges, queues, bindings) on every
    /// (re)connect. `false`: only check that the queue and the listed exchanges and queues
    /// exist (passive declare) and fail clearly if one does not.
    #[serde(default)]
    pub declare: bool,
    /// Exchanges, queues and bindings this source relies on.
    #[serde(default)]
    pub topology: TopologyConfig,
    /// Where the source itself publishes dead letters (messages over `max_deliveries`, and
    /// malformed messages) when the consumed queue has no broker dead-letter exchange in
    /// `topology`. Without either, such messages are handed to the router, whose route
    /// dead-letters them.
    #[serde(default)]
    pub dead_letter: Option<DeadLetterConfig>,
    /// Connection name shown by the broker (`rabbitmqctl list_connections
    /// client_properties`); defaults to `weft-source-<queue>`.
    #[serde(default)]
    pub connection_name: Option<String>,
    /// TLS settings for `amqps://` URIs beyond the system trust store.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Reconnect backoff after a connection or channel loss.
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    /// Seconds allowed for the TCP/TLS connect and the AMQP handshake.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// How often (seconds) the queue depth gauge `weft_amqp_queue_depth` is refreshed with a
    /// passive `queue.declare`; 0 disables it.
    #[serde(default = "default_depth_interval_secs")]
    pub depth_interval_secs: u64,
    /// On shutdown, how long (seconds) to wait for deliveries already handed out to be
    /// settled before closing the channel (unsettled ones are redelivered by the broker).
    #[serde(default = "default_drain_timeout_secs")]
    pub drain_timeout_secs: u64,
}

/// An AMQP sink: publishes each event to an exchange with publisher confirms.
///
/// ```toml
/// [sinks.erp]
/// type = "amqp"
/// uri = "amqps://weft:${AMQP_PASSWORD}@rabbitmq:5671/erp"
/// exchange = "erp.events"
/// routing_key = "orders.{type}"
/// content_mode = "binary"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Broker URI: `amqp://user:pass@host:5672/vhost` or `amqps://…` for TLS. The vhost is
    /// percent-encoded (`%2f` is the default vhost `/`). Secrets come from `${ENV}`.
    pub uri: String,
    /// The exchange to publish to; `""` is the default exchange (routing key = queue name).
    pub exchange: String,
    /// Routing key template: `{name}` is replaced by the event attribute `name` (`{type}`,
    /// `{subject}`, `{source}`, any extension); `{{` and `}}` are literal braces. An event
    /// lacking a referenced attribute fails permanently.
    #[serde(default = "default_routing_key")]
    pub routing_key: String,
    /// How events are written: `binary` (attributes as `cloudEvents:*` headers, body =
    /// data) or `structured` (body = JSON event, content type
    /// `application/cloudevents+json`).
    #[serde(default)]
    pub content_mode: ContentMode,
    /// Separator of binary-mode header names: `colon` (`cloudEvents:id`) or `underscore`
    /// (`cloudEvents_id`, for JMS consumers).
    #[serde(default)]
    pub header_separator: HeaderSeparator,
    /// Publish with `mandatory`: a message no queue is bound for is returned by the broker
    /// and reported as a permanent failure ("unroutable") instead of being dropped.
    #[serde(default = "default_true")]
    pub mandatory: bool,
    /// Persistent delivery mode (2): the broker writes the message to disk on durable
    /// queues before confirming it.
    #[serde(default = "default_true")]
    pub persistent: bool,
    /// Milliseconds to wait for the broker's publisher confirm; a missing confirm is a
    /// (transient) failure, never a success.
    #[serde(default = "default_confirm_timeout_ms")]
    pub confirm_timeout_ms: u64,
    /// Publisher channels (each with confirms on): the most publishes awaiting their
    /// confirm at once. Further `deliver` calls wait for a free channel.
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// `true`: declare the topology below on every (re)connect. `false`: only check that
    /// the exchange and the listed exchanges and queues exist (passive declare).
    #[serde(default)]
    pub declare: bool,
    /// Exchanges, queues and bindings this sink relies on.
    #[serde(default)]
    pub topology: TopologyConfig,
    /// Connection name shown by the broker; defaults to `weft-sink-<exchange>`.
    #[serde(default)]
    pub connection_name: Option<String>,
    /// TLS settings for `amqps://` URIs beyond the system trust store.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Backoff between reconnect attempts (a publish while waiting fails transiently).
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    /// Seconds allowed for the TCP/TLS connect and the AMQP handshake.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
}

/// Exchanges, queues and bindings, declared (`declare = true`) or checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologyConfig {
    /// Exchanges.
    #[serde(default)]
    pub exchanges: Vec<ExchangeConfig>,
    /// Queues.
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// Queue bindings.
    #[serde(default)]
    pub bindings: Vec<BindingConfig>,
}

/// One exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// Exchange name.
    pub name: String,
    /// Exchange type: `direct`, `fanout`, `topic`, `headers`, or a plugin type such as
    /// `x-delayed-message`.
    #[serde(rename = "type", default = "default_exchange_type")]
    pub kind: String,
    /// Survives a broker restart.
    #[serde(default = "default_true")]
    pub durable: bool,
    /// Deleted when its last binding is removed.
    #[serde(default)]
    pub auto_delete: bool,
    /// Only reachable from other exchanges, not by publishers.
    #[serde(default)]
    pub internal: bool,
    /// Extra `exchange.declare` arguments (e.g. `alternate-exchange`).
    #[serde(default)]
    pub arguments: BTreeMap<String, serde_json::Value>,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue name.
    pub name: String,
    /// `classic` or `quorum` (`x-queue-type`). Quorum queues are replicated, always
    /// durable, and count deliveries (`x-delivery-count`), which makes `max_deliveries`
    /// exact.
    #[serde(default)]
    pub queue_type: QueueType,
    /// Survives a broker restart (must be `true` for quorum queues).
    #[serde(default = "default_true")]
    pub durable: bool,
    /// Broker-side dead-letter exchange (`x-dead-letter-exchange`): a message the source
    /// rejects (over `max_deliveries`, malformed) is routed there by the broker, which adds
    /// an `x-death` header.
    #[serde(default)]
    pub dead_letter_exchange: Option<String>,
    /// Routing key for broker dead-lettering (`x-dead-letter-routing-key`); the message's
    /// own routing key when absent.
    #[serde(default)]
    pub dead_letter_routing_key: Option<String>,
    /// Quorum queues only: the broker dead-letters (or drops) a message returned more often
    /// than this (`x-delivery-limit`).
    #[serde(default)]
    pub delivery_limit: Option<u32>,
    /// Extra `queue.declare` arguments (e.g. `x-max-length`, `x-message-ttl`).
    #[serde(default)]
    pub arguments: BTreeMap<String, serde_json::Value>,
}

/// A binding of a queue to an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    /// The bound queue.
    pub queue: String,
    /// The exchange it is bound to.
    pub exchange: String,
    /// Binding key (topic patterns like `orders.#` for topic exchanges).
    #[serde(default)]
    pub routing_key: String,
    /// Extra binding arguments (e.g. `x-match` for headers exchanges).
    #[serde(default)]
    pub arguments: BTreeMap<String, serde_json::Value>,
}

/// Queue type (`x-queue-type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// Classic queue.
    #[default]
    Classic,
    /// Quorum queue (replicated, delivery counting).
    Quorum,
}

/// Where the source publishes dead letters itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Exchange to publish dead letters to (with publisher confirms).
    pub exchange: String,
    /// Routing key; the message's own routing key when absent.
    #[serde(default)]
    pub routing_key: Option<String>,
}

/// TLS material for `amqps://`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with CA certificates to trust (e.g. a private CA), in addition to the
    /// platform's trust store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM (PKCS#8) private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// Exponential reconnect backoff with jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    /// First delay, in milliseconds.
    #[serde(default = "default_backoff_initial_ms")]
    pub initial_ms: u64,
    /// Largest delay, in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub max_ms: u64,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            initial_ms: default_backoff_initial_ms(),
            max_ms: default_backoff_max_ms(),
        }
    }
}

/// Default `prefetch`.
pub fn default_prefetch() -> u16 {
    64
}
/// Default `max_deliveries`.
pub fn default_max_deliveries() -> u32 {
    5
}
/// Default `connect_timeout_secs`.
pub fn default_connect_timeout_secs() -> u64 {
    10
}
/// Default `depth_interval_secs`.
pub fn default_depth_interval_secs() -> u64 {
    15
}
/// Default `drain_timeout_secs`.
pub fn default_drain_timeout_secs() -> u64 {
    30
}
/// Default sink `routing_key`: the event type.
pub fn default_routing_key() -> String {
    "{type}".to_string()
}
/// Default `confirm_timeout_ms`.
pub fn default_confirm_timeout_ms() -> u64 {
    10_000
}
/// Default sink `channels`.
pub fn default_channels() -> usize {
    32
}
/// Default exchange `type`.
pub fn default_exchange_type() -> String {
    "direct".to_string()
}
/// Default `reconnect.initial_ms`.
pub fn default_backoff_initial_ms() -> u64 {
    200
}
/// Default `reconnect.max_ms`.
pub fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_true() -> bool {
    true
}

/// Why a configuration is unusable; every problem found, one per entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct ConfigError {
    /// The problems, each naming its field.
    pub problems: Vec<String>,
}

/// Connection settings shared by the source and the sink.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSettings {
    pub(crate) uri: String,
    pub(crate) connection_name: String,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) reconnect: ReconnectConfig,
    pub(crate) connect_timeout: Duration,
}

impl SourceConfig {
    /// Creates a config with the defaults for everything but the URI and the queue.
    pub fn new(uri: impl Into<String>, queue: impl Into<String>) -> Self {
        SourceConfig {
            uri: uri.into(),
            queue: queue.into(),
            prefetch: default_prefetch(),
            max_deliveries: default_max_deliveries(),
            declare: false,
            topology: TopologyConfig::default(),
            dead_letter: None,
            connection_name: None,
            tls: None,
            reconnect: ReconnectConfig::default(),
            connect_timeout_secs: default_connect_timeout_secs(),
            depth_interval_secs: default_depth_interval_secs(),
            drain_timeout_secs: default_drain_timeout_secs(),
        }
    }

    /// Checks the values serde cannot: URI syntax, name lengths, topology consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        check_uri(&self.uri, &mut problems);
        check_name("queue", &self.queue, false, &mut problems);
        if self.prefetch == 0 {
            problems.push("prefetch: must be at least 1 (0 would mean unlimited)".into());
        }
        if self.max_deliveries == 0 {
            problems.push("max_deliveries: must be at least 1".into());
        }
        if let Some(dl) = &self.dead_letter {
            check_name("dead_letter.exchange", &dl.exchange, true, &mut problems);
            if let Some(rk) = &dl.routing_key {
                check_name("dead_letter.routing_key", rk, true, &mut problems);
            }
        }
        if self.drain_timeout_secs == 0 {
            problems.push("drain_timeout_secs: must be at least 1".into());
        }
        check_common(
            &self.topology,
            &self.tls,
            &self.reconnect,
            self.connect_timeout_secs,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The queue's broker dead-letter exchange, when `topology` declares one for it.
    pub(crate) fn broker_dead_letter_exchange(&self) -> Option<&str> {
        self.topology
            .queues
            .iter()
            .find(|q| q.name == self.queue)
            .and_then(|q| q.dead_letter_exchange.as_deref())
    }

    /// Where the source publishes malformed messages itself: `dead_letter`, else the
    /// queue's broker dead-letter exchange (and routing key) from `topology`. Publishing
    /// (rather than rejecting to the broker) keeps the parse error with the message as
    /// `ce-deadletterreason`, which a broker reject cannot carry.
    pub(crate) fn malformed_dead_letter(&self) -> Option<DeadLetterConfig> {
        self.dead_letter.clone().or_else(|| {
            let q = self.topology.queues.iter().find(|q| q.name == self.queue)?;
            Some(DeadLetterConfig {
                exchange: q.dead_letter_exchange.clone()?,
                routing_key: q.dead_letter_routing_key.clone(),
            })
        })
    }

    pub(crate) fn connection(&self) -> ConnectionSettings {
        ConnectionSettings {
            uri: self.uri.clone(),
            connection_name: self
                .connection_name
                .clone()
                .unwrap_or_else(|| format!("weft-source-{}", self.queue)),
            tls: self.tls.clone(),
            reconnect: self.reconnect.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
        }
    }
}

impl SinkConfig {
    /// Creates a config with the defaults for everything but the URI and the exchange.
    pub fn new(uri: impl Into<String>, exchange: impl Into<String>) -> Self {
        SinkConfig {
            uri: uri.into(),
            exchange: exchange.into(),
            routing_key: default_routing_key(),
            content_mode: ContentMode::default(),
            header_separator: HeaderSeparator::default(),
            mandatory: true,
            persistent: true,
            confirm_timeout_ms: default_confirm_timeout_ms(),
            channels: default_channels(),
            declare: false,
            topology: TopologyConfig::default(),
            connection_name: None,
            tls: None,
            reconnect: ReconnectConfig::default(),
            connect_timeout_secs: default_connect_timeout_secs(),
        }
    }

    /// Checks the values serde cannot: URI syntax, the routing key template, name lengths.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        check_uri(&self.uri, &mut problems);
        check_name("exchange", &self.exchange, true, &mut problems);
        if let Err(e) = RoutingKeyTemplate::parse(&self.routing_key) {
            problems.push(format!("routing_key: {e}"));
        }
        if self.confirm_timeout_ms == 0 {
            problems.push("confirm_timeout_ms: must be at least 1".into());
        }
        if self.channels == 0 || self.channels > 1024 {
            problems.push("channels: must be between 1 and 1024".into());
        }
        check_common(
            &self.topology,
            &self.tls,
            &self.reconnect,
            self.connect_timeout_secs,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    pub(crate) fn connection(&self) -> ConnectionSettings {
        let target = if self.exchange.is_empty() {
            "default"
        } else {
            &self.exchange
        };
        ConnectionSettings {
            uri: self.uri.clone(),
            connection_name: self
                .connection_name
                .clone()
                .unwrap_or_else(|| format!("weft-sink-{target}")),
            tls: self.tls.clone(),
            reconnect: self.reconnect.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
        }
    }
}

fn check_uri(uri: &str, problems: &mut Vec<String>) {
    if let Err(e) = uri.parse::<lapin::uri::AMQPUri>() {
        problems.push(format!(
            "uri: `{}` is not an AMQP URI ({e}); expected amqp://user:pass@host:5672/vhost",
            weft_connector::redact::redact_url(uri)
        ));
    }
}

fn check_name(field: &str, name: &str, empty_ok: bool, problems: &mut Vec<String>) {
    if name.is_empty() && !empty_ok {
        problems.push(format!("{field}: must not be empty"));
    }
    if name.len() > 255 {
        problems.push(format!(
            "{field}: `{name}` is {} bytes long; AMQP names are at most 255 bytes",
            name.len()
        ));
    }
}

fn check_common(
    topology: &TopologyConfig,
    tls: &Option<TlsConfig>,
    reconnect: &ReconnectConfig,
    connect_timeout_secs: u64,
    problems: &mut Vec<String>,
) {
    for (i, ex) in topology.exchanges.iter().enumerate() {
        check_name(
            &format!("topology.exchanges[{i}].name"),
            &ex.name,
            false,
            problems,
        );
        if ex.kind.is_empty() {
            problems.push(format!("topology.exchanges[{i}].type: must not be empty"));
        }
        check_arguments(
            &format!("topology.exchanges[{i}].arguments"),
            &ex.arguments,
            problems,
        );
    }
    for (i, q) in topology.queues.iter().enumerate() {
        let at = format!("topology.queues[{i}]");
        check_name(&format!("{at}.name"), &q.name, false, problems);
        if q.queue_type == QueueType::Quorum && !q.durable {
            problems.push(format!("{at}.durable: quorum queues are always durable"));
        }
        if q.delivery_limit.is_some() && q.queue_type != QueueType::Quorum {
            problems.push(format!(
                "{at}.delivery_limit: only quorum queues support a delivery limit"
            ));
        }
        if let Some(dlx) = &q.dead_letter_exchange {
            check_name(&format!("{at}.dead_letter_exchange"), dlx, true, problems);
        }
        if q.dead_letter_routing_key.is_some() && q.dead_letter_exchange.is_none() {
            problems.push(format!(
                "{at}.dead_letter_routing_key: needs dead_letter_exchange"
            ));
        }
        check_arguments(&format!("{at}.arguments"), &q.arguments, problems);
    }
    for (i, b) in topology.bindings.iter().enumerate() {
        let at = format!("topology.bindings[{i}]");
        check_name(&format!("{at}.queue"), &b.queue, false, problems);
        check_name(&format!("{at}.exchange"), &b.exchange, false, problems);
        check_name(&format!("{at}.routing_key"), &b.routing_key, true, problems);
        check_arguments(&format!("{at}.arguments"), &b.arguments, problems);
    }
    if let Some(tls) = tls
        && tls.cert_file.is_some() != tls.key_file.is_some()
    {
        problems.push("tls: cert_file and key_file go together".into());
    }
    if reconnect.initial_ms == 0 || reconnect.max_ms < reconnect.initial_ms {
        problems.push("reconnect: need 0 < initial_ms <= max_ms".into());
    }
    if connect_timeout_secs == 0 {
        problems.push("connect_timeout_secs: must be at least 1".into());
    }
}

fn check_arguments(
    field: &str,
    arguments: &BTreeMap<String, serde_json::Value>,
    problems: &mut Vec<String>,
) {
    for (name, value) in arguments {
        if name.len() > 255 {
            problems.push(format!("{field}: argument name `{name}` is too long"));
        }
        if let Err(e) = json_to_amqp(value) {
            problems.push(format!("{field}.{name}: {e}"));
        }
    }
}

/// Converts a config argument value to an AMQP field value.
pub(crate) fn json_to_amqp(value: &serde_json::Value) -> Result<AMQPValue, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                AMQPValue::LongLongInt(i)
            } else if let Some(f) = n.as_f64() {
                AMQPValue::Double(f)
            } else {
                return Err(format!("number {n} is out of range"));
            }
        }
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_bytes())),
        Value::Array(items) => AMQPValue::FieldArray(
            items
                .iter()
                .map(json_to_amqp)
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
        Value::Object(map) => AMQPValue::FieldTable(json_table(map.iter())?),
        Value::Null => AMQPValue::Void,
    })
}

/// Converts config arguments to an AMQP field table.
pub(crate) fn json_table<'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Result<FieldTable, String> {
    let mut table = FieldTable::default();
    for (name, value) in entries {
        let key = ShortString::try_new(name.as_str()).map_err(|e| format!("`{name}`: {e}"))?;
        table.insert(key, json_to_amqp(value)?);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_defaults_and_topology_parse() {
        let config: SourceConfig = toml::from_str(
            r#"
            uri = "amqp://guest:guest@localhost:5672/%2f"
            queue = "orders"
            declare = true
            [[topology.exchanges]]
            name = "orders"
            type = "topic"
            [[topology.queues]]
            name = "orders"
            queue_type = "quorum"
            dead_letter_exchange = "orders.dlx"
            delivery_limit = 10
            arguments = { "x-max-length" = 1000 }
            [[topology.bindings]]
            queue = "orders"
            exchange = "orders"
            routing_key = "orders.#"
            "#,
        )
        .unwrap();
        assert_eq!(config.prefetch, 64);
        assert_eq!(config.max_deliveries, 5);
        assert_eq!(config.topology.exchanges[0].kind, "topic");
        assert!(config.topology.exchanges[0].durable);
        assert_eq!(config.broker_dead_letter_exchange(), Some("orders.dlx"));
        config.validate().unwrap();
        assert_eq!(config.connection().connection_name, "weft-source-orders");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<SinkConfig>(
            r#"
            uri = "amqp://localhost"
            exchange = "x"
            routingkey = "a"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("routingkey"), "{err}");
        assert!(
            toml::from_str::<SourceConfig>("uri = \"amqp://h\"\nqueue = \"q\"\ntype = \"amqp\"")
                .is_err()
        );
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut config = SinkConfig::new("http://nope", "x".repeat(300));
        config.routing_key = "orders.{type".into();
        config.channels = 0;
        let err = config.validate().unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        assert!(err.problems[0].starts_with("uri:"), "{err}");

        let mut source = SourceConfig::new("amqp://localhost", "q");
        source.topology.queues.push(QueueConfig {
            name: "q".into(),
            queue_type: QueueType::Classic,
            durable: true,
            dead_letter_exchange: None,
            dead_letter_routing_key: Some("k".into()),
            delivery_limit: Some(3),
            arguments: BTreeMap::new(),
        });
        let err = source.validate().unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
    }

    #[test]
    fn sink_defaults() {
        let config: SinkConfig =
            toml::from_str("uri = \"amqp://localhost\"\nexchange = \"events\"").unwrap();
        assert_eq!(config.routing_key, "{type}");
        assert!(config.mandatory && config.persistent);
        assert_eq!(config.content_mode, ContentMode::Binary);
        assert_eq!(config.connection().connection_name, "weft-sink-events");
        config.validate().unwrap();
    }

    #[test]
    fn schema_is_generated() {
        let schema = schemars::schema_for!(SourceConfig);
        let text = serde_json::to_string(&schema).unwrap();
        assert!(text.contains("max_deliveries"));
        let schema = schemars::schema_for!(SinkConfig);
        assert!(
            serde_json::to_string(&schema)
                .unwrap()
                .contains("confirm_timeout_ms")
        );
    }

    #[test]
    fn arguments_convert_to_amqp_values() {
        let v = serde_json::json!({"a": 1, "b": "s", "c": true, "d": [1.5]});
        let serde_json::Value::Object(map) = v else {
            unreachable!()
        };
        let table = json_table(map.iter()).unwrap();
        assert_eq!(table.inner().len(), 4);
        assert_eq!(
            table.inner().get("a").cloned(),
            Some(AMQPValue::LongLongInt(1))
        );
    }
}
