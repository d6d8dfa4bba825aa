//! The sandbox: limits (CPU, memory, traps, sizes) and grants (HTTP, KV, config), tested
//! in-process on the real wasmtime runtime with the `probe` test plugin.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use weft_event::Event;
use weft_kv_embedded::EmbeddedKv;
use weft_runtime::kv::KvBackend;
use weft_runtime::{EngineOptions, InstanceMode, InvokeError, LoadedPlugin, PluginSpec, Runtime};

struct Setup {
    runtime: Runtime,
    kv: Arc<dyn KvBackend>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    let runtime = Runtime::new(&EngineOptions::default()).unwrap();
    Setup {
        runtime,
        kv,
        _dir: dir,
    }
}

fn probe(s: &Setup, name: &str, edit: impl FnOnce(&mut PluginSpec)) -> LoadedPlugin {
    let mut spec = PluginSpec::new(support::plugin_wasm("weft-test-probe"));
    edit(&mut spec);
    s.runtime
        .load(name, &spec, std::path::Path::new("/"), s.kv.clone())
        .unwrap()
}

fn event(ty: &str, data: serde_json::Value) -> Event {
    let mut e = Event::new("e-1", "/test", ty);
    e.datacontenttype = Some("application/json".into());
    e.data = Some(data.to_string().into_bytes());
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_stopped_within_its_cpu_limit_and_others_carry_on() {
    let s = setup();
    let plugin = probe(&s, "probe", |p| p.limits.cpu_ms = 100);
    let started = Instant::now();
    let err = plugin.invoke(&event("loop", json!({}))).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, InvokeError::CpuLimit { limit_ms: 100 });
    assert!(
        took >= Duration::from_millis(90),
        "stopped too early: {took:?}"
    );
    // generous: only a limit that is not enforced at all fails this (speed is benchmarked)
    assert!(
        took < Duration::from_secs(10),
        "a 100 ms CPU limit took {took:?} to stop the loop"
    );
    // the same plugin still serves other events
    let out = plugin
        .invoke(&event("echo", json!({"ok": true})))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
}

