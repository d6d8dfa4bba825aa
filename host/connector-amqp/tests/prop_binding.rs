//! Property tests of the CloudEvents AMQP binding (issue 11 item 9): valid events
//! round-trip through messages in binary mode (both header separators) and structured
//! mode; arbitrary properties and headers (every AMQP value type, every accepted prefix,
//! conflicting duplicates, odd content types) never panic, and whatever decodes is a valid
//! event that round-trips again. Bounded case counts; `PROPTEST_CASES` raises them.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, ByteArray, FieldArray, FieldTable, LongString, ShortString};
use proptest::prelude::*;
use weft_connector_amqp::binding;
use weft_connector_amqp::{ContentMode, HeaderSeparator};
use weft_event::{CONTEXT_ATTRIBUTES, Event};

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

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), min..=max).prop_map(|c| c.into_iter().collect())
}

prop_compose! {
    fn valid_event()(
        id in text(1, 16),
        source in text(1, 16),
        ty in text(1, 16),
        subject in proptest::option::of(text(1, 16)),
        time in proptest::option::of(prop_oneof![
            Just("2024-05-01T10:00:00Z".to_string()),
            Just("1999-12-31T23:59:59.123456789+02:00".to_string()),
        ]),
        content in prop_oneof![
            Just((None, None)),
            Just((Some("application/json".to_string()), Some(br#"{"n":[1,"x"]}"#.to_vec()))),
            text(1, 30).prop_map(|t| (Some("text/plain; charset=utf-8".to_string()), Some(t.into_bytes()))),
            proptest::collection::vec(any::<u8>(), 1..48)
                .prop_map(|b| (Some("application/octet-stream".to_string()), Some(b))),
        ],
        extensions in proptest::collection::btree_map(
            "[a-z0-9]{1,12}".prop_filter("extension", |n| !CONTEXT_ATTRIBUTES.contains(&n.as_str())),
            text(0, 16),
            0..4,
        ),
    ) -> Event {
        let (datacontenttype, data) = content;
        Event { id, source, ty, subject, time, datacontenttype, data, extensions, ..Event::default() }
    }
}

fn modes() -> [(ContentMode, HeaderSeparator); 3] {
    [
        (ContentMode::Binary, HeaderSeparator::Colon),
        (ContentMode::Binary, HeaderSeparator::Underscore),
        (ContentMode::Structured, HeaderSeparator::Colon),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just("cloudEvents:"),
        Just("cloudEvents_"),
        Just("CE_"),
        Just("ce-"),
        Just(""),
        Just("x-"),
    ];
    let attr = prop_oneof![
        Just("specversion".to_string()),
        Just("id".to_string()),
        Just("source".to_string()),
        Just("type".to_string()),
        Just("time".to_string()),
        Just("subject".to_string()),
        Just("dataschema".to_string()),
        Just("datacontenttype".to_string()),
        Just("traceparent".to_string()),
        Just("tracestate".to_string()),
        "[A-Za-z0-9_:.-]{0,10}",
    ];
    (prefix, attr).prop_map(|(p, a)| format!("{p}{a}"))
}

fn amqp_value() -> impl Strategy<Value = AMQPValue> {
    let leaf = prop_oneof![
        Just(AMQPValue::LongString(LongString::from("1.0"))),
        Just(AMQPValue::LongString(LongString::from(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        ))),
        "[ -~]{0,20}".prop_map(|s| AMQPValue::LongString(LongString::from(s.as_bytes()))),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AMQPValue::LongString(LongString::from(b.as_slice()))),
        "[ -~]{0,20}".prop_map(|s| AMQPValue::ShortString(ShortString::from(s))),
        any::<bool>().prop_map(AMQPValue::Boolean),
        any::<i8>().prop_map(AMQPValue::ShortShortInt),
        any::<u8>().prop_map(AMQPValue::ShortShortUInt),
        any::<i16>().prop_map(AMQPValue::ShortInt),
        any::<u16>().prop_map(AMQPValue::ShortUInt),
        any::<i32>().prop_map(AMQPValue::LongInt),
        any::<u32>().prop_map(AMQPValue::LongUInt),
        any::<i64>().prop_map(AMQPValue::LongLongInt),
        any::<f32>().prop_map(AMQPValue::Float),
        any::<f64>().prop_map(AMQPValue::Double),
        any::<u64>().prop_map(AMQPValue::Timestamp),
        (0u64..4_000_000_000).prop_map(AMQPValue::Timestamp),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AMQPValue::ByteArray(ByteArray::from(b))),
        Just(AMQPValue::Void),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| AMQPValue::FieldArray(FieldArray::from(v))),
            proptest::collection::vec(("[a-z]{1,5}", inner), 0..3).prop_map(|kv| {
                let mut t = FieldTable::default();
                for (k, v) in kv {
                    t.insert(ShortString::from(k), v);
                }
                AMQPValue::FieldTable(t)
            }),
        ]
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("application/cloudevents+json; charset=utf-8".to_string()),
        Just("APPLICATION/CLOUDEVENTS+JSON".to_string()),
        Just("application/cloudevents-batch+json".to_string()),
        Just("application/cloudevents".to_string()),
        Just("application/json".to_string()),
        Just("text/plain".to_string()),
        "[ -~]{0,40}",
    ])
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}"#.to_vec()),
        Just(
            br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC"}"#
                .to_vec()
        ),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Whatever decodes is valid and round-trips through every mode.
