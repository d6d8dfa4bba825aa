//! The CloudEvents ↔ Redis binding.
//!
//! A stream entry is a list of (field, value) pairs of bytes. Two layouts:
//!
//! - **binary** (default for writing): one field per attribute named `ce_<attribute>`
//!   (`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_subject`, `ce_time`,
//!   `ce_dataschema`, `ce_<extension>`), the field `content-type` carrying
//!   `datacontenttype`, and the field `data` carrying the payload bytes unchanged (absent
//!   when the event has no data). Attribute values are UTF-8 strings, not percent-encoded.
//! - **structured**: one field `event` holding the event in the CloudEvents JSON event
//!   format ([`Event::to_json_string`]).
//!
//! Reading detects the layout by the fields present: `event` without `ce_*` fields is
//! structured, `ce_*` fields without `event` are binary; other fields are ignored (producers
//! may add their own). Pub/sub messages carry the structured JSON as the whole payload.
//!
//! ```
//! use weft_connector_redis::binding::{self, Binding};
//! use weft_event::Event;
//! let mut event = Event::new("1", "/erp", "order.created");
//! event.datacontenttype = Some("application/json".into());
//! event.data = Some(br#"{"n":1}"#.to_vec());
//! let fields = binding::encode(&event, Binding::Binary);
//! assert!(fields.iter().any(|(name, value)| name == "ce_type" && value == b"order.created"));
//! assert_eq!(binding::decode(&fields).unwrap(), event);
//! ```

use weft_event::{Event, EventError, binary};

pub use crate::config::Binding;

/// Prefix of binary-mode attribute fields.
pub const ATTRIBUTE_PREFIX: &str = "ce_";
/// Binary-mode field carrying `datacontenttype`.
pub const CONTENT_TYPE_FIELD: &str = "content-type";
/// Binary-mode field carrying the payload.
pub const DATA_FIELD: &str = "data";
/// Structured-mode field carrying the JSON event.
pub const EVENT_FIELD: &str = "event";

/// Why a stream entry or pub/sub message is not a CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// Neither layout's fields are present.
    #[error("entry has neither an `event` field (structured mode) nor `ce_*` fields (binary mode)")]
    NoEvent,
    /// Both layouts' fields are present.
    #[error("entry has both an `event` field and `ce_*` fields; cannot tell the binding mode")]
    Ambiguous,
    /// A field that must be text is not UTF-8.
    #[error("field `{0}` is not valid UTF-8")]
    NotUtf8(String),
    /// A field appears twice.
    #[error("field `{0}` appears more than once")]
    Duplicate(String),
    /// The fields do not make a valid CloudEvent.
    #[error("{0}")]
    Event(#[from] EventError),
}

/// Encodes an event as stream entry fields in the given layout.
pub fn encode(event: &Event, binding: Binding) -> Vec<(String, Vec<u8>)> {
    let mut fields = encode_layout(event, binding);
    // the W3C trace context as plain fields, for tracing-aware readers of the stream
    if let Some(tp) = weft_event::trace::trace_context(event) {
        fields.push((TRACEPARENT_FIELD.to_string(), tp.as_bytes().to_vec()));
        if let Some(state) = weft_event::trace::trace_state(event) {
            fields.push((TRACESTATE_FIELD.to_string(), state.as_bytes().to_vec()));
        }
    }
    fields
}

/// The `traceparent` field: the event's W3C trace context, beside its attributes.
pub const TRACEPARENT_FIELD: &str = weft_event::trace::TRACEPARENT;
/// The `tracestate` field.
pub const TRACESTATE_FIELD: &str = weft_event::trace::TRACESTATE;

fn encode_layout(event: &Event, binding: Binding) -> Vec<(String, Vec<u8>)> {
    match binding {
        Binding::Structured => vec![(EVENT_FIELD.to_string(), event.to_json_string().into_bytes())],
        Binding::Binary => {
            let attributes = binary::to_attributes(event);
            let mut fields = Vec::with_capacity(attributes.len() + 2);
            for (name, value) in attributes {
                fields.push((
                    format!("{ATTRIBUTE_PREFIX}{name}"),
                    value.as_bytes().to_vec(),
                ));
            }
            if let Some(ct) = &event.datacontenttype {
                fields.push((CONTENT_TYPE_FIELD.to_string(), ct.as_bytes().to_vec()));
            }
            if let Some(data) = &event.data {
                fields.push((DATA_FIELD.to_string(), data.clone()));
            }
            fields
        }
    }
}

