//! Both subscription stores keep the same contract: create refuses an existing id, replace
//! refuses a missing one (a delete on another replica is not undone), delete says whether
//! something was there; the local file remembers which subscriptions were started.

use weft_subscriptions::store::{EmbeddedStore, LocalFile, RedisStore, SubscriptionStore};
use weft_subscriptions::{Defaults, Record};

fn record(id: &str, topic: &str) -> Record {
    let mut r = weft_subscriptions::model::parse_request(
        &serde_json::json!({"protocol": "HTTP", "sink": "https://partner.example/hook", "config": {"topic": topic}}),
        &Defaults {
            max_elapsed_ms: 60_000,
        },
    )
    .unwrap()
    .record;
    r.id = id.to_string();
    r.revision = 1;
    r.secret = weft_subscriptions::model::new_secret();
    r.owner = "test".into();
    r
}

async fn contract(store: &dyn SubscriptionStore) {
    assert!(store.list().await.unwrap().is_empty());
    let a = record("a", "orders");
    assert!(store.create(&a).await.unwrap());
    assert!(
        !store.create(&a).await.unwrap(),
        "create must not overwrite"
    );
    assert_eq!(store.get("a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("missing").await.unwrap(), None);
    let mut a2 = a.clone();
    a2.revision = 2;
    a2.paused = true;
    assert!(store.replace(&a2).await.unwrap());
    assert_eq!(store.get("a").await.unwrap(), Some(a2.clone()));
    assert!(
        !store.replace(&record("b", "x")).await.unwrap(),
        "replace must not create"
    );
    assert_eq!(store.get("b").await.unwrap(), None);
    assert!(store.create(&record("b", "audit")).await.unwrap());
    let mut ids: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    assert!(store.delete("a").await.unwrap());
    assert!(!store.delete("a").await.unwrap());
    assert!(
        !store.replace(&a2).await.unwrap(),
        "a deleted subscription stays deleted"
    );
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_embedded_store_keeps_the_contract_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subscriptions.redb");
    {
        let file = LocalFile::open(&path).unwrap();
        contract(&EmbeddedStore::new(file.clone())).await;
        file.set_started("b", Some("audit")).await.unwrap();
        file.set_started("gone", Some("orders")).await.unwrap();
        file.set_started("gone", None).await.unwrap();
    }
    let file = LocalFile::open(&path).unwrap();
    let store = EmbeddedStore::new(file.clone());
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert_eq!(file.started("b").await.unwrap().as_deref(), Some("audit"));
    assert_eq!(file.started("gone").await.unwrap(), None);
    assert_eq!(
        file.all_started().await.unwrap(),
        [("b".to_string(), "audit".to_string())]
    );
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let url = "redis://127.0.0.1:6379";
    let store = match RedisStore::connect(url, "probe").await {
        Ok(s) => s,
        Err(e) => {
            assert!(
                std::env::var_os("WEFT_SKIP_BROKERS").is_some(),
                "Redis is not reachable at {url}: {e} (set WEFT_SKIP_BROKERS=1 to skip)"
            );
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    drop(store);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("weft-store-test-{nanos}");
    let store = RedisStore::connect(url, &prefix).await.unwrap();
    contract(&store).await;
    assert!(
        store
            .describe()
            .contains(&format!("{prefix}:subscriptions"))
    );
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:subscriptions"))
        .query_async(&mut conn)
        .await
        .unwrap();
}
