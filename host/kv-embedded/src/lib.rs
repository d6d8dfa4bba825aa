//! The embedded key-value backend of weft's plugins (`kv = "embedded"`, the default): one redb
//! file in the data directory, implementing `weft_kv::KvBackend`. Writes are durable when
//! they return.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use weft_kv::{KeyPage, KvBackend, KvError, KvWrite, LIST_PAGE, check, parse_counter};

const KV: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("kv");

/// Plugin state in a redb file. Writes are durable when they return.
#[derive(Clone)]
pub struct EmbeddedKv {
    db: Arc<Database>,
}

fn full_key(ns: &str, bucket: &str, key: &str) -> String {
    format!("{ns}\u{0}{bucket}\u{0}{key}")
}

/// Adds `delta` to the decimal counter stored at `k` (absent: 0) and returns the new value.
fn add_to_counter(
    t: &mut redb::Table<'_, &'static str, &'static [u8]>,
    k: &str,
    key: &str,
    delta: u64,
) -> Result<u64, KvError> {
    let current = match t.get(k).map_err(backend)? {
        Some(v) => parse_counter(key, v.value())?,
        None => 0,
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| KvError::Invalid(format!("counter `{key}` would overflow")))?;
    t.insert(k, next.to_string().as_bytes()).map_err(backend)?;
    Ok(next)
}

fn backend(e: impl std::fmt::Display) -> KvError {
    KvError::Backend(e.to_string())
}

/// redb's page cache for the plugins' keys (redb's default is 1 GiB).
const CACHE_BYTES: usize = 32 << 20;

impl EmbeddedKv {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<EmbeddedKv, KvError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| KvError::Backend(format!("cannot open {}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(KV).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(EmbeddedKv { db: Arc::new(db) })
    }

    fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>) -> Result<R, KvError>
        + Send
        + 'static,
    ) -> impl Future<Output = Result<R, KvError>> + Send {
        let db = self.db.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let tx = db.begin_write().map_err(backend)?;
                let r = {
                    let mut table = tx.open_table(KV).map_err(backend)?;
                    f(&mut table)?
                };
                tx.commit().map_err(backend)?;
                Ok(r)
            })
            .await
            .map_err(backend)?
        }
    }

    fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<&'static str, &'static [u8]>) -> Result<R, KvError>
        + Send
        + 'static,
    ) -> Result<R, KvError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(KV).map_err(backend)?;
        f(&table)
    }
}

#[async_trait]
impl KvBackend for EmbeddedKv {
    async fn get(&self, ns: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check(key, None)?;
        let k = full_key(ns, bucket, key);
        self.read(move |t| {
            Ok(t.get(k.as_str())
                .map_err(backend)?
                .map(|v| v.value().to_vec()))
        })
    }

    async fn set(&self, ns: &str, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        check(key, Some(&value))?;
        let k = full_key(ns, bucket, key);
        self.write(move |t| {
            t.insert(k.as_str(), value.as_slice()).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError> {
        check(key, None)?;
        let k = full_key(ns, bucket, key);
        self.write(move |t| {
            t.remove(k.as_str()).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn exists(&self, ns: &str, bucket: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.get(ns, bucket, key).await?.is_some())
    }

    async fn list_keys(
        &self,
        ns: &str,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyPage, KvError> {
        let prefix = full_key(ns, bucket, "");
        let skip = cursor.unwrap_or(0) as usize;
        self.read(move |t| {
            let mut keys = Vec::new();
            let mut more = false;
            for (i, entry) in t.range(prefix.as_str()..).map_err(backend)?.enumerate() {
                let (k, _) = entry.map_err(backend)?;
                let Some(key) = k.value().strip_prefix(prefix.as_str()) else {
                    break;
                };
                if i < skip {
                    continue;
                }
                if keys.len() == LIST_PAGE {
                    more = true;
                    break;
                }
                keys.push(key.to_string());
            }
            let next = more.then_some((skip + keys.len()) as u64);
            Ok(KeyPage { keys, cursor: next })
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
        let k = full_key(ns, bucket, key);
        let key = key.to_string();
        self.write(move |t| add_to_counter(t, &k, &key, delta))
            .await
    }

    /// One redb transaction: every write or none (a counter that would overflow or hold a
    /// non-number fails the whole commit).
    async fn apply(&self, writes: Vec<KvWrite>) -> Result<(), KvError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.write(move |t| {
            for w in writes {
                match w {
                    KvWrite::Set {
                        ns,
                        bucket,
                        key,
                        value,
                    } => {
                        check(&key, Some(&value))?;
                        let k = full_key(&ns, &bucket, &key);
                        t.insert(k.as_str(), value.as_slice()).map_err(backend)?;
                    }
                    KvWrite::Delete { ns, bucket, key } => {
                        let k = full_key(&ns, &bucket, &key);
                        t.remove(k.as_str()).map_err(backend)?;
                    }
                    KvWrite::Increment {
                        ns,
                        bucket,
                        key,
                        delta,
                    } => {
                        add_to_counter(t, &full_key(&ns, &bucket, &key), &key, delta)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn namespaces_are_separate_and_state_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        {
            let kv = EmbeddedKv::open(&path).unwrap();
            kv.set("a", "default", "k", b"1".to_vec()).await.unwrap();
            assert_eq!(kv.increment("a", "default", "n", 5).await.unwrap(), 5);
            assert_eq!(kv.get("b", "default", "k").await.unwrap(), None);
            assert_eq!(
                kv.list_keys("b", "default", None).await.unwrap().keys.len(),
                0
            );
        }
        let kv = EmbeddedKv::open(&path).unwrap();
        assert_eq!(
            kv.get("a", "default", "k").await.unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(kv.increment("a", "default", "n", 2).await.unwrap(), 7);
        let page = kv.list_keys("a", "default", None).await.unwrap();
        assert_eq!(page.keys, vec!["k".to_string(), "n".to_string()]);
        kv.delete("a", "default", "k").await.unwrap();
        assert!(!kv.exists("a", "default", "k").await.unwrap());
    }

    #[tokio::test]
    async fn apply_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let kv = EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap();
        kv.set("p", "b", "text", b"not a number".to_vec())
            .await
            .unwrap();
        kv.set("p", "b", "gone", b"1".to_vec()).await.unwrap();
        let w = |key: &str, delta| KvWrite::Increment {
            ns: "p".into(),
            bucket: "b".into(),
            key: key.into(),
            delta,
        };
        let set = KvWrite::Set {
            ns: "p".into(),
            bucket: "b".into(),
            key: "k".into(),
            value: b"v".to_vec(),
        };
        let del = KvWrite::Delete {
            ns: "p".into(),
            bucket: "b".into(),
            key: "gone".into(),
        };
        // the increment of a non-number fails: the set before it is not applied either
        let err = kv
            .apply(vec![set.clone(), del.clone(), w("text", 1)])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a decimal counter"), "{err}");
        assert_eq!(kv.get("p", "b", "k").await.unwrap(), None);
        assert!(kv.exists("p", "b", "gone").await.unwrap());
        kv.apply(vec![set, del, w("n", 3), w("n", 4)])
            .await
            .unwrap();
        assert_eq!(kv.get("p", "b", "k").await.unwrap(), Some(b"v".to_vec()));
        assert!(!kv.exists("p", "b", "gone").await.unwrap());
        assert_eq!(kv.get("p", "b", "n").await.unwrap(), Some(b"7".to_vec()));
    }
}
