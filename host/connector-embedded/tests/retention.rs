//! Retention that respects readers: a topic is trimmed only below every registered
//! reader's committed cursor; at a ceiling with nothing trimmable, appends are refused
//! (`LogError::Full`) and nothing unread is deleted. Real redb files in temporary dirs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{Delivery, EventStore, Settlement, Source, StoreError};
use weft_connector_embedded::{EmbeddedLog, LogError, Retention, TopicSource};
use weft_event::Event;

fn events(from: usize, n: usize) -> Vec<Event> {
    (from..from + n)
        .map(|i| Event::new(format!("e{i}"), "/test", "t"))
        .collect()
}

fn offsets(log: &EmbeddedLog, topic: &str) -> Vec<u64> {
    log.read(topic, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|(o, _)| o)
        .collect()
}

#[tokio::test]
async fn without_readers_the_newest_events_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 10).unwrap();
    for i in 0..5 {
        log.append("t", &events(i * 5, 5)).await.unwrap();
    }
    assert_eq!(offsets(&log, "t"), (15..25).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_unread_event_is_never_trimmed_the_topic_is_full_instead() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 10).unwrap();
    log.register_reader("t", "route-a");
    log.append("t", &events(0, 10)).await.unwrap();
    let err = log.append("t", &events(10, 1)).await.unwrap_err();
    match &err {
        LogError::Full { topic, reason } => {
            assert_eq!(topic, "t");
            assert!(reason.contains("route-a"), "{reason}");
            assert!(reason.contains("retention_events"), "{reason}");
        }
        other => panic!("expected Full, got {other:?}"),
    }
    // nothing was deleted and the refused event was not stored
    assert_eq!(offsets(&log, "t"), (0..10).collect::<Vec<_>>());
    // the reader commits 4: exactly 4 fit now, below its cursor only
    log.commit("t", "route-a", 4).await.unwrap();
    log.append("t", &events(10, 4)).await.unwrap();
    assert_eq!(offsets(&log, "t"), (4..14).collect::<Vec<_>>());
    assert!(matches!(
        log.append("t", &events(14, 1)).await,
        Err(LogError::Full { .. })
    ));
    // the HTTP ingress sees it as StoreError::Full (503 with Retry-After)
    let store: &dyn EventStore = &*log;
    assert!(matches!(
        store.append("t", &events(14, 1)).await,
        Err(StoreError::Full {
            retry_after_secs: 1,
            ..
        })
    ));
}

#[tokio::test]
async fn the_slowest_of_several_readers_holds_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 10).unwrap();
    log.register_reader("t", "fast");
    log.register_reader("t", "slow");
    log.append("t", &events(0, 10)).await.unwrap();
    log.commit("t", "fast", 10).await.unwrap();
    log.commit("t", "slow", 2).await.unwrap();
    let Err(LogError::Full { reason, .. }) = log.append("t", &events(10, 3)).await else {
        panic!("3 events need 3 trimmable ones; the slow reader allows 2");
    };
    assert!(
        reason.contains("`slow`") && reason.contains("offset 2"),
        "{reason}"
    );
    log.append("t", &events(10, 2)).await.unwrap();
    assert_eq!(offsets(&log, "t").first(), Some(&2));
    // a removed reader (a deleted subscription) no longer holds anything back
    log.unregister_reader("t", "slow");
    log.append("t", &events(12, 5)).await.unwrap();
    assert_eq!(offsets(&log, "t"), (7..17).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_byte_ceiling_counts_stored_bytes_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let one = events(0, 1)[0].to_json_string().len() as u64;
    let retention = Retention {
        events: 1_000,
        bytes: one * 6,
    };
    {
        let log = EmbeddedLog::open(&path, retention).unwrap();
        log.register_reader("t", "r");
        log.append("t", &events(0, 6)).await.unwrap();
        assert!(matches!(
            log.append("t", &events(6, 1)).await,
            Err(LogError::Full { ref reason, .. }) if reason.contains("retention_bytes")
        ));
        log.commit("t", "r", 3).await.unwrap();
    }
    // reopened: the stored bytes are counted again from the file
    let log = loop {
        match EmbeddedLog::open(&path, retention) {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    log.register_reader("t", "r");
    log.append("t", &events(6, 3)).await.unwrap();
    assert_eq!(offsets(&log, "t"), (3..9).collect::<Vec<_>>());
    assert!(matches!(
        log.append("t", &events(9, 1)).await,
        Err(LogError::Full { .. })
    ));
}

#[tokio::test]
async fn a_topic_source_is_a_reader_and_frees_space_as_it_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 20).unwrap();
    let (tx, mut rx) = mpsc::channel::<Delivery>(64);
    let stop = CancellationToken::new();
    // building the source registers it, before it runs
    let source = Box::new(TopicSource::new(log.clone(), "t", "weft"));
    log.append("t", &events(0, 20)).await.unwrap();
    assert!(log.append("t", &events(20, 1)).await.is_err());
    let task = tokio::spawn(source.run(tx, stop.clone()));
    let mut seen = Vec::new();
    let mut next = 20;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // 200 events through a 20-event topic: every append that is refused is retried,
    // and the source sees every event exactly once, in order
    while seen.len() < 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled at {}",
            seen.len()
        );
        while let Ok(d) = rx.try_recv() {
            seen.push(d.event.as_ref().unwrap().id.clone());
            d.ack.settle(Settlement::Ack).await;
        }
        if next < 200 {
            match log.append("t", &events(next, 1)).await {
                Ok(_) => next += 1,
                Err(LogError::Full { .. }) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => panic!("{e}"),
            }
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let want: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    assert_eq!(seen, want);
    stop.cancel();
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

#[tokio::test]
async fn a_batch_larger_than_the_ceiling_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 5).unwrap();
    let Err(LogError::Full { reason, .. }) = log.append("t", &events(0, 6)).await else {
        panic!("6 events cannot fit in 5");
    };
    assert!(reason.contains("6 new event(s)"), "{reason}");
    assert!(offsets(&log, "t").is_empty());
    let _ = Arc::clone(&log);
}

