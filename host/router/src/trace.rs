//! Trace hooks of the delivery path (see `weft_telemetry::otel`): a producer span per sink
//! delivery whose context goes out as the event's `traceparent`, so the next hop (a webhook,
//! a broker consumer, another weft) continues the trace; the same for dead-letter writes.
//! With tracing off the event is delivered as it is.

use tracing::Instrument as _;
use weft_connector::SinkError;
use weft_event::{Event, trace};
use weft_telemetry::otel;

use crate::route::NamedSink;

/// Delivers `event` to `sink` inside a `send {sink}` producer span.
pub(crate) async fn deliver(route: &str, sink: &NamedSink, event: &Event) -> Result<(), SinkError> {
    if !otel::enabled() {
        return sink.sink.deliver(event).await;
    }
    let span = otel::producer_span(route, &sink.name, event);
    let Some(traceparent) = otel::traceparent_of(&span) else {
        return sink.sink.deliver(event).instrument(span).await;
    };
    let mut out = event.clone();
    let state = trace::trace_state(event).map(str::to_string);
    trace::set_trace_context(&mut out, &traceparent, state.as_deref());
    let result = sink.sink.deliver(&out).instrument(span.clone()).await;
    if let Err(e) = &result {
        otel::record_error(&span, &e.to_string());
    }
    result
}

/// Writes the dead-letter `record` to `sink` inside a `send {sink}` producer span marked as a
/// dead letter (`reason`, `at`); the record carries that span's `traceparent`.
/// `parent_from_event`: no delivery span is current (a source-level dead letter), the
/// record's own `traceparent` is the parent.
pub(crate) async fn deliver_dead_letter(
    route: &str,
    sink: &NamedSink,
    record: &Event,
    reason: &str,
    at: &str,
    parent_from_event: bool,
) -> Result<(), SinkError> {
    if !otel::enabled() {
        return sink.sink.deliver(record).await;
    }
    let span = otel::dead_letter_span(route, &sink.name, record, reason, at, parent_from_event);
    let Some(traceparent) = otel::traceparent_of(&span) else {
        return sink.sink.deliver(record).instrument(span).await;
    };
    let mut out = record.clone();
    let state = trace::trace_state(record).map(str::to_string);
    trace::set_trace_context(&mut out, &traceparent, state.as_deref());
    let result = sink.sink.deliver(&out).instrument(span.clone()).await;
    if let Err(e) = &result {
        otel::record_error(&span, &e.to_string());
    }
    result
}
