//! What happens inside the Redis connectors, one struct per internal event (docs/DESIGN.md §5.5).
//!
//! Each `emit()` logs with structured fields and updates a metric whose labels are bounded
//! by configuration (stream, group, channel names, fixed reasons) — never entry or event
//! ids.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `weft_redis_read_total` | counter | stream, group |
//! | `weft_redis_acked_total` | counter | stream, group |
//! | `weft_redis_requeued_total` | counter | stream, group |
//! | `weft_redis_claimed_total` | counter | stream, group |
//! | `weft_redis_dead_lettered_total` | counter | stream, group, reason |
//! | `weft_redis_trimmed_total` | counter | stream |
//! | `weft_redis_connection_errors_total` | counter | stream, operation |
//! | `weft_redis_reconnects_total` | counter | stream, role |
//! | `weft_redis_sink_written_total` | counter | stream |
//! | `weft_redis_sink_failed_total` | counter | stream, kind |
//! | `weft_redis_pubsub_received_total` | counter | channel |
//! | `weft_redis_pubsub_published_total` | counter | channel |
//! | `weft_redis_consumer_lag` | gauge | stream, group |
//! | `weft_redis_consumer_pending` | gauge | stream, group |
//!
//! For pub/sub, `stream` labels carry the channel (or pattern) name.

use tracing::{debug, trace, warn};
use weft_telemetry::metrics::{counter, gauge};

/// Entries were read from a stream (by `XREADGROUP` or a claim).
pub(crate) struct EntriesRead<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub count: usize,
}

impl EntriesRead<'_> {
    pub fn emit(self) {
        trace!(
            stream = self.stream,
            group = self.group,
            count = self.count,
            "read stream entries"
        );
        counter!("weft_redis_read_total", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
            .increment(self.count as u64);
    }
}

/// Entries were acknowledged (`XACK`).
pub(crate) struct EntriesAcked<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub count: usize,
}

impl EntriesAcked<'_> {
    pub fn emit(self) {
        trace!(
            stream = self.stream,
            group = self.group,
            count = self.count,
            "acknowledged stream entries"
        );
        counter!("weft_redis_acked_total", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
            .increment(self.count as u64);
    }
}

/// A delivery was settled with `Requeue` (or dropped unsettled): the entry stays pending.
pub(crate) struct EntryRequeued<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub id: &'a str,
    pub reason: &'a str,
}

impl EntryRequeued<'_> {
    pub fn emit(self) {
        debug!(
            stream = self.stream,
            group = self.group,
            id = self.id,
            reason = self.reason,
            "stream entry requeued; it stays pending and will be claimed again"
        );
        counter!("weft_redis_requeued_total", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
            .increment(1);
    }
}

/// Idle pending entries were claimed (`XAUTOCLAIM`) for redelivery.
pub(crate) struct EntriesClaimed<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub consumer: &'a str,
    pub count: usize,
}

impl EntriesClaimed<'_> {
    pub fn emit(self) {
        debug!(
            stream = self.stream,
            group = self.group,
            consumer = self.consumer,
            count = self.count,
            "claimed idle pending entries"
        );
        counter!("weft_redis_claimed_total", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
            .increment(self.count as u64);
    }
}

/// Why an entry was dead-lettered by the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadLetterReason {
    /// Delivered more than `max_deliveries` times.
    MaxDeliveries,
    /// Not a CloudEvent under the binding.
    Malformed,
}

impl DeadLetterReason {
    fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::MaxDeliveries => "max_deliveries",
            DeadLetterReason::Malformed => "malformed",
        }
    }
}

/// An entry was written to the dead-letter stream and acknowledged.
pub(crate) struct EntryDeadLettered<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub dead_letter_stream: &'a str,
    pub id: &'a str,
    pub reason: DeadLetterReason,
    pub detail: &'a str,
}

impl EntryDeadLettered<'_> {
    pub fn emit(self) {
        warn!(
            stream = self.stream,
            group = self.group,
            dead_letter_stream = self.dead_letter_stream,
            id = self.id,
            reason = self.reason.as_str(),
            detail = self.detail,
            "stream entry dead-lettered"
        );
        counter!("weft_redis_dead_lettered_total", "stream" => self.stream.to_owned(),
            "group" => self.group.to_owned(), "reason" => self.reason.as_str())
        .increment(1);
    }
}

