//! The embedded log and its topic source: the low-watermark cursor, requeues, restarts,
//! group commit, and damaged files. Real redb files in temporary directories.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{Delivery, Settlement, Source};
use weft_connector_embedded::{COMMIT_INTERVAL, EmbeddedLog, TopicSource};
use weft_event::Event;

const WAIT: Duration = Duration::from_secs(10);

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event::new(format!("e{i}"), "/test", "t"))
        .collect()
}

struct Running {
    rx: mpsc::Receiver<Delivery>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), weft_connector::ConnectorError>>,
}

fn start(log: &Arc<EmbeddedLog>, topic: &str, consumer: &str) -> Running {
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let source = Box::new(TopicSource::new(log.clone(), topic, consumer));
    let task = tokio::spawn(source.run(tx, stop.clone()));
    Running { rx, stop, task }
}

impl Running {
    async fn next(&mut self) -> Delivery {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("a delivery in time")
            .expect("the source is running")
    }

    /// Stops as the router does: hands back what was fetched but not taken, then waits
    /// for the source to commit and return.
    async fn stop(mut self) {
        self.stop.cancel();
        self.rx.close();
        while let Some(d) = self.rx.recv().await {
            d.ack
                .settle(Settlement::Requeue {
                    reason: "shutting down".into(),
                })
                .await;
        }
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the source stops")
            .unwrap()
            .unwrap();
    }
}

/// Polls the committed cursor until it equals `want`.
async fn cursor_reaches(log: &EmbeddedLog, topic: &str, consumer: &str, want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = log.cursor(topic, consumer).unwrap();
        if now == want || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens the log in `dir`; a log just dropped may still be closing on its writer thread,
/// so a reopen retries for a while.
fn open(dir: &Path) -> Arc<EmbeddedLog> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match EmbeddedLog::open(&dir.join("log.redb"), 1_000_000) {
            Ok(log) => return log,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot reopen the log: {e}"),
        }
    }
}

#[tokio::test]
async fn the_cursor_is_the_lowest_unacknowledged_offset_and_restarts_resume_there() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append("t", &events(6)).await.unwrap();
    let mut running = start(&log, "t", "c");
    let mut handed = Vec::new();
    for _ in 0..6 {
        handed.push(running.next().await);
    }
    let ids: Vec<&str> = handed
        .iter()
        .map(|d| d.event.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4", "e5"]);
    let mut handed = handed.into_iter();
    let first = handed.next().unwrap();
    // out of order: 1..=3 acked while 0 is still out
    let mut rest: Vec<Delivery> = handed.collect();
    let tail = rest.split_off(3); // e4, e5 stay out
    for d in rest {
        d.ack.settle(Settlement::Ack).await;
    }
    tokio::time::sleep(COMMIT_INTERVAL * 4).await;
    assert_eq!(
        log.cursor("t", "c").unwrap(),
        0,
        "0 is not acknowledged yet"
    );
    first.ack.settle(Settlement::Ack).await;
    assert_eq!(cursor_reaches(&log, "t", "c", 4).await, 4);
    // a clean stop with e4, e5 still out commits 4 once they are settled
    let stopping = tokio::spawn(running.stop());
    for d in tail {
        d.ack
            .settle(Settlement::Requeue {
                reason: "shutting down".into(),
            })
            .await;
    }
    stopping.await.unwrap();
    assert_eq!(log.cursor("t", "c").unwrap(), 4);
    drop(log);
    // restart from the committed cursor: e4 first, nothing before it again
    let log = open(dir.path());
    let mut running = start(&log, "t", "c");
    let again = running.next().await;
    assert_eq!(again.event.as_ref().unwrap().id, "e4");
    again.ack.settle(Settlement::Ack).await;
    let last = running.next().await;
    assert_eq!(last.event.as_ref().unwrap().id, "e5");
    last.ack.settle(Settlement::Ack).await;
    running.stop().await;
    assert_eq!(log.cursor("t", "c").unwrap(), 6);
}

#[tokio::test]
async fn a_requeued_event_comes_back_with_a_higher_delivery_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append("t", &events(2)).await.unwrap();
    let mut running = start(&log, "t", "c");
    let first = running.next().await;
    let second = running.next().await;
    assert_eq!(first.delivery_count, 1);
    first
        .ack
        .settle(Settlement::Requeue {
            reason: "sink down".into(),
        })
        .await;
    second.ack.settle(Settlement::Ack).await;
    let again = running.next().await;
    assert_eq!(again.event.as_ref().unwrap().id, "e0");
    assert_eq!(again.delivery_count, 2);
    assert_eq!(log.cursor("t", "c").unwrap(), 0, "e0 holds the watermark");
    again.ack.settle(Settlement::Ack).await;
    assert_eq!(cursor_reaches(&log, "t", "c", 2).await, 2);
    running.stop().await;
}

#[tokio::test]
async fn consumers_have_their_own_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append("t", &events(3)).await.unwrap();
    let mut a = start(&log, "t", "a");
    for _ in 0..3 {
        a.next().await.ack.settle(Settlement::Ack).await;
    }
    assert_eq!(cursor_reaches(&log, "t", "a", 3).await, 3);
    a.stop().await;
    assert_eq!(log.cursor("t", "b").unwrap(), 0);
    let mut b = start(&log, "t", "b");
    let first = b.next().await;
    assert_eq!(first.event.as_ref().unwrap().id, "e0");
    first.ack.settle(Settlement::Ack).await;
    b.stop().await;
    assert_eq!(log.cursor("t", "b").unwrap(), 1);
    assert_eq!(log.cursor("t", "a").unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_group_committed_with_distinct_contiguous_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut tasks = Vec::new();
    for writer in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let batch: Vec<Event> = (0..5)
                .map(|i| Event::new(format!("w{writer}-{i}"), "/test", "t"))
                .collect();
            log.append("t", &batch).await.unwrap()
        }));
    }
    let mut offsets = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        assert_eq!(got.len(), 5);
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "a batch is contiguous: {got:?}"
        );
        offsets.extend(got);
    }
    offsets.sort();
    assert_eq!(offsets, (0..160).collect::<Vec<u64>>());
    assert_eq!(log.read("t", 0, 1000).unwrap().len(), 160);
    drop(log);
    // durable: a reopened log has every event
    let log = open(dir.path());
    assert_eq!(log.read("t", 0, 1000).unwrap().len(), 160);
}

#[test]
fn a_damaged_file_is_reported_with_its_path_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    std::fs::write(&path, b"this is not a redb file at all, just text").unwrap();
    let Err(err) = EmbeddedLog::open(&path, 100) else {
        panic!("garbage is refused");
    };
    let message = err.to_string();
    assert!(message.contains("embedded log"), "{message}");

    // truncated anywhere: refused or recovered, never a panic, never garbage events
    let original = dir.path().join("original.redb");
    {
        let log = EmbeddedLog::open(&original, 100).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(log.append("t", &events(50))).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200)); // the writer thread lets go of the file
    let bytes = std::fs::read(&original).unwrap();
    for eighth in 1..8 {
        let path = dir.path().join(format!("truncated-{eighth}.redb"));
        std::fs::write(&path, &bytes[..bytes.len() * eighth / 8]).unwrap();
        match EmbeddedLog::open(&path, 100) {
            Err(e) => assert!(e.to_string().contains("embedded log"), "{e}"),
            Ok(log) => {
                for (offset, entry) in log.read("t", 0, 100).unwrap() {
                    let event = entry.expect("a recovered entry parses");
                    assert_eq!(event.id, format!("e{offset}"));
                }
            }
        }
    }
}
