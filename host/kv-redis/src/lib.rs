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
//!
//! **Usage and quotas.** Per plugin, the hash `weft:kvusage:{len(plugin)}:{plugin}` holds
//! `keys` and `bytes` (per key: bucket, key and value lengths). Every write goes through
//! one Lua script that checks the plugin's [`KvQuota`], writes, and updates the hash, all
//! atomically. A plugin without the hash (state written before) is counted once by a
//! `SCAN` of its keys when this process first writes for it; writes of another replica
//! during that scan can make the count off by those writes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use weft_kv::{KeyPage, KvBackend, KvError, KvQuota, KvWrite, LIST_PAGE, check, quota_bytes};

/// Plugin state in Redis (shared by every replica of the hub).
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    quotas: Arc<RwLock<HashMap<String, KvQuota>>>,
    /// Plugins whose usage hash this process has made sure of.
    counted: Arc<Mutex<HashSet<String>>>,
}

/// The usage hash of plugin `ns`.
pub fn usage_key(ns: &str) -> String {
    format!("weft:kvusage:{}:{ns}", ns.len())
}

/// Applies writes atomically: computes each plugin's usage change, refuses growth over a
/// quota (nothing written), else writes and updates the usage hashes. KEYS: the U usage
/// hashes, then one data key per write. ARGV: U, mode (`apply` or `check`), U pairs of
/// (max keys, max bytes; -1 none), then per write: kind (`s`, `d`, `i`), usage index,
/// bucket + key length, value or delta. Returns the new values of the increments.
const APPLY: &str = r#"
local U = tonumber(ARGV[1])
local mode = ARGV[2]
local n = #KEYS - U
local base = 3 + 2 * U
local dk, db, est = {}, {}, {}
for j = 1, U do dk[j] = 0; db[j] = 0 end
for i = 1, n do
  local a = base + (i - 1) * 4
  local kind, j, klen, p = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3]
  local old = redis.call('GET', KEYS[U + i])
  local newlen = -1
  if kind == 's' then
    newlen = #p
  elseif kind == 'i' then
    local cur = 0
    if old then
      if not string.match(old, '^%s*%d+%s*$') then
        return redis.error_reply('weft-notcounter ' .. i)
      end
      cur = tonumber(old)
    end
    newlen = #string.format('%.0f', cur + tonumber(p))
    est[i] = newlen
  end
  if old then dk[j] = dk[j] - 1; db[j] = db[j] - klen - #old end
  if newlen >= 0 then dk[j] = dk[j] + 1; db[j] = db[j] + klen + newlen end
end
for j = 1, U do
  local h = redis.call('HMGET', KEYS[j], 'keys', 'bytes')
  local hk, hb = tonumber(h[1]) or 0, tonumber(h[2]) or 0
  local mk, mb = tonumber(ARGV[1 + 2 * j]), tonumber(ARGV[2 + 2 * j])
  if mk >= 0 and dk[j] > 0 and hk + dk[j] > mk then
    return redis.error_reply(string.format('weft-quota %d keys %d %d %d', j, hk, hk + dk[j], mk))
  end
  if mb >= 0 and db[j] > 0 and hb + db[j] > mb then
    return redis.error_reply(string.format('weft-quota %d bytes %d %d %d', j, hb, hb + db[j], mb))
  end
