//! The CloudEvents AMQP binding through a real RabbitMQ: sink → queue → source, both
//! modes, and messages from other publishers.

mod common;

use std::time::Duration;

use common::{URI, long_string, start, unique};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use weft_connector::Settlement;
use weft_connector_amqp::{ContentMode, HeaderSeparator, SinkConfig, SourceConfig, sink, source};
use weft_event::Event;

const WAIT: Duration = Duration::from_secs(20);

fn rich_event(id: &str) -> Event {
    let mut e = Event::new(id, "/erp/orders", "order.created");
    e.subject = Some("order 7 (EU)".into());
    e.time = Some("2024-05-01T10:00:00.5+02:00".into());
    e.dataschema = Some("https://schemas.example/order.json".into());
    e.datacontenttype = Some("application/json; charset=utf-8".into());
    e.data = Some("{\"total\":\"12,50 €\"}".as_bytes().to_vec());
    e.extensions.insert(
        "traceparent".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    e.extensions.insert("tenant".into(), "acme".into());
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_round_trip_in_every_mode() {
    let mut admin = require_broker!();
    let queue = unique("roundtrip");
    admin.queue(&queue).await;
    let mut running = start(source(SourceConfig::new(URI, &queue)).unwrap(), 8);

    let mut binary_data = rich_event("b");
    binary_data.datacontenttype = Some("application/octet-stream".into());
    binary_data.data = Some(vec![0, 159, 146, 150, 255]);
    let cases = [
        (ContentMode::Binary, HeaderSeparator::Colon, rich_event("1")),
        (
            ContentMode::Binary,
            HeaderSeparator::Underscore,
            rich_event("2"),
        ),
        (
            ContentMode::Structured,
            HeaderSeparator::Colon,
            rich_event("3"),
        ),
        (
            ContentMode::Binary,
            HeaderSeparator::Colon,
            binary_data.clone(),
        ),
        (ContentMode::Structured, HeaderSeparator::Colon, binary_data),
        (
            ContentMode::Binary,
            HeaderSeparator::Colon,
            Event::new("4", "/s", "no.data"),
        ),
        (
            ContentMode::Structured,
            HeaderSeparator::Colon,
            Event::new("5", "/s", "no.data"),
        ),
    ];
    for (mode, separator, event) in cases {
        let mut c = SinkConfig::new(URI, "");
        c.routing_key = queue.clone();
        c.content_mode = mode;
        c.header_separator = separator;
        let sink = sink(c).await.unwrap();
        sink.deliver(&event).await.unwrap();
        let d = running.recv(WAIT).await;
        assert_eq!(d.event.as_ref(), Ok(&event), "{mode:?} {separator:?}");
        d.ack.settle(Settlement::Ack).await;
    }
    running.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_other_publishers_are_read() {
    let mut admin = require_broker!();
    let queue = unique("foreign");
    admin.queue(&queue).await;
    let mut running = start(source(SourceConfig::new(URI, &queue)).unwrap(), 8);

    // binary, `ce_` prefix, native AMQP types (as e.g. a Java client sends them)
    let mut headers = FieldTable::default();
    headers.insert("ce_specversion".into(), long_string("1.0"));
    headers.insert("ce_id".into(), AMQPValue::LongLongInt(991));
    headers.insert("ce_source".into(), long_string("urn:erp"));
    headers.insert("ce_type".into(), long_string("invoice.issued"));
    headers.insert("ce_time".into(), AMQPValue::Timestamp(1_700_000_000));
    headers.insert("x-app".into(), long_string("ignored"));
    admin
        .publish_raw(
            &queue,
            BasicProperties::default()
                .with_headers(headers)
                .with_content_type("application/xml".into()),
            b"<invoice/>",
        )
        .await;
    let d = running.recv(WAIT).await;
    let e = d.event.as_ref().unwrap();
    assert_eq!(e.id, "991");
    assert_eq!(e.time.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(e.datacontenttype.as_deref(), Some("application/xml"));
    assert_eq!(e.data.as_deref(), Some(&b"<invoice/>"[..]));
    assert!(e.extensions.is_empty());
    d.ack.settle(Settlement::Ack).await;

    // structured with an upper-case media type and parameters
    admin
        .publish_raw(
            &queue,
            BasicProperties::default()
                .with_content_type("Application/CloudEvents+JSON; charset=UTF-8".into()),
            br#"{"specversion":"1.0","id":"s1","source":"/x","type":"t","data":{"a":1}}"#,
        )
        .await;
    let d = running.recv(WAIT).await;
    let e = d.event.as_ref().unwrap();
    assert_eq!(e.id, "s1");
    assert_eq!(e.data.as_deref(), Some(&br#"{"a":1}"#[..]));
    d.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
}
