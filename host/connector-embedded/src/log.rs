//! The durable log: one redb file, one table per topic (offset → JSON event), consumer
//! cursors, and a writer thread that group-commits appends (one fsync for every append
//! queued while the previous commit ran).
//!
//! Beside each topic's entries, `appended/{topic}` maps the first offset of every append
//! to its time (Unix ms): the entry format itself is unchanged (plain JSON), so files
//! written by earlier versions open as they are; their entries count as appended when
//! this version first opened the topic (that is what a topic's `max_age` measures from).
//! Per reader, `handed` keeps the next offset handed out and `deliveries` the deliveries
//! of events handed out more than once, so `max_deliveries` counts survive a restart.
//!
//! After an I/O error (a full disk) redb must be reopened: the writer does that itself,
//! retrying every second, and reads fail (sources retry) until it succeeded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use tokio::sync::{oneshot, watch};
use weft_event::Event;

const CURSORS: TableDefinition<'_, &str, u64> = TableDefinition::new("cursors");
/// Per reader (`{topic}\0{consumer}`): the next offset it has handed out.
const HANDED: TableDefinition<'_, &str, u64> = TableDefinition::new("handed");
/// Per reader and offset: deliveries of an event handed out more than once.
const DELIVERIES: TableDefinition<'_, (&str, u64), u32> = TableDefinition::new("deliveries");

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

/// The table of append times of a topic: first offset of an append → Unix ms.
fn times_name(topic: &str) -> String {
    format!("appended/{topic}")
}

fn reader_key(topic: &str, consumer: &str) -> String {
    format!("{topic}\u{0}{consumer}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The database handle, replaced when the writer reopens it after an I/O error.
struct DbSlot {
    path: PathBuf,
    db: RwLock<Option<Arc<Database>>>,
}

impl DbSlot {
    fn get(&self) -> Result<Arc<Database>, LogError> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                LogError::Storage(format!(
                    "{} is being reopened after an I/O error",
                    self.path.display()
                ))
            })
    }
}

fn open_db(path: &Path) -> Result<Database, LogError> {
    // redb asserts (panics) instead of erring on some damaged files, e.g. one cut shorter
    // than its header says: reported like any other unreadable file
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Database::builder().set_cache_size(CACHE_BYTES).create(path)
    }))
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "redb stopped on an inconsistency".to_string());
        LogError::Storage(format!(
            "cannot open {}: the file is damaged ({why})",
            path.display()
        ))
    })?;
    let db =
        opened.map_err(|e| LogError::Storage(format!("cannot open {}: {e}", path.display())))?;
    let tx = db.begin_write().map_err(storage)?;
    tx.open_table(CURSORS).map_err(storage)?;
    tx.open_table(HANDED).map_err(storage)?;
    tx.open_table(DELIVERIES).map_err(storage)?;
    tx.commit().map_err(storage)?;
    Ok(db)
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
    /// A reader handed out everything below `upto` (not awaited).
    Handed { key: String, upto: u64 },
    /// A reader handed out `offset` for the `count`th time (not awaited).
    Delivered {
        key: String,
        offset: u64,
        count: u32,
    },
}

/// One stored entry: the event, or (raw bytes, parse error) if it no longer parses.
pub type LogEntry = Result<Event, (Vec<u8>, String)>;

/// The embedded durable log.
pub struct EmbeddedLog {
    db: Arc<DbSlot>,
    writer: std::sync::mpsc::SyncSender<WriteRequest>,
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    readers: Readers,
    retention: Retention,
    min_free_bytes: Arc<std::sync::atomic::AtomicU64>,
    max_age: MaxAges,
}

/// Per-topic `max_age`.
type MaxAges = Arc<Mutex<HashMap<String, Duration>>>;

