//! What happens in the router, one struct per internal event: each `emit()` logs with
//! structured fields and counts a `weft_*_total` metric with bounded labels.

use tracing::{debug, error, warn};

/// An event entered a route.
pub struct EventReceived<'a> {
    /// The route's `weft_events_received_total` counter.
    pub counter: &'a metrics::Counter,
}

impl EventReceived<'_> {
    /// Counts it.
    pub fn emit(&self) {
        self.counter.increment(1);
    }
}

/// The `weft_events_received_total` counter of a route (registered once, used per event).
pub fn received_counter(route: &str) -> metrics::Counter {
    metrics::counter!("weft_events_received_total", "route" => route.to_string())
}

/// A route delivered an event to a sink.
pub struct EventEmitted<'a> {
    /// The route's `weft_events_emitted_total` counter for that sink.
    pub counter: &'a metrics::Counter,
}

impl EventEmitted<'_> {
    /// Counts it.
    pub fn emit(&self) {
        self.counter.increment(1);
    }
}

/// The `weft_events_emitted_total` counter of a route and sink.
pub fn emitted_counter(route: &str, sink: &str) -> metrics::Counter {
    metrics::counter!("weft_events_emitted_total", "route" => route.to_string(), "sink" => sink.to_string())
}

/// One attempt of a route failed.
pub struct AttemptFailed<'a> {
    /// Route name.
    pub route: &'a str,
    /// Plugin or `sink:<name>` that failed.
    pub at: &'a str,
    /// Bounded failure kind.
    pub kind: &'a str,
    /// The error, for logs.
    pub error: &'a str,
    /// The attempt number.
    pub attempt: u32,
    /// The event id, for logs.
    pub event_id: &'a str,
}

impl AttemptFailed<'_> {
    /// Logs and counts it.
    pub fn emit(&self) {
        warn!(
            route = self.route,
            at = self.at,
            kind = self.kind,
            attempt = self.attempt,
            event_id = self.event_id,
            error = self.error,
            "route attempt failed"
        );
        metrics::counter!("weft_events_failed_total", "route" => self.route.to_string(), "at" => self.at.to_string(), "kind" => self.kind.to_string())
            .increment(1);
    }
}

/// An event was written to a dead-letter destination.
pub struct EventDeadLettered<'a> {
    /// Route name (or the source, for malformed messages).
    pub route: &'a str,
    /// The reason.
    pub reason: &'a str,
    /// The event id, for logs.
    pub event_id: &'a str,
}

impl EventDeadLettered<'_> {
    /// Logs and counts it.
    pub fn emit(&self) {
        warn!(
            route = self.route,
            event_id = self.event_id,
            reason = self.reason,
            "event dead-lettered"
        );
        metrics::counter!("weft_events_dead_lettered_total", "route" => self.route.to_string())
            .increment(1);
    }
}

/// Dead-lettering itself failed: the message is handed back to its source.
pub struct DeadLetterFailed<'a> {
    /// Route name.
    pub route: &'a str,
    /// The error.
    pub error: &'a str,
}

impl DeadLetterFailed<'_> {
    /// Logs and counts it.
    pub fn emit(&self) {
        error!(
            route = self.route,
            error = self.error,
            "dead-letter write failed; message handed back to its source"
        );
        metrics::counter!("weft_dead_letter_failures_total", "route" => self.route.to_string())
            .increment(1);
    }
}

/// A delivery was settled.
pub struct DeliverySettled<'a> {
    /// Source name.
    pub source: &'a str,
    /// `ack` or `requeue`.
    pub outcome: &'static str,
    /// The source's `weft_deliveries_settled_total` counter for that outcome.
    pub counter: &'a metrics::Counter,
}

impl DeliverySettled<'_> {
    /// Counts it.
    pub fn emit(&self) {
        debug!(
            source = self.source,
            outcome = self.outcome,
            "delivery settled"
        );
        self.counter.increment(1);
    }
}

/// The `weft_deliveries_settled_total` counters of a source, by outcome.
pub struct SettledCounters {
    /// Acknowledged.
    pub ack: metrics::Counter,
    /// Handed back.
    pub requeue: metrics::Counter,
}

impl SettledCounters {
    /// Registers the counters of `source`.
    pub fn new(source: &str) -> Self {
        let counter = |outcome: &'static str| metrics::counter!("weft_deliveries_settled_total", "source" => source.to_string(), "outcome" => outcome);
        SettledCounters {
            ack: counter("ack"),
            requeue: counter("requeue"),
        }
    }
}
