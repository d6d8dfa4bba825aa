//! Buffered plugin state: the writes of one delivery, visible to its own reads, applied only
//! when the delivery is acknowledged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{KeyPage, KvBackend, KvError, KvWrite, check, parse_counter};

/// A key in the buffer: (namespace, bucket, key).
type Key = (String, String, String);

/// What the buffer holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    /// The key's value is known: set (`Some`) or deleted (`None`).
    Value(Option<Vec<u8>>),
    /// Increments on top of whatever the backend holds at commit.
    Add(u64),
}

#[derive(Debug, Default)]
struct Layers {
    /// Writes of plugin calls that returned successfully.
    kept: BTreeMap<Key, Pending>,
    /// Writes of the call in progress (discarded if it fails).
    attempt: BTreeMap<Key, Pending>,
}

impl Layers {
    fn lookup(&self, key: &Key) -> Option<&Pending> {
        self.attempt.get(key).or_else(|| self.kept.get(key))
    }
}

/// The buffered writes of one delivery on one route (all its plugins). Plugin calls see
/// their own and earlier plugins' writes; [`KvTransaction::keep_attempt`] keeps a
/// successful call's writes, [`KvTransaction::discard_attempt`] drops a failed one's, and
/// [`KvTransaction::take_writes`] hands the kept writes to [`KvBackend::apply`].
#[derive(Debug, Default)]
pub struct KvTransaction {
    layers: Mutex<Layers>,
}

impl KvTransaction {
    /// An empty transaction.
    pub fn new() -> Arc<KvTransaction> {
        Arc::new(KvTransaction::default())
    }

    fn with<R>(&self, f: impl FnOnce(&mut Layers) -> R) -> R {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut layers)
    }

    /// The view a plugin call uses instead of `backend`: reads see the buffer, writes go
    /// into it.
    pub fn view(self: &Arc<Self>, backend: Arc<dyn KvBackend>) -> Arc<dyn KvBackend> {
        Arc::new(TransactionView {
            backend,
            txn: self.clone(),
        })
    }

    /// Keeps the writes of the call that just succeeded.
    pub fn keep_attempt(&self) {
        self.with(|l| {
            let attempt = std::mem::take(&mut l.attempt);
            l.kept.extend(attempt);
        });
    }

    /// Drops the writes of the call that just failed (it will be retried or the delivery
    /// ends without it).
    pub fn discard_attempt(&self) {
        self.with(|l| l.attempt.clear());
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.with(|l| l.kept.is_empty() && l.attempt.is_empty())
    }

    /// The kept writes, in key order, leaving them buffered (to check quotas before
    /// delivering).
    pub fn writes(&self) -> Vec<KvWrite> {
        let kept = self.with(|l| l.kept.clone());
        to_writes(kept)
    }

    /// The kept writes, in key order, emptying the buffer.
    pub fn take_writes(&self) -> Vec<KvWrite> {
        let kept = self.with(|l| {
            l.attempt.clear();
            std::mem::take(&mut l.kept)
        });
        to_writes(kept)
    }
}

fn to_writes(kept: BTreeMap<Key, Pending>) -> Vec<KvWrite> {
    kept.into_iter()
        .map(|((ns, bucket, key), pending)| match pending {
            Pending::Value(Some(value)) => KvWrite::Set {
                ns,
                bucket,
                key,
                value,
            },
            Pending::Value(None) => KvWrite::Delete { ns, bucket, key },
            Pending::Add(delta) => KvWrite::Increment {
                ns,
                bucket,
                key,
                delta,
            },
        })
        .collect()
}

/// A backend seen through a [`KvTransaction`] (what one plugin call gets).
pub struct TransactionView {
    backend: Arc<dyn KvBackend>,
    txn: Arc<KvTransaction>,
}

/// A stored counter's value (absent: 0).
fn counter(key: &str, stored: Option<&[u8]>) -> Result<u64, KvError> {
    stored.map_or(Ok(0), |bytes| parse_counter(key, bytes))
}

