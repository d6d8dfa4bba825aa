//! Redis connectors for weft: a Redis Streams source (consumer groups, at-least-once) and
//! sink (`XADD`), and a Redis pub/sub source and sink (best effort).
//!
//! - [`stream_source`]: reads a stream through a consumer group. An entry is acknowledged
//!   (`XACK`, batched) only when its delivery is settled with `Settlement::Ack`; entries left
//!   pending by a dead or stuck replica — or requeued here — are claimed after
//!   `claim_idle_ms` and delivered again; an entry delivered more than `max_deliveries`
//!   times, or not a CloudEvent at all, goes to the dead-letter stream (`<stream>:dlq`) and
//!   is acknowledged. Connection loss is retried with backoff; nothing is lost.
//! - [`stream_sink`]: `XADD` (optionally `MAXLEN ~ N`), confirmed by the reply.
//! - [`pubsub_source`] / [`pubsub_sink`]: `SUBSCRIBE`/`PUBLISH`, best effort.
//! - [`binding`]: how a CloudEvent is laid out in a stream entry (binary `ce_*` fields or a
//!   structured `event` field) and in a pub/sub message (JSON).
//!
//! Constructors validate the configuration but never connect: a Redis that is down at
//! startup is retried, not fatal. Use [`check_connection`] for `weft validate --connect`.
//! TLS is `rediss://`; credentials go in the URL or in `username`/`password`.
//!
//! ```no_run
//! use tokio::sync::mpsc;
//! use tokio_util::sync::CancellationToken;
//! use weft_connector::Settlement;
//! use weft_connector_redis::{StreamSourceConfig, stream_source};
//!
//! # async fn demo() -> Result<(), weft_connector::ConnectorError> {
//! let mut config = StreamSourceConfig::new("redis://127.0.0.1:6379", "orders");
//! config.group = "billing".into();
//! let source = stream_source(config)?;
//! let (tx, mut rx) = mpsc::channel(256);
//! let shutdown = CancellationToken::new();
//! let running = tokio::spawn(source.run(tx, shutdown.clone()));
//! while let Some(delivery) = rx.recv().await {
//!     println!("{:?}", delivery.event);
//!     delivery.ack.settle(Settlement::Ack).await;
//! #   break;
//! }
//! shutdown.cancel();
//! running.await.expect("source task")?;
//! # Ok(())
//! # }
//! ```
//!
//! Metrics (`weft_redis_*`) are listed in the crate README.

pub mod binding;
pub mod config;
mod internal_events;
mod pubsub;
mod stream_sink;
mod stream_source;
mod tls;
mod util;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
pub use config::{
    Binding, PubSubSinkConfig, PubSubSourceConfig, StreamSinkConfig, StreamSourceConfig, TrimConfig,
};
use weft_connector::{
    BuildContext, ConnectorError, Finding, Guarantee, Sink, SinkConnector, Source, SourceConnector,
};

/// Why Redis pub/sub is best-effort, as `weft validate` reports it.
const PUBSUB_SOURCE_LOSES: &str = "messages published while weft is disconnected or restarting are lost (use redis-stream for at-least-once)";
const PUBSUB_SINK_LOSES: &str = "a message with no subscriber connected is dropped by Redis (use redis-stream for at-least-once)";

fn findings(result: Result<(), ConnectorError>) -> Vec<Finding> {
    match result {
        Ok(()) => Vec::new(),
        Err(ConnectorError::Config(message)) => Finding::errors_from([message]),
        Err(e) => vec![Finding::error("", e.to_string())],
    }
}

/// Implements a connector-config trait for a Redis config: its guarantee, its own
/// `validate()` as the check, `PING` with its settings as the health check, and `build`.
macro_rules! redis_connector {
    ($trait:ident for $config:ty, $guarantee:expr, $built:ty, |$c:ident| $build:expr) => {
        #[async_trait]
        impl $trait for $config {
            fn guarantee(&self) -> Guarantee {
                $guarantee
            }
            fn check(&self) -> Vec<Finding> {
                findings(self.validate())
            }
            async fn healthcheck(&self) -> Result<(), String> {
                self.check_connection().await
            }
            async fn build(&self, _context: &BuildContext) -> Result<$built, ConnectorError> {
                let $c = self.clone();
                $build
            }
        }
    };
}

redis_connector!(SourceConnector for StreamSourceConfig, Guarantee::AtLeastOnce, Box<dyn Source>, |c| stream_source(c));
redis_connector!(SourceConnector for PubSubSourceConfig, Guarantee::BestEffort(PUBSUB_SOURCE_LOSES), Box<dyn Source>, |c| pubsub_source(c));
redis_connector!(SinkConnector for StreamSinkConfig, Guarantee::AtLeastOnce, Arc<dyn Sink>, |c| stream_sink(c).await);
redis_connector!(SinkConnector for PubSubSinkConfig, Guarantee::BestEffort(PUBSUB_SINK_LOSES), Arc<dyn Sink>, |c| pubsub_sink(c).await);

/// Builds a Redis Streams source (at-least-once). Validates `config`; connects inside
/// [`Source::run`].
pub fn stream_source(config: StreamSourceConfig) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(Box::new(stream_source::StreamSource::new(config)?))
}

/// Builds a Redis Streams sink. Validates `config`; the connection is made on the first
/// delivery and remade after a loss (deliveries fail with `SinkError::Transient` meanwhile).
pub async fn stream_sink(config: StreamSinkConfig) -> Result<Arc<dyn Sink>, ConnectorError> {
    Ok(Arc::new(stream_sink::StreamSink::new(config)?))
}

/// Builds a Redis pub/sub source (best effort: messages published while
/// disconnected are lost). Validates `config`; connects inside [`Source::run`].
pub fn pubsub_source(config: PubSubSourceConfig) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(Box::new(pubsub::PubSubSource::new(config)?))
}

/// Builds a Redis pub/sub sink (best effort: Redis confirms the `PUBLISH`, not
/// that anyone received it). Validates `config`; connects on first use.
pub async fn pubsub_sink(config: PubSubSinkConfig) -> Result<Arc<dyn Sink>, ConnectorError> {
    Ok(Arc::new(pubsub::PubSubSink::new(config)?))
}

/// Connects to `url` and sends `PING` (for `weft validate --connect`). Credentials may be
/// inside the URL. The error message never contains the password. To check with a
/// connector's `username`/`password`/`tls_ca_file`, use its config's `check_connection`
/// (e.g. [`StreamSourceConfig::check_connection`]).
pub async fn check_connection(url: &str) -> Result<(), String> {
    ping(config::client(url, None, None, None), url).await
}

/// Connects with `client` and sends `PING`; `url` only names the server in errors.
pub(crate) async fn ping(
    client: Result<redis::Client, ConnectorError>,
    url: &str,
) -> Result<(), String> {
    let redacted = config::redact_url(url);
    let client = client.map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(5);
    let connection_config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&connection_config)
        .await
        .map_err(|e| format!("cannot connect to {redacted}: {e}"))?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|e| format!("{redacted} did not answer PING: {e}"))?;
    Ok(())
}
