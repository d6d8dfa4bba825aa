//! Connection loss: weft's connections are force-closed by name with `rabbitmqctl`
//! mid-stream; the source and the sink must reconnect, and no message may be lost or
//! acked on the wrong channel.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{URI, close_connections_named, event, eventually, start, unique};
use weft_connector::Settlement;
use weft_connector_amqp::{ContentMode, SinkConfig, SourceConfig, sink, source};

const WAIT: Duration = Duration::from_secs(30);

fn config(queue: &str, name: &str) -> SourceConfig {
    let mut c = SourceConfig::new(URI, queue);
    c.connection_name = Some(name.to_string());
    c.reconnect.initial_ms = 100;
    c.reconnect.max_ms = 1000;
    c.drain_timeout_secs = 5;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumption_resumes_after_a_forced_close_and_nothing_is_lost() {
    const N: usize = 2000;
    let mut admin = require_broker!();
    let queue = unique("reconnect");
    let name = unique("conn");
    admin.queue(&queue).await;
    admin.publish_many(&queue, (0..N).map(event)).await;

    let mut c = config(&queue, &name);
    c.prefetch = 50;
    let mut running = start(source(c).unwrap(), 64);
    let mut acked = HashSet::new();
    let mut deliveries = 0usize;
    let mut closed = false;
    while acked.len() < N {
        let d = running.recv(WAIT).await;
        deliveries += 1;
        let id = d.event.as_ref().unwrap().id.clone();
        if !closed && acked.len() >= 500 {
            // keep this delivery unsettled across the close
            let n = tokio::task::spawn_blocking({
                let name = name.clone();
                move || close_connections_named(&name)
            })
            .await
            .unwrap();
            assert_eq!(n, 1, "weft's source connection was found by name");
            closed = true;
            // settling after the close is a no-op; the broker redelivers it
            d.ack.settle(Settlement::Ack).await;
            continue;
        }
        d.ack.settle(Settlement::Ack).await;
        acked.insert(id);
    }
    assert!(closed);
    // Deliveries of the dead session still buffered in the channel were "acked" above
    // without effect; the broker redelivers them: keep acking until it goes quiet.
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_secs(2), running.rx.recv()).await {
        deliveries += 1;
        assert!(
            acked.contains(&d.event.as_ref().unwrap().id),
            "only redeliveries remain"
        );
        d.ack.settle(Settlement::Ack).await;
    }
    eprintln!(
        "{N} messages acked after {deliveries} deliveries (redeliveries after the close: {})",
        deliveries - N
    );
    assert!(
        deliveries > N,
        "the unacked in-flight deliveries were redelivered"
    );
    running.stop().await.unwrap();
    assert_eq!(
        admin.ready(&queue).await,
        0,
        "every message acked exactly once at the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_from_a_dead_channel_never_lands_on_the_new_one() {
    let mut admin = require_broker!();
    let queue = unique("stale-ack");
    let name = unique("conn");
    admin.queue(&queue).await;
    admin
        .publish_event(&queue, &event(1), ContentMode::Binary)
        .await;

    let mut running = start(source(config(&queue, &name)).unwrap(), 8);
    let old = running.recv(WAIT).await;
    assert_eq!(old.delivery_count, 1);
    let n = tokio::task::spawn_blocking({
        let name = name.clone();
        move || close_connections_named(&name)
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    // the new session gets the same message again, with delivery tag 1 on its new channel
    let new = running.recv(WAIT).await;
    assert_eq!(new.event.as_ref().unwrap().id, "evt-1");
    assert_eq!(new.delivery_count, 2);
    // acking the old delivery (tag 1 of a dead channel) must not ack the new one
    old.ack.settle(Settlement::Ack).await;
    new.ack
        .settle(Settlement::Requeue {
            reason: "test".into(),
        })
        .await;
    let again = running.recv(WAIT).await;
    assert_eq!(
        again.event.as_ref().unwrap().id,
        "evt-1",
        "still in the queue"
    );
    again.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
    assert_eq!(admin.ready(&queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_reconnects_on_the_next_publish() {
    let mut admin = require_broker!();
    let queue = unique("sink-reconnect");
    let name = unique("conn");
    admin.queue(&queue).await;
    let mut c = SinkConfig::new(URI, "");
    c.routing_key = queue.clone();
    c.connection_name = Some(name.clone());
    c.reconnect.initial_ms = 50;
    c.reconnect.max_ms = 200;
    let sink = sink(c).await.unwrap();
    sink.deliver(&event(1)).await.unwrap();
    let n = tokio::task::spawn_blocking({
        let name = name.clone();
        move || close_connections_named(&name)
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    // a publish may fail transiently while the close propagates; it must recover
    let mut attempt = 1;
    eventually(WAIT, "a publish succeeds after the reconnect", || {
        let sink = sink.clone();
        attempt += 1;
        let n = attempt;
        async move {
            match sink.deliver(&event(n)).await {
                Ok(()) => true,
                Err(e) => {
                    assert!(e.is_transient(), "{e:?}");
                    false
                }
            }
        }
    })
    .await;
    eventually(WAIT, "both messages queued", || async {
        admin.ready(&queue).await == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_stalled_connection_is_detected_by_heartbeat_and_replaced() {
    let mut admin = require_broker!();
    let queue = unique("stalled-source");
    admin.queue(&queue).await;
    let proxy = common::FreezingProxy::start().await;
    let mut c = SourceConfig::new(format!("{}?heartbeat=1", proxy.uri()), &queue);
    c.reconnect.initial_ms = 100;
    c.reconnect.max_ms = 500;
    c.connect_timeout_secs = 2;
    c.drain_timeout_secs = 2;
    let mut running = start(source(c).unwrap(), 8);
    admin
        .publish_event(&queue, &event(1), ContentMode::Binary)
        .await;
    running.recv(WAIT).await.ack.settle(Settlement::Ack).await;

    // the broker's frames (deliveries, heartbeats) stop reaching weft
    proxy.freeze();
    admin
        .publish_event(&queue, &event(2), ContentMode::Binary)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.thaw();

    let d = running.recv(WAIT).await;
    assert_eq!(d.event.as_ref().unwrap().id, "evt-2");
    assert_eq!(
        d.delivery_count, 2,
        "redelivered on a new connection, not the stale one's held frame"
    );
    d.ack.settle(Settlement::Ack).await;
    running.stop().await.unwrap();
    eventually(WAIT, "queue empty", || async {
        admin.ready(&queue).await == 0
    })
    .await;
}
