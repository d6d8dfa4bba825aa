//! The embedded key-value backend of weft's plugins (`kv = "embedded"`, the default): one redb
//! file in the data directory, implementing `weft_kv::KvBackend`. Writes are durable when
//! they return.
//!
//! Per plugin, the table `usage` keeps (keys, bytes), updated in the same transaction as
//! every write, for the plugin's [`KvQuota`]. A plugin without a row (a file written by an
//! earlier version) is counted once by a scan of its keys, in the first transaction that
//! writes for it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use weft_kv::{
    KeyPage, KvBackend, KvError, KvQuota, KvWrite, LIST_PAGE, check, parse_counter, quota_bytes,
};

const KV: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("kv");
/// Per plugin: (keys, bytes) it holds.
const USAGE: TableDefinition<'_, &str, (u64, u64)> = TableDefinition::new("usage");

/// Plugin state in a redb file. Writes are durable when they return.
#[derive(Clone)]
pub struct EmbeddedKv {
    db: Arc<Database>,
    quotas: Arc<RwLock<HashMap<String, KvQuota>>>,
}

/// What a plugin held before a transaction (keys, bytes) and the transaction's change.
type UsageChange = ((u64, u64), (i64, i64));

/// The tables a write transaction uses, and the usage changes it made per plugin.
struct Tables<'t> {
    kv: redb::Table<'t, &'static str, &'static [u8]>,
    usage: redb::Table<'t, &'static str, (u64, u64)>,
    /// Per plugin: what it held before this transaction, and the change.
    changes: HashMap<String, UsageChange>,
}

