//! Where the HTTP ingress stores what it accepts: a durable log of topics. The embedded log
//! implements it; the ingress knows only this trait, so no connector depends on another.

use async_trait::async_trait;
use weft_event::Event;

/// Why events were not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The topic name is not usable.
    #[error("{0}")]
    InvalidTopic(String),
    /// The storage failed or is closed; trying again later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The topic holds as many unread events (or bytes) as its retention allows; nothing
    /// unread is deleted, so new events are refused until its readers catch up.
    #[error("topic `{topic}` is full: {reason}")]
    Full {
        /// The topic.
        topic: String,
        /// Which ceiling was reached (events or bytes) and by whom (the slowest reader).
        reason: String,
        /// A hint for clients: when to try again.
        retry_after_secs: u32,
    },
}

/// A durable, topic-addressed event log.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Checks that `topic` is a usable name (before anything is read from a request).
    fn check_topic(&self, topic: &str) -> Result<(), StoreError>;

    /// Appends `events` to `topic` durably (on disk when it returns) and returns their
    /// offsets, in order.
    async fn append(&self, topic: &str, events: &[Event]) -> Result<Vec<u64>, StoreError>;
}

/// One stored event as a reader sees it: its position and its structured-mode JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The position in the topic (offsets grow by one per event and are never reused).
    pub offset: u64,
    /// The event in the CloudEvents JSON format (one line, as stored).
    pub json: Vec<u8>,
}

/// Reading a durable, topic-addressed log: what server-sent events and other readers
/// without a durable cursor of their own use. The embedded log implements it.
pub trait EventReader: Send + Sync + 'static {
    /// Up to `max` events of `topic` from offset `from` on, in offset order (the first may
    /// be later than `from` when older events were removed by retention). Empty for an
    /// unknown topic.
    fn read(&self, topic: &str, from: u64, max: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// The next offset to be written to `topic` (0 for an empty or unknown topic).
    fn head(&self, topic: &str) -> Result<u64, StoreError>;

    /// Whether `topic` was ever written to (it exists in the log).
    fn exists(&self, topic: &str) -> Result<bool, StoreError>;

    /// A receiver that changes whenever `topic` gets new events (its value is the head).
    /// Subscribe before reading so that no append is missed between the read and the wait.
    fn watch(&self, topic: &str) -> tokio::sync::watch::Receiver<u64>;
}
