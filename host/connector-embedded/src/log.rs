//! The durable log: one redb file, one table per topic (offset → JSON event), consumer
//! cursors, and a writer thread that group-commits appends (one fsync for every append
//! queued while the previous commit ran).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use tokio::sync::{oneshot, watch};
use weft_event::Event;

const CURSORS: TableDefinition<'_, &str, u64> = TableDefinition::new("cursors");

/// Errors of the embedded log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The storage failed.
    #[error("embedded log storage failed: {0}")]
    Storage(String),
    /// The log is shutting down.
    #[error("embedded log is closed")]
    Closed,
    /// A topic name is not usable.
    #[error("invalid topic name `{0}`: use 1-128 characters of [A-Za-z0-9._-]")]
    Topic(String),
    /// The filesystem is below `hub.min_free_bytes`: appends are refused until space is
    /// freed.
    #[error("{0}")]
    NoSpace(String),
    /// The topic is at a retention ceiling and nothing below every reader's cursor is left
    /// to trim: the append is refused (nothing unread is ever deleted).
    #[error("topic `{topic}` is full: {reason}")]
    Full {
        /// The topic.
        topic: String,
        /// Which ceiling, and the slowest reader.
        reason: String,
    },
}

/// How much an embedded topic may hold. Both are ceilings, not targets: entries are
/// trimmed (oldest first) only when an append would exceed one, and only below the lowest
/// committed cursor of every registered reader of the topic. When nothing is trimmable
/// the append is refused with [`LogError::Full`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Most events kept per topic.
    pub events: u64,
    /// Most bytes (stored JSON) kept per topic.
    pub bytes: u64,
}

impl Retention {
    /// No byte ceiling (only an event count).
    pub const UNLIMITED_BYTES: u64 = u64::MAX;
}

impl From<u64> for Retention {
    /// `events` events per topic, no byte ceiling.
    fn from(events: u64) -> Self {
        Retention {
            events,
            bytes: Retention::UNLIMITED_BYTES,
        }
    }
}

/// What the writer knows about one topic (kept in memory, rebuilt by a scan on first use).
#[derive(Debug, Clone, Copy, Default)]
struct TopicStats {
    /// Lowest stored offset (== `head` when empty).
    first: u64,
    /// Next offset to write.
    head: u64,
    /// Sum of the stored entries' sizes.
    bytes: u64,
}

/// Registered readers of each topic: consumer names whose cursors hold back retention.
type Readers = Arc<Mutex<HashMap<String, std::collections::BTreeSet<String>>>>;

fn storage(e: impl std::fmt::Display) -> LogError {
    LogError::Storage(e.to_string())
}

fn table_name(topic: &str) -> String {
    format!("topic/{topic}")
}

/// Checks a topic name.
pub fn check_topic(topic: &str) -> Result<(), LogError> {
    let ok = !topic.is_empty()
        && topic.len() <= 128
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(LogError::Topic(topic.to_string()))
    }
}

enum WriteRequest {
    Append {
        topic: String,
        events: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<Vec<u64>, LogError>>,
    },
    Commit {
        key: String,
        offset: u64,
        reply: oneshot::Sender<Result<(), LogError>>,
    },
}

/// One stored entry: the event, or (raw bytes, parse error) if it no longer parses.
pub type LogEntry = Result<Event, (Vec<u8>, String)>;

/// The embedded durable log.
pub struct EmbeddedLog {
    db: Arc<Database>,
    writer: std::sync::mpsc::SyncSender<WriteRequest>,
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    readers: Readers,
    retention: Retention,
    min_free_bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog").finish_non_exhaustive()
    }
}

/// redb's page cache for the log. redb's default is 1 GiB, which a busy single-binary hub
/// fills (the log keeps up to `retention` events per topic); sources read what was just
/// written, so a small cache holds the working set.
const CACHE_BYTES: usize = 64 << 20;