/// On a single-threaded runtime, a plugin spinning in a loop must yield (the epoch
/// callback) so another event's call runs to completion while the loop is still going.
#[tokio::test(flavor = "current_thread")]
async fn loops_in_parallel_do_not_block_each_other() {
    let s = setup();
    let plugin = Arc::new(probe(&s, "probe", |p| p.limits.cpu_ms = 3_000));
    let looping = {
        let p = plugin.clone();
        tokio::spawn(async move { p.invoke(&event("loop", json!({}))).await })
    };
    let echo = {
        let p = plugin.clone();
        tokio::spawn(async move { p.invoke(&event("echo", json!({}))).await })
    };
    let echoed = echo.await.unwrap().unwrap();
    assert_eq!(echoed.len(), 1);
    assert!(
        !looping.is_finished(),
        "the echo only ran after the loop ended: the loop never yielded"
    );
    assert!(matches!(
        looping.await.unwrap(),
        Err(InvokeError::CpuLimit { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_past_the_memory_limit_fails_that_event_only() {
    let s = setup();
    let plugin = probe(&s, "probe", |p| p.limits.memory_mib = 16);
    let err = plugin.invoke(&event("alloc", json!({}))).await.unwrap_err();
    assert_eq!(err, InvokeError::MemoryLimit { limit_mib: 16 });
    assert!(err.to_string().contains("memory limit of 16 MiB"));
    assert_eq!(
        plugin
            .invoke(&event("echo", json!({})))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_the_event_with_the_reason_and_warm_instances_are_not_reused() {
    let s = setup();
    for mode in [InstanceMode::Isolated, InstanceMode::Warm] {
        let plugin = probe(&s, "probe", |p| p.mode = mode);
        let err = plugin.invoke(&event("trap", json!({}))).await.unwrap_err();
        match &err {
            InvokeError::Trap(msg) => assert!(
                msg.contains("unreachable") || msg.contains("wasm trap"),
                "{msg}"
            ),
            other => panic!("expected a trap, got {other:?}"),
        }
        assert!(err.is_transient());
        assert_eq!(
            plugin
                .invoke(&event("echo", json!({})))
                .await
                .unwrap()
                .len(),
            1,
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_limits_in_and_out() {
    let s = setup();
    let plugin = probe(&s, "probe", |p| {
        p.limits.max_input_bytes = 1000;
        p.limits.max_output_events = 5;
    });
    let big = event("echo", json!({"x": "a".repeat(2000)}));
    assert!(matches!(
        plugin.invoke(&big).await,
        Err(InvokeError::InputTooLarge { limit: 1000, .. })
    ));
    assert_eq!(
        plugin
            .invoke(&event("many", json!({"n": 5})))
            .await
            .unwrap()
            .len(),
        5
    );
    let err = plugin
        .invoke(&event("many", json!({"n": 6})))
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::OutputTooLarge(_)), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_failures_keep_their_kind() {
    let s = setup();
    let plugin = probe(&s, "probe", |_| {});
    assert_eq!(
        plugin.invoke(&event("retry", json!({}))).await,
        Err(InvokeError::Retry("probe asked to retry".into()))
    );
    assert_eq!(
        plugin.invoke(&event("reject", json!({}))).await,
        Err(InvokeError::Reject("probe asked to reject".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_only_to_granted_hosts() {
    let (granted, granted_hits) = support::serve_http(200, r#"{"pong":true}"#);
    let (other, other_hits) = support::serve_http(200, r#"{"pong":true}"#);
    let s = setup();
    let plugin = probe(&s, "probe", |p| {
        p.allow_http = vec![format!("http://127.0.0.1:{}", granted.port())]
    });
    let out = plugin
        .invoke(&event(
            "http",
            json!({"url": format!("http://127.0.0.1:{}/ping", granted.port())}),
        ))
        .await
        .unwrap();
    let data: serde_json::Value = serde_json::from_slice(out[0].data.as_ref().unwrap()).unwrap();
    assert_eq!(data["status"], 200);
    assert_eq!(data["body"], r#"{"pong":true}"#);
    assert_eq!(granted_hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    let err = plugin
        .invoke(&event(
            "http",
            json!({"url": format!("http://127.0.0.1:{}/ping", other.port())}),
        ))
        .await
        .unwrap_err();
    match err {
        InvokeError::Reject(msg) => assert!(msg.contains("HttpRequestDenied"), "{msg}"),
        other => panic!("expected the plugin to see a refusal, got {other:?}"),
    }
    assert_eq!(
        other_hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "an ungranted host was contacted"
    );

    // no grant at all: nothing is reachable
    let denied = probe(&s, "probe2", |_| {});
    assert!(
        denied
            .invoke(&event(
                "http",
                json!({"url": format!("http://127.0.0.1:{}/ping", granted.port())})
            ))
            .await
            .is_err()
    );
    assert_eq!(granted_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_keys_of_one_plugin_are_invisible_to_another() {
    let s = setup();
    let a = probe(&s, "plugin-a", |_| {});
    let b = probe(&s, "plugin-b", |_| {});
    a.invoke(&event(
        "kv-set",
        json!({"key": "secret", "value": "from-a"}),
    ))
    .await
    .unwrap();
    let get = event("kv-get", json!({"key": "secret"}));
    let seen_by_a = a.invoke(&get).await.unwrap();
    let seen_by_b = b.invoke(&get).await.unwrap();
    let value = |e: &Vec<Event>| {
        serde_json::from_slice::<serde_json::Value>(e[0].data.as_ref().unwrap()).unwrap()["value"]
            .clone()
    };
    assert_eq!(value(&seen_by_a), "from-a");
    assert_eq!(value(&seen_by_b), serde_json::Value::Null);
    // and the host stores it under plugin-a's namespace only
    assert_eq!(
        s.kv.get("plugin-a", "default", "secret").await.unwrap(),
        Some(b"from-a".to_vec())
    );
    assert_eq!(
        s.kv.get("plugin-b", "default", "secret").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_only_the_plugins_own_keys() {
    let s = setup();
    let a = probe(&s, "a", |p| {
        p.config.insert("region".into(), "eu".into());
    });
    let b = probe(&s, "b", |p| {
        p.config.insert("token".into(), "b-secret".into());
    });
    let out = a.invoke(&event("config", json!({}))).await.unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(out[0].data.as_ref().unwrap()).unwrap();
    assert_eq!(cfg, json!({"region": "eu"}));
    let out = b.invoke(&event("config", json!({}))).await.unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(out[0].data.as_ref().unwrap()).unwrap();
    assert_eq!(cfg, json!({"token": "b-secret"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_plugin_is_refused_clearly() {
    let s = setup();
    let err = s
        .runtime
        .load_bytes(
            "junk",
            &PluginSpec::new("junk.wasm"),
            b"not wasm",
            s.kv.clone(),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("junk") && msg.contains("not a valid WebAssembly component"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_plugins_are_cached_on_disk_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    let spec = PluginSpec::new(support::plugin_wasm("weft-test-probe"));
    let files = |p: &std::path::Path| -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut found = Vec::new();
        compiled_artifacts(p, &mut found);
        found.sort();
        found
    };
    {
        let runtime = Runtime::new(&EngineOptions {
            cache_dir: Some(cache.clone()),
            ..Default::default()
        })
        .unwrap();
        runtime
            .load("probe", &spec, std::path::Path::new("/"), kv.clone())
            .unwrap();
    }
    let after_first = poll_files(&cache, files);
    assert!(
        !after_first.is_empty(),
        "nothing was written to the compilation cache"
    );
    // a second runtime (a restart) loads from the cache: no new entries
    let runtime = Runtime::new(&EngineOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load("probe", &spec, std::path::Path::new("/"), kv)
        .unwrap();
    assert_eq!(
        plugin
            .invoke(&event("echo", json!({})))
            .await
            .unwrap()
            .len(),
        1
    );
    // same artifacts, none rewritten
    assert_eq!(files(&cache), after_first, "the restart compiled again");
}

/// Compiled artifacts under `dir` with their modification times. The cache worker also
/// writes usage statistics (`.stats`, on every hit too) through `.wip-atomic-write-*`
/// temporaries, in the background: those are not counted.
fn compiled_artifacts(
    dir: &std::path::Path,
    found: &mut Vec<(std::path::PathBuf, std::time::SystemTime)>,
) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let extension = path.extension().and_then(|x| x.to_str());
        if path.is_dir() {
            compiled_artifacts(&path, found);
        } else if !extension.is_some_and(|x| x == "stats" || x.starts_with("wip-")) {
            let modified = entry.metadata().and_then(|m| m.modified()).unwrap();
            found.push((path, modified));
        }
    }
}

/// The cache is written by a background worker: wait until it has files and they stopped
/// changing.
fn poll_files<T: PartialEq>(
    cache: &std::path::Path,
    files: impl Fn(&std::path::Path) -> Vec<T>,
) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = files(cache);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let found = files(cache);
        if (!found.is_empty() && found == last) || Instant::now() > deadline {
            return found;
        }
        last = found;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_the_host_past_the_wall_limit_fails_that_event_only() {
    // a granted server that accepts the connection and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let s = setup();
    let plugin = probe(&s, "waiter", |p| {
        p.allow_http = vec![format!("http://127.0.0.1:{port}")];
        p.limits.wall_ms = 300;
    });
    let started = std::time::Instant::now();
    let err = plugin
        .invoke(&event(
            "http",
            json!({"url": format!("http://127.0.0.1:{port}/slow")}),
        ))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, InvokeError::WallLimit { limit_ms: 300 }, "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "stopped after {took:?}"
    );
    // the same plugin still handles the next event
    let out = plugin
        .invoke(&event("echo", json!({"n": 1})))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
}

/// A granted *name* that resolves to loopback is refused (the plugin sees
/// `DestinationIpProhibited`, the server is never contacted) unless the plugin has
/// `allow_private = true`; a grant naming the IP itself stays allowed (above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_names_resolving_to_internal_addresses_are_refused() {
    let (server, hits) = support::serve_http(200, r#"{"pong":true}"#);
    let s = setup();
    let grant = vec![format!("http://localhost:{}", server.port())];
    let url = json!({"url": format!("http://localhost:{}/ping", server.port())});
    let plugin = probe(&s, "probe", |p| p.allow_http = grant.clone());
    let err = plugin
        .invoke(&event("http", url.clone()))
        .await
        .unwrap_err();
    match err {
        InvokeError::Reject(msg) => {
            assert!(msg.contains("DestinationIpProhibited"), "{msg}")
        }
        other => panic!("expected the plugin to see a refusal, got {other:?}"),
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a name resolving to 127.0.0.1 was contacted"
    );
    let private = probe(&s, "probe-private", |p| {
        p.allow_http = grant.clone();
        p.allow_private = true;
    });
    let out = private.invoke(&event("http", url)).await.unwrap();
    let data: serde_json::Value = serde_json::from_slice(out[0].data.as_ref().unwrap()).unwrap();
    assert_eq!(data["status"], 200, "{data}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}
