//! KV quotas and usage on a real Redis (127.0.0.1:6379; skipped with a note when it is not
//! running). Each test uses its own plugin name.

use weft_kv::{KvBackend, KvQuota, KvWrite};
use weft_kv_redis::{RedisKv, full_key, usage_key};

async fn connect() -> Option<RedisKv> {
    match RedisKv::connect("redis://127.0.0.1:6379").await {
        Ok(kv) => Some(kv),
        Err(e) => {
            if std::env::var_os("WEFT_REQUIRE_TOOLS").is_some() {
                panic!("Redis is required: {e}");
            }
            eprintln!("SKIPPED: no Redis at 127.0.0.1:6379: {e}");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

fn set(ns: &str, key: &str, value: &[u8]) -> KvWrite {
    KvWrite::Set {
        ns: ns.into(),
        bucket: "b".into(),
        key: key.into(),
        value: value.to_vec(),
    }
}

async fn cleanup(ns: &str) {
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("weft:kv2:{}:{ns}:*", ns.len()))
        .query_async(&mut conn)
        .await
        .unwrap();
    for k in keys.into_iter().chain([usage_key(ns)]) {
        let _: () = redis::cmd("DEL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn quotas_refuse_growth_atomically_and_count_usage() {
    let Some(kv) = connect().await else { return };
    let ns = unique("quota");
    kv.set_quota(
        &ns,
        KvQuota {
            max_keys: Some(2),
            max_bytes: Some(20),
        },
    );
    kv.apply(vec![set(&ns, "a", b"1234"), set(&ns, "b", b"1")])
        .await
        .unwrap();
    assert_eq!(kv.usage(&ns).await.unwrap(), (2, 9));
    let err = kv
        .apply(vec![set(&ns, "a", b"x"), set(&ns, "c", b"1")])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "plugin `{ns}` would hold 3 keys with this event's writes, over its quota kv_max_keys = 2 (it holds 2)"
        )
    );
    assert!(matches!(err, weft_kv::KvError::Quota { .. }));
    // nothing of the refused transaction was written
    assert_eq!(kv.get(&ns, "b", "a").await.unwrap(), Some(b"1234".to_vec()));
    assert!(!kv.exists(&ns, "b", "c").await.unwrap());
    assert!(kv.check_quota(&[set(&ns, "c", b"1")]).await.is_err());
    let err = kv
        .set(&ns, "b", "a", b"1234567890123456789".to_vec())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("kv_max_bytes = 20"), "{err}");
    assert!(err.to_string().contains("would hold 24 bytes"), "{err}");
    kv.delete(&ns, "b", "b").await.unwrap();
    assert_eq!(kv.usage(&ns).await.unwrap(), (1, 6));
    assert_eq!(kv.increment(&ns, "b", "n", 41).await.unwrap(), 41);
    assert_eq!(kv.increment(&ns, "b", "n", 59).await.unwrap(), 100);
    assert_eq!(kv.usage(&ns).await.unwrap(), (2, 11));
    cleanup(&ns).await;
}

#[tokio::test]
async fn usage_of_state_written_before_quotas_is_counted_once() {
    let Some(kv) = connect().await else { return };
    let ns = unique("legacy");
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for (bucket, key, value) in [("b", "k1", "12"), ("c:d", "k:2", "")] {
        let _: () = redis::cmd("SET")
            .arg(full_key(&ns, bucket, key))
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(kv.usage(&ns).await.unwrap(), (2, (1 + 2 + 2) + (3 + 3)));
    kv.set_quota(
        &ns,
        KvQuota {
            max_keys: Some(2),
            max_bytes: None,
        },
    );
    assert!(kv.set(&ns, "b", "k3", b"v".to_vec()).await.is_err());
    kv.set(&ns, "b", "k1", b"v".to_vec()).await.unwrap();
    assert_eq!(kv.usage(&ns).await.unwrap(), (2, (1 + 2 + 1) + (3 + 3)));
    cleanup(&ns).await;
}