impl EmbeddedLog {
    /// Opens (or creates) the log at `path` with the given per-topic [`Retention`] (a
    /// plain number is an event count).
    pub fn open(
        path: &Path,
        retention: impl Into<Retention>,
    ) -> Result<Arc<EmbeddedLog>, LogError> {
        let retention = retention.into();
        let retention = Retention {
            events: retention.events.max(1),
            bytes: retention.bytes.max(1),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LogError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| LogError::Storage(format!("cannot open {}: {e}", path.display())))?;
        let db = Arc::new(db);
        {
            let tx = db.begin_write().map_err(storage)?;
            tx.open_table(CURSORS).map_err(storage)?;
            tx.commit().map_err(storage)?;
        }
        let heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>> = Arc::default();
        let readers: Readers = Arc::default();
        let (writer, requests) = std::sync::mpsc::sync_channel(4096);
        let min_free_bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer_state = Writer {
            db: db.clone(),
            heads: heads.clone(),
            readers: readers.clone(),
            retention,
            stats: HashMap::new(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            min_free_bytes: min_free_bytes.clone(),
        };
        std::thread::Builder::new()
            .name("weft-log-writer".into())
            .spawn(move || writer_state.run(requests))
            .map_err(storage)?;
        Ok(Arc::new(EmbeddedLog {
            db,
            writer,
            heads,
            readers,
            retention,
            min_free_bytes,
        }))
    }

    /// Refuses appends (not cursor commits) while the filesystem of the log has less than
    /// `bytes` available, so the database never runs into a full disk (after an I/O error
    /// redb must be reopened): the ingress answers 503 and sources keep acknowledging.
    /// Appends resume by themselves once space is freed. 0 turns the check off.
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.min_free_bytes
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Registers `consumer` as a reader of `topic`: from now on the topic is never trimmed
    /// above its committed cursor (a new reader without a cursor holds everything). Route
    /// sources and subscriptions register when they are built, before the hub takes events.
    pub fn register_reader(&self, topic: &str, consumer: &str) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        readers
            .entry(topic.to_string())
            .or_default()
            .insert(consumer.to_string());
    }

