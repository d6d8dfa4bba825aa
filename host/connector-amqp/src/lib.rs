//! AMQP 0-9-1 (RabbitMQ) connector for weft: a [`Source`] that consumes a queue and a
//! [`Sink`] that publishes to an exchange, both speaking the CloudEvents AMQP binding
//! ([`binding`]).
//!
//! - **Source** ([`source()`], [`AmqpSource`]): manual acks with a prefetch limit; a
//!   delivery is acked only when settled with
//!   [`Settlement::Ack`](weft_connector::Settlement::Ack) and nacked with requeue on
//!   `Requeue`. Messages over `max_deliveries` and malformed messages are dead-lettered
//!   (broker DLX or a configured exchange). Connection loss → reconnect with exponential
//!   backoff; acks of deliveries from a dead channel are no-ops.
//! - **Sink** ([`sink()`], [`AmqpSink`]): persistent, `mandatory` publishes with publisher
//!   confirms and a timeout; a nack, a timeout, a closed channel or an unroutable message
//!   is an error, never a success. Routing keys are templated from event attributes.
//! - **Topology** ([`TopologyConfig`]): exchanges, classic/quorum queues, bindings, dead-letter
//!   settings — declared (`declare = true`) or passively checked.
//! - **Observability**: `weft_amqp_*` metrics and structured logs (listed in the README).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_connector::ConnectorError> {
//! use weft_connector::{Settlement, Shutdown};
//! use weft_connector_amqp::{SinkConfig, SourceConfig};
//! use weft_event::Event;
//!
//! let uri = "amqp://guest:guest@127.0.0.1:5672/%2f";
//! let mut sink_config = SinkConfig::new(uri, "");
//! sink_config.routing_key = "orders".into(); // default exchange: routing key = queue
//! let sink = weft_connector_amqp::sink(sink_config).await?;
//! sink.deliver(&Event::new("1", "/erp", "order.created"))
//!     .await
//!     .expect("confirmed");
//!
//! let source = weft_connector_amqp::source(SourceConfig::new(uri, "orders"))?;
//! let (tx, mut rx) = tokio::sync::mpsc::channel(64);
//! let shutdown = Shutdown::new();
//! let task = tokio::spawn(source.run(tx, shutdown.clone()));
//! if let Some(delivery) = rx.recv().await {
//!     println!("{:?}", delivery.event);
//!     delivery.ack.settle(Settlement::Ack).await;
//! }
//! shutdown.cancel();
//! task.await.expect("source task").expect("source");
//! # Ok(()) }
//! ```

pub mod binding;
mod config;
mod connection;
mod internal_events;
mod routing_key;
mod sink;
mod source;
mod topology;

use std::sync::Arc;

use async_trait::async_trait;
use weft_connector::redact::redact_url;
use weft_connector::{
    BuildContext, ConnectorError, Finding, Guarantee, Sink, SinkConnector, Source, SourceConnector,
};

pub use binding::{ContentMode, HeaderSeparator};
pub use config::{
    BindingConfig, DeadLetterConfig, ExchangeConfig, QueueConfig, QueueType, ReconnectConfig,
    SinkConfig, SourceConfig, TlsConfig, TopologyConfig,
};
pub use sink::AmqpSink;
pub use source::AmqpSource;

/// Creates the source after validating its config. It connects inside
/// [`Source::run`], retrying with backoff, so a broker that is down at startup is not
/// fatal; a missing queue with `declare = false` on a reachable broker is.
pub fn source(config: SourceConfig) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(Box::new(AmqpSource::new(config)?))
}

/// Creates the sink: validates the config, connects, and declares or checks the topology.
/// An unreachable broker is not fatal (the first publish connects); a missing exchange
/// with `declare = false` on a reachable broker is.
pub async fn sink(config: SinkConfig) -> Result<Arc<dyn Sink>, ConnectorError> {
    Ok(Arc::new(AmqpSink::new(config).await?))
}

/// Connects to `uri` and closes again, for `weft validate --connect`. The error names the
/// URI with its password masked.
pub async fn check_connection(uri: &str) -> Result<(), String> {
    let mut config = SourceConfig::new(uri, "check");
    config.connection_name = Some("weft-validate".into());
    let connection = connection::connect(&config.connection())
        .await
        .map_err(|e| e.to_string())?;
    connection
        .close(200, "connection check done".into())
        .await
        .map_err(|e| format!("connected to {} but closing failed: {e}", redact_url(uri)))
}

#[async_trait]
impl SourceConnector for SourceConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }
    fn check(&self) -> Vec<Finding> {
        match self.validate() {
            Ok(()) => Vec::new(),
            Err(e) => Finding::errors_from(e.problems),
        }
    }
    async fn healthcheck(&self) -> Result<(), String> {
        check_connection(&self.uri).await
    }
    async fn build(&self, _context: &BuildContext) -> Result<Box<dyn Source>, ConnectorError> {
        source(self.clone())
    }
}

#[async_trait]
impl SinkConnector for SinkConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }
    fn check(&self) -> Vec<Finding> {
        match self.validate() {
            Ok(()) => Vec::new(),
            Err(e) => Finding::errors_from(e.problems),
        }
    }
    async fn healthcheck(&self) -> Result<(), String> {
        check_connection(&self.uri).await
    }
    async fn build(&self, _context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError> {
        sink(self.clone()).await
    }
}