fn key(ns: &str, bucket: &str, key: &str) -> Key {
    (ns.to_string(), bucket.to_string(), key.to_string())
}

#[async_trait]
impl KvBackend for TransactionView {
    async fn get(&self, ns: &str, bucket: &str, k: &str) -> Result<Option<Vec<u8>>, KvError> {
        check(k, None)?;
        let pending = self.txn.with(|l| l.lookup(&key(ns, bucket, k)).cloned());
        match pending {
            Some(Pending::Value(v)) => Ok(v),
            Some(Pending::Add(delta)) => {
                let base = counter(k, self.backend.get(ns, bucket, k).await?.as_deref())?;
                Ok(Some(base.wrapping_add(delta).to_string().into_bytes()))
            }
            None => self.backend.get(ns, bucket, k).await,
        }
    }

    async fn set(&self, ns: &str, bucket: &str, k: &str, value: Vec<u8>) -> Result<(), KvError> {
        check(k, Some(&value))?;
        self.txn.with(|l| {
            l.attempt
                .insert(key(ns, bucket, k), Pending::Value(Some(value)))
        });
        Ok(())
    }

    async fn delete(&self, ns: &str, bucket: &str, k: &str) -> Result<(), KvError> {
        check(k, None)?;
        self.txn
            .with(|l| l.attempt.insert(key(ns, bucket, k), Pending::Value(None)));
        Ok(())
    }

    async fn exists(&self, ns: &str, bucket: &str, k: &str) -> Result<bool, KvError> {
        Ok(self.get(ns, bucket, k).await?.is_some())
    }

