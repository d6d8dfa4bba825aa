//! The CloudEvents AMQP protocol binding, mapped onto AMQP 0-9-1 (RabbitMQ).
//!
//! The binding is written for AMQP 1.0; on 0-9-1, *application-properties* are the message
//! `headers` table and *content-type* is the `content_type` property.
//!
//! - **Structured mode**: content type `application/cloudevents+json; charset=utf-8`, the
//!   body is the event in the JSON event format.
//! - **Binary mode**: every attribute except `datacontenttype` is one header named
//!   `cloudEvents:<attr>` (or `cloudEvents_<attr>` with [`HeaderSeparator::Underscore`]),
//!   `datacontenttype` is the `content_type` property, and the body is the data as-is.
//!   `traceparent`/`tracestate` travel like any other extension attribute.
//!
//! Reading detects the mode from the content type (prefix `application/cloudevents`,
//! case-insensitive, is structured; anything else is binary) and accepts the header
//! prefixes `cloudEvents:`, `cloudEvents_`, `ce_` and `ce-` (case-insensitive). Header
//! values may be strings or native AMQP types (booleans, integers, timestamps, byte
//! arrays), converted to their canonical CloudEvents string form.
//!
//! Writing also sets the convenience properties `message_id` (= `id`), `timestamp`
//! (from `time`, whole seconds) and `app_id` (`weft`); readers ignore them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_event::{Event, EventError};

/// Content type of structured-mode messages written by weft.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";
/// The CloudEvents media type prefix that marks structured mode.
pub const CLOUDEVENTS_MEDIA_PREFIX: &str = "application/cloudevents";
/// The header prefix of binary mode (`cloudEvents:`) without its separator.
pub const HEADER_PREFIX: &str = "cloudEvents";
/// Header prefixes accepted on read, lower-cased.
const READ_PREFIXES: [&str; 4] = ["cloudevents:", "cloudevents_", "ce_", "ce-"];

/// How an event is laid out in an AMQP message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentMode {
    /// Attributes in headers, data in the body.
    #[default]
    Binary,
    /// The whole event as JSON in the body.
    Structured,
}

/// The separator between `cloudEvents` and the attribute name in binary-mode headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeaderSeparator {
    /// `cloudEvents:id`.
    #[default]
    Colon,
    /// `cloudEvents_id` (JMS-compatible).
    Underscore,
}

impl HeaderSeparator {
    /// The full header prefix, e.g. `cloudEvents:`.
    pub fn prefix(self) -> &'static str {
        match self {
            HeaderSeparator::Colon => "cloudEvents:",
            HeaderSeparator::Underscore => "cloudEvents_",
        }
    }
}

/// Why a message is not a CloudEvent under the binding, or an event cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The attributes or the JSON body break the CloudEvents rules.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Binary mode without the required `cloudEvents:specversion` header.
    #[error(
        "not a CloudEvent: content type is {content_type} (not application/cloudevents+json) and there is no cloudEvents:specversion header"
    )]
    NotCloudEvent {
        /// The content type seen, rendered for the message.
        content_type: String,
    },
    /// Structured mode with an event format weft cannot read.
    #[error("unsupported CloudEvents format `{0}`: only application/cloudevents+json is read")]
    UnsupportedFormat(String),
    /// A header carries a value with no CloudEvents string form.
    #[error("header `{name}`: {reason}")]
    HeaderValue {
        /// The header.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same attribute appears twice with different values (e.g. `cloudEvents:id` and
    /// `ce_id`).
    #[error("attribute `{0}` appears in two headers with different values")]
    Conflict(String),
    /// A value is too long for an AMQP short string (255 bytes): header names,
    /// `content_type`.
    #[error("{what} is {len} bytes long; AMQP allows at most 255")]
    TooLong {
        /// What was too long.
        what: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// An AMQP message: properties (headers included) and body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AmqpMessage {
    /// Properties: content type, headers, message id, …
    pub properties: BasicProperties,
    /// The body.
    pub body: Vec<u8>,
}

/// Which mode a received message uses, from its content type.
pub fn detect_mode(properties: &BasicProperties) -> ContentMode {
    match properties.content_type() {
        Some(ct) if is_cloudevents_media_type(ct.as_str()) => ContentMode::Structured,
        _ => ContentMode::Binary,
    }
}

fn is_cloudevents_media_type(ct: &str) -> bool {
    ct.trim()
        .get(..CLOUDEVENTS_MEDIA_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CLOUDEVENTS_MEDIA_PREFIX))
}

/// Whether a header name is a CloudEvents attribute header under any accepted prefix;
/// returns the lower-cased attribute name.
pub fn attribute_header(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    READ_PREFIXES
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(str::to_string))
        .filter(|attr| !attr.is_empty())
}