/// Decodes stream entry fields, detecting the layout. A plain `traceparent` field is the
/// event's trace context when the event has none of its own.
pub fn decode<N, V>(fields: &[(N, V)]) -> Result<Event, BindingError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut event = decode_layout(fields)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.as_ref() == name.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v.as_ref()).ok())
    };
    if let Some(tp) = field(TRACEPARENT_FIELD) {
        weft_event::trace::adopt_trace_context(&mut event, Some(tp), field(TRACESTATE_FIELD));
    }
    Ok(event)
}

fn decode_layout<N, V>(fields: &[(N, V)]) -> Result<Event, BindingError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let has_event = fields
        .iter()
        .any(|(n, _)| n.as_ref() == EVENT_FIELD.as_bytes());
    let has_ce = fields
        .iter()
        .any(|(n, _)| n.as_ref().starts_with(ATTRIBUTE_PREFIX.as_bytes()));
    match (has_event, has_ce) {
        (true, true) => Err(BindingError::Ambiguous),
        (false, false) => Err(BindingError::NoEvent),
        (true, false) => {
            let mut found = None;
            for (name, value) in fields {
                if name.as_ref() == EVENT_FIELD.as_bytes() {
                    if found.is_some() {
                        return Err(BindingError::Duplicate(EVENT_FIELD.into()));
                    }
                    found = Some(value.as_ref());
                }
            }
            let json = found.ok_or(BindingError::NoEvent)?;
            Ok(Event::from_json_slice(json)?)
        }
        (false, true) => decode_binary(fields),
    }
}

fn decode_binary<N, V>(fields: &[(N, V)]) -> Result<Event, BindingError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut attributes: Vec<(&str, String)> = Vec::with_capacity(fields.len());
    let mut content_type = None;
    let mut data: Option<&[u8]> = None;
    for (name, value) in fields {
        let name = name.as_ref();
        let value = value.as_ref();
        if let Some(attr) = name.strip_prefix(ATTRIBUTE_PREFIX.as_bytes()) {
            let field = || String::from_utf8_lossy(name).into_owned();
            let attr = std::str::from_utf8(attr).map_err(|_| BindingError::NotUtf8(field()))?;
            if attributes.iter().any(|(n, _)| *n == attr) {
                return Err(BindingError::Duplicate(field()));
            }
            let text = std::str::from_utf8(value).map_err(|_| BindingError::NotUtf8(field()))?;
            attributes.push((attr, text.to_string()));
        } else if name == CONTENT_TYPE_FIELD.as_bytes() {
            if content_type.is_some() {
                return Err(BindingError::Duplicate(CONTENT_TYPE_FIELD.into()));
            }
            let text = std::str::from_utf8(value)
                .map_err(|_| BindingError::NotUtf8(CONTENT_TYPE_FIELD.into()))?;
            content_type = Some(text.to_string());
        } else if name == DATA_FIELD.as_bytes() {
            if data.is_some() {
                return Err(BindingError::Duplicate(DATA_FIELD.into()));
            }
            data = Some(value);
        }
    }
    let body = data.map(<[u8]>::to_vec).unwrap_or_default();
    Ok(binary::from_attributes(attributes, content_type, body)?)
}

/// Encodes an event as a pub/sub message payload (the JSON event format).
pub fn encode_message(event: &Event) -> Vec<u8> {
    event.to_json_string().into_bytes()
}

/// Decodes a pub/sub message payload (the JSON event format).
pub fn decode_message(payload: &[u8]) -> Result<Event, BindingError> {
    Ok(Event::from_json_slice(payload)?)
}

