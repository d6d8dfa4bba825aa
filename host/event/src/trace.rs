//! W3C Trace Context on events: the CloudEvents Distributed Tracing extension
//! (`traceparent`, `tracestate`), which carries a trace from hop to hop.
//!
//! Connectors adopt a transport's own `traceparent` (an HTTP header, an AMQP header, a
//! Redis field) into the event when the event has none, and write the event's context back
//! onto the transport when they send it; the router reads it to continue the trace.
//!
//! ```
//! use weft_event::{Event, trace};
//! let mut e = Event::new("1", "/erp", "order.created");
//! let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
//! trace::adopt_trace_context(&mut e, Some(tp), None);
//! assert_eq!(trace::trace_context(&e), Some(tp));
//! ```

use crate::Event;

/// The extension attribute (and header / field name) of the W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// The extension attribute (and header / field name) of the W3C `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// Whether `value` is a W3C `traceparent`: `version-traceid-parentid-flags` in lower-case
/// hex (2-32-16-2 digits), trace and parent id not all zero, version not `ff`. Versions
/// above `00` may append `-…` fields (W3C forward compatibility).
pub fn is_valid_traceparent(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() < 55 || (b.len() > 55 && (b[..2] == *b"00" || b[55] != b'-')) {
        return false;
    }
    let hex = |r: std::ops::Range<usize>| {
        b[r].iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    let zero = |r: std::ops::Range<usize>| b[r].iter().all(|c| *c == b'0');
    b[2] == b'-'
        && b[35] == b'-'
        && b[52] == b'-'
        && hex(0..2)
        && hex(3..35)
        && hex(36..52)
        && hex(53..55)
        && &b[..2] != b"ff"
        && !zero(3..35)
        && !zero(36..52)
}

/// The event's `traceparent` extension when it is a valid W3C `traceparent`.
pub fn trace_context(event: &Event) -> Option<&str> {
    event
        .extensions
        .get(TRACEPARENT)
        .map(String::as_str)
        .filter(|v| is_valid_traceparent(v))
}

/// The event's `tracestate` extension, if any.
pub fn trace_state(event: &Event) -> Option<&str> {
    event.extensions.get(TRACESTATE).map(String::as_str)
}

/// Sets the event's `traceparent` (and `tracestate`, removed when `None` or empty).
pub fn set_trace_context(event: &mut Event, traceparent: &str, tracestate: Option<&str>) {
    event
        .extensions
        .insert(TRACEPARENT.into(), traceparent.to_string());
    match tracestate.filter(|s| !s.is_empty()) {
        Some(state) => {
            event
                .extensions
                .insert(TRACESTATE.into(), state.to_string());
        }
        None => {
            event.extensions.remove(TRACESTATE);
        }
    }
}

/// Takes a transport's trace context (e.g. the HTTP `traceparent` header) into the event
/// when the event has no valid one of its own and the transport's is valid. Returns whether
/// it did.
pub fn adopt_trace_context(
    event: &mut Event,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> bool {
    match traceparent.map(str::trim) {
        Some(tp) if trace_context(event).is_none() && is_valid_traceparent(tp) => {
            set_trace_context(event, tp, tracestate.map(str::trim));
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_and_invalid_traceparents() {
        assert!(is_valid_traceparent(TP));
        assert!(is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
        ));
        for bad in [
            "",
            "00-ab",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn adopt_keeps_the_events_own_context() {
        let mut e = Event::new("1", "/s", "t");
        assert!(!adopt_trace_context(&mut e, Some("00-bad"), None));
        assert_eq!(trace_context(&e), None);
        assert!(adopt_trace_context(&mut e, Some(TP), Some("k=v")));
        assert_eq!(trace_state(&e), Some("k=v"));
        let other = "00-11111111111111111111111111111111-2222222222222222-01";
        assert!(!adopt_trace_context(&mut e, Some(other), None));
        assert_eq!(trace_context(&e), Some(TP));
        set_trace_context(&mut e, other, None);
        assert_eq!(trace_context(&e), Some(other));
        assert_eq!(trace_state(&e), None);
    }
}
