//! Configuration of the Redis sources and sinks.
//!
//! Each struct is the body of one `[sources.NAME]` / `[sinks.NAME]` table in `weft.toml`;
//! the weft binary adds the `type = "redis-stream"` / `type = "redis-pubsub"` tag. Secrets
//! (`password`, or credentials inside `url`) arrive already substituted from `${ENV}`.

use std::time::Duration;

use redis::{Client, IntoConnectionInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_connector::ConnectorError;

/// How an event is laid out in a Redis stream entry.
///
/// Readers accept both layouts whatever is configured (detected by the fields present);
/// this setting chooses what is written. See the crate README for the field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// One field per attribute (`ce_id`, `ce_type`, …), `content-type` carrying
    /// `datacontenttype` and `data` carrying the raw payload bytes.
    #[default]
    Binary,
    /// One field `event` holding the CloudEvents JSON event format.
    Structured,
}

/// Trimming of the source stream after entries were acknowledged. Off unless configured;
/// both limits may be combined.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrimConfig {
    /// Keep at most this many entries (`XTRIM MAXLEN`). Beware: this drops the oldest entries
    /// whether or not every consumer group has acknowledged them.
    #[serde(default)]
    pub maxlen: Option<u64>,
    /// Remove entries every consumer group of the stream has acknowledged (`XTRIM MINID`
    /// with the oldest id still pending or not yet delivered in any group). Safe for
    /// at-least-once delivery.
    #[serde(default)]
    pub minid_acked: bool,
    /// Trim approximately (`~`, whole radix-tree nodes; much cheaper) rather than exactly.
    #[serde(default = "default_true")]
    pub approximate: bool,
}

/// A Redis Streams source: reads a stream through a consumer group (at-least-once).
///
/// ```toml
/// [sources.orders]
/// type = "redis-stream"
/// url = "redis://127.0.0.1:6379"
/// stream = "orders"
/// group = "weft"
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSourceConfig {
    /// Redis URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS.
    pub url: String,
    /// ACL user name (overrides a user name inside `url`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides a password inside `url`); use `${ENV}` substitution.
    #[serde(default)]
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) that signed the server's certificate, trusted
    /// instead of the public (webpki) roots; only with `rediss://`.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// The stream key to read.
    pub stream: String,
    /// The consumer group; created (with `MKSTREAM`) when missing.
    #[serde(default = "default_group")]
    pub group: String,
    /// This replica's consumer name within the group. Defaults to the host name, which is
    /// stable across restarts (e.g. a StatefulSet pod name), so a restarted replica first
    /// re-reads the entries it left pending.
    #[serde(default)]
    pub consumer: Option<String>,
    /// Where a newly created group starts: `0` (the whole stream), `$` (only new entries)
    /// or an entry id.
    #[serde(default = "default_start_id")]
    pub start_id: String,
    /// Layout of the records this source writes to its dead-letter stream (entries read
    /// are accepted in either layout).
    #[serde(default)]
    pub binding: Binding,
    /// Entries fetched per `XREADGROUP` / `XAUTOCLAIM` call (`COUNT`).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long one `XREADGROUP` waits for new entries (`BLOCK`), in milliseconds.
    #[serde(default = "default_block_ms")]
    pub block_ms: u64,
    /// Flush acknowledgements (`XACK`) once this many are collected…
    #[serde(default = "default_ack_batch_size")]
    pub ack_batch_size: usize,
    /// …or after this many milliseconds, whichever comes first.
    #[serde(default = "default_ack_flush_ms")]
    pub ack_flush_ms: u64,
    /// Entries pending (delivered, unacknowledged) longer than this many milliseconds on any
    /// consumer of the group (a dead or stuck replica, or this one after a requeue) are
    /// claimed (`XAUTOCLAIM`) and delivered again.
    #[serde(default = "default_claim_idle_ms")]
    pub claim_idle_ms: u64,
    /// How often to look for such entries, in milliseconds.
    #[serde(default = "default_claim_interval_ms")]
    pub claim_interval_ms: u64,
    /// An entry delivered more than this many times is written to the dead-letter stream
    /// and acknowledged instead of being delivered again.
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u32,
    /// The dead-letter stream for entries over `max_deliveries` and malformed entries.
    /// Defaults to `<stream>:dlq`.
    #[serde(default)]
    pub dead_letter_stream: Option<String>,
    /// Trim the source stream after acknowledgement. Off by default.
    #[serde(default)]
    pub trim: Option<TrimConfig>,
    /// How often to publish `weft_redis_consumer_lag` / `weft_redis_consumer_pending`
    /// (from `XINFO GROUPS`), in milliseconds.
    #[serde(default = "default_lag_interval_ms")]
    pub lag_interval_ms: u64,
    /// On shutdown, how long to wait for deliveries already handed out to be settled and
    /// acknowledged, in milliseconds. Unsettled entries stay pending and are re-read later.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// Timeout for connecting to Redis, in milliseconds.
    #[serde(default = "default_connection_timeout_ms")]
    pub connection_timeout_ms: u64,
    /// Timeout for one command (other than the blocking read), in milliseconds.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// Upper bound of the exponential reconnect backoff, in milliseconds.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub reconnect_max_backoff_ms: u64,
}