/// Renders raw entry fields as a JSON object (`{"field":"value",…}`; bytes that are not
/// UTF-8 are replaced by U+FFFD), for dead-letter records and logs.
pub fn render_fields<N, V>(fields: &[(N, V)]) -> Vec<u8>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut map = serde_json::Map::new();
    for (name, value) in fields {
        map.insert(
            String::from_utf8_lossy(name.as_ref()).into_owned(),
            serde_json::Value::String(String::from_utf8_lossy(value.as_ref()).into_owned()),
        );
    }
    serde_json::Value::Object(map).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        let mut e = Event::new("42", "/erp/orders", "com.example.order.created");
        e.subject = Some("order 7".into());
        e.time = Some("2024-05-01T10:00:00Z".into());
        e.datacontenttype = Some("application/octet-stream".into());
        e.data = Some(vec![0, 159, 146, 150, 255]);
        e.extensions
            .insert("traceparent".into(), "00-abc-def-01".into());
        e
    }

    #[test]
    fn binary_round_trip_keeps_raw_bytes() {
        let e = sample();
        let fields = encode(&e, Binding::Binary);
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"ce_specversion"));
        assert!(names.contains(&"ce_traceparent"));
        assert!(names.contains(&"content-type"));
        assert!(!names.contains(&"ce_datacontenttype"));
        let data = fields.iter().find(|(n, _)| n == "data").unwrap();
        assert_eq!(data.1, vec![0, 159, 146, 150, 255]);
        assert_eq!(decode(&fields).unwrap(), e);
    }

    #[test]
    fn structured_round_trip() {
        let e = sample();
        let fields = encode(&e, Binding::Structured);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "event");
        assert_eq!(decode(&fields).unwrap(), e);
        assert_eq!(decode_message(&encode_message(&e)).unwrap(), e);
    }

    #[test]
    fn event_without_data_has_no_data_field() {
        let e = Event::new("1", "/s", "t");
        let fields = encode(&e, Binding::Binary);
        assert_eq!(fields.len(), 4);
        assert_eq!(decode(&fields).unwrap(), e);
    }

    #[test]
    fn extra_fields_are_ignored() {
        let mut fields = encode(&Event::new("1", "/s", "t"), Binding::Binary);
        fields.push(("producer".into(), b"erp-7".to_vec()));
        assert!(decode(&fields).is_ok());
    }

    #[test]
    fn malformed_entries_are_explained() {
        let none: Vec<(&str, &str)> = vec![("foo", "bar")];
        assert_eq!(decode(&none), Err(BindingError::NoEvent));
        let both = vec![("event", "{}"), ("ce_id", "1")];
        assert_eq!(decode(&both), Err(BindingError::Ambiguous));
        let missing = vec![("ce_specversion", "1.0"), ("ce_id", "1"), ("ce_type", "t")];
        assert_eq!(
            decode(&missing),
            Err(BindingError::Event(EventError::Missing("source")))
        );
        let bad_json = vec![("event", "{nope")];
        assert!(matches!(
            decode(&bad_json),
            Err(BindingError::Event(EventError::Json(_)))
        ));
        let not_utf8: Vec<(&[u8], &[u8])> = vec![(b"ce_id", &[0xff]), (b"ce_type", b"t")];
        assert_eq!(
            decode(&not_utf8),
            Err(BindingError::NotUtf8("ce_id".into()))
        );
        let dup = vec![("ce_id", "1"), ("ce_id", "2")];
        assert_eq!(decode(&dup), Err(BindingError::Duplicate("ce_id".into())));
    }

    #[test]
    fn fields_render_as_json() {
        let fields = vec![("a", "1"), ("b", "x\"y")];
        let json: serde_json::Value = serde_json::from_slice(&render_fields(&fields)).unwrap();
        assert_eq!(json, serde_json::json!({"a": "1", "b": "x\"y"}));
    }

    #[test]
    fn the_trace_context_is_also_a_plain_field_and_is_adopted() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut e = sample();
        weft_event::trace::set_trace_context(&mut e, tp, None);
        for binding in [Binding::Binary, Binding::Structured] {
            let fields = encode(&e, binding);
            assert!(
                fields
                    .iter()
                    .any(|(n, v)| n == "traceparent" && v == tp.as_bytes())
            );
            assert_eq!(decode(&fields).unwrap(), e);
        }
        // a producer that only writes the plain field
        let mut fields = encode(&Event::new("1", "/s", "t"), Binding::Structured);
        fields.push(("traceparent".into(), tp.as_bytes().to_vec()));
        let decoded = decode(&fields).unwrap();
        assert_eq!(weft_event::trace::trace_context(&decoded), Some(tp));
    }
}
