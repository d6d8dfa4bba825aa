//! The AMQP sink against a real RabbitMQ: confirms, routing key templates, unroutable
//! messages, missing exchanges, concurrency.

mod common;

use std::time::{Duration, Instant};

use common::{URI, event, header, unique};
use futures::StreamExt as _;
use lapin::ExchangeKind;
use weft_connector::{ConnectorError, SinkError};
use weft_connector_amqp::{ContentMode, SinkConfig, binding, sink};
use weft_event::Event;

const WAIT: Duration = Duration::from_secs(20);

fn config(exchange: &str) -> SinkConfig {
    let mut c = SinkConfig::new(URI, exchange);
    c.reconnect.initial_ms = 50;
    c.reconnect.max_ms = 500;
    c.confirm_timeout_ms = 5_000;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_publish_arrives_with_templated_routing_key() {
    let mut admin = require_broker!();
    let exchange = unique("orders-x");
    let queue = unique("orders-q");
    admin.exchange(&exchange, ExchangeKind::Topic).await;
    admin.queue(&queue).await;
    admin.bind(&queue, &exchange, "orders.#").await;

    let mut c = config(&exchange);
    c.routing_key = "orders.{type}.{tenant}".into();
    let sink = sink(c).await.unwrap();
    let mut e = event(1);
    e.ty = "created".into();
    e.extensions.insert("tenant".into(), "acme".into());
    e.extensions.insert(
        "traceparent".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    sink.deliver(&e).await.unwrap();

    let got = admin.wait_get(&queue, WAIT).await;
    assert_eq!(got.delivery.routing_key.as_str(), "orders.created.acme");
    assert_eq!(
        *got.delivery.properties.delivery_mode(),
        Some(2),
        "persistent"
    );
    assert_eq!(
        header(&got.delivery.properties, "cloudEvents:traceparent").as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    assert_eq!(
        got.delivery
            .properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str()),
        Some("application/json")
    );
    let back = binding::decode(&got.delivery.properties, &got.delivery.data).unwrap();
    assert_eq!(back, e);

    // a missing attribute in the template is permanent, and nothing is published
    let err = sink.deliver(&event(2)).await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Permanent(m) if m.contains("tenant")),
        "{err:?}"
    );
    assert!(admin.get(&queue).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unroutable_mandatory_publish_is_a_permanent_error() {
    let mut admin = require_broker!();
    let exchange = unique("nobody-x");
    admin.exchange(&exchange, ExchangeKind::Direct).await;
    let sink = sink(config(&exchange)).await.unwrap();
    let err = sink.deliver(&event(1)).await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Permanent(m) if m.contains("unroutable")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_routable_and_unroutable_publishes_are_told_apart() {
    let mut admin = require_broker!();
    let exchange = unique("mixed-x");
    let queue = unique("mixed-q");
    admin.exchange(&exchange, ExchangeKind::Direct).await;
    admin.queue(&queue).await;
    admin.bind(&queue, &exchange, "good").await;
    let mut c = config(&exchange);
    c.routing_key = "{subject}".into();
    c.channels = 8;
    let sink = sink(c).await.unwrap();
    let events: Vec<Event> = (0..400)
        .map(|n| {
            let mut e = event(n);
            e.subject = Some(if n % 4 == 0 { "bad" } else { "good" }.into());
            e
        })
        .collect();
    let results: Vec<(bool, Result<(), SinkError>)> = futures::stream::iter(events.iter())
        .map(|e| {
            let sink = sink.clone();
            async move { (e.subject.as_deref() == Some("good"), sink.deliver(e).await) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    for (good, result) in &results {
        if *good {
            assert_eq!(result, &Ok(()));
        } else {
            assert!(
                matches!(result, Err(SinkError::Permanent(m)) if m.contains("unroutable")),
                "{result:?}"
            );
        }
    }
    common::eventually(WAIT, "300 routable messages queued", || async {
        admin.ready(&queue).await == 300
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_a_missing_exchange_fails_and_the_sink_recovers() {
    let mut admin = require_broker!();
    let exchange = unique("vanishing-x");
    let queue = unique("vanishing-q");
    admin.exchange(&exchange, ExchangeKind::Fanout).await;
    admin.queue(&queue).await;
    admin.bind(&queue, &exchange, "").await;
    let mut c = config(&exchange);
    c.channels = 1; // the broken channel itself must be replaced
    let sink = sink(c).await.unwrap();
    sink.deliver(&event(1)).await.unwrap();

    admin.delete_exchange(&exchange).await;
    let started = Instant::now();
    let err = sink.deliver(&event(2)).await.unwrap_err();
    assert!(
        err.to_string().contains("NOT_FOUND") || err.to_string().contains("404"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "failed fast, not by timeout"
    );

    admin.exchange(&exchange, ExchangeKind::Fanout).await;
    admin.bind(&queue, &exchange, "").await;
    sink.deliver(&event(3))
        .await
        .expect("a new channel is opened");
    common::eventually(WAIT, "two messages queued", || async {
        admin.ready(&queue).await == 2
    })
    .await;
    let ids: Vec<String> = [admin.get(&queue).await, admin.get(&queue).await]
        .into_iter()
        .map(|m| {
            let m = m.unwrap();
            binding::decode(&m.delivery.properties, &m.delivery.data)
                .unwrap()
                .id
        })
        .collect();
    assert_eq!(ids, ["evt-1", "evt-3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_exchange_in_passive_mode_is_fatal_at_startup() {
    let _admin = require_broker!();
    let exchange = unique("absent-x");
    let result = sink(config(&exchange)).await;
    let Err(ConnectorError::Fatal(message)) = result else {
        panic!("expected a fatal error");
    };
    assert!(
        message.contains(&exchange) && message.contains("does not exist"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declare_mode_creates_the_topology() {
    let mut admin = require_broker!();
    let exchange = unique("declared-x");
    let queue = unique("declared-q");
    admin.forget_exchange_later(&exchange);
    admin.forget_queue_later(&queue);
    let c: SinkConfig = toml::from_str(&format!(
        r#"
        uri = "{URI}"
        exchange = "{exchange}"
        routing_key = "evt.{{type}}"
        content_mode = "structured"
        declare = true
        [[topology.exchanges]]
        name = "{exchange}"
        type = "topic"
        [[topology.queues]]
        name = "{queue}"
        queue_type = "quorum"
        [[topology.bindings]]
        queue = "{queue}"
        exchange = "{exchange}"
        routing_key = "evt.#"
        "#
    ))
    .unwrap();
    let sink = sink(c).await.unwrap();
    sink.deliver(&event(7)).await.unwrap();
    let got = admin.wait_get(&queue, WAIT).await;
    assert_eq!(
        binding::detect_mode(&got.delivery.properties),
        ContentMode::Structured
    );
    assert_eq!(
        binding::decode(&got.delivery.properties, &got.delivery.data).unwrap(),
        event(7)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_deliveries_are_all_confirmed() {
    const N: usize = 5_000;
    let mut admin = require_broker!();
    let queue = unique("burst");
    admin.queue(&queue).await;
    let mut c = config("");
    c.routing_key = queue.clone();
    let sink = sink(c).await.unwrap();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..N {
        let sink = sink.clone();
        tasks.spawn(async move { sink.deliver(&event(n)).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "published and confirmed {N} messages from {N} tasks in {elapsed:?} ({:.0} msg/s)",
        N as f64 / elapsed.as_secs_f64()
    );
    common::eventually(WAIT, "every message queued", || async {
        admin.ready(&queue).await == N as u32
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_transiently_not_at_startup() {
    let mut c = SinkConfig::new("amqp://guest:guest@127.0.0.1:1/%2f", "x");
    c.connect_timeout_secs = 2;
    let sink = sink(c).await.expect("not fatal at startup");
    let err = sink.deliver(&event(1)).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        !err.to_string().contains("guest:guest"),
        "password masked: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_nack_is_a_transient_error() {
    let mut admin = require_broker!();
    let queue = unique("full");
    let mut arguments = lapin::types::FieldTable::default();
    arguments.insert(
        "x-max-length".into(),
        lapin::types::AMQPValue::LongLongInt(0),
    );
    arguments.insert("x-overflow".into(), common::long_string("reject-publish"));
    admin.queue_with(&queue, arguments).await;
    let mut c = config("");
    c.routing_key = queue.clone();
    let sink = sink(c).await.unwrap();
    let err = sink.deliver(&event(1)).await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Transient(m) if m.contains("nack")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_confirm_times_out_as_an_error_and_the_sink_carries_on() {
    let mut admin = require_broker!();
    let queue = unique("stalled");
    admin.queue(&queue).await;
    let proxy = common::FreezingProxy::start().await;
    let mut c = SinkConfig::new(proxy.uri(), "");
    c.routing_key = queue.clone();
    c.confirm_timeout_ms = 500;
    let sink = sink(c).await.unwrap();
    sink.deliver(&event(1)).await.unwrap();

    proxy.freeze();
    let started = Instant::now();
    let err = sink.deliver(&event(2)).await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Transient(m) if m.contains("no publisher confirm")),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    proxy.thaw();

    // the timed-out channel is discarded; publishing goes on (on a fresh channel)
    sink.deliver(&event(3)).await.unwrap();
    // the broker did get message 2: a timeout means "unknown", retried at-least-once
    common::eventually(WAIT, "three messages queued", || async {
        admin.ready(&queue).await == 3
    })
    .await;
}