/// The source stream was trimmed after acknowledgements.
pub(crate) struct StreamTrimmed<'a> {
    pub stream: &'a str,
    pub removed: u64,
}

impl StreamTrimmed<'_> {
    pub fn emit(self) {
        debug!(
            stream = self.stream,
            removed = self.removed,
            "trimmed acknowledged entries"
        );
        counter!("weft_redis_trimmed_total", "stream" => self.stream.to_owned())
            .increment(self.removed);
    }
}

/// A Redis command or connection attempt failed.
pub(crate) struct ConnectionError<'a> {
    /// Stream or channel name.
    pub stream: &'a str,
    /// What was being done: `connect`, `read`, `ack`, `claim`, `dead_letter`, …
    pub operation: &'static str,
    pub error: &'a redis::RedisError,
}

impl ConnectionError<'_> {
    pub fn emit(self) {
        warn!(stream = self.stream, operation = self.operation, error = %self.error,
            "redis command failed; retrying with backoff");
        counter!("weft_redis_connection_errors_total", "stream" => self.stream.to_owned(),
            "operation" => self.operation)
        .increment(1);
    }
}

/// A connection was re-established after a failure.
pub(crate) struct Reconnected<'a> {
    /// Stream or channel name.
    pub stream: &'a str,
    /// Which connection: `reader` or `subscriber`.
    pub role: &'static str,
}

impl Reconnected<'_> {
    pub fn emit(self) {
        warn!(
            stream = self.stream,
            role = self.role,
            "reconnected to redis"
        );
        counter!("weft_redis_reconnects_total", "stream" => self.stream.to_owned(), "role" => self.role)
            .increment(1);
    }
}

/// A sink wrote an event (`XADD` replied with an id).
pub(crate) struct SinkWritten<'a> {
    /// The sink's counter (see [`sink_written_counter`]).
    pub counter: &'a weft_telemetry::metrics::Counter,
}

impl SinkWritten<'_> {
    pub fn emit(self) {
        self.counter.increment(1);
    }
}

/// The `weft_redis_sink_written_total` counter of a stream, registered once per sink.
pub(crate) fn sink_written_counter(stream: &str) -> weft_telemetry::metrics::Counter {
    counter!("weft_redis_sink_written_total", "stream" => stream.to_owned())
}

/// A sink failed to write an event.
pub(crate) struct SinkFailed<'a> {
    pub stream: &'a str,
    pub transient: bool,
    pub error: &'a redis::RedisError,
}

impl SinkFailed<'_> {
    pub fn emit(self) {
        let kind = if self.transient {
            "transient"
        } else {
            "permanent"
        };
        warn!(stream = self.stream, kind, error = %self.error, "redis sink write failed");
        counter!("weft_redis_sink_failed_total", "stream" => self.stream.to_owned(), "kind" => kind)
            .increment(1);
    }
}

/// A pub/sub message was received.
pub(crate) struct PubSubReceived<'a> {
    /// The subscription (channel or pattern) it matched.
    pub channel: &'a str,
}

impl PubSubReceived<'_> {
    pub fn emit(self) {
        trace!(channel = self.channel, "received pub/sub message");
        counter!("weft_redis_pubsub_received_total", "channel" => self.channel.to_owned())
            .increment(1);
    }
}

/// A pub/sub message was published.
pub(crate) struct PubSubPublished<'a> {
    pub channel: &'a str,
    pub receivers: i64,
}

impl PubSubPublished<'_> {
    pub fn emit(self) {
        trace!(
            channel = self.channel,
            receivers = self.receivers,
            "published pub/sub message"
        );
        counter!("weft_redis_pubsub_published_total", "channel" => self.channel.to_owned())
            .increment(1);
    }
}

/// Consumer-group lag and pending count, from `XINFO GROUPS`.
pub(crate) struct ConsumerLag<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    /// Entries not yet delivered to the group (`None` when Redis cannot tell).
    pub lag: Option<usize>,
    /// Entries delivered but not acknowledged.
    pub pending: usize,
}

impl ConsumerLag<'_> {
    pub fn emit(self) {
        trace!(stream = self.stream, group = self.group, lag = ?self.lag, pending = self.pending, "consumer group state");
        if let Some(lag) = self.lag {
            gauge!("weft_redis_consumer_lag", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
                .set(lag as f64);
        }
        gauge!("weft_redis_consumer_pending", "stream" => self.stream.to_owned(), "group" => self.group.to_owned())
            .set(self.pending as f64);
    }
}
