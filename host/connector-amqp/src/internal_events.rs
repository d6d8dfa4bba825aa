//! What happens inside the AMQP connector, one struct per internal event (docs/DESIGN.md §5.5).
//!
//! Each `emit()` logs with structured fields and counts a `weft_amqp_*_total` metric whose
//! labels are bounded: the queue or exchange name from config and a fixed reason/role word
//! (never an event id or an error text).
//!
//! | metric | labels |
//! |---|---|
//! | `weft_amqp_consumed_total` | `queue` |
//! | `weft_amqp_acked_total` | `queue` |
//! | `weft_amqp_requeued_total` | `queue` |
//! | `weft_amqp_rejected_total` | `queue`, `reason` (`max_deliveries`, `malformed`) |
//! | `weft_amqp_dead_letter_failures_total` | `queue` |
//! | `weft_amqp_stale_settlements_total` | `queue` |
//! | `weft_amqp_ack_failures_total` | `queue` |
//! | `weft_amqp_published_total` | `exchange` |
//! | `weft_amqp_confirm_failures_total` | `exchange`, `reason` (`nack`, `timeout`, `unroutable`, `channel_closed`, `not_connected`) |
//! | `weft_amqp_reconnects_total` | `role` (`source`, `sink`), `target` (queue / exchange) |
//! | `weft_amqp_connection_failures_total` | `role`, `target` |
//! | `weft_amqp_queue_depth` (gauge) | `queue` |

use std::time::Duration;

use tracing::{debug, error, info, trace, warn};
use weft_telemetry::metrics::{counter, gauge};

/// A message arrived from the queue.
#[derive(Debug)]
pub struct MessageConsumed<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Broker delivery tag.
    pub delivery_tag: u64,
    /// Deliveries so far, this one included.
    pub delivery_count: u32,
}

impl MessageConsumed<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        trace!(queue = %self.queue, delivery_tag = self.delivery_tag, delivery_count = self.delivery_count, "amqp message consumed");
        counter!("weft_amqp_consumed_total", "queue" => self.queue.to_string()).increment(1);
    }
}

/// A message was acknowledged (`basic.ack`).
#[derive(Debug)]
pub struct MessageAcked<'a> {
    /// The queue.
    pub queue: &'a str,
}

impl MessageAcked<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        trace!(queue = %self.queue, "amqp message acked");
        counter!("weft_amqp_acked_total", "queue" => self.queue.to_string()).increment(1);
    }
}

/// A message was handed back (`basic.nack` with requeue).
#[derive(Debug)]
pub struct MessageRequeued<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Why, from the router.
    pub reason: &'a str,
}

impl MessageRequeued<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        debug!(queue = %self.queue, reason = %self.reason, "amqp message requeued");
        counter!("weft_amqp_requeued_total", "queue" => self.queue.to_string()).increment(1);
    }
}

/// Why the source dead-lettered a message itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Delivered more than `max_deliveries` times.
    MaxDeliveries,
    /// Not a CloudEvent under the binding.
    Malformed,
}

impl RejectReason {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MaxDeliveries => "max_deliveries",
            RejectReason::Malformed => "malformed",
        }
    }
}

/// The source dead-lettered a message (broker DLX via `basic.reject`, or published to the
/// configured dead-letter exchange and acked).
#[derive(Debug)]
pub struct MessageDeadLettered<'a> {
    /// The queue.
    pub queue: &'a str,
    /// The bounded reason.
    pub reason: RejectReason,
    /// The detail (parse error, counts).
    pub detail: &'a str,
    /// Where it went: `broker` (reject to the queue's DLX) or the exchange published to.
    pub destination: &'a str,
    /// Source-side message id, for logs.
    pub origin: &'a str,
}

impl MessageDeadLettered<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        warn!(queue = %self.queue, reason = self.reason.as_str(), detail = %self.detail, destination = %self.destination, origin = %self.origin, "amqp message dead-lettered by the source");
        counter!("weft_amqp_rejected_total", "queue" => self.queue.to_string(), "reason" => self.reason.as_str()).increment(1);
    }
}

/// Publishing a dead letter failed; the message is requeued.
#[derive(Debug)]
pub struct DeadLetterFailed<'a> {
    /// The queue.
    pub queue: &'a str,
    /// What went wrong.
    pub error: &'a str,
    /// Source-side message id, for logs.
    pub origin: &'a str,
}

impl DeadLetterFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        error!(queue = %self.queue, error = %self.error, origin = %self.origin, "amqp dead-letter publish failed; message requeued");
        counter!("weft_amqp_dead_letter_failures_total", "queue" => self.queue.to_string())
            .increment(1);
    }
}

/// A delivery was settled after its channel was gone: nothing is sent, the broker
/// redelivers the message.
#[derive(Debug)]
pub struct StaleSettlement<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Session (connection) generation of the delivery.
    pub generation: u64,
}

