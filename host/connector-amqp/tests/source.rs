//! The AMQP source against a real RabbitMQ: acking, requeueing, dead-lettering, sharing a
//! queue, passive checks, shutdown.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::{URI, event, eventually, header, long_string, start, unique};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};
use weft_connector::{ConnectorError, Settlement, dead_letter};
use weft_connector_amqp::{
    ContentMode, DeadLetterConfig, QueueConfig, QueueType, SourceConfig, binding, source,
};

const WAIT: Duration = Duration::from_secs(20);

fn config(queue: &str) -> SourceConfig {
    let mut c = SourceConfig::new(URI, queue);
    c.reconnect.initial_ms = 50;
    c.reconnect.max_ms = 500;
    c.drain_timeout_secs = 5;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_are_consumed_and_acked() {
    const N: usize = 10_000;
    let mut admin = require_broker!();
    let queue = unique("bulk");
    admin.queue(&queue).await;
    admin.publish_many(&queue, (0..N).map(event)).await;
    assert_eq!(admin.ready(&queue).await, N as u32);

    let mut c = config(&queue);
    c.prefetch = 500;
    let mut running = start(source(c).unwrap(), 1024);
    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut settles = tokio::task::JoinSet::new();
    while seen.len() < N {
        let d = running.recv(WAIT).await;
        assert_eq!(d.delivery_count, 1);
        let e = d.event.expect("valid event");
        assert!(seen.insert(e.id.clone()), "duplicate {}", e.id);
        // settle concurrently, as the router does
        settles.spawn(d.ack.settle(Settlement::Ack));
    }
    while settles.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    eprintln!(
        "consumed and acked {N} messages in {elapsed:?} ({:.0} msg/s)",
        N as f64 / elapsed.as_secs_f64()
    );
    running.expect_nothing(Duration::from_millis(300)).await;
    running.stop().await.unwrap();
    // unacked messages would be back in the queue now that the channel is closed
    assert_eq!(admin.ready(&queue).await, 0, "every message was acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_is_redelivered_and_ack_removes() {
    let mut admin = require_broker!();
    let queue = unique("requeue");
    admin.queue(&queue).await;
    admin
        .publish_event(&queue, &event(1), ContentMode::Binary)
        .await;

    let mut running = start(source(config(&queue)).unwrap(), 8);
    let first = running.recv(WAIT).await;
    assert_eq!(first.delivery_count, 1);
    assert_eq!(first.event.as_ref().unwrap().id, "evt-1");
    first
        .ack
        .settle(Settlement::Requeue {
            reason: "test".into(),
        })
        .await;
    let second = running.recv(WAIT).await;
    assert_eq!(second.event.as_ref().unwrap().id, "evt-1");
    assert_eq!(second.delivery_count, 2, "redelivered flag counts as 2");
    second.ack.settle(Settlement::Ack).await;
    running.expect_nothing(Duration::from_millis(500)).await;
    running.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_poison_message_goes_to_the_broker_dead_letter_exchange() {
    let mut admin = require_broker!();
    let queue = unique("poison-q");
    let dlx = unique("poison-dlx");
    let dlq = unique("poison-dlq");
    admin.exchange(&dlx, ExchangeKind::Fanout).await;
    admin.queue(&dlq).await;
    admin.bind(&dlq, &dlx, "").await;
    admin.forget_queue_later(&queue);

    // the source declares the quorum queue with its dead-letter exchange
    let mut c = config(&queue);
    c.declare = true;
    c.max_deliveries = 3;
    c.topology.queues.push(QueueConfig {
        name: queue.clone(),
        queue_type: QueueType::Quorum,
        durable: true,
        dead_letter_exchange: Some(dlx.clone()),
        dead_letter_routing_key: None,
        delivery_limit: None,
        arguments: BTreeMap::new(),
    });
    let mut running = start(source(c).unwrap(), 8);
    eventually(WAIT, "the source declared its queue", || async {
        admin.connection.create_channel().await.is_ok()
            && admin
                .connection
                .create_channel()
                .await
                .unwrap()
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .is_ok()
    })
    .await;

    let mut poison = event(0);
    poison.ty = "test.poison".into();
    admin
        .publish_event(&queue, &poison, ContentMode::Binary)
        .await;
    // the router keeps failing the poison message
    for expected in 1..=3 {
        let d = running.recv(WAIT).await;
        assert_eq!(d.event.as_ref().unwrap().ty, "test.poison");
        assert_eq!(d.delivery_count, expected, "x-delivery-count based count");
        d.ack
            .settle(Settlement::Requeue {
                reason: "plugin failed".into(),
            })
            .await;
    }
    // the 4th delivery is over max_deliveries: rejected to the DLX, never handed out
    let dead = admin.wait_get(&dlq, WAIT).await;
    assert!(
        header(&dead.delivery.properties, "x-death").is_some(),
        "the broker adds x-death"
    );
    let back = binding::decode(&dead.delivery.properties, &dead.delivery.data).unwrap();
    assert_eq!(back.id, "evt-0");

    // the queue keeps flowing
    admin
        .publish_event(&queue, &event(1), ContentMode::Binary)
        .await;
    let d = running.recv(WAIT).await;
    assert_eq!(d.event.as_ref().unwrap().id, "evt-1");
    d.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
    assert!(admin.get(&dlq).await.is_none(), "exactly one dead letter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_message_is_published_to_the_dead_letter_exchange_with_the_reason() {
    let mut admin = require_broker!();
    let queue = unique("dl-pub-q");
    let dlx = unique("dl-pub-x");
    let dlq = unique("dl-pub-dlq");
    admin.queue(&queue).await;
    admin.exchange(&dlx, ExchangeKind::Direct).await;
    admin.queue(&dlq).await;
    admin.bind(&dlq, &dlx, "dead").await;

    let mut c = config(&queue);
    c.max_deliveries = 1;
    c.dead_letter = Some(DeadLetterConfig {
        exchange: dlx.clone(),
        routing_key: Some("dead".into()),
    });
    let mut running = start(source(c).unwrap(), 8);
    let mut poison = event(0);
    poison
        .extensions
        .insert("traceparent".into(), "00-abc-def-01".into());
    admin
        .publish_event(&queue, &poison, ContentMode::Structured)
        .await;
    let d = running.recv(WAIT).await;
    assert_eq!(d.delivery_count, 1);
    d.ack
        .settle(Settlement::Requeue {
            reason: "fail".into(),
        })
        .await;
    // redelivered (count 2 > 1): published to the DLX with the reason, acked
    let dead = admin.wait_get(&dlq, WAIT).await;
    let reason = header(
        &dead.delivery.properties,
        &format!("cloudEvents:{}", dead_letter::REASON),
    )
    .expect("reason header");
    assert!(reason.contains("max_deliveries"), "{reason}");
    let record = binding::decode(&dead.delivery.properties, &dead.delivery.data).unwrap();
    assert_eq!(record.id, "evt-0");
    assert_eq!(record.data, poison.data);
    assert_eq!(record.extensions["traceparent"], "00-abc-def-01");
    assert_eq!(record.extensions[dead_letter::ATTEMPTS], "2");
    assert_eq!(
        record.extensions[dead_letter::FAILED_AT],
        format!("source:amqp:{queue}")
    );

    admin
        .publish_event(&queue, &event(1), ContentMode::Binary)
        .await;
    let d = running.recv(WAIT).await;
    assert_eq!(d.event.as_ref().unwrap().id, "evt-1");
    d.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
    assert_eq!(
        admin.ready(&queue).await,
        0,
        "the poison message was acked after publishing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_message_is_dead_lettered_with_the_parse_error() {
    let mut admin = require_broker!();
    let queue = unique("malformed-q");
    let dlx = unique("malformed-x");
    let dlq = unique("malformed-dlq");
    admin.queue(&queue).await;
    admin.exchange(&dlx, ExchangeKind::Fanout).await;
    admin.queue(&dlq).await;
    admin.bind(&dlq, &dlx, "").await;

    let mut c = config(&queue);
    c.dead_letter = Some(DeadLetterConfig {
        exchange: dlx.clone(),
        routing_key: None,
    });
    let mut running = start(source(c).unwrap(), 8);
    let mut headers = FieldTable::default();
    headers.insert("legacy-app".into(), long_string("billing"));
    admin
        .publish_raw(
            &queue,
            BasicProperties::default()
                .with_content_type("text/plain".into())
                .with_headers(headers),
            b"just some text",
        )
        .await;
    admin
        .publish_event(&queue, &event(2), ContentMode::Binary)
        .await;
    // only the valid event reaches the router
    let d = running.recv(WAIT).await;
    assert_eq!(d.event.as_ref().unwrap().id, "evt-2");
    d.ack.settle(Settlement::Ack).await;

    let dead = admin.wait_get(&dlq, WAIT).await;
    let record = binding::decode(&dead.delivery.properties, &dead.delivery.data).unwrap();
    assert_eq!(record.ty, dead_letter::MALFORMED_TYPE);
    assert!(
        record.extensions[dead_letter::REASON].contains("not a CloudEvent"),
        "{:?}",
        record.extensions
    );
    assert_eq!(record.data.as_deref(), Some(&b"just some text"[..]));
    assert_eq!(record.datacontenttype.as_deref(), Some("text/plain"));
    assert_eq!(
        header(&dead.delivery.properties, "legacy-app").as_deref(),
        Some("billing")
    );
    running.expect_nothing(Duration::from_millis(300)).await;
    running.stop().await.unwrap();
    assert_eq!(
        admin.ready(&queue).await,
        0,
        "malformed message acked, not requeued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_message_without_a_dead_letter_destination_goes_to_the_router() {
    let mut admin = require_broker!();
    let queue = unique("malformed-router");
    admin.queue(&queue).await;
    let mut running = start(source(config(&queue)).unwrap(), 8);
    admin
        .publish_raw(
            &queue,
            BasicProperties::default().with_content_type("application/cloudevents+json".into()),
            b"{\"specversion\":\"1.0\"}",
        )
        .await;
    let d = running.recv(WAIT).await;
    let malformed = d.event.as_ref().unwrap_err();
    assert_eq!(malformed.raw, b"{\"specversion\":\"1.0\"}");
    assert!(malformed.error.contains("`id`"), "{}", malformed.error);
    assert!(
        d.origin.starts_with(&format!("amqp:{queue}/")),
        "{}",
        d.origin
    );
    d.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_on_one_queue_share_the_work() {
    const N: usize = 1000;
    let mut admin = require_broker!();
    let queue = unique("shared");
    admin.queue(&queue).await;
    let mut c = config(&queue);
    c.prefetch = 10;
    let mut a = start(source(c.clone()).unwrap(), 16);
    let mut b = start(source(c).unwrap(), 16);
    // both consumers registered before publishing, so the broker round-robins
    eventually(WAIT, "two consumers", || async {
        admin
            .connection
            .create_channel()
            .await
            .unwrap()
            .queue_declare(
                queue.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map(|q| q.consumer_count() == 2)
            .unwrap_or(false)
    })
    .await;
    admin.publish_many(&queue, (0..N).map(event)).await;

    let mut ids = HashSet::new();
    let (mut from_a, mut from_b) = (0, 0);
    while ids.len() < N {
        let d = tokio::select! {
            Some(d) = a.rx.recv() => { from_a += 1; d }
            Some(d) = b.rx.recv() => { from_b += 1; d }
            _ = tokio::time::sleep(WAIT) => panic!("stalled at {} of {N}", ids.len()),
        };
        ids.insert(d.event.unwrap().id);
        tokio::spawn(d.ack.settle(Settlement::Ack));
    }
    eprintln!("source a: {from_a}, source b: {from_b}");
    assert!(from_a > N / 10 && from_b > N / 10, "a={from_a} b={from_b}");
    assert_eq!(from_a + from_b, N, "no duplicates");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_mode_fails_clearly_when_the_queue_is_missing() {
    let _admin = require_broker!();
    let queue = unique("missing");
    let running = start(source(config(&queue)).unwrap(), 8);
    let result = tokio::time::timeout(WAIT, running.task)
        .await
        .unwrap()
        .unwrap();
    let Err(ConnectorError::Fatal(message)) = result else {
        panic!("expected a fatal error, got {result:?}");
    };
    assert!(message.contains(&queue), "{message}");
    assert!(message.contains("does not exist"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_handed_out_deliveries() {
    let mut admin = require_broker!();
    let queue = unique("drain");
    admin.queue(&queue).await;
    admin.publish_many(&queue, (0..5).map(event)).await;
    let mut running = start(source(config(&queue)).unwrap(), 8);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(running.recv(WAIT).await);
    }
    running.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !running.task.is_finished(),
        "run waits for the in-flight deliveries"
    );
    for d in held {
        d.ack.settle(Settlement::Ack).await;
    }
    let result = tokio::time::timeout(WAIT, running.task)
        .await
        .unwrap()
        .unwrap();
    result.unwrap();
    assert_eq!(
        admin.ready(&queue).await,
        0,
        "acks after the shutdown signal still landed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_at_startup_is_retried_not_fatal() {
    // port 1: nothing listens; needs no broker
    let mut c = SourceConfig::new("amqp://guest:guest@127.0.0.1:1/%2f", "q");
    c.reconnect.initial_ms = 20;
    c.reconnect.max_ms = 100;
    let running = start(source(c).unwrap(), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!running.task.is_finished(), "still retrying");
    running.stop().await.unwrap();
}

#[test]
fn invalid_config_is_a_config_error() {
    let mut c = SourceConfig::new("not a uri", "");
    c.prefetch = 0;
    let Err(ConnectorError::Config(message)) = source(c) else {
        panic!("expected a config error");
    };
    assert!(
        message.contains("uri") && message.contains("queue") && message.contains("prefetch"),
        "{message}"
    );
}