fn check_decoded(event: &Event) -> Result<(), TestCaseError> {
    prop_assert!(event.validate().is_ok(), "decoded but invalid: {event:?}");
    for (mode, separator) in modes() {
        match binding::encode(event, mode, separator) {
            Ok(message) => {
                let decoded = binding::decode(&message.properties, &message.body);
                prop_assert_eq!(decoded.as_ref(), Ok(event), "{:?} {:?}", mode, separator)
            }
            // only AMQP's 255-byte short strings (header names, content type) may refuse
            Err(e) => prop_assert!(matches!(e, binding::BindingError::TooLong { .. }), "{e}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_events_round_trip_in_every_mode(event in valid_event()) {
        for (mode, separator) in modes() {
            let message = binding::encode(&event, mode, separator).expect("encodes");
            prop_assert_eq!(
                binding::decode(&message.properties, &message.body),
                Ok(event.clone()),
                "{:?} {:?}", mode, separator
            );
        }
    }

    #[test]
    fn arbitrary_properties_never_panic(
        content_type in content_type(),
        headers in proptest::option::of(proptest::collection::vec((header_name(), amqp_value()), 0..10)),
        body in body(),
    ) {
        let mut properties = BasicProperties::default();
        if let Some(ct) = content_type {
            properties = properties.with_content_type(ShortString::from(ct));
        }
        if let Some(headers) = headers {
            let mut table = FieldTable::default();
            for (name, value) in headers {
                table.insert(ShortString::from(name), value);
            }
            properties = properties.with_headers(table);
        }
        let _ = binding::detect_mode(&properties);
        if let Ok(event) = binding::decode(&properties, &body) {
            check_decoded(&event)?;
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        event in valid_event(),
        structured in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), header_name(), amqp_value(), 0u8..3), 1..5),
    ) {
        let mode = if structured { ContentMode::Structured } else { ContentMode::Binary };
        let message = binding::encode(&event, mode, HeaderSeparator::Colon).expect("encodes");
        let mut headers = message.properties.headers().clone().unwrap_or_default();
        let mut body = message.body.clone();
        for (at, name, value, kind) in edits {
            match kind {
                0 => {
                    headers.insert(ShortString::from(name), value);
                }
                1 => {
                    let names: Vec<ShortString> = headers.inner().keys().cloned().collect();
                    if !names.is_empty() {
                        let dropped = &names[at.index(names.len())];
                        let mut kept = FieldTable::default();
                        for (k, v) in headers.inner() {
                            if k != dropped {
                                kept.insert(k.clone(), v.clone());
                            }
                        }
                        headers = kept;
                    }
                }
                _ => {
                    let cut = at.index(body.len() + 1);
                    body.truncate(cut);
                }
            }
        }
        let properties = message.properties.clone().with_headers(headers);
        if let Ok(decoded) = binding::decode(&properties, &body) {
            check_decoded(&decoded)?;
        }
    }
}
