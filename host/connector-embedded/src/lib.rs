//! The embedded durable log — weft's default source and sink, so one binary needs no
//! broker — and the JSON-lines sinks (stdout, file).
//!
//! [`EmbeddedLog`] keeps topics in one redb file; appends are group-committed and
//! fsynced before they return, so an event the HTTP ingress acknowledged with `202`
//! survives `kill -9`. [`TopicSource`] reads a topic with a durable per-consumer cursor;
//! [`TopicSink`] appends to one.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_connector_embedded::EmbeddedLog;
//! let log = EmbeddedLog::open(std::path::Path::new(".weft/log.redb"), 1_000_000)?;
//! log.append("orders", &[weft_event::Event::new("1", "/erp", "order.created")]).await?;
//! assert_eq!(log.read("orders", 0, 10)?.len(), 1);
//! # Ok(()) }
//! ```

mod config;
mod log;
mod sinks;
mod topic;

pub use config::{FileSinkConfig, StdoutSinkConfig, TopicSinkConfig, TopicSourceConfig};
pub use log::{EmbeddedLog, LogError, ReaderDeliveries, Retention, check_topic};
pub use sinks::{FileSink, StdoutSink};
pub use topic::{COMMIT_INTERVAL, MAX_OUTSTANDING, REQUEUE_DELAY, TopicSink, TopicSource};