    /// The backend's keys with this delivery's buffered sets added (on the first page) and
    /// its deletes removed.
    async fn list_keys(
        &self,
        ns: &str,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyPage, KvError> {
        let mut page = self.backend.list_keys(ns, bucket, cursor).await?;
        let (added, deleted) = self.txn.with(|l| {
            let mut added = Vec::new();
            let mut deleted = Vec::new();
            for layer in [&l.kept, &l.attempt] {
                for ((n, b, k), p) in layer {
                    if n == ns && b == bucket {
                        match p {
                            Pending::Value(None) => deleted.push(k.clone()),
                            _ => added.push(k.clone()),
                        }
                    }
                }
            }
            (added, deleted)
        });
        page.keys.retain(|k| !deleted.contains(k));
        if cursor.is_none() {
            for k in added {
                if !page.keys.contains(&k) && !deleted.contains(&k) {
                    page.keys.push(k);
                }
            }
        }
        Ok(page)
    }

    /// Buffers the increment; returns the value the counter will have if nothing else
    /// changes it before the commit (the backend's value plus every buffered increment).
    async fn increment(&self, ns: &str, bucket: &str, k: &str, delta: u64) -> Result<u64, KvError> {
        check(k, None)?;
        let id = key(ns, bucket, k);
        let pending = self.txn.with(|l| l.lookup(&id).cloned());
        let (next, value) = match pending {
            Some(Pending::Value(v)) => {
                let value = counter(k, v.as_deref())?.wrapping_add(delta);
                (Pending::Value(Some(value.to_string().into_bytes())), value)
            }
            buffered => {
                let added = match buffered {
                    Some(Pending::Add(d)) => d.wrapping_add(delta),
                    _ => delta,
                };
                let base = counter(k, self.backend.get(ns, bucket, k).await?.as_deref())?;
                (Pending::Add(added), base.wrapping_add(added))
            }
        };
        self.txn.with(|l| l.attempt.insert(id, next));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory backend for the buffer's unit tests (the real backends have their own
    /// tests of `apply`).
    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<Key, Vec<u8>>>);

    #[async_trait]
    impl KvBackend for Memory {
        async fn get(&self, ns: &str, b: &str, k: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(self.0.lock().unwrap().get(&key(ns, b, k)).cloned())
        }
        async fn set(&self, ns: &str, b: &str, k: &str, v: Vec<u8>) -> Result<(), KvError> {
            self.0.lock().unwrap().insert(key(ns, b, k), v);
            Ok(())
        }
        async fn delete(&self, ns: &str, b: &str, k: &str) -> Result<(), KvError> {
            self.0.lock().unwrap().remove(&key(ns, b, k));
            Ok(())
        }
        async fn exists(&self, ns: &str, b: &str, k: &str) -> Result<bool, KvError> {
            Ok(self.get(ns, b, k).await?.is_some())
        }
        async fn list_keys(&self, ns: &str, b: &str, _: Option<u64>) -> Result<KeyPage, KvError> {
            let keys = self
                .0
                .lock()
                .unwrap()
                .keys()
                .filter(|(n, bb, _)| n == ns && bb == b)
                .map(|(_, _, k)| k.clone())
                .collect();
            Ok(KeyPage { keys, cursor: None })
        }
        async fn increment(&self, ns: &str, b: &str, k: &str, d: u64) -> Result<u64, KvError> {
            let mut m = self.0.lock().unwrap();
            let e = m.entry(key(ns, b, k)).or_insert_with(|| b"0".to_vec());
            let v = parse_counter(k, e)? + d;
            *e = v.to_string().into_bytes();
            Ok(v)
        }
    }

    #[tokio::test]
    async fn writes_are_invisible_to_the_backend_until_applied() {
        let backend: Arc<dyn KvBackend> = Arc::new(Memory::default());
        backend.set("p", "b", "n", b"5".to_vec()).await.unwrap();
        let txn = KvTransaction::new();
        let view = txn.view(backend.clone());
        view.set("p", "b", "k", b"v".to_vec()).await.unwrap();
        assert_eq!(view.increment("p", "b", "n", 2).await.unwrap(), 7);
        view.delete("p", "b", "gone").await.unwrap();
        // the call sees its writes; the backend does not
        assert_eq!(view.get("p", "b", "k").await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(view.get("p", "b", "n").await.unwrap(), Some(b"7".to_vec()));
        assert_eq!(backend.get("p", "b", "k").await.unwrap(), None);
        txn.keep_attempt();
        // another delivery increments meanwhile: the commit adds, it does not overwrite
        backend.increment("p", "b", "n", 10).await.unwrap();
        backend.apply(txn.take_writes()).await.unwrap();
        assert_eq!(
            backend.get("p", "b", "k").await.unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(
            backend.get("p", "b", "n").await.unwrap(),
            Some(b"17".to_vec())
        );
        assert!(txn.is_empty());
    }

    #[tokio::test]
    async fn a_failed_call_leaves_no_trace_and_earlier_calls_are_kept() {
        let backend: Arc<dyn KvBackend> = Arc::new(Memory::default());
        let txn = KvTransaction::new();
        let view = txn.view(backend.clone());
        view.increment("dedupe", "seen", "a", 1).await.unwrap();
        txn.keep_attempt();
        view.set("other", "b", "x", b"1".to_vec()).await.unwrap();
        txn.discard_attempt();
        assert_eq!(view.get("other", "b", "x").await.unwrap(), None);
        let writes = txn.take_writes();
        assert_eq!(
            writes,
            vec![KvWrite::Increment {
                ns: "dedupe".into(),
                bucket: "seen".into(),
                key: "a".into(),
                delta: 1
            }]
        );
    }

    #[tokio::test]
    async fn listing_shows_buffered_sets_and_hides_buffered_deletes() {
        let backend: Arc<dyn KvBackend> = Arc::new(Memory::default());
        backend.set("p", "b", "old", b"1".to_vec()).await.unwrap();
        let txn = KvTransaction::new();
        let view = txn.view(backend.clone());
        view.delete("p", "b", "old").await.unwrap();
        view.set("p", "b", "new", b"1".to_vec()).await.unwrap();
        let page = view.list_keys("p", "b", None).await.unwrap();
        assert_eq!(page.keys, vec!["new".to_string()]);
    }
}
