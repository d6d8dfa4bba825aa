//! The Redis key-value backend of weft's plugins (`kv = "redis"`, shared by every replica):
//! counters with `INCRBY`; implements `weft_kv::KvBackend`.
//!
//! Keys are `weft:kv2:{len(plugin)}:{plugin}:{len(bucket)}:{bucket}:{key}` (lengths in bytes,
//! decimal): the plugin and bucket names are length-prefixed, so no two (plugin, bucket,
//! key) triples share a Redis key, whatever characters the names hold. (The earlier
//! `weft:kv:{plugin}:{bucket}:{key}` was ambiguous: plugin `a` with bucket `b:x` and
//! plugin `a:b` with bucket `x` wrote the same keys.)
//!
//! **Migrating** state written before (`weft:kv:` keys): stop the hub, then rename each
//! key once, e.g. for plugin `dedupe`, bucket `seen`:
//!
//! ```sh
//! redis-cli --scan --pattern 'weft:kv:dedupe:seen:*' | while read -r k; do
//!   redis-cli RENAME "$k" "weft:kv2:6:dedupe:4:seen:${k#weft:kv:dedupe:seen:}"; done
//! ```
//!
//! or call [`RedisKv::migrate_legacy`] with the plugin and bucket names.

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

/// The Redis key of `key` in `bucket` of plugin `ns`.
pub fn full_key(ns: &str, bucket: &str, key: &str) -> String {
    format!("weft:kv2:{}:{ns}:{}:{bucket}:{key}", ns.len(), bucket.len())
}

/// The key the backend used before length prefixes (`weft:kv:{ns}:{bucket}:{key}`).
fn legacy_key(ns: &str, bucket: &str, key: &str) -> String {
    format!("weft:kv:{ns}:{bucket}:{key}")
}

impl RedisKv {
    /// Connects (with automatic reconnect) to `url` (`redis://` or `rediss://`).
    pub async fn connect(url: &str) -> Result<RedisKv, KvError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let conn = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(RedisKv { conn })
    }

    /// Moves the keys of plugin `ns`, bucket `bucket` from the earlier
    /// `weft:kv:{ns}:{bucket}:{key}` layout to the current one (a key already present in the
    /// current layout is kept and the old one left alone). Run it with the hub stopped.
    /// Returns how many keys were moved. Names containing `:` cannot be told apart in the
    /// old layout: keys of plugin `a` bucket `b:x` also match plugin `a:b` bucket `x`.
    pub async fn migrate_legacy(&self, ns: &str, bucket: &str) -> Result<u64, KvError> {
        let prefix = legacy_key(ns, bucket, "");
        let pattern = format!("{}*", redis_glob_escape(&prefix));
        let mut conn = self.conn.clone();
        let mut cursor = 0u64;
        let mut moved = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(LIST_PAGE)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            for old in keys {
                let Some(key) = old.strip_prefix(prefix.as_str()) else {
                    continue;
                };
                let renamed: bool = redis::cmd("RENAMENX")
                    .arg(&old)
                    .arg(full_key(ns, bucket, key))
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                moved += u64::from(renamed);
            }
            if next == 0 {
                return Ok(moved);
            }
            cursor = next;
        }
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

    /// One `MULTI`/`EXEC` transaction: other clients see all of the writes or none. (Redis
    /// does not roll back: an `INCRBY` on a key that holds text fails alone inside it.)
    async fn apply(&self, writes: Vec<weft_kv::KvWrite>) -> Result<(), KvError> {
        use weft_kv::KvWrite;
        if writes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for w in &writes {
            match w {
                KvWrite::Set {
                    ns,
                    bucket,
                    key,
                    value,
                } => {
                    check(key, Some(value))?;
                    pipe.set(full_key(ns, bucket, key), value.as_slice())
                        .ignore();
                }
                KvWrite::Delete { ns, bucket, key } => {
                    pipe.del(full_key(ns, bucket, key)).ignore();
                }
                KvWrite::Increment {
                    ns,
                    bucket,
                    key,
                    delta,
                } => {
                    let delta = i64::try_from(*delta)
                        .map_err(|_| KvError::Invalid("increment delta exceeds i64::MAX".into()))?;
                    pipe.incr(full_key(ns, bucket, key), delta).ignore();
                }
            }
        }
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unambiguous() {
        // the collision of the earlier layout
        assert_eq!(legacy_key("a", "b:x", "k"), legacy_key("a:b", "x", "k"));
        assert_ne!(full_key("a", "b:x", "k"), full_key("a:b", "x", "k"));
        assert_ne!(full_key("a", "b", "x:k"), full_key("a", "b:x", "k"));
        assert_eq!(
            full_key("dedupe", "seen", "id-1"),
            "weft:kv2:6:dedupe:4:seen:id-1"
        );
        // a bucket's prefix (used to list keys) is not a prefix of another bucket's keys
        let prefix = full_key("p", "b", "");
        assert!(!full_key("p", "bb", "k").starts_with(&prefix));
        assert!(!full_key("p", "b:", "k").starts_with(&prefix));
        assert!(full_key("p", "b", "k").starts_with(&prefix));
    }
}