impl StaleSettlement<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        debug!(queue = %self.queue, generation = self.generation, "settlement of a delivery from a closed channel ignored; the broker redelivers it");
        counter!("weft_amqp_stale_settlements_total", "queue" => self.queue.to_string())
            .increment(1);
    }
}

/// `basic.ack`/`basic.nack`/`basic.reject` failed.
#[derive(Debug)]
pub struct AckFailed<'a> {
    /// The queue.
    pub queue: &'a str,
    /// `ack`, `nack` or `reject`.
    pub operation: &'static str,
    /// The error.
    pub error: &'a lapin::Error,
}

impl AckFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        warn!(queue = %self.queue, operation = self.operation, error = %self.error, "amqp settlement failed; the broker redelivers the message");
        counter!("weft_amqp_ack_failures_total", "queue" => self.queue.to_string()).increment(1);
    }
}

/// A message was published and confirmed.
#[derive(Debug)]
pub struct MessagePublished<'a> {
    /// The exchange.
    pub exchange: &'a str,
    /// The routing key used.
    pub routing_key: &'a str,
}

impl MessagePublished<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        trace!(exchange = %self.exchange, routing_key = %self.routing_key, "amqp message published and confirmed");
        counter!("weft_amqp_published_total", "exchange" => self.exchange.to_string()).increment(1);
    }
}

/// Why a publish was not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmFailure {
    /// The broker sent `basic.nack`.
    Nack,
    /// No confirm within the timeout.
    Timeout,
    /// The message was returned (mandatory, no route).
    Unroutable,
    /// The channel or connection closed (e.g. missing exchange).
    ChannelClosed,
    /// No connection to publish on.
    NotConnected,
}

impl ConfirmFailure {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmFailure::Nack => "nack",
            ConfirmFailure::Timeout => "timeout",
            ConfirmFailure::Unroutable => "unroutable",
            ConfirmFailure::ChannelClosed => "channel_closed",
            ConfirmFailure::NotConnected => "not_connected",
        }
    }
}

/// A publish failed.
#[derive(Debug)]
pub struct PublishFailed<'a> {
    /// The exchange.
    pub exchange: &'a str,
    /// The routing key used.
    pub routing_key: &'a str,
    /// The bounded reason.
    pub reason: ConfirmFailure,
    /// The detail.
    pub error: &'a str,
}

impl PublishFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        warn!(exchange = %self.exchange, routing_key = %self.routing_key, reason = self.reason.as_str(), error = %self.error, "amqp publish failed");
        counter!("weft_amqp_confirm_failures_total", "exchange" => self.exchange.to_string(), "reason" => self.reason.as_str()).increment(1);
    }
}

/// A connection attempt failed.
#[derive(Debug)]
pub struct ConnectionFailed<'a> {
    /// `source` or `sink`.
    pub role: &'static str,
    /// The queue or exchange.
    pub target: &'a str,
    /// The error.
    pub error: &'a str,
    /// Delay before the next attempt.
    pub retry_in: Duration,
}

impl ConnectionFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        warn!(role = self.role, target = %self.target, error = %self.error, retry_in_ms = self.retry_in.as_millis() as u64, "amqp connection failed");
        counter!("weft_amqp_connection_failures_total", "role" => self.role, "target" => self.target.to_string()).increment(1);
    }
}

/// A connection or channel was lost; reconnecting.
#[derive(Debug)]
pub struct ConnectionLost<'a> {
    /// `source` or `sink`.
    pub role: &'static str,
    /// The queue or exchange.
    pub target: &'a str,
    /// What happened.
    pub error: &'a str,
}

impl ConnectionLost<'_> {
    /// Logs.
    pub fn emit(&self) {
        warn!(role = self.role, target = %self.target, error = %self.error, "amqp connection lost; reconnecting");
    }
}

/// Connected (again) and ready.
#[derive(Debug)]
pub struct Connected<'a> {
    /// `source` or `sink`.
    pub role: &'static str,
    /// The queue or exchange.
    pub target: &'a str,
    /// Connection generation (1 = first connection).
    pub generation: u64,
}

impl Connected<'_> {
    /// Logs, and counts reconnects (every generation after the first).
    pub fn emit(&self) {
        if self.generation > 1 {
            info!(role = self.role, target = %self.target, generation = self.generation, "amqp reconnected");
            counter!("weft_amqp_reconnects_total", "role" => self.role, "target" => self.target.to_string()).increment(1);
        } else {
            info!(role = self.role, target = %self.target, "amqp connected");
        }
    }
}

/// The queue depth (ready messages) from a passive declare.
#[derive(Debug)]
pub struct QueueDepth<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Ready messages.
    pub depth: u32,
}

impl QueueDepth<'_> {
    /// Sets the gauge.
    pub fn emit(&self) {
        trace!(queue = %self.queue, depth = self.depth, "amqp queue depth");
        gauge!("weft_amqp_queue_depth", "queue" => self.queue.to_string())
            .set(f64::from(self.depth));
    }
}