/// Decodes a received message into an event (either mode).
pub fn decode(properties: &BasicProperties, body: &[u8]) -> Result<Event, BindingError> {
    match detect_mode(properties) {
        ContentMode::Structured => {
            let ct = properties
                .content_type()
                .as_ref()
                .map(|c| c.as_str())
                .unwrap_or_default();
            let essence = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if essence != "application/cloudevents+json" {
                return Err(BindingError::UnsupportedFormat(essence));
            }
            let mut event = Event::from_json_slice(body)?;
            adopt_trace_context(properties, &mut event);
            Ok(event)
        }
        ContentMode::Binary => {
            let mut event = decode_binary(properties, body)?;
            adopt_trace_context(properties, &mut event);
            Ok(event)
        }
    }
}

fn decode_binary(properties: &BasicProperties, body: &[u8]) -> Result<Event, BindingError> {
    let mut attributes: Vec<(String, String)> = Vec::new();
    if let Some(headers) = properties.headers() {
        for (name, value) in headers {
            let Some(attr) = attribute_header(name.as_str()) else {
                continue;
            };
            let value = header_string(value).map_err(|reason| BindingError::HeaderValue {
                name: name.to_string(),
                reason,
            })?;
            match attributes.iter().find(|(n, _)| *n == attr) {
                Some((_, existing)) if *existing != value => {
                    return Err(BindingError::Conflict(attr));
                }
                Some(_) => {}
                None => attributes.push((attr, value)),
            }
        }
    }
    let content_type = properties.content_type().as_ref().map(|c| c.to_string());
    if !attributes.iter().any(|(n, _)| n == "specversion") {
        return Err(BindingError::NotCloudEvent {
            content_type: content_type
                .map(|c| format!("`{c}`"))
                .unwrap_or_else(|| "absent".into()),
        });
    }
    Ok(weft_event::binary::from_attributes(
        attributes.iter().map(|(n, v)| (n.as_str(), v.clone())),
        content_type,
        body.to_vec(),
    )?)
}

/// The canonical CloudEvents string form of a header value.
fn header_string(value: &AMQPValue) -> Result<String, String> {
    Ok(match value {
        AMQPValue::LongString(s) => String::from_utf8(s.as_bytes().to_vec())
            .map_err(|_| "string value is not valid UTF-8".to_string())?,
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(i) => i.to_string(),
        AMQPValue::ShortShortUInt(i) => i.to_string(),
        AMQPValue::ShortInt(i) => i.to_string(),
        AMQPValue::ShortUInt(i) => i.to_string(),
        AMQPValue::LongInt(i) => i.to_string(),
        AMQPValue::LongUInt(i) => i.to_string(),
        AMQPValue::LongLongInt(i) => i.to_string(),
        AMQPValue::Timestamp(secs) => i64::try_from(*secs)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .ok_or_else(|| format!("timestamp {secs} is out of range"))?,
        AMQPValue::ByteArray(bytes) => BASE64.encode(bytes.as_slice()),
        other => {
            return Err(format!(
                "a {} has no CloudEvents string form",
                other.get_type()
            ));
        }
    })
}

/// Encodes an event for publishing (without delivery mode; the sink sets it).
pub fn encode(
    event: &Event,
    mode: ContentMode,
    separator: HeaderSeparator,
) -> Result<AmqpMessage, BindingError> {
    let mut properties = BasicProperties::default().with_app_id(ShortString::from("weft"));
    if let Ok(id) = ShortString::try_new(event.id.as_str()) {
        properties = properties.with_message_id(id);
    }
    if let Some(secs) = event
        .time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok())
    {
        properties = properties.with_timestamp(secs);
    }
    match mode {
        ContentMode::Structured => {
            let mut headers = FieldTable::default();
            insert_trace_context(&mut headers, event);
            if !headers.inner().is_empty() {
                properties = properties.with_headers(headers);
            }
            Ok(AmqpMessage {
                properties: properties
                    .with_content_type(ShortString::from(STRUCTURED_CONTENT_TYPE)),
                body: event.to_json_string().into_bytes(),
            })
        }
        ContentMode::Binary => {
            let mut headers = FieldTable::default();
            insert_attributes(&mut headers, event, separator)?;
            insert_trace_context(&mut headers, event);
            properties = properties.with_headers(headers);
            if let Some(ct) = &event.datacontenttype {
                properties = properties.with_content_type(short("datacontenttype", ct)?);
            }
            Ok(AmqpMessage {
                properties,
                body: event.data.clone().unwrap_or_default(),
            })
        }
    }
}

