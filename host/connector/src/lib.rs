//! The contract between weft's router and its connectors: [`Source`] yields
//! [`Delivery`]s, each settled exactly once through its [`Acknowledge`] handle; [`Sink`]
//! delivers an event durably and says so.
//!
//! At-least-once (docs/DESIGN.md §1): a source acknowledges a message to its broker only when
//! its delivery is settled with [`Settlement::Ack`], which the router does after every sink
//! of every matching route confirmed or the event was written to a dead-letter sink.
//! [`Settlement::Requeue`] hands the message back (it is delivered again later).
//!
//! ```
//! use weft_connector::{Settlement, SinkError};
//! let s = Settlement::Requeue { reason: "shutting down".into() };
//! assert!(matches!(s, Settlement::Requeue { .. }));
//! assert!(SinkError::Transient("timeout".into()).is_transient());
//! ```

mod backoff;
mod connect;
mod ready;
pub mod redact;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use backoff::Backoff;
pub use connect::{BuildContext, Finding, Resources, Severity, SinkConnector, SourceConnector};
pub use ready::Readiness;
pub use store::{EventReader, EventStore, StoreError, StoredEvent};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_event::Event;

pub use tokio_util::sync::CancellationToken as Shutdown;

/// How a delivery ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Done: every sink confirmed, or the event was dead-lettered durably. The source
    /// acknowledges the message to its broker.
    Ack,
    /// Not done: hand the message back so it is delivered again (shutdown, or a sink and
    /// the dead-letter destination both failed).
    Requeue {
        /// Why, for logs.
        reason: String,
    },
}

/// Settles one delivery. Implemented by each source (e.g. batches `XACK`, calls
/// `basic.ack`, advances a log cursor).
#[async_trait]
pub trait Acknowledge: Send + 'static {
    /// Settles the delivery; called exactly once.
    async fn settle(self: Box<Self>, settlement: Settlement);
}

/// A message that could not be decoded as a CloudEvent under its binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The raw message body (or a rendering of the fields, for field-based bindings).
    pub raw: Vec<u8>,
    /// What was wrong with it.
    pub error: String,
}

/// One message from a source: the event (or why it is not one) and its ack handle.
pub struct Delivery {
    /// The decoded event, or the decoding failure (the router dead-letters it).
    pub event: Result<Event, Malformed>,
    /// How many times the broker has delivered this message, counting this one (1 when
    /// the source cannot tell).
    pub delivery_count: u32,
    /// Where it came from, for logs: e.g. `redis:orders/1700000000000-0`.
    pub origin: String,
    /// Settles the delivery.
    pub ack: Box<dyn Acknowledge>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("delivery_count", &self.delivery_count)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What a connector promises about delivery (reported by `weft validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Messages are redelivered until acknowledged.
    AtLeastOnce,
    /// Messages may be lost; the text says when (e.g. Redis pub/sub while disconnected).
    BestEffort(&'static str),
}

/// Errors a connector reports when it cannot run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connector's configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The external system refused or failed in a way retrying will not fix.
    #[error("{0}")]
    Fatal(String),
}

/// A source of events.
#[async_trait]
pub trait Source: Send + 'static {
    /// Runs until `shutdown` is cancelled, sending deliveries to `out`. On shutdown it
    /// stops fetching, keeps settling deliveries already handed out until they are all
    /// settled (or the broker redelivers them later), then returns. Connection loss is
    /// handled inside (reconnect with backoff); only unrecoverable errors return `Err`.
    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError>;

    /// Hands the source the flag it sets once it has connected and declared what it reads
    /// for the first time (called before [`Source::run`]); the hub's `/readyz` waits for
    /// every source's flag, so a producer that publishes as soon as weft is ready does not
    /// publish into a queue or consumer group that does not exist yet. Sources that need
    /// no connection keep this default: ready at once.
    fn report_ready(&mut self, ready: Readiness) {
        ready.set();
    }
}

/// Why a sink did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Might work later (timeout, connection loss, 5xx, broker NACK).
    #[error("transient: {0}")]
    Transient(String),
    /// Will not work (4xx, unroutable, event too large for the target).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SinkError {
    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Transient(_))
    }
}

/// A destination for events.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Delivers one event; returns only once the target confirmed it durably (publisher
    /// confirm, `XADD` reply, 2xx, fsync). Called concurrently.
    async fn deliver(&self, event: &Event) -> Result<(), SinkError>;
}

/// Attribute names of the dead-letter record weft writes: the original event with these
/// extensions added.
pub mod dead_letter {
    /// Why the event was dead-lettered.
    pub const REASON: &str = "deadletterreason";
    /// The plugin (or `sink:<name>`) that failed.
    pub const FAILED_AT: &str = "deadletterat";
    /// How many attempts were made.
    pub const ATTEMPTS: &str = "deadletterattempts";
    /// The route the event was on.
    pub const ROUTE: &str = "deadletterroute";
    /// The original message id at the source (e.g. a stream entry id).
    pub const ORIGIN: &str = "deadletterorigin";
    /// Event type of the record written for a malformed message.
    pub const MALFORMED_TYPE: &str = "weft.deadletter.malformed";

    /// The id of the record written for a malformed message: `malformed-` and 32 hex
    /// digits of SHA-256 over where it came from (a source or queue, without per-delivery
    /// parts such as AMQP delivery tags) and its raw bytes. Stable: the same message
    /// redelivered gets the same id; unique across sources, channels and contents.
    pub fn malformed_id(from: &str, raw: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update((from.len() as u64).to_be_bytes());
        hash.update(from.as_bytes());
        hash.update(raw);
        let digest = hash.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("malformed-{hex}")
    }
}
