//! An embedded-log topic as a [`Source`] (a named consumer with a durable cursor) and as a
//! [`Sink`].
//!
//! The source hands out events in offset order, any number at once; the durable cursor is
//! the lowest offset not yet acknowledged (a low watermark), so after a crash everything
//! from the watermark on is delivered again (at-least-once; duplicates are bounded by the
//! number in flight). A requeued event is delivered again after [`REQUEUE_DELAY`].

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{
    Acknowledge, ConnectorError, Delivery, Malformed, Settlement, Sink, SinkError, Source,
};
use weft_event::Event;

use crate::log::EmbeddedLog;

/// How long a requeued event waits before it is delivered again.
pub const REQUEUE_DELAY: Duration = Duration::from_secs(1);
/// Most deliveries handed out and not yet settled.
pub const MAX_OUTSTANDING: usize = 4096;
/// How long the source waits after a failed read of the log before trying again.
const READ_RETRY: Duration = Duration::from_millis(500);
/// How often the cursor is persisted while events are acknowledged.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(50);

/// Reads a topic as consumer `consumer`.
pub struct TopicSource {
    log: Arc<EmbeddedLog>,
    topic: String,
    consumer: String,
}

impl TopicSource {
    /// A source over `topic` with its own durable cursor named `consumer`. It registers as
    /// a reader of the topic at once, so retention never trims what it has not read.
    pub fn new(log: Arc<EmbeddedLog>, topic: &str, consumer: &str) -> Self {
        log.register_reader(topic, consumer);
        TopicSource {
            log,
            topic: topic.to_string(),
            consumer: consumer.to_string(),
        }
    }
}

struct TopicAck {
    offset: u64,
    settled: mpsc::UnboundedSender<(u64, Settlement)>,
}

#[async_trait]
impl Acknowledge for TopicAck {
    async fn settle(self: Box<Self>, settlement: Settlement) {
        let _ = self.settled.send((self.offset, settlement));
    }
}

fn fatal(e: crate::log::LogError) -> ConnectorError {
    ConnectorError::Fatal(e.to_string())
}

impl TopicSource {
    fn delivery(
        &self,
        offset: u64,
        entry: Result<Event, (Vec<u8>, String)>,
        count: u32,
        settled: &mpsc::UnboundedSender<(u64, Settlement)>,
    ) -> Delivery {
        Delivery {
            event: entry.map_err(|(raw, error)| Malformed { raw, error }),
            delivery_count: count,
            origin: format!("topic:{}/{offset}", self.topic),
            ack: Box::new(TopicAck {
                offset,
                settled: settled.clone(),
            }),
        }
    }
}