    /// Removes a reader (e.g. a deleted subscription): it no longer holds back retention.
    pub fn unregister_reader(&self, topic: &str, consumer: &str) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = readers.get_mut(topic) {
            set.remove(consumer);
        }
    }

    /// Appends events to a topic; returns their offsets once they are durable (fsynced).
    pub async fn append(&self, topic: &str, events: &[Event]) -> Result<Vec<u64>, LogError> {
        check_topic(topic)?;
        let (reply, rx) = oneshot::channel();
        let events = events
            .iter()
            .map(|e| e.to_json_string().into_bytes())
            .collect();
        let req = WriteRequest::Append {
            topic: topic.to_string(),
            events,
            reply,
        };
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || writer.send(req))
            .await
            .map_err(storage)?
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// Reads up to `max` events of `topic` from offset `from` on. Entries that no longer
    /// parse are returned as errors with their raw bytes.
    pub fn read(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<(u64, LogEntry)>, LogError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let name = table_name(topic);
        let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
        let table = match tx.open_table(def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage(e)),
        };
        let mut out = Vec::new();
        for entry in table.range(from..).map_err(storage)?.take(max) {
            let (k, v) = entry.map_err(storage)?;
            let bytes = v.value();
            let parsed = Event::from_json_slice(bytes).map_err(|e| (bytes.to_vec(), e.to_string()));
            out.push((k.value(), parsed));
        }
        Ok(out)
    }

    /// The next offset to be written to `topic` (0 for an empty topic).
    pub fn head(&self, topic: &str) -> Result<u64, LogError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let name = table_name(topic);
        let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
        match tx.open_table(def) {
            Ok(t) => Ok(t.last().map_err(storage)?.map_or(0, |(k, _)| k.value() + 1)),
            Err(TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(storage(e)),
        }
    }

    /// The committed cursor (next offset to process) of `consumer` on `topic`.
    pub fn cursor(&self, topic: &str, consumer: &str) -> Result<u64, LogError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(CURSORS).map_err(storage)?;
        let key = format!("{topic}\u{0}{consumer}");
        Ok(table
            .get(key.as_str())
            .map_err(storage)?
            .map_or(0, |v| v.value()))
    }

    /// Durably stores the cursor of `consumer` on `topic`.
    pub async fn commit(&self, topic: &str, consumer: &str, offset: u64) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        let req = WriteRequest::Commit {
            key: format!("{topic}\u{0}{consumer}"),
            offset,
            reply,
        };
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || writer.send(req))
            .await
            .map_err(storage)?
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// A receiver that changes whenever `topic` gets new events (its value is the head).
    pub fn watch(&self, topic: &str) -> watch::Receiver<u64> {
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        heads
            .entry(topic.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// The retention ceilings of every topic.
    pub fn retention(&self) -> Retention {
        self.retention
    }
}

/// The writer thread's state: it alone writes the database.
struct Writer {
    db: Arc<Database>,
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    readers: Readers,
    retention: Retention,
    stats: HashMap<String, TopicStats>,
    /// The log's directory (for the free-space check).
    dir: std::path::PathBuf,
    min_free_bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// The outcome of one request of a group commit.
type RequestResult = Result<Vec<u64>, LogError>;

impl Writer {
    fn run(mut self, requests: std::sync::mpsc::Receiver<WriteRequest>) {
        while let Ok(first) = requests.recv() {
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match requests.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let results = match self.write_batch(&mut batch) {
                Ok(results) => results,
                Err(e) => vec![Err(e); batch.len()],
            };
            let mut new_heads: HashMap<String, u64> = HashMap::new();
            for (req, result) in batch.into_iter().zip(results) {
                match req {
                    WriteRequest::Append { topic, reply, .. } => {
                        if let Ok(offs) = &result
                            && let Some(last) = offs.last()
                        {
                            let h = new_heads.entry(topic.clone()).or_insert(0);
                            *h = (*h).max(last + 1);
                        }
                        if let Err(LogError::Full { reason, .. }) = &result {
                            metrics::counter!("weft_topic_full_total", "topic" => topic.clone())
                                .increment(1);
                            tracing::warn!(topic, reason, "topic full: append refused");
                        }
                        let _ = reply.send(result);
                    }
                    WriteRequest::Commit { reply, .. } => {
                        let _ = reply.send(result.map(|_| ()));
                    }
                }
            }
            let heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
            for (topic, head) in new_heads {
                if let Some(tx) = heads.get(&topic) {
                    tx.send_replace(head);
                }
            }
        }
    }

    /// Writes all requests in one transaction; returns, per request in order, the offsets
    /// assigned (empty for cursor commits) or why that request was refused. Request payloads
    /// are taken (emptied) to avoid copies.
    /// Why appends are refused now, if the filesystem is below `min_free_bytes`.
    fn low_on_space(&self) -> Option<String> {
        let min = self
            .min_free_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        if min == 0 {
            return None;
        }
        let stat = rustix::fs::statvfs(&self.dir).ok()?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        (free < min).then(|| {
            format!(
                "the data directory {} has {free} bytes free, below hub.min_free_bytes ({min}): appends resume when space is freed",
                self.dir.display()
            )
        })
    }

    fn write_batch(&mut self, batch: &mut [WriteRequest]) -> Result<Vec<RequestResult>, LogError> {
        let no_space = if batch
            .iter()
            .any(|r| matches!(r, WriteRequest::Append { .. }))
        {
            self.low_on_space()
        } else {
            None
        };
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate).map_err(storage)?;
        let mut results = Vec::with_capacity(batch.len());
        // stats change only once the transaction is committed
        let mut touched: HashMap<String, TopicStats> = HashMap::new();
        let mut commits: Vec<(String, u64)> = Vec::new();
        {
            let mut cursors = tx.open_table(CURSORS).map_err(storage)?;
            for req in batch.iter_mut() {
                match req {
                    WriteRequest::Append { .. } if no_space.is_some() => {
                        results.push(Err(LogError::NoSpace(no_space.clone().unwrap_or_default())));
                    }
                    WriteRequest::Append { topic, events, .. } => {
                        let name = table_name(topic);
                        let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
                        let mut table = tx.open_table(def).map_err(storage)?;
                        let stats = match touched.get(topic.as_str()) {
                            Some(s) => *s,
                            None => match self.stats.get(topic.as_str()) {
                                Some(s) => *s,
                                None => scan_stats(&table)?,
                            },
                        };
                        let slowest = self.slowest_reader(topic, &cursors, stats.head)?;
                        let result = append_within_retention(
                            &mut table,
                            topic,
                            std::mem::take(events),
                            stats,
                            slowest,
                            self.retention,
                        )?;
                        match result {
                            Ok((offsets, stats)) => {
                                touched.insert(topic.clone(), stats);
                                results.push(Ok(offsets));
                            }
                            Err(refused) => {
                                touched.insert(topic.clone(), stats);
                                results.push(Err(refused));
                            }
                        }
                    }
                    WriteRequest::Commit { key, offset, .. } => {
                        cursors.insert(key.as_str(), *offset).map_err(storage)?;
                        commits.push((key.clone(), *offset));
                        results.push(Ok(Vec::new()));
                    }
                }
            }
        }
        tx.commit().map_err(storage)?;
        for (topic, stats) in touched {
            metrics::gauge!("weft_topic_backlog_events", "topic" => topic.clone())
                .set((stats.head - stats.first) as f64);
            metrics::gauge!("weft_topic_backlog_bytes", "topic" => topic.clone())
                .set(stats.bytes as f64);
            self.stats.insert(topic, stats);
        }
        for (key, offset) in commits {
            if let Some((topic, consumer)) = key.split_once('\u{0}') {
                let head = self.stats.get(topic).map(|s| s.head).unwrap_or(offset);
                metrics::gauge!("weft_topic_reader_lag_events", "topic" => topic.to_string(), "reader" => consumer.to_string())
                    .set(head.saturating_sub(offset) as f64);
            }
        }
        Ok(results)
    }

    /// The lowest committed cursor among `topic`'s registered readers (a reader without a
    /// cursor is at 0) and its name; `None` when nobody reads the topic.
    fn slowest_reader(
        &self,
        topic: &str,
        cursors: &redb::Table<'_, &str, u64>,
        head: u64,
    ) -> Result<Option<(u64, String)>, LogError> {
        let readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(names) = readers.get(topic) else {
            return Ok(None);
        };
        let mut slowest: Option<(u64, String)> = None;
        for name in names {
            let key = format!("{topic}\u{0}{name}");
            let at = cursors
                .get(key.as_str())
                .map_err(storage)?
                .map_or(0, |v| v.value())
                .min(head);
            if slowest.as_ref().is_none_or(|(s, _)| at < *s) {
                slowest = Some((at, name.clone()));
            }
        }
        Ok(slowest)
    }
}

/// Reads a topic's first offset, head and stored bytes (once per topic per process).
fn scan_stats(table: &redb::Table<'_, u64, &[u8]>) -> Result<TopicStats, LogError> {
    let Some((last, _)) = table.last().map_err(storage)? else {
        return Ok(TopicStats::default());
    };
    let head = last.value() + 1;
    let first = table
        .first()
        .map_err(storage)?
        .map_or(head, |(k, _)| k.value());
    let mut bytes = 0u64;
    for entry in table.iter().map_err(storage)? {
        let (_, v) = entry.map_err(storage)?;
        bytes += v.value().len() as u64;
    }
    Ok(TopicStats { first, head, bytes })
}

/// Appends `events` unless that would exceed a retention ceiling after trimming every
/// entry below the slowest reader's cursor. The outer error is a storage failure (the
/// whole batch fails); the inner one refuses this append only (nothing was changed).
fn append_within_retention(
    table: &mut redb::Table<'_, u64, &[u8]>,
    topic: &str,
    events: Vec<Vec<u8>>,
    stats: TopicStats,
    slowest: Option<(u64, String)>,
    retention: Retention,
) -> Result<Result<(Vec<u64>, TopicStats), LogError>, LogError> {
    let count = events.len() as u64;
    let added: u64 = events.iter().map(|e| e.len() as u64).sum();
    // everything below this offset has been read by every reader
    let trimmable_below = slowest.as_ref().map_or(stats.head, |(at, _)| *at);
    let fits = |first: u64, bytes: u64| {
        stats.head + count - first <= retention.events && bytes + added <= retention.bytes
    };
    let mut first = stats.first;
    let mut bytes = stats.bytes;
    if !fits(first, bytes) {
        // trim the oldest entries, never at or above the slowest reader's cursor
        for entry in table.range(stats.first..trimmable_below).map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            bytes -= v.value().len() as u64;
            first = k.value() + 1;
            if fits(first, bytes) {
                break;
            }
        }
        if !fits(first, bytes) {
            let which = if stats.head + count - first > retention.events {
                format!("{} events (retention_events)", retention.events)
            } else {
                format!("{} bytes (retention_bytes)", retention.bytes)
            };
            let reason = match &slowest {
                Some((at, reader)) if *at < stats.head => {
                    format!("it holds {which} and reader `{reader}` has not read past offset {at}")
                }
                _ => format!("{count} new event(s) of {added} bytes exceed {which}"),
            };
            return Ok(Err(LogError::Full {
                topic: topic.to_string(),
                reason,
            }));
        }
        table
            .retain_in(stats.first..first, |_, _| false)
            .map_err(storage)?;
    }
    let mut offsets = Vec::with_capacity(events.len());
    let mut next = stats.head;
    for e in &events {
        table.insert(next, e.as_slice()).map_err(storage)?;
        offsets.push(next);
        next += 1;
    }
    Ok(Ok((
        offsets,
        TopicStats {
            first,
            head: next,
            bytes: bytes + added,
        },
    )))
}