impl Tables<'_> {
    /// Notes the usage change of writing `new_len` bytes of value (`None`: deleting) at a
    /// key that held `old_len`.
    /// Reads what `ns` holds before this transaction's first write for it.
    fn start(&mut self, ns: &str) -> Result<(), KvError> {
        if !self.changes.contains_key(ns) {
            let holds = match self.usage.get(ns).map_err(backend)? {
                Some(v) => v.value(),
                None => scan_usage(&self.kv, ns)?,
            };
            self.changes.insert(ns.to_string(), (holds, (0, 0)));
        }
        Ok(())
    }

    fn account(
        &mut self,
        ns: &str,
        bucket: &str,
        key: &str,
        old_len: Option<usize>,
        new_len: Option<usize>,
    ) -> Result<(), KvError> {
        self.start(ns)?;
        let (_, (keys, bytes)) = self.changes.get_mut(ns).expect("started");
        let size = |len: Option<usize>| len.map_or(0, |l| quota_bytes(bucket, key, l) as i64);
        *keys += i64::from(new_len.is_some()) - i64::from(old_len.is_some());
        *bytes += size(new_len) - size(old_len);
        Ok(())
    }

    fn set(&mut self, ns: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.start(ns)?;
        let k = full_key(ns, bucket, key);
        let old = self
            .kv
            .insert(k.as_str(), value)
            .map_err(backend)?
            .map(|v| v.value().len());
        self.account(ns, bucket, key, old, Some(value.len()))
    }

    fn delete(&mut self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError> {
        self.start(ns)?;
        let k = full_key(ns, bucket, key);
        let old = self
            .kv
            .remove(k.as_str())
            .map_err(backend)?
            .map(|v| v.value().len());
        self.account(ns, bucket, key, old, None)
    }

    fn increment(&mut self, ns: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, KvError> {
        self.start(ns)?;
        let k = full_key(ns, bucket, key);
        let old = self
            .kv
            .get(k.as_str())
            .map_err(backend)?
            .map(|v| v.value().len());
        let next = add_to_counter(&mut self.kv, &k, key, delta)?;
        self.account(ns, bucket, key, old, Some(next.to_string().len()))?;
        Ok(next)
    }

    /// Checks the quotas and stores the new usage.
    fn finish(&mut self, quotas: &HashMap<String, KvQuota>) -> Result<(), KvError> {
        for (ns, (holds, change)) in &self.changes {
            if let Some(quota) = quotas.get(ns) {
                quota.check(ns, *holds, *change)?;
            }
            let after = (
                holds.0.saturating_add_signed(change.0),
                holds.1.saturating_add_signed(change.1),
            );
            self.usage.insert(ns.as_str(), after).map_err(backend)?;
        }
        Ok(())
    }
}

/// Counts a plugin's keys and bytes by a scan (its first write with this version).
fn scan_usage(
    kv: &impl ReadableTable<&'static str, &'static [u8]>,
    ns: &str,
) -> Result<(u64, u64), KvError> {
    let prefix = format!("{ns}\u{0}");
    let (mut keys, mut bytes) = (0u64, 0u64);
    for entry in kv.range(prefix.as_str()..).map_err(backend)? {
        let (k, v) = entry.map_err(backend)?;
        let Some(rest) = k.value().strip_prefix(prefix.as_str()) else {
            break;
        };
        let (bucket, key) = rest.split_once('\u{0}').unwrap_or((rest, ""));
        keys += 1;
        bytes += quota_bytes(bucket, key, v.value().len());
    }
    Ok((keys, bytes))
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

fn apply_writes(t: &mut Tables<'_>, writes: Vec<KvWrite>) -> Result<(), KvError> {
    for w in writes {
        match w {
            KvWrite::Set {
                ns,
                bucket,
                key,
                value,
            } => {
                check(&key, Some(&value))?;
                t.set(&ns, &bucket, &key, &value)?;
            }
            KvWrite::Delete { ns, bucket, key } => t.delete(&ns, &bucket, &key)?,
            KvWrite::Increment {
                ns,
                bucket,
                key,
                delta,
            } => {
                t.increment(&ns, &bucket, &key, delta)?;
            }
        }
    }
    Ok(())
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
        tx.open_table(USAGE).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(EmbeddedKv {
            db: Arc::new(db),
            quotas: Arc::default(),
        })
    }

    /// What plugin `ns` holds: (keys, bytes), as its quota counts them.
    pub fn usage(&self, ns: &str) -> Result<(u64, u64), KvError> {
        let tx = self.db.begin_read().map_err(backend)?;
        if let Some(v) = tx
            .open_table(USAGE)
            .map_err(backend)?
            .get(ns)
            .map_err(backend)?
        {
            return Ok(v.value());
        }
        let kv = tx.open_table(KV).map_err(backend)?;
        scan_usage(&kv, ns)
    }

    /// Runs `f` in a write transaction, then checks the quotas of the plugins it wrote
    /// for; commits only if `commit` and every quota holds.
    fn transact<R: Send + 'static>(
        &self,
        commit: bool,
        f: impl FnOnce(&mut Tables<'_>) -> Result<R, KvError> + Send + 'static,
    ) -> impl Future<Output = Result<R, KvError>> + Send {
        let db = self.db.clone();
        let quotas = self.quotas.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let tx = db.begin_write().map_err(backend)?;
                let r = {
                    let mut tables = Tables {
                        kv: tx.open_table(KV).map_err(backend)?,
                        usage: tx.open_table(USAGE).map_err(backend)?,
                        changes: HashMap::new(),
                    };
                    let r = f(&mut tables)?;
                    let quotas = quotas.read().unwrap_or_else(|p| p.into_inner());
                    tables.finish(&quotas)?;
                    r
                };
                if commit {
                    tx.commit().map_err(backend)?;
                } else {
                    tx.abort().map_err(backend)?;
                }
                Ok(r)
            })
            .await
            .map_err(backend)?
        }
    }

    fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tables<'_>) -> Result<R, KvError> + Send + 'static,
    ) -> impl Future<Output = Result<R, KvError>> + Send {
        self.transact(true, f)
    }

    fn has_quota(&self, writes: &[KvWrite]) -> bool {
        let quotas = self.quotas.read().unwrap_or_else(|p| p.into_inner());
        !quotas.is_empty() && writes.iter().any(|w| quotas.contains_key(w.ns()))
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
        let (ns, bucket, key) = (ns.to_string(), bucket.to_string(), key.to_string());
        self.write(move |t| t.set(&ns, &bucket, &key, &value)).await
    }

    async fn delete(&self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError> {
        check(key, None)?;
        let (ns, bucket, key) = (ns.to_string(), bucket.to_string(), key.to_string());
        self.write(move |t| t.delete(&ns, &bucket, &key)).await
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
        let (ns, bucket, key) = (ns.to_string(), bucket.to_string(), key.to_string());
        self.write(move |t| t.increment(&ns, &bucket, &key, delta))
            .await
    }

    /// One redb transaction: every write or none (a counter that would overflow or hold a
    /// non-number, or a plugin going over its quota, fails the whole commit).
    async fn apply(&self, writes: Vec<KvWrite>) -> Result<(), KvError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.write(move |t| apply_writes(t, writes)).await
    }

    fn set_quota(&self, ns: &str, quota: KvQuota) {
        let mut quotas = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        if quota.is_unlimited() {
            quotas.remove(ns);
        } else {
            quotas.insert(ns.to_string(), quota);
        }
    }

    /// The writes applied in a transaction that is then aborted.
    async fn check_quota(&self, writes: &[KvWrite]) -> Result<(), KvError> {
        if !self.has_quota(writes) {
            return Ok(());
        }
        let writes = writes.to_vec();
        self.transact(false, move |t| apply_writes(t, writes)).await
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

    fn set(key: &str, value: &[u8]) -> KvWrite {
        KvWrite::Set {
            ns: "q".into(),
            bucket: "b".into(),
            key: key.into(),
            value: value.to_vec(),
        }
    }

    #[tokio::test]
    async fn quotas_refuse_growth_whole_and_count_usage() {
        let dir = tempfile::tempdir().unwrap();
        let kv = EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap();
        kv.set_quota(
            "q",
            KvQuota {
                max_keys: Some(2),
                max_bytes: Some(20),
            },
        );
        kv.apply(vec![set("a", b"1234"), set("b", b"1")])
            .await
            .unwrap();
        // b + a + 4 and b + b + 1 bytes
        assert_eq!(kv.usage("q").unwrap(), (2, 9));
        // a third key: refused, nothing written
        let err = kv
            .apply(vec![set("a", b"x"), set("c", b"1")])
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin `q` would hold 3 keys with this event's writes, over its quota kv_max_keys = 2 (it holds 2)"
        );
        assert!(kv.check_quota(&[set("c", b"1")]).await.is_err());
        assert_eq!(kv.get("q", "b", "a").await.unwrap(), Some(b"1234".to_vec()));
        assert_eq!(kv.usage("q").unwrap(), (2, 9));
        // bytes: growing a value past 20 is refused, also when written directly
        let err = kv
            .set("q", "b", "a", b"1234567890123456789".to_vec())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("kv_max_bytes = 20"), "{err}");
        assert!(err.to_string().contains("would hold 24 bytes"), "{err}");
        // shrinking is always allowed, and frees room
        kv.delete("q", "b", "b").await.unwrap();
        assert_eq!(kv.usage("q").unwrap(), (1, 6));
        assert_eq!(kv.increment("q", "b", "n", 41).await.unwrap(), 41);
        assert_eq!(kv.usage("q").unwrap(), (2, 10));
        assert!(kv.check_quota(&[set("a", b"x")]).await.is_ok());
        // another plugin has no quota
        kv.apply(vec![KvWrite::Set {
            ns: "free".into(),
            bucket: "b".into(),
            key: "k".into(),
            value: vec![0; 100],
        }])
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn usage_of_state_written_before_quotas_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        // a file of an earlier version: keys, no usage table
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(KV).unwrap();
                t.insert(full_key("old", "b", "k1").as_str(), b"12".as_slice())
                    .unwrap();
                t.insert(full_key("old", "c", "k2").as_str(), b"".as_slice())
                    .unwrap();
                t.insert(full_key("older", "b", "x").as_str(), b"1".as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let kv = EmbeddedKv::open(&path).unwrap();
        assert_eq!(kv.usage("old").unwrap(), (2, (1 + 2 + 2) + (1 + 2)));
        kv.set_quota(
            "old",
            KvQuota {
                max_keys: Some(2),
                max_bytes: None,
            },
        );
        assert!(kv.set("old", "b", "k3", b"v".to_vec()).await.is_err());
        kv.set("old", "b", "k1", b"v".to_vec()).await.unwrap();
        assert_eq!(kv.usage("old").unwrap(), (2, (1 + 2 + 1) + (1 + 2)));
    }
}
