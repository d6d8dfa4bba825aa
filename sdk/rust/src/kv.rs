//! Key-value state (`wasi:keyvalue`), namespaced to this plugin by the host: another
//! plugin never sees these keys. The backend (embedded or Redis) is the operator's choice.

/// A key-value error reported by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError(pub String);

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key-value error: {}", self.0)
    }
}

impl std::error::Error for KvError {}

/// A bucket of keys. `Bucket::open("default")` is the plugin's main bucket.
pub struct Bucket {
    inner: imp::Bucket,
}

impl Bucket {
    /// Opens (or creates) a bucket by name.
    pub fn open(name: &str) -> Result<Bucket, KvError> {
        Ok(Bucket {
            inner: imp::Bucket::open(name)?,
        })
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.get(key)
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.inner.set(key, value)
    }

    /// Deletes `key` (no error if absent).
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(key)
    }

    /// Whether `key` is set.
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.inner.exists(key)
    }

    /// Atomically adds `delta` to the counter at `key` (absent = 0) and returns the new value.
    pub fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        self.inner.increment(key, delta)
    }

    /// All keys of the bucket.
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        self.inner.keys()
    }
}

/// Shorthand: the value of `key` in the default bucket.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    Bucket::open("default")?.get(key)
}

/// Shorthand: sets `key` in the default bucket.
pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
    Bucket::open("default")?.set(key, value)
}

/// Shorthand: atomically increments `key` in the default bucket.
pub fn increment(key: &str, delta: u64) -> Result<u64, KvError> {
    Bucket::open("default")?.increment(key, delta)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::KvError;
    use crate::bindings::wasi::keyvalue::{atomics, store};

    fn err(e: store::Error) -> KvError {
        KvError(match e {
            store::Error::NoSuchStore => "no such store".into(),
            store::Error::AccessDenied => "access denied".into(),
            store::Error::Other(m) => m,
        })
    }

    pub struct Bucket(store::Bucket);

    impl Bucket {
        pub fn open(name: &str) -> Result<Self, KvError> {
            store::open(name).map(Bucket).map_err(err)
        }
        pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            self.0.get(key).map_err(err)
        }
        pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            self.0.set(key, value).map_err(err)
        }
        pub fn delete(&self, key: &str) -> Result<(), KvError> {
            self.0.delete(key).map_err(err)
        }
        pub fn exists(&self, key: &str) -> Result<bool, KvError> {
            self.0.exists(key).map_err(err)
        }
        pub fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
            atomics::increment(&self.0, key, delta).map_err(err)
        }
        pub fn keys(&self) -> Result<Vec<String>, KvError> {
            let mut keys = Vec::new();
            let mut cursor = None;
            loop {
                let page = self.0.list_keys(cursor).map_err(err)?;
                keys.extend(page.keys);
                match page.cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok(keys),
                }
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::KvError;
    use crate::testing::with_host;

    pub struct Bucket(String);

    impl Bucket {
        pub fn open(name: &str) -> Result<Self, KvError> {
            Ok(Bucket(name.to_string()))
        }
        fn key(&self, key: &str) -> (String, String) {
            (self.0.clone(), key.to_string())
        }
        pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(with_host(|h| h.kv.get(&self.key(key)).cloned()))
        }
        pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            with_host(|h| h.kv.insert(self.key(key), value.to_vec()));
            Ok(())
        }
        pub fn delete(&self, key: &str) -> Result<(), KvError> {
            with_host(|h| h.kv.remove(&self.key(key)));
            Ok(())
        }
        pub fn exists(&self, key: &str) -> Result<bool, KvError> {
            Ok(with_host(|h| h.kv.contains_key(&self.key(key))))
        }
        pub fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
            with_host(|h| {
                let slot = h.kv.entry(self.key(key)).or_insert_with(|| b"0".to_vec());
                let current: u64 = std::str::from_utf8(slot)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| KvError(format!("value of `{key}` is not a counter")))?;
                let next = current + delta;
                *slot = next.to_string().into_bytes();
                Ok(next)
            })
        }
        pub fn keys(&self) -> Result<Vec<String>, KvError> {
            Ok(with_host(|h| {
                h.kv.keys()
                    .filter(|(b, _)| *b == self.0)
                    .map(|(_, k)| k.clone())
                    .collect()
            }))
        }
    }
}