#[async_trait::async_trait]
impl weft_connector::EventStore for EmbeddedLog {
    fn check_topic(&self, topic: &str) -> Result<(), weft_connector::StoreError> {
        check_topic(topic).map_err(|e| weft_connector::StoreError::InvalidTopic(e.to_string()))
    }

    async fn append(
        &self,
        topic: &str,
        events: &[Event],
    ) -> Result<Vec<u64>, weft_connector::StoreError> {
        EmbeddedLog::append(self, topic, events)
            .await
            .map_err(|e| match e {
                LogError::Topic(_) => weft_connector::StoreError::InvalidTopic(e.to_string()),
                LogError::Full { topic, reason } => weft_connector::StoreError::Full {
                    topic,
                    reason,
                    retry_after_secs: 1,
                },
                LogError::Storage(_) | LogError::Closed | LogError::NoSpace(_) => {
                    weft_connector::StoreError::Unavailable(e.to_string())
                }
            })
    }
}

/// Reads up to `max` stored entries of `topic` from offset `from` on, as stored (JSON).
fn read_stored(
    db: &Database,
    topic: &str,
    from: u64,
    max: usize,
) -> Result<Vec<weft_connector::StoredEvent>, LogError> {
    let tx = db.begin_read().map_err(storage)?;
    let name = table_name(topic);
    let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
    let table = match tx.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(storage(e)),
    };
    let mut out = Vec::with_capacity(max.min(256));
    for entry in table.range(from..).map_err(storage)?.take(max) {
        let (k, v) = entry.map_err(storage)?;
        out.push(weft_connector::StoredEvent {
            offset: k.value(),
            json: v.value().to_vec(),
        });
    }
    Ok(out)
}