end
if mode == 'check' then return {} end
local out = {}
for i = 1, n do
  local a = base + (i - 1) * 4
  local kind, j, p = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 3]
  local key = KEYS[U + i]
  if kind == 's' then
    redis.call('SET', key, p)
  elseif kind == 'd' then
    redis.call('DEL', key)
  else
    redis.call('INCRBY', key, p)
    db[j] = db[j] - est[i] + redis.call('STRLEN', key)
    out[#out + 1] = redis.call('GET', key)
  end
end
for j = 1, U do
  if dk[j] ~= 0 then redis.call('HINCRBY', KEYS[j], 'keys', string.format('%d', dk[j])) end
  if db[j] ~= 0 then redis.call('HINCRBY', KEYS[j], 'bytes', string.format('%d', db[j])) end
end
return out
"#;

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
        Ok(RedisKv {
            conn,
            quotas: Arc::default(),
            counted: Arc::default(),
        })
    }

    /// What plugin `ns` holds: (keys, bytes), as its quota counts them.
    pub async fn usage(&self, ns: &str) -> Result<(u64, u64), KvError> {
        self.ensure_counted(ns).await?;
        let (keys, bytes): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(usage_key(ns))
            .arg("keys")
            .arg("bytes")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok((keys.unwrap_or(0), bytes.unwrap_or(0)))
    }

    /// Makes sure plugin `ns` has a usage hash (counting its keys once if it has none).
    async fn ensure_counted(&self, ns: &str) -> Result<(), KvError> {
        if self
            .counted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(ns)
        {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let usage = usage_key(ns);
        let exists: bool = conn.exists(&usage).await.map_err(backend)?;
        if !exists {
            let prefix = format!("weft:kv2:{}:{ns}:", ns.len());
            let pattern = format!("{}*", redis_glob_escape(&prefix));
            let (mut keys, mut bytes) = (0u64, 0u64);
            let mut cursor = 0u64;
            loop {
                let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(LIST_PAGE)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                for k in found {
                    let Some((bucket, key)) =
                        k.strip_prefix(prefix.as_str()).and_then(split_bucket)
                    else {
                        continue;
                    };
                    let len: usize = conn.strlen(&k).await.map_err(backend)?;
                    keys += 1;
                    bytes += quota_bytes(bucket, key, len);
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            redis::pipe()
                .atomic()
                .hset_nx(&usage, "keys", keys)
                .ignore()
                .hset_nx(&usage, "bytes", bytes)
                .ignore()
                .query_async::<()>(&mut conn)
                .await
                .map_err(backend)?;
        }
        self.counted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ns.to_string());
        Ok(())
    }

    /// Runs [`APPLY`] over `writes`; returns the increments' new values.
    async fn run_script(&self, writes: &[KvWrite], check_only: bool) -> Result<Vec<u64>, KvError> {
        let mut namespaces: Vec<&str> = Vec::new();
        for w in writes {
            if !namespaces.contains(&w.ns()) {
                namespaces.push(w.ns());
            }
        }
        for ns in &namespaces {
            self.ensure_counted(ns).await?;
        }
        let script = redis::Script::new(APPLY);
        let mut inv = script.prepare_invoke();
        for ns in &namespaces {
            inv.key(usage_key(ns));
        }
        inv.arg(namespaces.len())
            .arg(if check_only { "check" } else { "apply" });
        {
            let quotas = self.quotas.read().unwrap_or_else(|p| p.into_inner());
            for ns in &namespaces {
                let q = quotas.get(*ns).copied().unwrap_or_default();
                let limit = |l: Option<u64>| l.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
                inv.arg(limit(q.max_keys)).arg(limit(q.max_bytes));
            }
        }
        for w in writes {
            let j = namespaces.iter().position(|n| *n == w.ns()).unwrap_or(0) + 1;
            match w {
                KvWrite::Set {
                    ns,
                    bucket,
                    key,
                    value,
                } => {
                    check(key, Some(value))?;
                    inv.key(full_key(ns, bucket, key));
                    inv.arg("s")
                        .arg(j)
                        .arg(bucket.len() + key.len())
                        .arg(value.as_slice());
                }
                KvWrite::Delete { ns, bucket, key } => {
                    check(key, None)?;
                    inv.key(full_key(ns, bucket, key));
                    inv.arg("d").arg(j).arg(bucket.len() + key.len()).arg("");
                }
                KvWrite::Increment {
                    ns,
                    bucket,
                    key,
                    delta,
                } => {
                    check(key, None)?;
                    let delta = i64::try_from(*delta)
                        .map_err(|_| KvError::Invalid("increment delta exceeds i64::MAX".into()))?;
                    inv.key(full_key(ns, bucket, key));
                    inv.arg("i").arg(j).arg(bucket.len() + key.len()).arg(delta);
                }
            }
        }
        let out: Result<Vec<String>, redis::RedisError> =
            inv.invoke_async(&mut self.conn.clone()).await;
        match out {
            Ok(values) => values
                .iter()
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| KvError::Invalid(format!("counter value `{v}` is negative")))
                })
                .collect(),
            Err(e) => Err(script_error(&e, writes, &namespaces)),
        }
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
        self.run_script(
            &[KvWrite::Set {
                ns: ns.into(),
                bucket: bucket.into(),
                key: key.into(),
                value,
            }],
            false,
        )
        .await
        .map(|_| ())
    }

    async fn delete(&self, ns: &str, bucket: &str, key: &str) -> Result<(), KvError> {
        self.run_script(
            &[KvWrite::Delete {
                ns: ns.into(),
                bucket: bucket.into(),
                key: key.into(),
            }],
            false,
        )
        .await
        .map(|_| ())
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
        let values = self
            .run_script(
                &[KvWrite::Increment {
                    ns: ns.into(),
                    bucket: bucket.into(),
                    key: key.into(),
                    delta,
                }],
                false,
            )
            .await?;
        values
            .first()
            .copied()
            .ok_or_else(|| KvError::Backend("the increment returned no value".into()))
    }

    /// One Lua script: other clients see all of the writes or none, and a plugin going over
    /// its quota (or an increment of a key that holds text) writes nothing.
    async fn apply(&self, writes: Vec<KvWrite>) -> Result<(), KvError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.run_script(&writes, false).await.map(|_| ())
    }

    fn set_quota(&self, ns: &str, quota: KvQuota) {
        let mut quotas = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        if quota.is_unlimited() {
            quotas.remove(ns);
        } else {
            quotas.insert(ns.to_string(), quota);
        }
    }

    async fn check_quota(&self, writes: &[KvWrite]) -> Result<(), KvError> {
        let any = {
            let quotas = self.quotas.read().unwrap_or_else(|p| p.into_inner());
            writes.iter().any(|w| quotas.contains_key(w.ns()))
        };
        if !any {
            return Ok(());
        }
        self.run_script(writes, true).await.map(|_| ())
    }
}