/// What a reader stored about its deliveries (see [`EmbeddedLog::deliveries`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderDeliveries {
    /// Every offset below this was handed out at least once.
    pub handed: u64,
    /// Deliveries so far of events handed out more than once (offset → count).
    pub counts: BTreeMap<u64, u32>,
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
        let db = Arc::new(DbSlot {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(open_db(path)?))),
        });
        let max_age: MaxAges = Arc::default();
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
            max_age: max_age.clone(),
            broken: false,
            last_reopen: None,
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
            max_age,
        }))
    }

    /// Lets events of `topic` older than `max_age` be deleted even when a reader has not
    /// read them (`None`: never). An explicit decision per topic: each expiry of unread
    /// events is logged (warn: topic, count, reader) and counted in
    /// `weft_topic_expired_events_total{topic}`. Expiry runs before appends to the topic
    /// and about every second while the log is idle.
    pub fn set_max_age(&self, topic: &str, max_age: Option<Duration>) {
        let mut ages = self.max_age.lock().unwrap_or_else(|p| p.into_inner());
        match max_age {
            Some(age) => ages.insert(topic.to_string(), age),
            None => ages.remove(topic),
        };
    }

    /// What `consumer` stored about its deliveries of `topic`: how far it handed events
    /// out, and the counts of events handed out more than once. A source reads it when it
    /// starts, so `max_deliveries` counts survive a restart.
    pub fn deliveries(&self, topic: &str, consumer: &str) -> Result<ReaderDeliveries, LogError> {
        let db = self.db.get()?;
        let tx = db.begin_read().map_err(storage)?;
        let key = reader_key(topic, consumer);
        let handed = tx
            .open_table(HANDED)
            .map_err(storage)?
            .get(key.as_str())
            .map_err(storage)?
            .map_or(0, |v| v.value());
        let table = tx.open_table(DELIVERIES).map_err(storage)?;
        let mut counts = BTreeMap::new();
        for entry in table
            .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))
            .map_err(storage)?
        {
            let (k, v) = entry.map_err(storage)?;
            counts.insert(k.value().1, v.value());
        }
        Ok(ReaderDeliveries { handed, counts })
    }

    /// Records (without waiting for it) that `consumer` handed out everything of `topic`
    /// below `upto`.
    pub fn note_handed(&self, topic: &str, consumer: &str, upto: u64) {
        self.note(WriteRequest::Handed {
            key: reader_key(topic, consumer),
            upto,
        });
    }

    /// Records (without waiting for it) that `consumer` handed out `offset` of `topic` for
    /// the `count`th time.
    pub fn note_delivered(&self, topic: &str, consumer: &str, offset: u64, count: u32) {
        self.note(WriteRequest::Delivered {
            key: reader_key(topic, consumer),
            offset,
            count,
        });
    }

    fn note(&self, req: WriteRequest) {
        match self.writer.try_send(req) {
            Ok(()) | Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {}
            Err(std::sync::mpsc::TrySendError::Full(req)) => {
                let writer = self.writer.clone();
                std::thread::spawn(move || writer.send(req));
            }
        }
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
        let db = self.db.get()?;
        let tx = db.begin_read().map_err(storage)?;
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
        let db = self.db.get()?;
        let tx = db.begin_read().map_err(storage)?;
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
        let db = self.db.get()?;
        let tx = db.begin_read().map_err(storage)?;
        let table = tx.open_table(CURSORS).map_err(storage)?;
        let key = reader_key(topic, consumer);
        Ok(table
            .get(key.as_str())
            .map_err(storage)?
            .map_or(0, |v| v.value()))
    }

    /// Durably stores the cursor of `consumer` on `topic`.
    pub async fn commit(&self, topic: &str, consumer: &str, offset: u64) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        let req = WriteRequest::Commit {
            key: reader_key(topic, consumer),
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
    db: Arc<DbSlot>,
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    readers: Readers,
    retention: Retention,
    stats: HashMap<String, TopicStats>,
    /// The log's directory (for the free-space check).
    dir: std::path::PathBuf,
    min_free_bytes: Arc<std::sync::atomic::AtomicU64>,
    max_age: MaxAges,
    /// The database needs reopening (a write failed).
    broken: bool,
    /// The last attempt to reopen it.
    last_reopen: Option<Instant>,
}

/// The outcome of one request of a group commit.
type RequestResult = Result<Vec<u64>, LogError>;

/// How often an idle writer expires events past a topic's `max_age`.
const EXPIRY_TICK: Duration = Duration::from_secs(1);
/// How long the writer waits between attempts to reopen the database.
const REOPEN_RETRY: Duration = Duration::from_secs(1);