/// Writes the event's W3C trace context as the plain `traceparent`/`tracestate` headers
/// (read by tracing-aware consumers that do not know the CloudEvents binding).
fn insert_trace_context(headers: &mut FieldTable, event: &Event) {
    if let Some(tp) = weft_event::trace::trace_context(event) {
        headers.insert(
            ShortString::from(weft_event::trace::TRACEPARENT),
            AMQPValue::LongString(LongString::from(tp.as_bytes())),
        );
        if let Some(state) = weft_event::trace::trace_state(event) {
            headers.insert(
                ShortString::from(weft_event::trace::TRACESTATE),
                AMQPValue::LongString(LongString::from(state.as_bytes())),
            );
        }
    }
}

/// Takes the plain `traceparent`/`tracestate` headers into the event when it carries no
/// trace context of its own.
fn adopt_trace_context(properties: &BasicProperties, event: &mut Event) {
    let Some(headers) = properties.headers() else {
        return;
    };
    let get = |name: &str| {
        headers
            .inner()
            .get(name)
            .and_then(|v| header_string(v).ok())
    };
    let traceparent = get(weft_event::trace::TRACEPARENT);
    if traceparent.is_some() {
        let state = get(weft_event::trace::TRACESTATE);
        weft_event::trace::adopt_trace_context(event, traceparent.as_deref(), state.as_deref());
    }
}

/// Writes every attribute but `datacontenttype` as a binary-mode header.
pub(crate) fn insert_attributes(
    headers: &mut FieldTable,
    event: &Event,
    separator: HeaderSeparator,
) -> Result<(), BindingError> {
    let prefix = separator.prefix();
    for (name, value) in weft_event::binary::to_attributes(event) {
        let key = short("header name", &format!("{prefix}{name}"))?;
        headers.insert(
            key,
            AMQPValue::LongString(LongString::from(value.as_bytes())),
        );
    }
    Ok(())
}