/// The global metrics recorder of this test binary (installed once).
fn snapshotter() -> &'static metrics_util::debugging::Snapshotter {
    static SNAP: std::sync::OnceLock<metrics_util::debugging::Snapshotter> =
        std::sync::OnceLock::new();
    SNAP.get_or_init(|| {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("one recorder per test binary");
        snapshotter
    })
}

/// The value of counter `name` with label `topic`. (A snapshot resets the recorder's
/// counters, so every snapshot is added up here.)
fn counter(name: &str, topic: &str) -> u64 {
    static TOTALS: std::sync::Mutex<Vec<(String, String, u64)>> = std::sync::Mutex::new(Vec::new());
    let mut totals = TOTALS.lock().unwrap();
    for (k, _, _, v) in snapshotter().snapshot().into_vec() {
        let metrics_util::debugging::DebugValue::Counter(n) = v else {
            continue;
        };
        for label in k.key().labels() {
            let (metric, value) = (k.key().name().to_string(), label.value().to_string());
            match totals
                .iter_mut()
                .find(|(m, t, _)| *m == metric && *t == value)
            {
                Some((_, _, total)) => *total += n,
                None => totals.push((metric, value, n)),
            }
        }
    }
    totals
        .iter()
        .filter(|(m, t, _)| m == name && t == topic)
        .map(|(_, _, n)| n)
        .sum()
}

#[tokio::test]
async fn events_past_max_age_expire_even_unread_and_it_is_counted() {
    snapshotter();
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 1_000).unwrap();
    log.register_reader("aged", "stuck");
    log.register_reader("aged", "fast");
    log.register_reader("kept", "stuck");
    log.set_max_age("aged", Some(Duration::from_millis(1000)));
    log.append("aged", &events(0, 5)).await.unwrap();
    log.append("kept", &events(0, 5)).await.unwrap();
    log.commit("aged", "fast", 5).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    log.append("aged", &events(5, 2)).await.unwrap();
    // nothing is old enough yet
    assert_eq!(offsets(&log, "aged"), (0..7).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(500)).await;
    log.append("aged", &events(7, 1)).await.unwrap();
    // the first append (5 events) is past max_age; the later ones are not
    assert_eq!(offsets(&log, "aged"), (5..8).collect::<Vec<_>>());
    // `stuck` had read none of them: counted once per event
    assert_eq!(counter("weft_topic_expired_events_total", "aged"), 5);
    // a topic without max_age keeps what its reader has not read
    assert_eq!(offsets(&log, "kept"), (0..5).collect::<Vec<_>>());
    assert_eq!(counter("weft_topic_expired_events_total", "kept"), 0);
    // an idle topic expires too (the writer looks about every second)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !offsets(&log, "aged").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle topic never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counter("weft_topic_expired_events_total", "aged"), 8);
    // the reader goes on after the gap
    let d = log.read("aged", 0, 10).unwrap();
    assert!(d.is_empty());
    log.append("aged", &events(8, 1)).await.unwrap();
    assert_eq!(offsets(&log, "aged"), vec![8]);
}