/// A write transaction's tables of one topic.
struct TopicTables<'t> {
    entries: redb::Table<'t, u64, &'static [u8]>,
    times: redb::Table<'t, u64, u64>,
}

impl Writer {
    fn run(mut self, requests: std::sync::mpsc::Receiver<WriteRequest>) {
        loop {
            let first = match requests.recv_timeout(EXPIRY_TICK) {
                Ok(r) => r,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if self.reopen_if_broken() {
                        self.expire_idle();
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match requests.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let results = if self.reopen_if_broken() {
                match self.write_batch(&mut batch) {
                    Ok(results) => results,
                    Err(e) => {
                        // redb refuses every write after an I/O error until reopened
                        tracing::warn!(error = %e, "writing the embedded log failed; reopening it");
                        self.broken = true;
                        vec![Err(e); batch.len()]
                    }
                }
            } else {
                let e = self.db.get().err().unwrap_or_else(|| {
                    LogError::Storage("the embedded log is being reopened".into())
                });
                vec![Err(e); batch.len()]
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
                    WriteRequest::Handed { .. } | WriteRequest::Delivered { .. } => {}
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

    /// After a failed write: closes the database (once every reader let go of it) and
    /// opens it again, at most once per [`REOPEN_RETRY`]. Returns whether the database is
    /// usable.
    fn reopen_if_broken(&mut self) -> bool {
        if !self.broken {
            return true;
        }
        if self
            .last_reopen
            .is_some_and(|at| at.elapsed() < REOPEN_RETRY)
        {
            return false;
        }
        self.last_reopen = Some(Instant::now());
        let old = self.db.db.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(old) = old {
            // readers hold the handle only for one read
            let deadline = Instant::now() + Duration::from_secs(5);
            while Arc::strong_count(&old) > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(old);
        }
        match open_db(&self.db.path) {
            Ok(db) => {
                *self.db.db.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
                self.stats.clear();
                self.broken = false;
                tracing::info!(path = %self.db.path.display(), "embedded log reopened");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "reopening the embedded log failed; retrying");
                false
            }
        }
    }

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

    fn max_age(&self, topic: &str) -> Option<Duration> {
        self.max_age
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .copied()
    }

    /// A topic's stats: from this batch, from memory, or (first use in this process) by a
    /// scan, which also gives entries written by an earlier version an append time.
    fn topic_stats(
        &self,
        touched: &HashMap<String, TopicStats>,
        topic: &str,
        tables: &mut TopicTables<'_>,
    ) -> Result<TopicStats, LogError> {
        if let Some(s) = touched.get(topic).or_else(|| self.stats.get(topic)) {
            return Ok(*s);
        }
        let stats = scan_stats(&tables.entries)?;
        if stats.head > stats.first && tables.times.first().map_err(storage)?.is_none() {
            tables
                .times
                .insert(stats.first, now_ms())
                .map_err(storage)?;
        }
        Ok(stats)
    }

    /// Deletes the events of `topic` older than its `max_age`, read or not; logs and
    /// counts those some reader had not read yet.
    fn expire(
        &self,
        topic: &str,
        tables: &mut TopicTables<'_>,
        cursors: &redb::Table<'_, &str, u64>,
        stats: TopicStats,
    ) -> Result<TopicStats, LogError> {
        let Some(age) = self.max_age(topic) else {
            return Ok(stats);
        };
        let cutoff = now_ms().saturating_sub(age.as_millis() as u64);
        let mut boundary = stats.head;
        for row in tables.times.iter().map_err(storage)? {
            let (k, t) = row.map_err(storage)?;
            if t.value() >= cutoff {
                boundary = k.value();
                break;
            }
        }
        let boundary = boundary.clamp(stats.first, stats.head);
        if boundary == stats.first {
            return Ok(stats);
        }
        let mut removed = 0u64;
        for entry in tables
            .entries
            .range(stats.first..boundary)
            .map_err(storage)?
        {
            let (_, v) = entry.map_err(storage)?;
            removed += v.value().len() as u64;
        }
        tables
            .entries
            .retain_in(stats.first..boundary, |_, _| false)
            .map_err(storage)?;
        prune_times(&mut tables.times, boundary)?;
        // who had not read them
        let names: Vec<String> = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut unread_max = 0;
        for reader in names {
            let at = cursors
                .get(reader_key(topic, &reader).as_str())
                .map_err(storage)?
                .map_or(0, |v| v.value());
            let unread = boundary.saturating_sub(at.max(stats.first));
            if unread > 0 {
                tracing::warn!(
                    topic,
                    reader,
                    count = unread,
                    max_age_secs = age.as_secs_f64(),
                    "expired events the reader had not read (topic max_age)"
                );
                unread_max = unread_max.max(unread);
            }
        }
        if unread_max > 0 {
            metrics::counter!("weft_topic_expired_events_total", "topic" => topic.to_string())
                .increment(unread_max);
        }
        Ok(TopicStats {
            first: boundary,
            head: stats.head,
            bytes: stats.bytes.saturating_sub(removed),
        })
    }

    /// Expires old events of the topics with a `max_age` while no request comes in.
    fn expire_idle(&mut self) {
        let topics: Vec<String> = self
            .max_age
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        if topics.is_empty() {
            return;
        }
        let result = (|| -> Result<(), LogError> {
            let db = self.db.get()?;
            let mut tx = db.begin_write().map_err(storage)?;
            tx.set_durability(Durability::Immediate).map_err(storage)?;
            let mut touched: HashMap<String, TopicStats> = HashMap::new();
            {
                let cursors = tx.open_table(CURSORS).map_err(storage)?;
                for topic in &topics {
                    if !self.stats.contains_key(topic) && !topic_exists(&db, topic)? {
                        continue;
                    }
                    let mut tables = open_topic(&tx, topic)?;
                    let stats = self.topic_stats(&touched, topic, &mut tables)?;
                    let after = self.expire(topic, &mut tables, &cursors, stats)?;
                    if after.first != stats.first || !self.stats.contains_key(topic) {
                        touched.insert(topic.clone(), after);
                    }
                }
            }
            if touched.is_empty() {
                tx.abort().map_err(storage)?;
                return Ok(());
            }
            tx.commit().map_err(storage)?;
            self.publish_stats(touched);
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "expiring old events failed; reopening the log");
            self.broken = true;
        }
    }

    fn publish_stats(&mut self, touched: HashMap<String, TopicStats>) {
        for (topic, stats) in touched {
            metrics::gauge!("weft_topic_backlog_events", "topic" => topic.clone())
                .set((stats.head - stats.first) as f64);
            metrics::gauge!("weft_topic_backlog_bytes", "topic" => topic.clone())
                .set(stats.bytes as f64);
            self.stats.insert(topic, stats);
        }
    }

    /// Writes all requests in one transaction; returns, per request in order, the offsets
    /// assigned (empty for cursor commits) or why that request was refused. Request payloads
    /// are taken (emptied) to avoid copies.
    fn write_batch(&mut self, batch: &mut [WriteRequest]) -> Result<Vec<RequestResult>, LogError> {
        let no_space = if batch
            .iter()
            .any(|r| matches!(r, WriteRequest::Append { .. }))
        {
            self.low_on_space()
        } else {
            None
        };
        let db = self.db.get()?;
        let mut tx = db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate).map_err(storage)?;
        let mut results = Vec::with_capacity(batch.len());
        // stats change only once the transaction is committed
        let mut touched: HashMap<String, TopicStats> = HashMap::new();
        let mut commits: Vec<(String, u64)> = Vec::new();
        let mut expired: std::collections::HashSet<String> = Default::default();
        let now = now_ms();
        {
            let mut cursors = tx.open_table(CURSORS).map_err(storage)?;
            let mut handed = tx.open_table(HANDED).map_err(storage)?;
            let mut deliveries = tx.open_table(DELIVERIES).map_err(storage)?;
            for req in batch.iter_mut() {
                match req {
                    WriteRequest::Append { .. } if no_space.is_some() => {
                        results.push(Err(LogError::NoSpace(no_space.clone().unwrap_or_default())));
                    }
                    WriteRequest::Append { topic, events, .. } => {
                        let mut tables = open_topic(&tx, topic)?;
                        let mut stats = self.topic_stats(&touched, topic, &mut tables)?;
                        if expired.insert(topic.clone()) {
                            stats = self.expire(topic, &mut tables, &cursors, stats)?;
                        }
                        let slowest = self.slowest_reader(topic, &cursors, stats.head)?;
                        let result = append_within_retention(
                            &mut tables,
                            topic,
                            std::mem::take(events),
                            stats,
                            slowest,
                            self.retention,
                            now,
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
                        // delivery counts of settled events are no longer needed
                        deliveries
                            .retain_in((key.as_str(), 0)..(key.as_str(), *offset), |_, _| false)
                            .map_err(storage)?;
                        commits.push((key.clone(), *offset));
                        results.push(Ok(Vec::new()));
                    }
                    WriteRequest::Handed { key, upto } => {
                        let at = handed
                            .get(key.as_str())
                            .map_err(storage)?
                            .map(|v| v.value());
                        if at.is_none_or(|at| at < *upto) {
                            handed.insert(key.as_str(), *upto).map_err(storage)?;
                        }
                        results.push(Ok(Vec::new()));
                    }
                    WriteRequest::Delivered { key, offset, count } => {
                        deliveries
                            .insert((key.as_str(), *offset), *count)
                            .map_err(storage)?;
                        results.push(Ok(Vec::new()));
                    }
                }
            }
        }
        tx.commit().map_err(storage)?;
        self.publish_stats(touched);
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
            let key = reader_key(topic, name);
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

/// Whether a topic has been written to.
fn topic_exists(db: &Database, topic: &str) -> Result<bool, LogError> {
    let tx = db.begin_read().map_err(storage)?;
    let name = table_name(topic);
    let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
    match tx.open_table(def) {
        Ok(_) => Ok(true),
        Err(TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(storage(e)),
    }
}

/// Opens (creating) a topic's tables in a write transaction.
fn open_topic<'t>(
    tx: &'t redb::WriteTransaction,
    topic: &str,
) -> Result<TopicTables<'t>, LogError> {
    let name = table_name(topic);
    let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
    let entries = tx.open_table(def).map_err(storage)?;
    let times_name = times_name(topic);
    let times_def: TableDefinition<'_, u64, u64> = TableDefinition::new(&times_name);
    let times = tx.open_table(times_def).map_err(storage)?;
    Ok(TopicTables { entries, times })
}

/// Keeps the append times at or above `first`: the row that covers `first` moves there.
fn prune_times(times: &mut redb::Table<'_, u64, u64>, first: u64) -> Result<(), LogError> {
    let covering = times
        .range(..=first)
        .map_err(storage)?
        .next_back()
        .transpose()
        .map_err(storage)?
        .map(|(k, t)| (k.value(), t.value()));
    if let Some((k, t)) = covering
        && k < first
    {
        times.retain_in(..first, |_, _| false).map_err(storage)?;
        times.insert(first, t).map_err(storage)?;
    }
    Ok(())
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
    tables: &mut TopicTables<'_>,
    topic: &str,
    events: Vec<Vec<u8>>,
    stats: TopicStats,
    slowest: Option<(u64, String)>,
    retention: Retention,
    now_ms: u64,
) -> Result<Result<(Vec<u64>, TopicStats), LogError>, LogError> {
    let table = &mut tables.entries;
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
        prune_times(&mut tables.times, first)?;
    }
    let mut offsets = Vec::with_capacity(events.len());
    let mut next = stats.head;
    for e in &events {
        table.insert(next, e.as_slice()).map_err(storage)?;
        offsets.push(next);
        next += 1;
    }
    if count > 0 {
        tables.times.insert(stats.head, now_ms).map_err(storage)?;
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
        let db = self.db.get().map_err(reader_error)?;
        read_stored(&db, topic, from, max).map_err(reader_error)
    }

    fn head(&self, topic: &str) -> Result<u64, weft_connector::StoreError> {
        check_topic(topic).map_err(reader_error)?;
        EmbeddedLog::head(self, topic).map_err(reader_error)
    }

    fn exists(&self, topic: &str) -> Result<bool, weft_connector::StoreError> {
        check_topic(topic).map_err(reader_error)?;
        let db = self.db.get().map_err(reader_error)?;
        let tx = db.begin_read().map_err(|e| reader_error(storage(e)))?;
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
