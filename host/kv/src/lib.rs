//! The key-value contract behind the plugins' `wasi:keyvalue`: the [`KvBackend`] trait the
//! sandbox calls and each backend crate implements (`weft-kv-embedded`, `weft-kv-redis`),
//! the limits, and the counter encoding. Every key is namespaced by the plugin name, so one
//! plugin never sees another's keys.
//!
//! **Plugin state follows the acknowledgement.** The router gives each delivery a
//! [`KvTransaction`]: a plugin's writes while handling it are buffered (its reads see them)
//! and applied with [`KvBackend::apply`] only when the route delivered the event; a retry
//! of that plugin, a requeue, a crash or a dead letter discards them.
//!
//! Counters (`atomics.increment`) are stored as decimal ASCII, so the same value reads the
//! same from every backend (and from `redis-cli`).
//!
//! ```
//! assert!(weft_kv::check("k", Some(b"v")).is_ok());
//! assert_eq!(weft_kv::parse_counter("n", b"42").unwrap(), 42);
//! ```

use async_trait::async_trait;

/// Largest key a plugin may use, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value a plugin may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
/// Keys returned per `list-keys` page.
pub const LIST_PAGE: usize = 1000;

/// A key-value failure, reported to the plugin as `error::other`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The backend failed (I/O, connection).
    #[error("key-value backend failed: {0}")]
    Backend(String),
    /// The plugin broke a limit or a rule.
    #[error("{0}")]
    Invalid(String),
    /// Applying the writes would take a plugin over its `kv_max_keys` or `kv_max_bytes`.
    /// Nothing was written. Permanent for the event: the router dead-letters it.
    #[error(
        "plugin `{plugin}` would hold {would} {unit} with this event's writes, over its quota {quota} = {limit} (it holds {holds})"
    )]
    Quota {
        /// The plugin (key namespace).
        plugin: String,
        /// `kv_max_keys` or `kv_max_bytes`.
        quota: &'static str,
        /// `keys` or `bytes`.
        unit: &'static str,
        /// The quota.
        limit: u64,
        /// What the plugin holds now.
        holds: u64,
        /// What it would hold after the writes.
        would: u64,
    },
}

/// A plugin's key-value quota (`kv_max_keys`, `kv_max_bytes` on its `[plugins.NAME]`
/// entry). Keys count across all its buckets; bytes are, per key, the bucket name, the key
/// and the value. A delivery whose writes would go over a quota fails permanently (dead
/// letter naming the plugin, the quota and the amounts); one that lowers usage is always
/// applied, also above a quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvQuota {
    /// Most keys.
    pub max_keys: Option<u64>,
    /// Most bytes.
    pub max_bytes: Option<u64>,
}

impl KvQuota {
    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_keys.is_none() && self.max_bytes.is_none()
    }

    /// Checks a plugin's usage after a change of (`keys`, `bytes`) from (`holds_keys`,
    /// `holds_bytes`): only growth is refused.
    pub fn check(
        &self,
        plugin: &str,
        (holds_keys, holds_bytes): (u64, u64),
        (keys, bytes): (i64, i64),
    ) -> Result<(), KvError> {
        let after = |holds: u64, delta: i64| holds.saturating_add_signed(delta);
        if let Some(limit) = self.max_keys
            && keys > 0
            && after(holds_keys, keys) > limit
        {
            return Err(KvError::Quota {
                plugin: plugin.to_string(),
                quota: "kv_max_keys",
                unit: "keys",
                limit,
                holds: holds_keys,
                would: after(holds_keys, keys),
            });
        }
        if let Some(limit) = self.max_bytes
            && bytes > 0
            && after(holds_bytes, bytes) > limit
        {
            return Err(KvError::Quota {
                plugin: plugin.to_string(),
                quota: "kv_max_bytes",
                unit: "bytes",
                limit,
                holds: holds_bytes,
                would: after(holds_bytes, bytes),
            });
        }
        Ok(())
    }
}

/// The bytes a key counts for in a quota: bucket, key and value.
pub fn quota_bytes(bucket: &str, key: &str, value_len: usize) -> u64 {
    (bucket.len() + key.len() + value_len) as u64
}

/// A page of keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPage {
    /// The keys of this page.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` at the end.
    pub cursor: Option<u64>,
}

