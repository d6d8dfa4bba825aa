//! Property tests of the CloudEvents ↔ Redis binding (issue 11 item 9): valid events
//! round-trip through stream entries (binary and structured layouts) and pub/sub
//! payloads; arbitrary or mutated entry fields never panic, and whatever decodes is a
//! valid event that round-trips again. Bounded case counts; `PROPTEST_CASES` raises them.

use proptest::prelude::*;
use weft_connector_redis::binding::{self, Binding};
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
            text(1, 30).prop_map(|t| (Some("text/plain".to_string()), Some(t.into_bytes()))),
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

fn field_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"event".to_vec()),
        Just(b"data".to_vec()),
        Just(b"content-type".to_vec()),
        Just(b"traceparent".to_vec()),
        Just(b"tracestate".to_vec()),
        prop_oneof![
            Just("specversion"),
            Just("id"),
            Just("source"),
            Just("type"),
            Just("time"),
            Just("subject"),
            Just("dataschema"),
            Just("datacontenttype"),
            Just("traceparent"),
            Just("x"),
        ]
        .prop_map(|a| format!("ce_{a}").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|mut b| {
            let mut name = b"ce_".to_vec();
            name.append(&mut b);
            name
        }),
        proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

fn field_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"1.0".to_vec()),
        Just(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_vec()),
        Just(br#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#.to_vec()),
        "[ -~]{0,24}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

/// Whatever decodes is valid and round-trips through both layouts.
fn check_decoded(event: &Event) -> Result<(), TestCaseError> {
    prop_assert!(event.validate().is_ok(), "decoded but invalid: {event:?}");
    for layout in [Binding::Binary, Binding::Structured] {
        let fields = binding::encode(event, layout);
        let decoded = binding::decode(&fields);
        prop_assert_eq!(decoded.as_ref(), Ok(event), "{:?} layout", layout);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_events_round_trip_in_both_layouts(event in valid_event()) {
        for layout in [Binding::Binary, Binding::Structured] {
            let fields = binding::encode(&event, layout);
            prop_assert_eq!(binding::decode(&fields), Ok(event.clone()), "{:?}", layout);
        }
        prop_assert_eq!(binding::decode_message(&binding::encode_message(&event)), Ok(event));
    }

    #[test]
    fn arbitrary_fields_never_panic(fields in proptest::collection::vec((field_name(), field_value()), 0..10)) {
        let _ = binding::render_fields(&fields);
        if let Ok(event) = binding::decode(&fields) {
            check_decoded(&event)?;
        }
    }

    #[test]
    fn mutated_entries_never_panic(
        event in valid_event(),
        structured in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..5),
    ) {
        let layout = if structured { Binding::Structured } else { Binding::Binary };
        let mut fields = binding::encode(&event, layout);
        for (at, byte, kind) in edits {
            if fields.is_empty() {
                break;
            }
            let i = at.index(fields.len());
            match kind {
                0 => {
                    fields.remove(i);
                }
                1 => {
                    let copy = fields[i].clone();
                    fields.push(copy);
                }
                2 => {
                    let value = &mut fields[i].1;
                    match value.len() {
                        0 => value.push(byte),
                        n => value[at.index(n)] = byte,
                    }
                }
                _ => {
                    let value = &mut fields[i].1;
                    let j = at.index(value.len() + 1);
                    value.truncate(j);
                }
            }
        }
        if let Ok(decoded) = binding::decode(&fields) {
            check_decoded(&decoded)?;
        }
    }

    #[test]
    fn arbitrary_pubsub_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(event) = binding::decode_message(&payload) {
            check_decoded(&event)?;
        }
    }
}