#[tokio::test]
async fn events_read_by_everyone_expire_without_being_counted() {
    snapshotter();
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 1_000).unwrap();
    log.register_reader("done", "r");
    log.set_max_age("done", Some(Duration::from_millis(200)));
    log.append("done", &events(0, 4)).await.unwrap();
    log.commit("done", "r", 4).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.append("done", &events(4, 1)).await.unwrap();
    assert_eq!(offsets(&log, "done"), vec![4]);
    assert_eq!(counter("weft_topic_expired_events_total", "done"), 0);
}

#[tokio::test]
async fn a_log_written_before_append_times_were_stored_opens_and_ages_from_then() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    // the layout of earlier versions: entries and cursors, no append times
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<'_, u64, &[u8]> =
                redb::TableDefinition::new("topic/old");
            let mut t = tx.open_table(def).unwrap();
            for (i, e) in events(0, 3).iter().enumerate() {
                t.insert(i as u64, e.to_json_string().as_bytes()).unwrap();
            }
            let cursors: redb::TableDefinition<'_, &str, u64> =
                redb::TableDefinition::new("cursors");
            tx.open_table(cursors).unwrap();
        }
        tx.commit().unwrap();
    }
    let log = EmbeddedLog::open(&path, 1_000).unwrap();
    log.register_reader("old", "r");
    log.set_max_age("old", Some(Duration::from_millis(300)));
    assert_eq!(offsets(&log, "old"), vec![0, 1, 2]);
    // first use: the old entries count as appended now, so they are kept
    log.append("old", &events(3, 1)).await.unwrap();
    assert_eq!(offsets(&log, "old"), vec![0, 1, 2, 3]);
    assert_eq!(
        log.read("old", 0, 1).unwrap()[0].1.as_ref().unwrap().id,
        "e0"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    log.append("old", &events(4, 1)).await.unwrap();
    assert_eq!(offsets(&log, "old"), vec![4]);
}

/// Receives the next delivery (with a deadline).
async fn next(rx: &mut mpsc::Receiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery in time")
        .expect("the source runs")
}

#[tokio::test]
async fn delivery_counts_survive_a_restart_of_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 1_000).unwrap();
    log.append("t", &events(0, 2)).await.unwrap();
    // run 1: e0 is requeued once (2 deliveries), e1 handed out and never settled (crash)
    {
        let (tx, mut rx) = mpsc::channel::<Delivery>(8);
        let source = Box::new(TopicSource::new(log.clone(), "t", "r"));
        let task = tokio::spawn(source.run(tx, CancellationToken::new()));
        let d0 = next(&mut rx).await;
        let d1 = next(&mut rx).await;
        assert_eq!((d0.delivery_count, d1.delivery_count), (1, 1));
        d0.ack
            .settle(Settlement::Requeue {
                reason: "test".into(),
            })
            .await;
        let again = next(&mut rx).await;
        assert_eq!(again.event.as_ref().unwrap().id, "e0");
        assert_eq!(again.delivery_count, 2);
        // what was handed out reaches the file (it is written without waiting)
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stored = log.deliveries("t", "r").unwrap();
            if stored.handed == 2 && stored.counts.get(&0) == Some(&2) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{stored:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        let _ = task.await;
        drop((again, d1));
    }
    // run 2: the counts go on from there
    let (tx, mut rx) = mpsc::channel::<Delivery>(8);
    let source = Box::new(TopicSource::new(log.clone(), "t", "r"));
    let stop = CancellationToken::new();
    let task = tokio::spawn(source.run(tx, stop.clone()));
    let d0 = next(&mut rx).await;
    let d1 = next(&mut rx).await;
    assert_eq!(d0.event.as_ref().unwrap().id, "e0");
    assert_eq!((d0.delivery_count, d1.delivery_count), (3, 2));
    d0.ack.settle(Settlement::Ack).await;
    d1.ack.settle(Settlement::Ack).await;
    // settled: the counts are dropped with the cursor commit
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !log.deliveries("t", "r").unwrap().counts.is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.append("t", &events(2, 1)).await.unwrap();
    assert_eq!(next(&mut rx).await.delivery_count, 1);
    stop.cancel();
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}