/// A storage backend. `ns` is the plugin name, `bucket` the name the plugin opened.
#[async_trait]
pub trait KvBackend: Send + Sync + 'static {
    /// Reads a value.
    async fn get(&self, ns: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Writes a value.
    async fn set(&self, ns: &str, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), KvError>;
    /// Deletes a key (absent is fine).
    async fn delete(&self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError>;
    /// Whether a key exists.
    async fn exists(&self, ns: &str, bucket: &str, key: &str) -> Result<bool, KvError>;
    /// One page of keys.
    async fn list_keys(
        &self,
        ns: &str,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyPage, KvError>;
    /// Atomically adds `delta` and returns the new value.
    async fn increment(
        &self,
        ns: &str,
        bucket: &str,
        key: &str,
        delta: u64,
    ) -> Result<u64, KvError>;

    /// Applies a delivery's buffered writes, all or nothing where the backend can (the
    /// embedded backend: one transaction; Redis: `MULTI`/`EXEC`). The default applies them
    /// one by one.
    async fn apply(&self, writes: Vec<KvWrite>) -> Result<(), KvError> {
        apply_one_by_one(self, writes).await
    }

    /// Sets plugin `ns`'s quota, enforced by [`KvBackend::apply`] (and direct writes) from
    /// now on. The default ignores quotas (backends that do not count usage).
    fn set_quota(&self, ns: &str, quota: KvQuota) {
        let _ = (ns, quota);
    }

    /// Whether `writes` would take a plugin over its quota if applied now, without writing
    /// (the router asks before delivering, so an event over quota is dead-lettered instead
    /// of delivered; `apply` checks again atomically). Default: no quotas.
    async fn check_quota(&self, writes: &[KvWrite]) -> Result<(), KvError> {
        let _ = writes;
        Ok(())
    }
}

/// Checks a key and value against the limits.
pub fn check(key: &str, value: Option<&[u8]>) -> Result<(), KvError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::Invalid(format!(
            "key of {} bytes exceeds the {MAX_KEY_BYTES}-byte limit",
            key.len()
        )));
    }
    if let Some(v) = value
        && v.len() > MAX_VALUE_BYTES
    {
        return Err(KvError::Invalid(format!(
            "value of {} bytes exceeds the {MAX_VALUE_BYTES}-byte limit",
            v.len()
        )));
    }
    Ok(())
}

/// Parses a stored counter.
pub fn parse_counter(key: &str, bytes: &[u8]) -> Result<u64, KvError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| KvError::Invalid(format!("value of `{key}` is not a decimal counter")))
}

/// One buffered write of a delivery, applied at commit by [`KvBackend::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvWrite {
    /// Store `value` under the key.
    Set {
        /// Plugin namespace.
        ns: String,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// Remove the key.
    Delete {
        /// Plugin namespace.
        ns: String,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// Add `delta` to the counter at the key (as an increment at commit, so concurrent
    /// increments from other deliveries are never lost).
    Increment {
        /// Plugin namespace.
        ns: String,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Amount.
        delta: u64,
    },
}

impl KvWrite {
    /// The plugin namespace written.
    pub fn ns(&self) -> &str {
        match self {
            KvWrite::Set { ns, .. }
            | KvWrite::Delete { ns, .. }
            | KvWrite::Increment { ns, .. } => ns,
        }
    }
}

mod buffered;
pub use buffered::{KvTransaction, TransactionView};

/// Applies `writes` one by one (not atomic): the fallback of [`KvBackend::apply`] for
/// backends without transactions.
pub async fn apply_one_by_one(
    backend: &(impl KvBackend + ?Sized),
    writes: Vec<KvWrite>,
) -> Result<(), KvError> {
    for w in writes {
        match w {
            KvWrite::Set {
                ns,
                bucket,
                key,
                value,
            } => backend.set(&ns, &bucket, &key, value).await?,
            KvWrite::Delete { ns, bucket, key } => backend.delete(&ns, &bucket, &key).await?,
            KvWrite::Increment {
                ns,
                bucket,
                key,
                delta,
            } => {
                backend.increment(&ns, &bucket, &key, delta).await?;
            }
        }
    }
    Ok(())
}