/// A Redis Streams sink: appends each event with `XADD`; the reply is the confirmation.
///
/// ```toml
/// [sinks.invoices]
/// type = "redis-stream"
/// url = "rediss://weft:${REDIS_PASSWORD}@redis.example:6380"
/// stream = "invoices"
/// maxlen = 1000000
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSinkConfig {
    /// Redis URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS.
    pub url: String,
    /// ACL user name (overrides a user name inside `url`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides a password inside `url`); use `${ENV}` substitution.
    #[serde(default)]
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) that signed the server's certificate, trusted
    /// instead of the public (webpki) roots; only with `rediss://`.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// The stream key to append to (created by the first `XADD`).
    pub stream: String,
    /// How events are laid out in the entry.
    #[serde(default)]
    pub binding: Binding,
    /// Cap the stream at about this many entries (`XADD … MAXLEN ~ N`).
    #[serde(default)]
    pub maxlen: Option<u64>,
    /// Make `maxlen` exact (`MAXLEN = N`) instead of approximate (`~`, cheaper).
    #[serde(default)]
    pub maxlen_exact: bool,
    /// Timeout for connecting to Redis, in milliseconds.
    #[serde(default = "default_connection_timeout_ms")]
    pub connection_timeout_ms: u64,
    /// Timeout for one `XADD`, in milliseconds.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// Upper bound of the exponential reconnect backoff, in milliseconds.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub reconnect_max_backoff_ms: u64,
}

/// A Redis pub/sub source: subscribes to channels and/or patterns. **Best effort**: messages
/// published while weft is disconnected are lost, and nothing is redelivered.
///
/// ```toml
/// [sources.prices]
/// type = "redis-pubsub"
/// url = "redis://127.0.0.1:6379"
/// channels = ["prices"]
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PubSubSourceConfig {
    /// Redis URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS.
    pub url: String,
    /// ACL user name (overrides a user name inside `url`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides a password inside `url`); use `${ENV}` substitution.
    #[serde(default)]
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) that signed the server's certificate, trusted
    /// instead of the public (webpki) roots; only with `rediss://`.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// Channels to `SUBSCRIBE` to.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Glob patterns to `PSUBSCRIBE` to, e.g. `orders.*`.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Timeout for connecting to Redis, in milliseconds.
    #[serde(default = "default_connection_timeout_ms")]
    pub connection_timeout_ms: u64,
    /// How often to `PING` the subscription connection to detect a dead link, in
    /// milliseconds.
    #[serde(default = "default_ping_interval_ms")]
    pub ping_interval_ms: u64,
    /// Upper bound of the exponential reconnect backoff, in milliseconds.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub reconnect_max_backoff_ms: u64,
}