/// `{blen}:{bucket}:{key}` → (bucket, key).
fn split_bucket(rest: &str) -> Option<(&str, &str)> {
    let (len, tail) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let bucket = tail.get(..len)?;
    let key = tail.get(len..)?.strip_prefix(':')?;
    Some((bucket, key))
}

/// The script's refusals as [`KvError`]s.
fn script_error(e: &redis::RedisError, writes: &[KvWrite], namespaces: &[&str]) -> KvError {
    let text = e.to_string();
    // the script's error is `"weft-quota": 1 keys 2 3 2` (code, then detail)
    let cleaned: String = text.chars().filter(|c| !matches!(c, '"' | ':')).collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .skip_while(|w| !w.starts_with("weft-"))
        .collect();
    match words.as_slice() {
        ["weft-quota", j, unit, holds, would, limit, ..] => {
            let n = |s: &str| {
                s.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap_or(0)
            };
            let ns = j
                .parse::<usize>()
                .ok()
                .and_then(|j| namespaces.get(j.wrapping_sub(1)))
                .copied()
                .unwrap_or_default();
            let bytes = *unit == "bytes";
            KvError::Quota {
                plugin: ns.to_string(),
                quota: if bytes { "kv_max_bytes" } else { "kv_max_keys" },
                unit: if bytes { "bytes" } else { "keys" },
                limit: n(limit),
                holds: n(holds),
                would: n(would),
            }
        }
        ["weft-notcounter", i, ..] => {
            let key = i
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse::<usize>()
                .ok()
                .and_then(|i| writes.get(i.wrapping_sub(1)))
                .map(|w| match w {
                    KvWrite::Set { key, .. }
                    | KvWrite::Delete { key, .. }
                    | KvWrite::Increment { key, .. } => key.clone(),
                })
                .unwrap_or_default();
            KvError::Invalid(format!("value of `{key}` is not a decimal counter"))
        }
        _ => KvError::Backend(text),
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