fn reader_error(e: LogError) -> weft_connector::StoreError {
    match e {
        LogError::Topic(_) => weft_connector::StoreError::InvalidTopic(e.to_string()),
        other => weft_connector::StoreError::Unavailable(other.to_string()),
    }
}

/// Server-sent events and other cursor-less readers read the log through this.
impl weft_connector::EventReader for EmbeddedLog {
    fn read(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<weft_connector::StoredEvent>, weft_connector::StoreError> {
        check_topic(topic).map_err(reader_error)?;
        read_stored(&self.db, topic, from, max).map_err(reader_error)
    }

    fn head(&self, topic: &str) -> Result<u64, weft_connector::StoreError> {
        check_topic(topic).map_err(reader_error)?;
        EmbeddedLog::head(self, topic).map_err(reader_error)
    }

    fn exists(&self, topic: &str) -> Result<bool, weft_connector::StoreError> {
        check_topic(topic).map_err(reader_error)?;
        let tx = self.db.begin_read().map_err(|e| reader_error(storage(e)))?;
        let name = table_name(topic);
        let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
        match tx.open_table(def) {
            Ok(_) => Ok(true),
            Err(TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(reader_error(storage(e))),
        }
    }

    fn watch(&self, topic: &str) -> watch::Receiver<u64> {
        EmbeddedLog::watch(self, topic)
    }
}