/// A Redis pub/sub sink: `PUBLISH`es each event (JSON event format) to one channel.
/// **Best effort**: Redis confirms the publish, not that any subscriber received it.
///
/// ```toml
/// [sinks.ticker]
/// type = "redis-pubsub"
/// url = "redis://127.0.0.1:6379"
/// channel = "ticker"
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PubSubSinkConfig {
    /// Redis URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS.
    pub url: String,
    /// ACL user name (overrides a user name inside `url`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides a password inside `url`); use `${ENV}` substitution.
    #[serde(default)]
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) that signed the server's certificate, trusted
    /// instead of the public (webpki) roots; only with `rediss://`.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// The channel to publish to.
    pub channel: String,
    /// Timeout for connecting to Redis, in milliseconds.
    #[serde(default = "default_connection_timeout_ms")]
    pub connection_timeout_ms: u64,
    /// Timeout for one `PUBLISH`, in milliseconds.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// Upper bound of the exponential reconnect backoff, in milliseconds.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub reconnect_max_backoff_ms: u64,
}

/// `Debug` that shows the URL with its password masked and `password` as `***`.
macro_rules! redacted_debug {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("url", &redact_url(&self.url))
                    .field("username", &self.username)
                    .field("password", &self.password.as_ref().map(|_| "***"))
                    .field("tls_ca_file", &self.tls_ca_file)
                    $(.field(stringify!($field), &self.$field))*
                    .finish()
            }
        }
    };
}

redacted_debug!(StreamSourceConfig {
    stream,
    group,
    consumer,
    start_id,
    binding,
    batch_size,
    block_ms,
    ack_batch_size,
    ack_flush_ms,
    claim_idle_ms,
    claim_interval_ms,
    max_deliveries,
    dead_letter_stream,
    trim,
    lag_interval_ms,
    drain_timeout_ms,
    connection_timeout_ms,
    response_timeout_ms,
    reconnect_max_backoff_ms,
});
redacted_debug!(StreamSinkConfig {
    stream,
    binding,
    maxlen,
    maxlen_exact,
    connection_timeout_ms,
    response_timeout_ms,
    reconnect_max_backoff_ms,
});
redacted_debug!(PubSubSourceConfig {
    channels,
    patterns,
    connection_timeout_ms,
    ping_interval_ms,
    reconnect_max_backoff_ms,
});
redacted_debug!(PubSubSinkConfig {
    channel,
    connection_timeout_ms,
    response_timeout_ms,
    reconnect_max_backoff_ms,
});

/// Default consumer group name: `weft`.
pub fn default_group() -> String {
    "weft".to_string()
}

/// Default start id of a newly created group: `0` (the whole stream).
pub fn default_start_id() -> String {
    "0".to_string()
}

/// Default `COUNT` per read: 128.
pub fn default_batch_size() -> usize {
    128
}

/// Default `BLOCK` per read: 2000 ms.
pub fn default_block_ms() -> u64 {
    2_000
}

/// Default acknowledgement batch: 256 ids.
pub fn default_ack_batch_size() -> usize {
    256
}

/// Default acknowledgement flush interval: 5 ms.
pub fn default_ack_flush_ms() -> u64 {
    5
}

/// Default idle time before a pending entry is claimed: 60 s.
pub fn default_claim_idle_ms() -> u64 {
    60_000
}

/// Default interval between claim sweeps: 5 s.
pub fn default_claim_interval_ms() -> u64 {
    5_000
}

/// Default delivery limit: 10.
pub fn default_max_deliveries() -> u32 {
    10
}

/// Default consumer-lag polling interval: 5 s.
pub fn default_lag_interval_ms() -> u64 {
    5_000
}

/// Default shutdown drain timeout: 30 s.
pub fn default_drain_timeout_ms() -> u64 {
    30_000
}

/// Default connection timeout: 5 s.
pub fn default_connection_timeout_ms() -> u64 {
    5_000
}

/// Default command timeout: 5 s.
pub fn default_response_timeout_ms() -> u64 {
    5_000
}

/// Default reconnect backoff cap: 5 s.
pub fn default_reconnect_max_backoff_ms() -> u64 {
    5_000
}

/// Default pub/sub ping interval: 10 s.
pub fn default_ping_interval_ms() -> u64 {
    10_000
}

fn default_true() -> bool {
    true
}

impl StreamSourceConfig {
    /// Connects with this configuration's URL, credentials and TLS settings and sends
    /// `PING` (for `weft validate --connect`). Errors never contain the password.
    pub async fn check_connection(&self) -> Result<(), String> {
        crate::ping(self.client(), &self.url).await
    }

