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
}

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
    retention: u64,
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
    /// Opens (or creates) the log at `path`. `retention` is the number of events kept per
    /// topic; older ones are deleted as new ones arrive.
    pub fn open(path: &Path, retention: u64) -> Result<Arc<EmbeddedLog>, LogError> {
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
        let (writer, requests) = std::sync::mpsc::sync_channel(4096);
        let thread_db = db.clone();
        let thread_heads = heads.clone();
        std::thread::Builder::new()
            .name("weft-log-writer".into())
            .spawn(move || writer_loop(thread_db, requests, thread_heads, retention.max(1)))
            .map_err(storage)?;
        Ok(Arc::new(EmbeddedLog {
            db,
            writer,
            heads,
            retention,
        }))
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

    /// Events kept per topic.
    pub fn retention(&self) -> u64 {
        self.retention
    }
}

fn writer_loop(
    db: Arc<Database>,
    requests: std::sync::mpsc::Receiver<WriteRequest>,
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    retention: u64,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let result = write_batch(&db, &mut batch, retention);
        let mut new_heads: HashMap<String, u64> = HashMap::new();
        for (index, req) in batch.into_iter().enumerate() {
            match req {
                WriteRequest::Append { topic, reply, .. } => {
                    let r = match &result {
                        Ok(offsets) => Ok(offsets.get(index).cloned().unwrap_or_default()),
                        Err(e) => Err(e.clone()),
                    };
                    if let Ok(offs) = &r
                        && let Some(last) = offs.last()
                    {
                        let h = new_heads.entry(topic.clone()).or_insert(0);
                        *h = (*h).max(last + 1);
                    }
                    let _ = reply.send(r);
                }
                WriteRequest::Commit { reply, .. } => {
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
                }
            }
        }
        let heads = heads.lock().unwrap_or_else(|p| p.into_inner());
        for (topic, head) in new_heads {
            if let Some(tx) = heads.get(&topic) {
                tx.send_replace(head);
            }
        }
    }
}

/// Writes all requests in one transaction; returns, per request in order, the offsets
/// assigned (empty for cursor commits). Request payloads are taken (emptied) to avoid copies.
fn write_batch(
    db: &Database,
    batch: &mut [WriteRequest],
    retention: u64,
) -> Result<Vec<Vec<u64>>, LogError> {
    let mut tx = db.begin_write().map_err(storage)?;
    tx.set_durability(Durability::Immediate).map_err(storage)?;
    let mut assigned = Vec::new();
    {
        let mut cursors = tx.open_table(CURSORS).map_err(storage)?;
        for req in batch.iter_mut() {
            match req {
                WriteRequest::Append { topic, events, .. } => {
                    let name = table_name(topic);
                    let def: TableDefinition<'_, u64, &[u8]> = TableDefinition::new(&name);
                    let mut table = tx.open_table(def).map_err(storage)?;
                    let mut next = table
                        .last()
                        .map_err(storage)?
                        .map_or(0, |(k, _)| k.value() + 1);
                    let mut offsets = Vec::with_capacity(events.len());
                    for e in events.drain(..) {
                        table.insert(next, e.as_slice()).map_err(storage)?;
                        offsets.push(next);
                        next += 1;
                    }
                    // retention: keep the newest `retention` entries
                    let first = table.first().map_err(storage)?.map(|(k, _)| k.value());
                    if let Some(first) = first {
                        let keep_from = next.saturating_sub(retention);
                        if first < keep_from {
                            table
                                .retain_in(first..keep_from, |_, _| false)
                                .map_err(storage)?;
                        }
                    }
                    assigned.push(offsets);
                }
                WriteRequest::Commit { key, offset, .. } => {
                    cursors.insert(key.as_str(), *offset).map_err(storage)?;
                    assigned.push(Vec::new());
                }
            }
        }
    }
    tx.commit().map_err(storage)?;
    Ok(assigned)
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
                LogError::Storage(_) | LogError::Closed => {
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
