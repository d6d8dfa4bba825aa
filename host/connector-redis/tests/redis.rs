//! Integration tests against the real Redis on 127.0.0.1:6379 (and a private
//! `redis-server` child for the restart test). Without Redis they fail, unless
//! `WEFT_SKIP_BROKERS=1` is set (then they skip with a note).

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{REDIS_URL, Running, eventually, unique};
use weft_connector::{Guarantee, Settlement, SinkConnector, SourceConnector, dead_letter};
use weft_connector_redis::{
    Binding, PubSubSinkConfig, PubSubSourceConfig, StreamSinkConfig, StreamSourceConfig,
    TrimConfig, binding, check_connection, pubsub_sink, pubsub_source, stream_sink, stream_source,
};
use weft_event::Event;

const WAIT: Duration = Duration::from_secs(20);

fn source_config(url: &str, stream: &str, consumer: &str) -> StreamSourceConfig {
    let mut cfg = StreamSourceConfig::new(url, stream);
    cfg.group = "workers".into();
    cfg.consumer = Some(consumer.into());
    cfg.block_ms = 200;
    cfg
}

fn field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_round_trip_in_both_modes() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("binding");
    let mut binary_event = Event::new("b-1", "/erp", "order.created");
    binary_event.subject = Some("order 7".into());
    binary_event.time = Some("2024-05-01T10:00:00Z".into());
    binary_event.datacontenttype = Some("application/octet-stream".into());
    binary_event.data = Some(vec![0, 1, 2, 255, 254]);
    binary_event.extensions.insert(
        "traceparent".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    let mut structured_event = Event::new("s-1", "/erp", "order.shipped");
    structured_event.datacontenttype = Some("application/json".into());
    structured_event.data = Some(br#"{"weight_kg":12.5}"#.to_vec());

    for (mode, event) in [
        (Binding::Binary, &binary_event),
        (Binding::Structured, &structured_event),
    ] {
        let mut cfg = StreamSinkConfig::new(REDIS_URL, &stream);
        cfg.binding = mode;
        assert_eq!(SinkConnector::guarantee(&cfg), Guarantee::AtLeastOnce);
        let sink = stream_sink(cfg).await.expect("sink");
        sink.deliver(event).await.expect("XADD");
    }

    // The raw layout is the documented one.
    let raw = common::entries(&mut conn, &stream).await;
    assert_eq!(raw.len(), 2);
    let binary_fields = &raw[0].1;
    assert_eq!(field(binary_fields, "ce_id"), Some(&b"b-1"[..]));
    assert_eq!(field(binary_fields, "ce_specversion"), Some(&b"1.0"[..]));
    assert_eq!(field(binary_fields, "ce_type"), Some(&b"order.created"[..]));
    assert_eq!(field(binary_fields, "ce_subject"), Some(&b"order 7"[..]));
    assert!(field(binary_fields, "ce_traceparent").is_some());
    assert_eq!(
        field(binary_fields, "content-type"),
        Some(&b"application/octet-stream"[..])
    );
    assert_eq!(
        field(binary_fields, "data"),
        Some(&[0u8, 1, 2, 255, 254][..])
    );
    let structured_fields = &raw[1].1;
    assert_eq!(structured_fields.len(), 1);
    let json: serde_json::Value =
        serde_json::from_slice(field(structured_fields, "event").expect("event field"))
            .expect("json");
    assert_eq!(json["id"], "s-1");
    assert_eq!(json["data"]["weight_kg"], 12.5);

    // The source reads both layouts back to the same events.
    let config = source_config(REDIS_URL, &stream, "c1");
    assert_eq!(SourceConnector::guarantee(&config), Guarantee::AtLeastOnce);
    let source = stream_source(config).expect("source");
    let mut running = Running::start(source, 16);
    let first = running.expect(WAIT, "binary entry").await;
    assert_eq!(first.event.as_ref().expect("event"), &binary_event);
    assert_eq!(first.delivery_count, 1);
    assert!(first.origin.starts_with(&format!("redis:{stream}/")));
    first.ack.settle(Settlement::Ack).await;
    let second = running.expect(WAIT, "structured entry").await;
    assert_eq!(second.event.as_ref().expect("event"), &structured_event);
    second.ack.settle(Settlement::Ack).await;
    eventually("both acked", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_entries_are_read_and_acked() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    const N: usize = 10_000;
    let stream = unique("bulk");
    common::produce(&mut conn, &stream, 0..N).await;
    let mut cfg = source_config(REDIS_URL, &stream, "bulk-1");
    cfg.batch_size = 256;
    cfg.lag_interval_ms = 100;
    let started = Instant::now();
    let mut running = Running::start(stream_source(cfg).expect("source"), 1024);
    let mut seen = HashSet::with_capacity(N);
    while seen.len() < N {
        let d = running.expect(WAIT, "more entries").await;
        let event = d.event.as_ref().expect("valid event");
        assert_eq!(d.delivery_count, 1);
        assert!(seen.insert(event.id.clone()), "duplicate {}", event.id);
        d.ack.settle(Settlement::Ack).await;
    }
    let read = started.elapsed();
    eventually("pending list empty", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    let acked = started.elapsed();
    eprintln!(
        "{N} entries: all delivered after {read:?}, all acked (XPENDING empty) after {acked:?}"
    );
    assert!(
        running.next(Duration::from_millis(300)).await.is_none(),
        "no redelivery"
    );
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeued_entries_stay_pending_and_are_redelivered_after_claim_idle() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("requeue");
    let ids = common::produce(&mut conn, &stream, 0..5).await;
    let mut cfg = source_config(REDIS_URL, &stream, "rq-1");
    cfg.claim_idle_ms = 400;
    cfg.claim_interval_ms = 100;
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let started = Instant::now();
    for _ in 0..5 {
        let d = running.expect(WAIT, "first delivery").await;
        assert_eq!(d.delivery_count, 1);
        d.ack
            .settle(Settlement::Requeue {
                reason: "test requeue".into(),
            })
            .await;
    }
    assert_eq!(common::pending(&mut conn, &stream, "workers").await, 5);
    let mut redelivered = BTreeSet::new();
    while redelivered.len() < 5 {
        let d = running.expect(WAIT, "redelivery via claim").await;
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "redelivered before claim_idle"
        );
        assert_eq!(d.delivery_count, 2, "{}", d.origin);
        let id = d.origin.rsplit('/').next().expect("id").to_string();
        redelivered.insert(id);
        d.ack.settle(Settlement::Ack).await;
    }
    assert_eq!(redelivered, ids.iter().cloned().collect::<BTreeSet<_>>());
    eventually("pending list empty", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_consumer_reclaims_entries_of_a_dead_consumer() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("reclaim");
    common::produce(&mut conn, &stream, 0..3).await;
    // "dead" reads the entries and never acknowledges them.
    let _: redis::Value = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("workers")
        .arg("0")
        .query_async(&mut conn)
        .await
        .expect("XGROUP CREATE");
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("dead")
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .expect("XREADGROUP");
    assert_eq!(common::pending(&mut conn, &stream, "workers").await, 3);

    let mut cfg = source_config(REDIS_URL, &stream, "alive");
    cfg.claim_idle_ms = 300;
    cfg.claim_interval_ms = 100;
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let mut got = BTreeSet::new();
    while got.len() < 3 {
        let d = running.expect(WAIT, "reclaimed entry").await;
        assert_eq!(
            d.delivery_count, 2,
            "claimed entries count a second delivery"
        );
        got.insert(d.event.as_ref().expect("event").id.clone());
        d.ack.settle(Settlement::Ack).await;
    }
    assert_eq!(got, ["e0", "e1", "e2"].map(String::from).into());
    eventually("pending list empty", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_consumer_first_rereads_its_own_pending_entries() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("restart");
    common::produce(&mut conn, &stream, 0..4).await;
    let mut cfg = source_config(REDIS_URL, &stream, "pod-0");
    cfg.claim_idle_ms = 600_000; // no claims: only the restart re-read may redeliver
    cfg.drain_timeout_ms = 100;
    let mut running = Running::start(stream_source(cfg.clone()).expect("source"), 16);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(running.expect(WAIT, "entry").await);
    }
    // Ack one, keep three unsettled through shutdown: they stay pending.
    held.remove(0).ack.settle(Settlement::Ack).await;
    eventually("one acked", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 3 }
    })
    .await;
    let stopping = tokio::spawn(running.stop(WAIT));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stopping.await.expect("join").expect("clean stop");
    drop(held);
    assert_eq!(common::pending(&mut conn, &stream, "workers").await, 3);

    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let mut again = BTreeSet::new();
    for _ in 0..3 {
        let d = running.expect(WAIT, "own pending entry").await;
        assert_eq!(d.delivery_count, 2);
        again.insert(d.event.as_ref().expect("event").id.clone());
        d.ack.settle(Settlement::Ack).await;
    }
    assert_eq!(again, ["e1", "e2", "e3"].map(String::from).into());
    eventually("pending list empty", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_deliveries_already_handed_out() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("drain");
    common::produce(&mut conn, &stream, 0..3).await;
    let cfg = source_config(REDIS_URL, &stream, "drainer");
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(running.expect(WAIT, "entry").await);
    }
    running.shutdown.cancel();
    let handle = running.handle;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !handle.is_finished(),
        "run returned before the deliveries were settled"
    );
    for d in held {
        d.ack.settle(Settlement::Ack).await;
    }
    tokio::time::timeout(WAIT, handle)
        .await
        .expect("run returned after the drain")
        .expect("join")
        .expect("clean stop");
    assert_eq!(common::pending(&mut conn, &stream, "workers").await, 0);
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_delivered_entry_is_dead_lettered_and_the_stream_keeps_flowing() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("poison");
    let dlq = format!("{stream}:dlq");
    let poison_id = common::produce(&mut conn, &stream, 0..1).await.remove(0);
    common::produce(&mut conn, &stream, 1..4).await;
    let mut cfg = source_config(REDIS_URL, &stream, "p-1");
    cfg.max_deliveries = 2;
    cfg.claim_idle_ms = 200;
    cfg.claim_interval_ms = 50;
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let mut poison_counts = Vec::new();
    let mut good = BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    // The poison entry is always requeued; everything else is acked.
    while Instant::now() < deadline {
        let Some(d) = running.next(Duration::from_millis(1500)).await else {
            if poison_counts.len() == 2 && good.len() == 3 {
                break;
            }
            continue;
        };
        let id = d.event.as_ref().expect("event").id.clone();
        if id == "e0" {
            poison_counts.push(d.delivery_count);
            d.ack
                .settle(Settlement::Requeue {
                    reason: "plugin keeps failing".into(),
                })
                .await;
        } else {
            good.insert(id);
            d.ack.settle(Settlement::Ack).await;
        }
    }
    assert_eq!(
        poison_counts,
        vec![1, 2],
        "handed out exactly max_deliveries times"
    );
    assert_eq!(good.len(), 3);
    eventually("dead-letter record", WAIT, || {
        let mut c = conn.clone();
        let q = dlq.clone();
        async move { common::xlen(&mut c, &q).await == 1 }
    })
    .await;
    let records = common::entries(&mut conn, &dlq).await;
    let record = binding::decode(&records[0].1).expect("dead-letter record is an event");
    assert_eq!(record.id, "e0");
    assert_eq!(record.data, common::event(0).data);
    assert_eq!(record.extensions[dead_letter::ATTEMPTS], "2");
    assert_eq!(record.extensions[dead_letter::ORIGIN], poison_id);
    assert!(
        record.extensions[dead_letter::REASON].contains("max_deliveries"),
        "{}",
        record.extensions[dead_letter::REASON]
    );
    eventually("poison entry acked", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    // Still flowing.
    common::produce(&mut conn, &stream, 10..12).await;
    for _ in 0..2 {
        let d = running.expect(WAIT, "entry after the dead letter").await;
        assert_ne!(d.event.as_ref().expect("event").id, "e0");
        d.ack.settle(Settlement::Ack).await;
    }
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream, &dlq]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_are_dead_lettered_with_the_parse_error() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("malformed");
    let dlq = unique("malformed-dlq");
    let not_an_event: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("order")
        .arg("42")
        .query_async(&mut conn)
        .await
        .expect("XADD");
    let missing_source: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("ce_specversion")
        .arg("1.0")
        .arg("ce_id")
        .arg("x")
        .arg("ce_type")
        .arg("t")
        .query_async(&mut conn)
        .await
        .expect("XADD");
    common::produce(&mut conn, &stream, 0..1).await;
    let mut cfg = source_config(REDIS_URL, &stream, "m-1");
    cfg.dead_letter_stream = Some(dlq.clone());
    cfg.binding = Binding::Structured;
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let d = running.expect(WAIT, "the valid entry").await;
    assert_eq!(d.event.as_ref().expect("event").id, "e0");
    d.ack.settle(Settlement::Ack).await;
    assert!(
        running.next(Duration::from_millis(300)).await.is_none(),
        "malformed entries never reach the router"
    );
    eventually("two dead-letter records", WAIT, || {
        let mut c = conn.clone();
        let q = dlq.clone();
        async move { common::xlen(&mut c, &q).await == 2 }
    })
    .await;
    let records: Vec<Event> = common::entries(&mut conn, &dlq)
        .await
        .iter()
        .map(|(_, f)| {
            assert_eq!(
                f[0].0, "event",
                "written in the configured (structured) binding"
            );
            binding::decode(f).expect("record")
        })
        .collect();
    let by_origin: HashMap<&str, &Event> = records
        .iter()
        .map(|r| (r.extensions[dead_letter::ORIGIN].as_str(), r))
        .collect();
    let first = by_origin[not_an_event.as_str()];
    assert_eq!(first.ty, dead_letter::MALFORMED_TYPE);
    assert!(
        first.extensions[dead_letter::REASON].contains("neither an `event` field"),
        "{}",
        first.extensions[dead_letter::REASON]
    );
    let raw: serde_json::Value =
        serde_json::from_slice(first.data.as_deref().expect("data")).expect("json");
    assert_eq!(raw, serde_json::json!({"order": "42"}));
    let second = by_origin[missing_source.as_str()];
    assert!(
        second.extensions[dead_letter::REASON].contains("`source` is missing"),
        "{}",
        second.extensions[dead_letter::REASON]
    );
    eventually("pending list empty", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream, &dlq]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trim_removes_entries_every_group_acknowledged() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("trim");
    common::produce(&mut conn, &stream, 0..50).await;
    let mut cfg = source_config(REDIS_URL, &stream, "t-1");
    cfg.trim = Some(TrimConfig {
        maxlen: None,
        minid_acked: true,
        approximate: false,
    });
    let mut running = Running::start(stream_source(cfg).expect("source"), 64);
    // Ack the first 30, hold the rest: nothing from the oldest pending entry on may go.
    let mut held = Vec::new();
    for i in 0..50 {
        let d = running.expect(WAIT, "entry").await;
        if i < 30 {
            d.ack.settle(Settlement::Ack).await;
        } else {
            held.push(d);
        }
    }
    eventually("stream trimmed to the unacknowledged entries", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::xlen(&mut c, &s).await == 20 }
    })
    .await;
    for d in held {
        d.ack.settle(Settlement::Ack).await;
    }
    eventually("stream trimmed to the last delivered entry", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::xlen(&mut c, &s).await <= 1 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_appends_concurrently_and_caps_with_maxlen() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("sink");
    let sink = stream_sink(StreamSinkConfig::new(REDIS_URL, &stream))
        .await
        .expect("sink");
    let started = Instant::now();
    let writes = (0..2000).map(|n| {
        let sink = sink.clone();
        tokio::spawn(async move { sink.deliver(&common::event(n)).await })
    });
    for w in futures::future::join_all(writes).await {
        w.expect("join").expect("XADD confirmed");
    }
    eprintln!("2000 concurrent XADDs in {:?}", started.elapsed());
    assert_eq!(common::xlen(&mut conn, &stream).await, 2000);

    let capped = unique("sink-capped");
    let mut cfg = StreamSinkConfig::new(REDIS_URL, &capped);
    cfg.maxlen = Some(10);
    cfg.maxlen_exact = true;
    let sink = stream_sink(cfg).await.expect("sink");
    for n in 0..50 {
        sink.deliver(&common::event(n)).await.expect("XADD");
    }
    assert_eq!(common::xlen(&mut conn, &capped).await, 10);
    let last = common::entries(&mut conn, &capped).await;
    assert_eq!(
        binding::decode(&last[9].1).expect("event").id,
        "e49",
        "the newest entries are kept"
    );

    let approx = unique("sink-approx");
    let mut cfg = StreamSinkConfig::new(REDIS_URL, &approx);
    cfg.maxlen = Some(100);
    let sink = stream_sink(cfg).await.expect("sink");
    for n in 0..1000 {
        sink.deliver(&common::event(n)).await.expect("XADD");
    }
    let len = common::xlen(&mut conn, &approx).await;
    assert!(
        (100..1000).contains(&len),
        "MAXLEN ~ 100 left {len} entries"
    );
    common::cleanup(&mut conn, &[&stream, &capped, &approx]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_reports_unreachable_redis_as_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut cfg = StreamSinkConfig::new(format!("redis://127.0.0.1:{port}"), "nowhere");
    cfg.connection_timeout_ms = 200;
    cfg.reconnect_max_backoff_ms = 100;
    let sink = stream_sink(cfg).await.expect("built without connecting");
    let err = sink
        .deliver(&common::event(0))
        .await
        .expect_err("no server");
    assert!(err.is_transient(), "{err}");
    let err = check_connection(&format!("redis://:hunter2@127.0.0.1:{port}"))
        .await
        .expect_err("no server");
    assert!(!err.contains("hunter2"), "password leaked: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_round_trip_is_best_effort() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    check_connection(REDIS_URL).await.expect("PING");
    let channel = unique("pubsub");
    let metrics = weft_telemetry::install_metrics().expect("recorder");
    let mut cfg = PubSubSourceConfig::new(REDIS_URL, vec![channel.clone()]);
    cfg.ping_interval_ms = 50;
    assert!(matches!(
        SourceConnector::guarantee(&cfg),
        Guarantee::BestEffort(_)
    ));
    let source = pubsub_source(cfg).expect("source");
    let mut running = Running::start(source, 16);
    eventually("subscribed", WAIT, || {
        let mut c = conn.clone();
        let ch = channel.clone();
        async move {
            let reply: (String, i64) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&ch)
                .query_async(&mut c)
                .await
                .expect("PUBSUB NUMSUB");
            reply.1 >= 1
        }
    })
    .await;
    let sink_config = PubSubSinkConfig::new(REDIS_URL, &channel);
    assert!(matches!(
        SinkConnector::guarantee(&sink_config),
        Guarantee::BestEffort(_)
    ));
    let sink = pubsub_sink(sink_config).await.expect("sink");
    let mut sent = common::event(1);
    sent.extensions
        .insert("traceparent".into(), "00-ab-cd-01".into());
    sink.deliver(&sent).await.expect("PUBLISH");
    let d = running.expect(WAIT, "published event").await;
    assert_eq!(d.event.as_ref().expect("event"), &sent);
    assert!(d.origin.contains(&channel));
    d.ack.settle(Settlement::Ack).await;

    let _: i64 = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg("not json")
        .query_async(&mut conn)
        .await
        .expect("PUBLISH");
    let d = running.expect(WAIT, "malformed message").await;
    let malformed = d.event.expect_err("malformed");
    assert_eq!(malformed.raw, b"not json");
    assert!(
        malformed.error.contains("invalid JSON"),
        "{}",
        malformed.error
    );

    // Keep-alive pings (every 50 ms) do not disturb the subscription.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = metrics.render();
    let label = format!("stream=\"{channel}\"");
    assert!(
        !text.lines().any(|l| l.contains(&label)
            && (l.starts_with("weft_redis_reconnects_total")
                || l.starts_with("weft_redis_connection_errors_total"))),
        "{text}"
    );
    let mut again = common::event(2);
    again.id = "after-pings".into();
    sink.deliver(&again).await.expect("PUBLISH");
    let d = running.expect(WAIT, "event after pings").await;
    assert_eq!(d.event.as_ref().expect("event").id, "after-pings");
    running.stop(WAIT).await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_reads_and_report_consumer_lag() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let handle = weft_telemetry::install_metrics().expect("recorder");
    let stream = unique("metrics");
    common::produce(&mut conn, &stream, 0..5).await;
    let mut cfg = source_config(REDIS_URL, &stream, "m-1");
    cfg.lag_interval_ms = 50;
    let mut running = Running::start(stream_source(cfg).expect("source"), 16);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(running.expect(WAIT, "entry").await);
    }
    let label = format!("stream=\"{stream}\"");
    eventually("pending gauge = 5", WAIT, || {
        let text = handle.render();
        let label = label.clone();
        async move {
            text.lines().any(|l| {
                l.starts_with("weft_redis_consumer_pending")
                    && l.contains(&label)
                    && l.ends_with(" 5")
            }) && text.lines().any(|l| {
                l.starts_with("weft_redis_consumer_lag") && l.contains(&label) && l.ends_with(" 0")
            })
        }
    })
    .await;
    for d in held {
        d.ack.settle(Settlement::Ack).await;
    }
    eventually("acked counter = 5", WAIT, || {
        let text = handle.render();
        let label = label.clone();
        async move {
            text.lines().any(|l| {
                l.starts_with("weft_redis_acked_total") && l.contains(&label) && l.ends_with(" 5")
            })
        }
    })
    .await;
    let text = handle.render();
    assert!(
        text.lines().any(|l| l.starts_with("weft_redis_read_total")
            && l.contains(&label)
            && l.ends_with(" 5")),
        "{text}"
    );
    running.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_survives_a_redis_restart_and_acks_everything() {
    let Some(mut server) = common::RedisServer::start(true).await else {
        return;
    };
    const N: usize = 3000;
    let url = server.url();
    let stream = "restart-test";
    let mut cfg = source_config(&url, stream, "survivor");
    cfg.claim_idle_ms = 1000;
    cfg.claim_interval_ms = 200;
    cfg.reconnect_max_backoff_ms = 300;
    cfg.connection_timeout_ms = 500;
    cfg.response_timeout_ms = 1000;
    cfg.batch_size = 50;
    let mut running = Running::start(stream_source(cfg).expect("source"), 64);

    // Producer: XADD events one by one, retrying through the outage; records what Redis
    // confirmed.
    let producer_url = url.clone();
    let producer = tokio::spawn(async move {
        let mut confirmed = Vec::new();
        let mut conn = None;
        for n in 0..N {
            loop {
                if conn.is_none() {
                    conn = common::connect(&producer_url).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut cmd = redis::cmd("XADD");
                cmd.arg(stream).arg("*");
                for (k, v) in binding::encode(&common::event(n), Binding::Binary) {
                    cmd.arg(k).arg(v);
                }
                match cmd.query_async::<String>(c).await {
                    Ok(_) => {
                        confirmed.push(format!("e{n}"));
                        break;
                    }
                    Err(_) => {
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            if n % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        confirmed
    });

    let mut seen = HashSet::new();
    let mut restarted = false;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    while seen.len() < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} entries arrived",
            seen.len()
        );
        if !restarted && seen.len() >= N / 3 {
            server.kill();
            tokio::time::sleep(Duration::from_millis(500)).await;
            server.spawn().await.expect("restart redis-server");
            restarted = true;
            eprintln!("redis-server restarted after {} entries", seen.len());
        }
        let Some(d) = running.next(Duration::from_millis(200)).await else {
            continue;
        };
        seen.insert(d.event.as_ref().expect("event").id.clone());
        d.ack.settle(Settlement::Ack).await;
    }
    let confirmed = producer.await.expect("producer");
    assert_eq!(confirmed.len(), N);
    for id in &confirmed {
        assert!(
            seen.contains(id),
            "{id} was confirmed by XADD but never delivered"
        );
    }
    let mut conn = common::connect(&url).await.expect("connect");
    eventually("every entry acknowledged", Duration::from_secs(30), || {
        let mut c = conn.clone();
        async move { common::pending(&mut c, stream, "workers").await == 0 }
    })
    .await;
    // Nothing left unread either.
    let info: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(&mut conn)
        .await
        .expect("XINFO");
    assert_eq!(info.groups[0].lag, Some(0));
    eprintln!(
        "{N} entries across a redis-server restart: all delivered and acked after {:?}",
        started.elapsed()
    );
    running.stop(WAIT).await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_running_delivery_is_not_stolen_by_another_consumer() {
    let Some(mut conn) = common::redis().await else {
        return;
    };
    let stream = unique("heartbeat");
    common::produce(&mut conn, &stream, 0..1).await;
    let mut cfg = source_config(REDIS_URL, &stream, "slow");
    cfg.claim_idle_ms = 1000;
    cfg.claim_interval_ms = 600_000; // only the heartbeat protects the entry
    let mut slow = Running::start(stream_source(cfg.clone()).expect("source"), 4);
    let held = slow.expect(WAIT, "entry").await;
    // Another replica sweeps for idle entries every 50 ms while the entry is processed
    // for 2.5 × claim_idle: the heartbeat keeps it from being claimed.
    cfg.consumer = Some("other".into());
    cfg.claim_interval_ms = 50;
    let mut other = Running::start(stream_source(cfg).expect("source"), 4);
    if let Some(stolen) = other.next(Duration::from_millis(2500)).await {
        panic!("in-flight entry was claimed by another consumer: {stolen:?}");
    }
    assert!(
        slow.next(Duration::from_millis(10)).await.is_none(),
        "no self-redelivery"
    );
    // Still owned by "slow", and the heartbeat did not count as a delivery.
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(&mut conn)
        .await
        .expect("XPENDING");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "slow");
    assert_eq!(rows[0].3, 1, "delivery count");
    held.ack.settle(Settlement::Ack).await;
    eventually("acked", WAIT, || {
        let mut c = conn.clone();
        let s = stream.clone();
        async move { common::pending(&mut c, &s, "workers").await == 0 }
    })
    .await;
    other.stop(WAIT).await.expect("clean stop");
    slow.stop(WAIT).await.expect("clean stop");
    common::cleanup(&mut conn, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_started_while_redis_is_down_connects_when_it_comes_up() {
    let mut server = common::RedisServer::reserve(false);
    let mut cfg = source_config(&server.url(), "late", "early-bird");
    cfg.reconnect_max_backoff_ms = 200;
    cfg.connection_timeout_ms = 500;
    let mut running = Running::start(stream_source(cfg).expect("built without Redis"), 4);
    assert!(running.next(Duration::from_millis(500)).await.is_none());
    assert!(!running.handle.is_finished(), "a down Redis is not fatal");
    if let Err(e) = server.spawn().await {
        assert!(
            std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1"),
            "cannot start redis-server: {e}"
        );
        eprintln!("note: skipping test, cannot start redis-server: {e}");
        return;
    }
    let mut conn = common::connect(&server.url()).await.expect("connect");
    common::produce(&mut conn, "late", 0..3).await;
    for n in 0..3 {
        let d = running.expect(WAIT, "entry after Redis came up").await;
        assert_eq!(d.event.as_ref().expect("event").id, format!("e{n}"));
        d.ack.settle(Settlement::Ack).await;
    }
    eventually("acked", WAIT, || {
        let mut c = conn.clone();
        async move { common::pending(&mut c, "late", "workers").await == 0 }
    })
    .await;
    running.stop(WAIT).await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_an_acl_user() {
    let mut server = common::RedisServer::reserve(false);
    let started = match server.enable_tls() {
        Ok(ca) => server.spawn().await.map(|()| ca),
        Err(e) => Err(e),
    };
    let ca = match started {
        Ok(ca) => ca,
        Err(e) if !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1") => {
            panic!("cannot start a TLS redis-server: {e}")
        }
        Err(e) => {
            eprintln!("note: skipping test, cannot start a TLS redis-server: {e}");
            return;
        }
    };
    let url = server.url();
    assert!(url.starts_with("rediss://"));

    let mut sink_cfg = StreamSinkConfig::new(&url, "secure");
    sink_cfg.username = Some("weft".into());
    sink_cfg.password = Some("s3cret".into());
    sink_cfg.tls_ca_file = Some(ca.clone());
    sink_cfg.check_connection().await.expect("PING over TLS");
    let sink = stream_sink(sink_cfg.clone()).await.expect("sink");
    sink.deliver(&common::event(7))
        .await
        .expect("XADD over TLS");

    let mut cfg = source_config(&url, "secure", "tls-1");
    cfg.username = Some("weft".into());
    cfg.password = Some("s3cret".into());
    cfg.tls_ca_file = Some(ca.clone());
    let mut running = Running::start(stream_source(cfg).expect("source"), 4);
    let d = running.expect(WAIT, "entry over TLS").await;
    assert_eq!(d.event.as_ref().expect("event").id, "e7");
    d.ack.settle(Settlement::Ack).await;
    running.stop(WAIT).await.expect("clean stop");

    // The server certificate is not trusted without the CA …
    let mut untrusted = sink_cfg.clone();
    untrusted.tls_ca_file = None;
    untrusted.connection_timeout_ms = 500;
    untrusted.reconnect_max_backoff_ms = 100;
    let err = untrusted.check_connection().await.expect_err("unknown CA");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let err = stream_sink(untrusted)
        .await
        .expect("sink")
        .deliver(&common::event(8))
        .await
        .expect_err("unknown CA");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // … and a wrong password is refused, without leaking it.
    let mut wrong = sink_cfg.clone();
    wrong.password = Some("wrong-password".into());
    let err = wrong.check_connection().await.expect_err("bad password");
    assert!(!err.contains("wrong-password"), "{err}");
    assert!(
        stream_sink(wrong)
            .await
            .expect("sink")
            .deliver(&common::event(9))
            .await
            .is_err()
    );
    // A CA file needs rediss://.
    let mut plain = StreamSinkConfig::new(REDIS_URL, "x");
    plain.tls_ca_file = Some(ca);
    assert!(plain.validate().is_err());
}