fn short(what: &str, value: &str) -> Result<ShortString, BindingError> {
    ShortString::try_new(value).map_err(|_| BindingError::TooLong {
        what: format!("{what} `{}…`", value.chars().take(40).collect::<String>()),
        len: value.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        let mut e = Event::new("42", "/erp/orders", "order.created");
        e.subject = Some("order 7".into());
        e.time = Some("2024-05-01T10:00:00.123Z".into());
        e.datacontenttype = Some("application/json".into());
        e.data = Some(br#"{"n":1}"#.to_vec());
        e.extensions.insert(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        );
        e
    }

    #[test]
    fn binary_round_trip() {
        let event = sample();
        let msg = encode(&event, ContentMode::Binary, HeaderSeparator::Colon).unwrap();
        let headers = msg.properties.headers().clone().unwrap();
        assert!(headers.contains_key("cloudEvents:id"));
        assert!(headers.contains_key("cloudEvents:specversion"));
        assert!(headers.contains_key("cloudEvents:traceparent"));
        assert!(!headers.contains_key("cloudEvents:datacontenttype"));
        assert_eq!(
            msg.properties.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(msg.body, br#"{"n":1}"#);
        assert_eq!(detect_mode(&msg.properties), ContentMode::Binary);
        assert_eq!(decode(&msg.properties, &msg.body).unwrap(), event);
    }

    #[test]
    fn structured_round_trip() {
        let event = sample();
        let msg = encode(&event, ContentMode::Structured, HeaderSeparator::Colon).unwrap();
        assert_eq!(detect_mode(&msg.properties), ContentMode::Structured);
        // no attribute headers; only the plain W3C trace context (sample has a traceparent)
        let headers = msg.properties.headers().clone().unwrap_or_default();
        let names: Vec<&str> = headers.inner().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["traceparent"]);
        assert_eq!(decode(&msg.properties, &msg.body).unwrap(), event);
    }

    #[test]
    fn underscore_and_ce_prefixes_are_read() {
        let event = sample();
        let msg = encode(&event, ContentMode::Binary, HeaderSeparator::Underscore).unwrap();
        assert!(
            msg.properties
                .headers()
                .as_ref()
                .unwrap()
                .contains_key("cloudEvents_id")
        );
        assert_eq!(decode(&msg.properties, &msg.body).unwrap(), event);

        let mut headers = FieldTable::default();
        for (k, v) in [
            ("ce_specversion", "1.0"),
            ("CE_ID", "1"),
            ("ce_source", "/s"),
            ("ce_type", "t"),
        ] {
            headers.insert(k.into(), AMQPValue::LongString(v.into()));
        }
        headers.insert("unrelated".into(), AMQPValue::LongLongInt(3));
        let props = BasicProperties::default().with_headers(headers);
        let e = decode(&props, b"").unwrap();
        assert_eq!(e.id, "1");
        assert_eq!(e.data, None);
    }

    #[test]
    fn native_amqp_types_become_canonical_strings() {
        let mut headers = FieldTable::default();
        headers.insert(
            "cloudEvents:specversion".into(),
            AMQPValue::ShortString("1.0".into()),
        );
        headers.insert("cloudEvents:id".into(), AMQPValue::LongLongInt(7));
        headers.insert(
            "cloudEvents:source".into(),
            AMQPValue::LongString("/s".into()),
        );
        headers.insert("cloudEvents:type".into(), AMQPValue::LongString("t".into()));
        headers.insert(
            "cloudEvents:time".into(),
            AMQPValue::Timestamp(1_700_000_000),
        );
        headers.insert("cloudEvents:flag".into(), AMQPValue::Boolean(true));
        headers.insert(
            "cloudEvents:blob".into(),
            AMQPValue::ByteArray(vec![0u8, 1, 2].into()),
        );
        let props = BasicProperties::default()
            .with_headers(headers)
            .with_content_type("text/plain".into());
        let e = decode(&props, b"hi").unwrap();
        assert_eq!(e.id, "7");
        assert_eq!(e.time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(e.extensions["flag"], "true");
        assert_eq!(e.extensions["blob"], "AAEC");
        assert_eq!(e.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(e.data.as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn malformed_messages_name_their_problem() {
        // plain message without any CloudEvents header
        let props = BasicProperties::default().with_content_type("application/json".into());
        let err = decode(&props, b"{}").unwrap_err();
        assert!(matches!(err, BindingError::NotCloudEvent { .. }), "{err}");
        assert!(err.to_string().contains("application/json"));

        // structured but not JSON
        let props =
            BasicProperties::default().with_content_type("application/cloudevents+json".into());
        assert!(matches!(
            decode(&props, b"{nope").unwrap_err(),
            BindingError::Event(EventError::Json(_))
        ));
        // other formats
        let props =
            BasicProperties::default().with_content_type("Application/CloudEvents+avro".into());
        assert!(matches!(
            decode(&props, b"x").unwrap_err(),
            BindingError::UnsupportedFormat(_)
        ));
        // missing id
        let mut headers = FieldTable::default();
        headers.insert(
            "cloudEvents:specversion".into(),
            AMQPValue::LongString("1.0".into()),
        );
        let props = BasicProperties::default().with_headers(headers.clone());
        assert_eq!(
            decode(&props, b"").unwrap_err(),
            BindingError::Event(EventError::Missing("id"))
        );
        // conflicting duplicate
        headers.insert("cloudEvents:id".into(), AMQPValue::LongString("1".into()));
        headers.insert("ce_id".into(), AMQPValue::LongString("2".into()));
        let props = BasicProperties::default().with_headers(headers);
        assert_eq!(
            decode(&props, b"").unwrap_err(),
            BindingError::Conflict("id".into())
        );
        // a float has no CloudEvents form
        let mut headers = FieldTable::default();
        headers.insert("cloudEvents:specversion".into(), AMQPValue::Double(1.0));
        let props = BasicProperties::default().with_headers(headers);
        assert!(matches!(
            decode(&props, b"").unwrap_err(),
            BindingError::HeaderValue { .. }
        ));
    }

    #[test]
    fn too_long_values_are_errors_not_panics() {
        let mut event = sample();
        event.datacontenttype = Some(format!("application/{}", "x".repeat(300)));
        assert!(matches!(
            encode(&event, ContentMode::Binary, HeaderSeparator::Colon),
            Err(BindingError::TooLong { .. })
        ));
        let mut event = sample();
        event.id = "i".repeat(300);
        event.extensions.insert("e".repeat(300), "v".into());
        assert!(encode(&event, ContentMode::Binary, HeaderSeparator::Colon).is_err());
        // structured mode carries long values in the body
        let mut event = sample();
        event.id = "i".repeat(300);
        let msg = encode(&event, ContentMode::Structured, HeaderSeparator::Colon).unwrap();
        assert_eq!(decode(&msg.properties, &msg.body).unwrap(), event);
    }

    #[test]
    fn the_trace_context_is_also_a_plain_header_and_is_adopted() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut event = sample();
        weft_event::trace::set_trace_context(&mut event, tp, Some("k=v"));
        for mode in [ContentMode::Binary, ContentMode::Structured] {
            let msg = encode(&event, mode, HeaderSeparator::Colon).unwrap();
            let headers = msg.properties.headers().clone().unwrap();
            assert!(headers.inner().contains_key("traceparent"), "{mode:?}");
            assert!(headers.inner().contains_key("tracestate"), "{mode:?}");
            assert_eq!(decode(&msg.properties, &msg.body).unwrap(), event);
        }
        // a producer that only writes the plain header
        let plain = Event::new("1", "/s", "t");
        let msg = encode(&plain, ContentMode::Structured, HeaderSeparator::Colon).unwrap();
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("traceparent"),
            AMQPValue::LongString(LongString::from(tp.as_bytes())),
        );
        let properties = msg.properties.clone().with_headers(headers);
        let decoded = decode(&properties, &msg.body).unwrap();
        assert_eq!(weft_event::trace::trace_context(&decoded), Some(tp));
    }
}
