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
