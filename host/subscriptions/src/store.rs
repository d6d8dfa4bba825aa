//! Where subscriptions are kept: in the data directory (`[subscriptions] store =
//! "embedded"`, one hub) or in Redis (`store = "redis"`, shared by every replica).
//!
//! Besides the subscriptions themselves, each hub keeps a local note of which
//! subscriptions it has started reading (and on which topic), so a position is set from
//! `config.from` only once: after a restart a subscription continues at its committed
//! cursor.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::model::Record;

/// A store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("subscription store: {0}")]
pub struct StoreError(pub String);

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// Keeps subscriptions.
#[async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    /// Every subscription.
    async fn list(&self) -> Result<Vec<Record>, StoreError>;
    /// One subscription.
    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError>;
    /// Stores a new subscription; `false` when one with that id exists.
    async fn create(&self, record: &Record) -> Result<bool, StoreError>;
    /// Replaces a subscription; `false` when it does not exist (any more).
    async fn replace(&self, record: &Record) -> Result<bool, StoreError>;
    /// Removes a subscription; `false` when it did not exist.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// What the store is, for logs (`embedded` or the redacted Redis URL).
    fn describe(&self) -> String;
}

const SUBSCRIPTIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("subscriptions");
const STARTED: TableDefinition<'_, &str, &str> = TableDefinition::new("started");

/// The local file: subscriptions (embedded store) and which ones this hub has started.
#[derive(Clone)]
pub struct LocalFile {
    db: Arc<Database>,
}

impl LocalFile {
    /// Opens (or creates) `path`.
    pub fn open(path: &Path) -> Result<LocalFile, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(failed)?;
        tx.open_table(SUBSCRIPTIONS).map_err(failed)?;
        tx.open_table(STARTED).map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok(LocalFile { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(failed)?
    }

    /// The topic this hub started reading subscription `id` on, if it did.
    pub async fn started(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(failed)?;
            let table = tx.open_table(STARTED).map_err(failed)?;
            Ok(table
                .get(id.as_str())
                .map_err(failed)?
                .map(|v| v.value().to_string()))
        })
        .await
    }

    /// Notes that this hub started reading subscription `id` on `topic` (`None`: forgets it).
    pub async fn set_started(&self, id: &str, topic: Option<&str>) -> Result<(), StoreError> {
        let (id, topic) = (id.to_string(), topic.map(str::to_string));
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(failed)?;
            {
                let mut table = tx.open_table(STARTED).map_err(failed)?;
                match &topic {
                    Some(t) => {
                        table.insert(id.as_str(), t.as_str()).map_err(failed)?;
                    }
                    None => {
                        table.remove(id.as_str()).map_err(failed)?;
                    }
                }
            }
            tx.commit().map_err(failed)
        })
        .await
    }

    /// Every subscription id this hub has started.
    pub async fn all_started(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.blocking(|db| {
            let tx = db.begin_read().map_err(failed)?;
            let table = tx.open_table(STARTED).map_err(failed)?;
            table
                .iter()
                .map_err(failed)?
                .map(|e| {
                    e.map(|(k, v)| (k.value().to_string(), v.value().to_string()))
                        .map_err(failed)
                })
                .collect()
        })
        .await
    }
}

fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("unreadable subscription: {e}")))
}

fn encode(record: &Record) -> Vec<u8> {
    serde_json::to_vec(record).expect("a record serializes")
}

/// Subscriptions in the local file (one hub).
pub struct EmbeddedStore {
    file: LocalFile,
}

impl EmbeddedStore {
    /// Subscriptions kept in `file`.
    pub fn new(file: LocalFile) -> EmbeddedStore {
        EmbeddedStore { file }
    }
}

#[async_trait]
impl SubscriptionStore for EmbeddedStore {
    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        self.file
            .blocking(|db| {
                let tx = db.begin_read().map_err(failed)?;
                let table = tx.open_table(SUBSCRIPTIONS).map_err(failed)?;
                table
                    .iter()
                    .map_err(failed)?
                    .map(|e| e.map_err(failed).and_then(|(_, v)| decode(v.value())))
                    .collect()
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_string();
        self.file
            .blocking(move |db| {
                let tx = db.begin_read().map_err(failed)?;
                let table = tx.open_table(SUBSCRIPTIONS).map_err(failed)?;
                table
                    .get(id.as_str())
                    .map_err(failed)?
                    .map(|v| decode(v.value()))
                    .transpose()
            })
            .await
    }

    async fn create(&self, record: &Record) -> Result<bool, StoreError> {
        self.write(record, false).await
    }

    async fn replace(&self, record: &Record) -> Result<bool, StoreError> {
        self.write(record, true).await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.file
            .blocking(move |db| {
                let tx = db.begin_write().map_err(failed)?;
                let removed = {
                    let mut table = tx.open_table(SUBSCRIPTIONS).map_err(failed)?;
                    table.remove(id.as_str()).map_err(failed)?.is_some()
                };
                tx.commit().map_err(failed)?;
                Ok(removed)
            })
            .await
    }

    fn describe(&self) -> String {
        "embedded".to_string()
    }
}

impl EmbeddedStore {
    /// Writes `record` if it exists (`replace`) or does not (`!replace`).
    async fn write(&self, record: &Record, replace: bool) -> Result<bool, StoreError> {
        let (id, bytes) = (record.id.clone(), encode(record));
        self.file
            .blocking(move |db| {
                let tx = db.begin_write().map_err(failed)?;
                let written = {
                    let mut table = tx.open_table(SUBSCRIPTIONS).map_err(failed)?;
                    let exists = table.get(id.as_str()).map_err(failed)?.is_some();
                    if exists == replace {
                        table
                            .insert(id.as_str(), bytes.as_slice())
                            .map_err(failed)?;
                        true
                    } else {
                        false
                    }
                };
                tx.commit().map_err(failed)?;
                Ok(written)
            })
            .await
    }
}

/// Subscriptions in a Redis hash (`{prefix}:subscriptions`, id → JSON), shared by every
/// replica. Concurrent updates of one subscription: the last write wins.
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    key: String,
    url: String,
}

impl RedisStore {
    /// Connects to `url`; subscriptions live under `{prefix}:subscriptions`.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let redacted = weft_connector::redact::redact_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| StoreError(format!("invalid Redis URL {redacted}: {e}")))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| StoreError(format!("cannot connect to Redis at {redacted}: {e}")))?;
        Ok(RedisStore {
            conn,
            key: format!("{prefix}:subscriptions"),
            url: redacted,
        })
    }
}

#[async_trait]
impl SubscriptionStore for RedisStore {
    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        let all: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(&self.key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed)?;
        all.iter().map(|(_, v)| decode(v)).collect()
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let value: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&self.key)
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed)?;
        value.as_deref().map(decode).transpose()
    }

    async fn create(&self, record: &Record) -> Result<bool, StoreError> {
        redis::cmd("HSETNX")
            .arg(&self.key)
            .arg(&record.id)
            .arg(encode(record))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed)
    }

    async fn replace(&self, record: &Record) -> Result<bool, StoreError> {
        // set only if present (HSET would resurrect a subscription deleted meanwhile)
        let script = redis::Script::new(
            "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 else return 0 end",
        );
        let done: i64 = script
            .key(&self.key)
            .arg(&record.id)
            .arg(encode(record))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(failed)?;
        Ok(done == 1)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let removed: i64 = redis::cmd("HDEL")
            .arg(&self.key)
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed)?;
        Ok(removed == 1)
    }

    fn describe(&self) -> String {
        format!("redis {} ({})", self.url, self.key)
    }
}