    /// A redis client for this configuration (validates the URL and credentials, reads
    /// `tls_ca_file`; does not connect).
    pub(crate) fn client(&self) -> Result<Client, ConnectorError> {
        client(
            &self.url,
            self.username.as_deref(),
            self.password.as_deref(),
            self.tls_ca_file.as_deref(),
        )
    }

    /// A configuration with every optional field at its default.
    pub fn new(url: impl Into<String>, stream: impl Into<String>) -> Self {
        StreamSourceConfig {
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            stream: stream.into(),
            group: default_group(),
            consumer: None,
            start_id: default_start_id(),
            binding: Binding::default(),
            batch_size: default_batch_size(),
            block_ms: default_block_ms(),
            ack_batch_size: default_ack_batch_size(),
            ack_flush_ms: default_ack_flush_ms(),
            claim_idle_ms: default_claim_idle_ms(),
            claim_interval_ms: default_claim_interval_ms(),
            max_deliveries: default_max_deliveries(),
            dead_letter_stream: None,
            trim: None,
            lag_interval_ms: default_lag_interval_ms(),
            drain_timeout_ms: default_drain_timeout_ms(),
            connection_timeout_ms: default_connection_timeout_ms(),
            response_timeout_ms: default_response_timeout_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
        }
    }

    /// The consumer name in effect: `consumer`, else the host name.
    pub fn consumer_name(&self) -> String {
        match &self.consumer {
            Some(name) => name.clone(),
            None => default_consumer_name(),
        }
    }

    /// The dead-letter stream in effect: `dead_letter_stream`, else `<stream>:dlq`.
    pub fn dead_letter_stream_name(&self) -> String {
        self.dead_letter_stream
            .clone()
            .unwrap_or_else(|| format!("{}:dlq", self.stream))
    }

    /// Checks the values (the URL parses, names are non-empty, numbers are in range)
    /// without connecting.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        self.client()?;
        non_empty("stream", &self.stream)?;
        non_empty("group", &self.group)?;
        non_empty("start_id", &self.start_id)?;
        if let Some(consumer) = &self.consumer {
            non_empty("consumer", consumer)?;
        }
        if let Some(dlq) = &self.dead_letter_stream {
            non_empty("dead_letter_stream", dlq)?;
            if *dlq == self.stream {
                return Err(ConnectorError::Config(
                    "dead_letter_stream must differ from stream".into(),
                ));
            }
        }
        positive("batch_size", self.batch_size as u64)?;
        positive("ack_batch_size", self.ack_batch_size as u64)?;
        positive("claim_idle_ms", self.claim_idle_ms)?;
        positive("claim_interval_ms", self.claim_interval_ms)?;
        positive("max_deliveries", u64::from(self.max_deliveries))?;
        positive("lag_interval_ms", self.lag_interval_ms)?;
        positive("connection_timeout_ms", self.connection_timeout_ms)?;
        positive("response_timeout_ms", self.response_timeout_ms)?;
        positive("reconnect_max_backoff_ms", self.reconnect_max_backoff_ms)?;
        if let Some(trim) = &self.trim {
            if trim.maxlen.is_none() && !trim.minid_acked {
                return Err(ConnectorError::Config(
                    "trim needs `maxlen = N` or `minid_acked = true`".into(),
                ));
            }
            if trim.maxlen == Some(0) {
                return Err(ConnectorError::Config(
                    "trim.maxlen must be positive".into(),
                ));
            }
        }
        Ok(())
    }
}

impl StreamSinkConfig {
    /// Connects with this configuration's URL, credentials and TLS settings and sends
    /// `PING` (for `weft validate --connect`). Errors never contain the password.
    pub async fn check_connection(&self) -> Result<(), String> {
        crate::ping(self.client(), &self.url).await
    }

    /// A redis client for this configuration (validates the URL and credentials, reads
    /// `tls_ca_file`; does not connect).
    pub(crate) fn client(&self) -> Result<Client, ConnectorError> {
        client(
            &self.url,
            self.username.as_deref(),
            self.password.as_deref(),
            self.tls_ca_file.as_deref(),
        )
    }

    /// A configuration with every optional field at its default.
    pub fn new(url: impl Into<String>, stream: impl Into<String>) -> Self {
        StreamSinkConfig {
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            stream: stream.into(),
            binding: Binding::default(),
            maxlen: None,
            maxlen_exact: false,
            connection_timeout_ms: default_connection_timeout_ms(),
            response_timeout_ms: default_response_timeout_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
        }
    }