#[async_trait]
impl Source for TopicSource {
    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let mut committed = self
            .log
            .cursor(&self.topic, &self.consumer)
            .map_err(fatal)?;
        // what earlier runs handed out: events below `handed` were delivered at least
        // once before (and `counts` more often), so `max_deliveries` spans restarts
        let earlier = self
            .log
            .deliveries(&self.topic, &self.consumer)
            .map_err(fatal)?;
        let mut handed_noted = earlier.handed;
        let mut next_read = committed;
        let mut outstanding: BTreeSet<u64> = BTreeSet::new();
        let mut requeued: VecDeque<(Instant, u64, u32)> = VecDeque::new();
        let mut attempts: std::collections::HashMap<u64, u32> = Default::default();
        let (settled_tx, mut settled_rx) = mpsc::unbounded_channel::<(u64, Settlement)>();
        let mut head = self.log.watch(&self.topic);
        let mut last_commit = Instant::now();
        let mut stopping = false;
        loop {
            // settle what came back
            while let Ok((offset, s)) = settled_rx.try_recv() {
                match s {
                    Settlement::Ack => {
                        outstanding.remove(&offset);
                        attempts.remove(&offset);
                    }
                    Settlement::Requeue { .. } => {
                        let n = attempts.get(&offset).copied().unwrap_or(1);
                        requeued.push_back((Instant::now() + REQUEUE_DELAY, offset, n + 1));
                    }
                }
            }
            let waiting: usize = requeued.len();
            let watermark = outstanding
                .iter()
                .next()
                .copied()
                .unwrap_or(next_read)
                .min(next_read);
            if watermark != committed && (last_commit.elapsed() >= COMMIT_INTERVAL || stopping) {
                match self
                    .log
                    .commit(&self.topic, &self.consumer, watermark)
                    .await
                {
                    Ok(()) => committed = watermark,
                    // a full or failing disk: keep going (nothing is lost, the cursor only
                    // lags) and try again at the next interval; when stopping, give up
                    // (events after the last committed position are delivered again)
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, consumer = %self.consumer, error = %e, "committing the cursor failed; retrying");
                        if stopping {
                            return Ok(());
                        }
                    }
                }
                last_commit = Instant::now();
            }
            if stopping {
                // done when everything handed out was acked or requeued
                if outstanding.len() <= waiting {
                    if watermark != committed {
                        continue;
                    }
                    return Ok(());
                }
            } else if shutdown.is_cancelled() {
                stopping = true;
                continue;
            }
            let mut progressed = false;
            if !stopping {
                // redeliver requeued events whose delay is over
                while let Some(&(due, offset, count)) = requeued.front() {
                    if due > Instant::now() {
                        break;
                    }
                    requeued.pop_front();
                    let entry = match self.log.read(&self.topic, offset, 1) {
                        Ok(entry) => entry,
                        Err(e) => {
                            tracing::warn!(topic = %self.topic, error = %e, "reading the log failed; retrying");
                            requeued.push_front((due + READ_RETRY, offset, count));
                            break;
                        }
                    };
                    let Some((o, e)) = entry.into_iter().next().filter(|(o, _)| *o == offset)
                    else {
                        outstanding.remove(&offset); // trimmed by retention
                        continue;
                    };
                    attempts.insert(o, count);
                    self.log
                        .note_delivered(&self.topic, &self.consumer, o, count);
                    let d = self.delivery(o, e, count, &settled_tx);
                    if out.send(d).await.is_err() {
                        // the router stopped taking deliveries: settle what is out,
                        // commit the cursor, then return (never skip the final commit)
                        requeued.push_front((due, offset, count));
                        stopping = true;
                        break;
                    }
                    progressed = true;
                }
                // read new events
                if outstanding.len() < MAX_OUTSTANDING {
                    let room = MAX_OUTSTANDING - outstanding.len();
                    let batch = match self.log.read(&self.topic, next_read, room.min(256)) {
                        Ok(batch) => batch,
                        Err(e) => {
                            tracing::warn!(topic = %self.topic, error = %e, "reading the log failed; retrying");
                            tokio::time::sleep(READ_RETRY).await;
                            Vec::new()
                        }
                    };
                    for (offset, entry) in batch {
                        if stopping {
                            break;
                        }
                        let count = if offset < earlier.handed {
                            earlier.counts.get(&offset).copied().unwrap_or(1) + 1
                        } else {
                            1
                        };
                        if count > 1 {
                            attempts.insert(offset, count);
                            self.log
                                .note_delivered(&self.topic, &self.consumer, offset, count);
                        }
                        let d = self.delivery(offset, entry, count, &settled_tx);
                        tokio::select! {
                            biased;
                            _ = shutdown.cancelled() => break,
                            r = out.send(d) => if r.is_err() {
                                // as above: the final commit still happens
                                stopping = true;
                                break;
                            },
                        }
                        outstanding.insert(offset);
                        next_read = offset + 1;
                        progressed = true;
                    }
                    if next_read > handed_noted {
                        handed_noted = next_read;
                        self.log.note_handed(&self.topic, &self.consumer, next_read);
                    }
                }
            }
            if !progressed {
                let next_due = requeued
                    .front()
                    .map(|(due, _, _)| due.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_millis(200))
                    .min(Duration::from_millis(200));
                tokio::select! {
                    _ = head.changed() => {}
                    Some((offset, s)) = settled_rx.recv() => {
                        match s {
                            Settlement::Ack => {
                                outstanding.remove(&offset);
                                attempts.remove(&offset);
                            }
                            Settlement::Requeue { .. } => {
                                let n = attempts.get(&offset).copied().unwrap_or(1);
                                requeued.push_back((Instant::now() + REQUEUE_DELAY, offset, n + 1));
                            }
                        }
                    }
                    _ = tokio::time::sleep(next_due) => {}
                    _ = shutdown.cancelled(), if !stopping => {}
                }
            }
        }
    }
}

/// Appends events to a topic; confirmed once fsynced.
pub struct TopicSink {
    log: Arc<EmbeddedLog>,
    topic: String,
}

impl TopicSink {
    /// A sink writing to `topic`.
    pub fn new(log: Arc<EmbeddedLog>, topic: &str) -> Self {
        TopicSink {
            log,
            topic: topic.to_string(),
        }
    }
}

#[async_trait]
impl Sink for TopicSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        self.log
            .append(&self.topic, std::slice::from_ref(event))
            .await
            .map(|_| ())
            .map_err(|e| SinkError::Transient(e.to_string()))
    }
}
