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
