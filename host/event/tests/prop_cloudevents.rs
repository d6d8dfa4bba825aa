//! Property tests of the CloudEvents codecs (issue 11 item 9): decoding arbitrary or
//! mutated input in the JSON format (structured, batch) and the binary-mode attribute
//! mapping (HTTP `ce-*` headers, percent-encoded) never panics, whatever decodes is a
//! valid event that decodes the same after encoding it again, and valid events round-trip
//! through every form. Bounded case counts (a few seconds in CI); `PROPTEST_CASES`
//! raises them for a longer local run.

use proptest::prelude::*;
use serde_json::Value;
use weft_event::{CONTEXT_ATTRIBUTES, Event, binary, json};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any Unicode text (control characters, quotes, `%`, non-ASCII).
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..=max).prop_map(|c| c.into_iter().collect())
}

fn non_empty(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 1..=max).prop_map(|c| c.into_iter().collect())
}

fn extension_name() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,12}".prop_filter("not a context attribute", |n| {
        !CONTEXT_ATTRIBUTES.contains(&n.as_str())
    })
}

/// A JSON value without floats (their text form is not unique) and not `null` at the top
/// (JSON `data: null` means no data).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text(12).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(8), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .prop_filter("top-level null is no data", |v| !v.is_null())
}

/// (datacontenttype, data) pairs as the JSON format can carry them.
fn content() -> impl Strategy<Value = (Option<String>, Option<Vec<u8>>)> {
    let json_type = prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("application/json; charset=utf-8".to_string())),
        Just(Some("text/json".to_string())),
        Just(Some("application/vnd.example+json".to_string())),
    ];
    prop_oneof![
        Just((None, None)),
        (json_type, json_value()).prop_map(|(ct, v)| (ct, Some(v.to_string().into_bytes()))),
        non_empty(40).prop_map(|t| (Some("text/plain".to_string()), Some(t.into_bytes()))),
        proptest::collection::vec(any::<u8>(), 1..64)
            .prop_map(|b| (Some("application/octet-stream".to_string()), Some(b))),
        Just((Some("application/xml".to_string()), None)),
    ]
}

fn rfc3339() -> impl Strategy<Value = String> {
    (0i64..4_000_000_000, 0u32..1_000_000_000, any::<bool>()).prop_map(|(secs, nanos, utc)| {
        let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
        if utc {
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        } else {
            t.with_timezone(&chrono::FixedOffset::east_opt(3600 * 2).unwrap())
                .to_rfc3339()
        }
    })
}

prop_compose! {
    fn valid_event()(
        id in non_empty(20),
        source in non_empty(20),
        ty in non_empty(20),
        subject in proptest::option::of(non_empty(20)),
        time in proptest::option::of(rfc3339()),
        (datacontenttype, data) in content(),
        dataschema in proptest::option::of("[a-z][a-z0-9+.-]{0,6}:[ -~]{0,20}"),
        extensions in proptest::collection::btree_map(extension_name(), text(20), 0..5),
    ) -> Event {
        Event { id, source, ty, subject, time, datacontenttype, dataschema, data, extensions }
    }
}

/// Valid events' JSON texts, cut, spliced and with bytes flipped.
fn mutated_json() -> impl Strategy<Value = Vec<u8>> {
    (
        valid_event(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(event, edits)| {
            let mut bytes = event.to_json_string().into_bytes();
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => bytes.truncate(i),
                }
            }
            bytes
        })
}

/// A JSON object mixing CloudEvents attribute names with arbitrary values.
fn attribute_soup() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("specversion".to_string()),
        Just("id".to_string()),
        Just("source".to_string()),
        Just("type".to_string()),
        Just("subject".to_string()),
        Just("time".to_string()),
        Just("datacontenttype".to_string()),
        Just("dataschema".to_string()),
        Just("data".to_string()),
        Just("data_base64".to_string()),
        extension_name(),
        text(6),
    ];
    let values = prop_oneof![
        Just(Value::String("1.0".into())),
        text(16).prop_map(Value::String),
        rfc3339().prop_map(Value::String),
        "[A-Za-z0-9+/=]{0,12}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        json_value(),
    ];
    proptest::collection::vec((names, values), 0..12)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