    /// Checks the values without connecting.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        self.client()?;
        non_empty("stream", &self.stream)?;
        if self.maxlen == Some(0) {
            return Err(ConnectorError::Config("maxlen must be positive".into()));
        }
        positive("connection_timeout_ms", self.connection_timeout_ms)?;
        positive("response_timeout_ms", self.response_timeout_ms)?;
        positive("reconnect_max_backoff_ms", self.reconnect_max_backoff_ms)?;
        Ok(())
    }
}

impl PubSubSourceConfig {
    /// Connects with this configuration's URL, credentials and TLS settings and sends
    /// `PING` (for `weft validate --connect`). Errors never contain the password.
    pub async fn check_connection(&self) -> Result<(), String> {
        crate::ping(self.client(), &self.url).await
    }

    /// A redis client for this configuration (validates the URL and credentials, reads
    /// `tls_ca_file`; does not connect).
    pub(crate) fn client(&self) -> Result<Client, ConnectorError> {
        client(
            &self.url,
            self.username.as_deref(),
            self.password.as_deref(),
            self.tls_ca_file.as_deref(),
        )
    }

    /// A configuration subscribing to `channels`, every optional field at its default.
    pub fn new(url: impl Into<String>, channels: Vec<String>) -> Self {
        PubSubSourceConfig {
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            channels,
            patterns: Vec::new(),
            connection_timeout_ms: default_connection_timeout_ms(),
            ping_interval_ms: default_ping_interval_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
        }
    }

    /// Checks the values without connecting.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        self.client()?;
        if self.channels.is_empty() && self.patterns.is_empty() {
            return Err(ConnectorError::Config(
                "a redis-pubsub source needs at least one of `channels` or `patterns`".into(),
            ));
        }
        for channel in self.channels.iter().chain(&self.patterns) {
            non_empty("channels/patterns", channel)?;
        }
        positive("connection_timeout_ms", self.connection_timeout_ms)?;
        positive("ping_interval_ms", self.ping_interval_ms)?;
        positive("reconnect_max_backoff_ms", self.reconnect_max_backoff_ms)?;
        Ok(())
    }
}

impl PubSubSinkConfig {
    /// Connects with this configuration's URL, credentials and TLS settings and sends
    /// `PING` (for `weft validate --connect`). Errors never contain the password.
    pub async fn check_connection(&self) -> Result<(), String> {
        crate::ping(self.client(), &self.url).await
    }

    /// A redis client for this configuration (validates the URL and credentials, reads
    /// `tls_ca_file`; does not connect).
    pub(crate) fn client(&self) -> Result<Client, ConnectorError> {
        client(
            &self.url,
            self.username.as_deref(),
            self.password.as_deref(),
            self.tls_ca_file.as_deref(),
        )
    }

    /// A configuration publishing to `channel`, every optional field at its default.
    pub fn new(url: impl Into<String>, channel: impl Into<String>) -> Self {
        PubSubSinkConfig {
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            channel: channel.into(),
            connection_timeout_ms: default_connection_timeout_ms(),
            response_timeout_ms: default_response_timeout_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
        }
    }

    /// Checks the values without connecting.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        self.client()?;
        non_empty("channel", &self.channel)?;
        positive("connection_timeout_ms", self.connection_timeout_ms)?;
        positive("response_timeout_ms", self.response_timeout_ms)?;
        positive("reconnect_max_backoff_ms", self.reconnect_max_backoff_ms)?;
        Ok(())
    }
}

/// The default consumer name: the host name (`weft` if it cannot be read).
pub fn default_consumer_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if host.is_empty() {
        "weft".to_string()
    } else {
        host
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), ConnectorError> {
    if value.is_empty() {
        Err(ConnectorError::Config(format!(
            "`{field}` must not be empty"
        )))
    } else {
        Ok(())
    }
}

fn positive(field: &str, value: u64) -> Result<(), ConnectorError> {
    if value == 0 {
        Err(ConnectorError::Config(format!(
            "`{field}` must be positive"
        )))
    } else {
        Ok(())
    }
}

