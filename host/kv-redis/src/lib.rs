//! The Redis key-value backend of weft's plugins (`kv = "redis"`, shared by every replica):
//! keys `weft:kv:{plugin}:{bucket}:{key}`, counters with `INCRBY`; implements
//! `weft_kv::KvBackend`.

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use weft_kv::{KeyPage, KvBackend, KvError, LIST_PAGE, check};

/// Plugin state in Redis (shared by every replica of the hub).
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
}

fn backend(e: redis::RedisError) -> KvError {
    KvError::Backend(e.to_string())
}

fn full_key(ns: &str, bucket: &str, key: &str) -> String {
    format!("weft:kv:{ns}:{bucket}:{key}")
}

impl RedisKv {
    /// Connects (with automatic reconnect) to `url` (`redis://` or `rediss://`).
    pub async fn connect(url: &str) -> Result<RedisKv, KvError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let conn = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(RedisKv { conn })
    }
}

#[async_trait]
impl KvBackend for RedisKv {
    async fn get(&self, ns: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check(key, None)?;
        self.conn
            .clone()
            .get(full_key(ns, bucket, key))
            .await
            .map_err(backend)
    }

    async fn set(&self, ns: &str, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        check(key, Some(&value))?;
        self.conn
            .clone()
            .set(full_key(ns, bucket, key), value)
            .await
            .map_err(backend)
    }

    async fn delete(&self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError> {
        check(key, None)?;
        self.conn
            .clone()
            .del(full_key(ns, bucket, key))
            .await
            .map_err(backend)
    }

    async fn exists(&self, ns: &str, bucket: &str, key: &str) -> Result<bool, KvError> {
        check(key, None)?;
        self.conn
            .clone()
            .exists(full_key(ns, bucket, key))
            .await
            .map_err(backend)
    }

    async fn list_keys(
        &self,
        ns: &str,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyPage, KvError> {
        let prefix = full_key(ns, bucket, "");
        let pattern = format!("{}*", redis_glob_escape(&prefix));
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor.unwrap_or(0))
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(LIST_PAGE)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(KeyPage {
            keys: keys
                .into_iter()
                .filter_map(|k| k.strip_prefix(prefix.as_str()).map(str::to_string))
                .collect(),
            cursor: (next != 0).then_some(next),
        })
    }

    async fn increment(
        &self,
        ns: &str,
        bucket: &str,
        key: &str,
        delta: u64,
    ) -> Result<u64, KvError> {
        check(key, None)?;
        let delta = i64::try_from(delta)
            .map_err(|_| KvError::Invalid("increment delta exceeds i64::MAX".into()))?;
        let value: i64 = self
            .conn
            .clone()
            .incr(full_key(ns, bucket, key), delta)
            .await
            .map_err(backend)?;
        u64::try_from(value).map_err(|_| KvError::Invalid(format!("counter `{key}` is negative")))
    }
}

fn redis_glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