/// Whatever decodes is valid, and decodes to the same event after encoding it again.
fn check_decoded(event: &Event) -> Result<(), TestCaseError> {
    prop_assert!(event.validate().is_ok(), "decoded but invalid: {event:?}");
    let again = Event::from_json_slice(event.to_json_string().as_bytes());
    prop_assert_eq!(
        again.as_ref(),
        Ok(event),
        "re-encoded event decodes differently"
    );
    Ok(())
}

/// The HTTP binary mode: headers as the ingress reads them (percent-decoded values).
fn via_headers(event: &Event) -> Result<Event, weft_event::EventError> {
    let headers: Vec<(String, String)> = binary::to_attributes(event)
        .into_iter()
        .map(|(name, value)| (format!("ce-{name}"), binary::percent_encode(value)))
        .collect();
    for (_, value) in &headers {
        assert!(
            value.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "percent-encoded header value is not visible ASCII: {value:?}"
        );
    }
    binary::from_attributes(
        headers
            .iter()
            .map(|(n, v)| (&n["ce-".len()..], binary::percent_decode(v))),
        event.datacontenttype.clone(),
        event.data.clone().unwrap_or_default(),
    )
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_events_round_trip_structured(event in valid_event()) {
        prop_assert!(event.validate().is_ok(), "{event:?}");
        let text = event.to_json_string();
        prop_assert_eq!(Event::from_json_slice(text.as_bytes()), Ok(event));
    }

    #[test]
    fn valid_events_round_trip_in_a_batch(events in proptest::collection::vec(valid_event(), 0..6)) {
        let text = json::to_batch(&events).to_string();
        prop_assert_eq!(json::parse_batch(text.as_bytes()), Ok(events));
    }

    #[test]
    fn valid_events_round_trip_as_http_binary_headers(event in valid_event()) {
        prop_assert_eq!(via_headers(&event), Ok(event));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(event) = Event::from_json_slice(&bytes) {
            check_decoded(&event)?;
        }
        if let Ok(events) = json::parse_batch(&bytes) {
            for event in &events {
                check_decoded(event)?;
            }
        }
    }

    #[test]
    fn mutated_events_never_panic(bytes in mutated_json()) {
        if let Ok(event) = Event::from_json_slice(&bytes) {
            check_decoded(&event)?;
        }
        let mut batch = b"[".to_vec();
        batch.extend_from_slice(&bytes);
        batch.push(b']');
        if let Ok(events) = json::parse_batch(&batch) {
            for event in &events {
                check_decoded(event)?;
            }
        }
    }

    #[test]
    fn attribute_soup_never_panics(value in attribute_soup()) {
        if let Ok(event) = Event::from_json_value(value.clone()) {
            check_decoded(&event)?;
        }
        if let Ok(events) = json::parse_batch(Value::Array(vec![value.clone(), value]).to_string().as_bytes()) {
            prop_assert_eq!(events.len(), 2);
        }
    }

    #[test]
    fn arbitrary_binary_headers_never_panic(
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("specversion".to_string()), Just("id".to_string()), Just("source".to_string()),
                Just("type".to_string()), Just("time".to_string()), Just("datacontenttype".to_string()),
                Just("dataschema".to_string()), Just("subject".to_string()),
                "[A-Za-z0-9_-]{1,10}".prop_map(|s| s),
            ], prop_oneof![Just("1.0".to_string()), "[ -~]{0,20}".prop_map(|s| s), text(10)]),
            0..10),
        content_type in proptest::option::of("[ -~]{0,30}"),
        body in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let decoded = binary::from_attributes(
            headers.iter().map(|(n, v)| (n.as_str(), binary::percent_decode(v))),
            content_type,
            body,
        );
        if let Ok(event) = decoded {
            prop_assert!(event.validate().is_ok(), "{event:?}");
            // what binary mode accepted travels through binary mode again unchanged
            prop_assert_eq!(via_headers(&event), Ok(event));
        }
    }

    #[test]
    fn percent_coding_round_trips_and_never_panics(value in text(40), raw in "[ -~%]{0,40}") {
        prop_assert_eq!(binary::percent_decode(&binary::percent_encode(&value)), value);
        let _ = binary::percent_decode(&raw);
    }
}