/// Builds a redis client from a URL, optional credentials overriding the URL's and an
/// optional CA file for TLS. Does not connect. Errors never contain the password.
pub(crate) fn client(
    url: &str,
    username: Option<&str>,
    password: Option<&str>,
    tls_ca_file: Option<&str>,
) -> Result<Client, ConnectorError> {
    let info = url.into_connection_info().map_err(|e| {
        ConnectorError::Config(format!(
            "invalid Redis URL `{}`: {}",
            redact_url(url),
            e.detail()
                .unwrap_or("expected redis://host:port or rediss://host:port")
        ))
    })?;
    let mut settings = info.redis_settings().clone();
    if let Some(user) = username {
        settings = settings.set_username(user);
    }
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    let info = info.set_redis_settings(settings);
    let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
    if tls {
        crate::tls::ensure_crypto_provider();
    }
    match tls_ca_file {
        None => Client::open(info).map_err(|e| {
            ConnectorError::Config(format!("invalid Redis URL `{}`: {e}", redact_url(url)))
        }),
        Some(_) if !tls => Err(ConnectorError::Config(
            "`tls_ca_file` needs a rediss:// URL".into(),
        )),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                ConnectorError::Config(format!("cannot read tls_ca_file `{path}`: {e}"))
            })?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            Client::build_with_tls(info, certificates)
                .map_err(|e| ConnectorError::Config(format!("tls_ca_file `{path}`: {e}")))
        }
    }
}

pub use weft_connector::redact::redact_url;

pub(crate) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_defaults_fill_in() {
        let cfg: StreamSourceConfig =
            toml::from_str("url = \"redis://127.0.0.1\"\nstream = \"orders\"").unwrap();
        assert_eq!(cfg, StreamSourceConfig::new("redis://127.0.0.1", "orders"));
        assert_eq!(cfg.dead_letter_stream_name(), "orders:dlq");
        assert!(!cfg.consumer_name().is_empty());
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            toml::from_str::<StreamSinkConfig>("url = \"redis://h\"\nstream = \"s\"\nmax_len = 3")
                .unwrap_err();
        assert!(err.to_string().contains("max_len"), "{err}");
        let err = toml::from_str::<StreamSourceConfig>(
            "url = \"redis://h\"\nstream = \"s\"\ntrim = { maxlen = 3, exact = true }",
        )
        .unwrap_err();
        assert!(err.to_string().contains("exact"), "{err}");
    }

    #[test]
    fn binding_and_trim_parse() {
        let cfg: StreamSourceConfig = toml::from_str(
            "url = \"rediss://u:p@h:6380\"\nstream = \"s\"\nbinding = \"structured\"\ntrim = { minid_acked = true }",
        )
        .unwrap();
        assert_eq!(cfg.binding, Binding::Structured);
        let trim = cfg.trim.clone().unwrap();
        assert!(trim.minid_acked && trim.approximate && trim.maxlen.is_none());
        cfg.validate().unwrap();
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = StreamSourceConfig::new("redis://h", "s");
        cfg.batch_size = 0;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("batch_size")
        );
        let cfg = StreamSourceConfig::new("http://h", "s");
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("invalid Redis URL")
        );
        let mut cfg = StreamSourceConfig::new("redis://h", "s");
        cfg.trim = Some(TrimConfig::default());
        assert!(cfg.validate().is_err());
        let cfg = PubSubSourceConfig::new("redis://h", vec![]);
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn debug_output_hides_passwords() {
        let mut cfg = StreamSourceConfig::new("redis://u:url-secret@h", "s");
        cfg.password = Some("field-secret".into());
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("claim_idle_ms"), "{shown}");
        let mut sink = PubSubSinkConfig::new("rediss://:p4ss@h", "c");
        sink.password = Some("p4ss".into());
        assert!(!format!("{sink:?}").contains("p4ss"));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("rediss://user:secret@h:6380/0"),
            "rediss://user:***@h:6380/0"
        );
        assert_eq!(redact_url("redis://:secret@h"), "redis://:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn schema_is_generated() {
        let schema = schemars::schema_for!(StreamSourceConfig);
        let text = serde_json::to_string(&schema).unwrap();
        assert!(text.contains("claim_idle_ms"));
        assert!(text.contains("Entries pending"));
    }
}
