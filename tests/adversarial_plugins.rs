//! Adversarial plugins: the `hostile` test plugin (tests/plugins/hostile) tries each way
//! past the sandbox's bounds — handle exhaustion, huge header fields, request floods,
//! requests left pending across events, huge failure messages and log lines, copy bombs,
//! fan-out bombs along a chain, a granted name resolving to 127.0.0.1, slow hosts — and
//! each attempt must fail that event only. The in-process tests pin each bound on the real
//! runtime; the last test runs them all against a real `weft run` and reports the hub's
//! resident memory (VmRSS / VmHWM of the weft process).
//!
//! The compilation cache's integrity checks are tested here too: a swapped, tampered or
//! foreign-writable artifact is never loaded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use weft_event::Event;
use weft_kv_embedded::EmbeddedKv;
use weft_runtime::cache::{CacheOutcome, CompileCache, KEY_FILE};
use weft_runtime::kv::KvBackend;
use weft_runtime::{EngineOptions, InstanceMode, InvokeError, LoadedPlugin, PluginSpec, Runtime};

use support::{Hub, http, poll, post_event};

struct Setup {
    runtime: Runtime,
    kv: Arc<dyn KvBackend>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    Setup {
        runtime: Runtime::new(&EngineOptions::default()).unwrap(),
        kv,
        _dir: dir,
    }
}

fn hostile(s: &Setup, edit: impl FnOnce(&mut PluginSpec)) -> LoadedPlugin {
    let mut spec = PluginSpec::new(support::plugin_wasm("weft-test-hostile"));
    edit(&mut spec);
    s.runtime
        .load("hostile", &spec, Path::new("/"), s.kv.clone())
        .unwrap()
}

fn event(ty: &str, data: Value) -> Event {
    let mut e = Event::new("e-1", "/test", ty);
    e.datacontenttype = Some("application/json".into());
    e.data = Some(data.to_string().into_bytes());
    e
}

fn data(out: &[Event]) -> Value {
    serde_json::from_slice(out[0].data.as_ref().unwrap()).unwrap()
}

async fn echo_works(plugin: &LoadedPlugin) {
    let out = plugin.invoke(&event("echo", json!({}))).await.unwrap();
    assert_eq!(out.len(), 1, "the plugin no longer serves events");
}

/// A server that holds every request for `hold`, then answers 200; counts the most
/// connections open at once.
fn holding_server(hold: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let most_seen = most.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (open, most) = (open.clone(), most.clone());
            std::thread::spawn(move || {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                std::thread::sleep(hold);
                let mut stream = stream;
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
                drop(stream);
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, most_seen)
}

/// A server that accepts connections and never answers; counts connections accepted and
/// connections the client closed.
fn silent_server() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (a, c) = (accepted.clone(), closed.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, accepted, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_exhaustion_fails_that_event_only() {
    let s = setup();
    for mode in [InstanceMode::Isolated, InstanceMode::Warm] {
        let plugin = hostile(&s, |p| {
            p.mode = mode;
            p.limits.max_handles = 200;
        });
        // within the cap
        let out = plugin
            .invoke(&event("handles", json!({"n": 50, "value_bytes": 64})))
            .await
            .unwrap();
        assert_eq!(data(&out)["created"], 50);
        // 1,000 header-field handles of 1 KiB each: host memory outside the linear memory
        let err = plugin
            .invoke(&event("handles", json!({"n": 1000, "value_bytes": 1024})))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            InvokeError::HandleLimit { limit: 200 },
            "{mode:?}: {err}"
        );
        assert!(err.to_string().contains("max_handles"), "{err}");
        echo_works(&plugin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_header_fields_are_bounded() {
    let s = setup();
    let plugin = hostile(&s, |p| p.limits.max_header_bytes = 32 * 1024);
    // a header of 1 KiB is fine
    plugin
        .invoke(&event("big-header", json!({"bytes": 1024})))
        .await
        .unwrap();
    // one of 64 KiB is refused (wasmtime's own default would take up to 128 KiB)
    let err = plugin
        .invoke(&event("big-header", json!({"bytes": 64 * 1024})))
        .await
        .unwrap_err();
    match &err {
        InvokeError::Trap(msg) => assert!(msg.contains("max_header_bytes"), "{msg}"),
        other => panic!("expected the header limit, got {other:?}"),
    }
    echo_works(&plugin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_an_instance_are_capped() {
    let (server, most) = holding_server(Duration::from_millis(300));
    let s = setup();
    let plugin = hostile(&s, |p| {
        p.allow_http = vec![format!("http://127.0.0.1:{}", server.port())];
        p.limits.max_http_requests = 4;
    });
    let out = plugin
        .invoke(&event(
            "flood",
            json!({"url": format!("http://127.0.0.1:{}/x", server.port()), "n": 20}),
        ))
        .await
        .unwrap();
    let counts = data(&out);
    assert_eq!(counts["ok"], 4, "{counts}");
    assert_eq!(counts["limited"], 16, "{counts}");
    assert!(
        most.load(Ordering::SeqCst) <= 4,
        "the server saw {} requests at once",
        most.load(Ordering::SeqCst)
    );
    echo_works(&plugin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_keeps_no_pending_request_across_events() {
    let (server, accepted, closed) = silent_server();
    let s = setup();
    let plugin = hostile(&s, |p| {
        p.mode = InstanceMode::Warm;
        p.allow_http = vec![format!("http://127.0.0.1:{}", server.port())];
    });
    let leave = event(
        "leave-pending",
        json!({"url": format!("http://127.0.0.1:{}/never", server.port())}),
    );
    for round in 0..3 {
        let out = plugin.invoke(&leave).await.unwrap();
        assert_eq!(
            data(&out)["kept_from_before"],
            false,
            "round {round}: the instance still held an earlier event's pending request"
        );
    }
    // every connection a left-behind request opened is closed by the host, long before
    // the 10 s response timeout would have ended it
    let all_closed = poll(Duration::from_secs(5), || {
        (closed.load(Ordering::SeqCst) == accepted.load(Ordering::SeqCst)).then_some(())
    });
    assert!(
        all_closed.is_some(),
        "{} of {} connections of dropped requests stayed open",
        accepted.load(Ordering::SeqCst) - closed.load(Ordering::SeqCst),
        accepted.load(Ordering::SeqCst)
    );
    echo_works(&plugin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_failure_messages_are_cut_and_escaped() {
    let s = setup();
    let plugin = hostile(&s, |_| {});
    let err = plugin
        .invoke(&event("fail-huge", json!({"bytes": 1024 * 1024})))
        .await
        .unwrap_err();
    let InvokeError::Reject(msg) = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert!(
        msg.len() <= 4096 + 64,
        "a failure message of {} bytes",
        msg.len()
    );
    assert!(
        !msg.chars().any(char::is_control),
        "raw control characters in {msg:?}"
    );
    assert!(msg.contains("\\n2026-01-01T00:00:00Z"), "{}", &msg[..200]);
    assert!(msg.contains("…(truncated "), "{}", &msg[msg.len() - 60..]);
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_limit_stops_a_huge_output_before_it_is_copied() {
    let s = setup();
    let plugin = hostile(&s, |p| {
        p.limits.memory_mib = 128;
        p.limits.max_output_bytes = 1024 * 1024;
    });
    // just under max_output_bytes: passes
    let out = plugin
        .invoke(&event("copy-bomb", json!({"bytes": 1024 * 1024 - 1024})))
        .await
        .unwrap();
    assert_eq!(out[0].data.as_ref().unwrap().len(), 1024 * 1024 - 1024);
    // 40 MiB: refused while lifting, before the host allocates it (wasmtime's default
    // would copy up to 128 MiB per call and weft would refuse it only afterwards)
    let err = plugin
        .invoke(&event("copy-bomb", json!({"bytes": 40 * 1024 * 1024})))
        .await
        .unwrap_err();
    match &err {
        InvokeError::OutputTooLarge(msg) => assert!(msg.contains("copy limit"), "{msg}"),
        other => panic!("expected the copy limit, got {other:?}"),
    }
    assert!(!err.is_transient());
    echo_works(&plugin).await;
}

/// Compiles `wasm` into the cache at `dir` with a fresh runtime; returns the artifact path.
fn cache_one(dir: &Path, wasm: &[u8]) -> (std::path::PathBuf, CacheOutcome) {
    let runtime = Runtime::new(&EngineOptions::default()).unwrap();
    let cache = CompileCache::open(dir, runtime.engine()).unwrap().unwrap();
    let (_, outcome) = cache.load_or_compile(runtime.engine(), wasm).unwrap();
    (cache.artifact_path(wasm), outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_or_tampered_cache_artifact_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let probe = std::fs::read(support::plugin_wasm("weft-test-probe")).unwrap();
    let other = std::fs::read(support::plugin_wasm("weft-test-hostile")).unwrap();
    let (probe_path, first) = cache_one(&cache, &probe);
    assert_eq!(first, CacheOutcome::Stored);
    assert_eq!(cache_one(&cache, &probe).1, CacheOutcome::Hit);
    let (other_path, _) = cache_one(&cache, &other);
    // someone who can write the cache directory puts another component's native code
    // (tag and all) where the probe's artifact is
    std::fs::copy(&other_path, &probe_path).unwrap();
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    let runtime = Runtime::new(&EngineOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load(
            "probe",
            &PluginSpec::new(support::plugin_wasm("weft-test-probe")),
            Path::new("/"),
            kv,
        )
        .unwrap();
    // the probe's own code runs (the hostile plugin rejects `config` as unknown)
    let out = plugin.invoke(&event("config", json!({}))).await.unwrap();
    assert_eq!(data(&out), json!({}));
    assert_ne!(
        std::fs::read(&probe_path).unwrap(),
        std::fs::read(&other_path).unwrap(),
        "the swapped artifact was kept"
    );
    // a flipped byte in the code is caught the same way
    let mut bytes = std::fs::read(&probe_path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&probe_path, &bytes).unwrap();
    assert_eq!(cache_one(&cache, &probe).1, CacheOutcome::Replaced);
    assert_eq!(cache_one(&cache, &probe).1, CacheOutcome::Hit);
}

#[cfg(unix)]
#[test]
fn cache_files_others_can_write_and_a_key_others_can_read_are_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let probe = std::fs::read(support::plugin_wasm("weft-test-probe")).unwrap();
    let (path, _) = cache_one(&cache, &probe);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&cache.join(KEY_FILE)), 0o600);
    assert_eq!(mode(&cache), 0o700);
    // an artifact anyone may write is not loaded: compiled again and replaced, private
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(cache_one(&cache, &probe).1, CacheOutcome::Replaced);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(cache_one(&cache, &probe).1, CacheOutcome::Hit);
    // a key others can read is no key: the cache is not used at all
    std::fs::set_permissions(cache.join(KEY_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    let runtime = Runtime::new(&EngineOptions::default()).unwrap();
    assert!(
        CompileCache::open(&cache, runtime.engine())
            .unwrap()
            .is_none()
    );
    // and a runtime with that cache still loads plugins (compiling them)
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    Runtime::new(&EngineOptions {
        cache_dir: Some(cache),
        ..Default::default()
    })
    .unwrap()
    .load(
        "probe",
        &PluginSpec::new(support::plugin_wasm("weft-test-probe")),
        Path::new("/"),
        kv,
    )
    .unwrap();
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
fn resident_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn ev(id: &str, ty: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/adversary", "type": ty,
           "datacontenttype": "application/json", "data": data})
}

/// Every escape attempt against a running hub: each fails its own event (dead-lettered
/// with a bounded reason naming the bound), good events keep flowing, the hub stays
/// healthy, its log has no forged lines, and its resident memory stays bounded.
#[test]
fn the_hub_survives_every_escape_attempt_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let (held, _) = holding_server(Duration::from_millis(200));
    let (silent, _, _) = silent_server();
    let (local, local_hits) = support::serve_http(200, "{}");
    let wasm = support::plugin_wasm("weft-test-hostile");
    let grants = format!(
        r#"["http://127.0.0.1:{}", "http://127.0.0.1:{}", "http://localhost:{}"]"#,
        held.port(),
        silent.port(),
        local.port()
    );
    let config = format!(
        r#"
[hub]
listen = "{addr}"
data_dir = "data"
dead_letter = "dead"

[plugins.hostile]
path = "{wasm}"
allow_http = {grants}
limits = {{ memory_mib = 64, wall_ms = 1500, max_output_bytes = 1048576, max_handles = 500, max_http_requests = 4 }}

[plugins.hostile_warm]
path = "{wasm}"
mode = "warm"
allow_http = {grants}
limits = {{ memory_mib = 64, wall_ms = 1500, max_output_bytes = 1048576, max_handles = 500, max_http_requests = 4 }}

[sinks.out]
type = "file"
path = "out.jsonl"

[sinks.dead]
type = "file"
path = "dead.jsonl"

[[routes]]
name = "single"
from = ["topic:in"]
plugins = ["hostile"]
to = ["out"]
retry = {{ attempts = 1 }}

[[routes]]
name = "warm"
from = ["topic:warm"]
plugins = ["hostile_warm"]
to = ["out"]
retry = {{ attempts = 1 }}

[[routes]]
name = "chain"
from = ["topic:chain"]
plugins = ["hostile", "hostile", "hostile"]
to = ["out"]
retry = {{ attempts = 1 }}
max_fanout = 1000
"#,
        wasm = wasm.display()
    );
    std::fs::write(dir.path().join("weft.toml"), config).unwrap();
    let hub = Hub::start(dir.path(), addr);
    let pid = hub.child.id();
    let (rss_start, _) = resident_kib(pid);

    // (id, topic, type, data, what the dead-letter reason must say; None: delivered)
    let attacks: Vec<(&str, &str, &str, Value, Option<&str>)> = vec![
        (
            "handles",
            "in",
            "handles",
            json!({"n": 5000, "value_bytes": 4096}),
            Some("max_handles"),
        ),
        (
            "big-header",
            "in",
            "big-header",
            json!({"bytes": 256 * 1024}),
            Some("max_header_bytes"),
        ),
        (
            "fail-huge",
            "in",
            "fail-huge",
            json!({"bytes": 1024 * 1024}),
            Some("…(truncated "),
        ),
        (
            "copy-bomb",
            "in",
            "copy-bomb",
            json!({"bytes": 32 * 1024 * 1024}),
            Some("copy limit"),
        ),
        (
            "loopback-name",
            "in",
            "http",
            json!({"url": format!("http://localhost:{}/", local.port())}),
            Some("DestinationIpProhibited"),
        ),
        (
            "slow-host",
            "in",
            "http",
            json!({"url": format!("http://127.0.0.1:{}/", silent.port())}),
            Some("wall-clock limit"),
        ),
        (
            "fanout-bomb",
            "chain",
            "fanout",
            json!({"n": 20}),
            Some("max_fanout"),
        ),
        (
            "log-forge",
            "in",
            "log-huge",
            json!({"bytes": 1024 * 1024}),
            None,
        ),
        (
            "flood",
            "warm",
            "flood",
            json!({"url": format!("http://127.0.0.1:{}/", held.port()), "n": 40}),
            None,
        ),
        (
            "pending",
            "warm",
            "leave-pending",
            json!({"url": format!("http://127.0.0.1:{}/", silent.port())}),
            None,
        ),
    ];
    let rounds = 3;
    let mut good = 0;
    let mut rss_per_round = Vec::new();
    for round in 0..rounds {
        for (id, topic, ty, data, _) in &attacks {
            let id = format!("{id}-{round}");
            assert_eq!(
                post_event(addr, topic, &ev(&id, ty, data.clone())).status,
                202,
                "{id}"
            );
            for topic in ["in", "warm"] {
                let id = format!("good-{good}");
                good += 1;
                assert_eq!(
                    post_event(addr, topic, &ev(&id, "echo", json!({"i": good}))).status,
                    202
                );
            }
        }
        let expected_dead = (round + 1) * attacks.iter().filter(|a| a.4.is_some()).count();
        let dead = poll(Duration::from_secs(60), || {
            let dead = read_jsonl(&dir.path().join("dead.jsonl"));
            (dead.len() >= expected_dead).then_some(dead)
        })
        .unwrap_or_else(|| {
            panic!(
                "round {round}: {} of {expected_dead} attacks dead-lettered: {:?}",
                read_jsonl(&dir.path().join("dead.jsonl")).len(),
                read_jsonl(&dir.path().join("dead.jsonl"))
                    .iter()
                    .map(|e| (e["id"].clone(), e["deadletterreason"].clone()))
                    .collect::<Vec<_>>()
            )
        });
        assert_eq!(dead.len(), expected_dead, "round {round}");
        for (id, _, _, _, reason) in &attacks {
            let id = format!("{id}-{round}");
            let record = dead.iter().find(|e| e["id"] == id.as_str());
            match reason {
                Some(want) => {
                    let got = record
                        .unwrap_or_else(|| panic!("{id} was not dead-lettered"))["deadletterreason"]
                        .as_str()
                        .unwrap();
                    assert!(got.contains(want), "{id}: {got}");
                    assert!(
                        got.len() <= 4096 + 64,
                        "{id}: a reason of {} bytes",
                        got.len()
                    );
                    assert!(!got.chars().any(char::is_control), "{id}: {got:?}");
                }
                None => assert!(record.is_none(), "{id} was dead-lettered: {record:?}"),
            }
        }
        let out = poll(Duration::from_secs(30), || {
            let out = read_jsonl(&dir.path().join("out.jsonl"));
            let goods = out
                .iter()
                .filter(|e| e["id"].as_str().is_some_and(|i| i.starts_with("good-")))
                .count();
            (goods >= good).then_some(out)
        })
        .expect("the good events keep flowing");
        // the flood's requests were capped per instance; the pending requests did not
        // outlive their event
        let flood = out
            .iter()
            .find(|e| e["id"] == format!("flood-{round}").as_str())
            .expect("the flood event passes");
        assert_eq!(flood["data"]["ok"], 4, "{}", flood["data"]);
        assert_eq!(flood["data"]["limited"], 36, "{}", flood["data"]);
        let pending = out
            .iter()
            .find(|e| e["id"] == format!("pending-{round}").as_str())
            .expect("the pending event passes");
        assert_eq!(pending["data"]["kept_from_before"], false);
        assert_eq!(
            http(addr, "GET", "/healthz", &[], b"").unwrap().status,
            200,
            "round {round}"
        );
        rss_per_round.push(resident_kib(pid));
    }
    assert_eq!(
        local_hits.load(Ordering::SeqCst),
        0,
        "localhost was contacted"
    );
    // nothing past the fan-out bound reached the sink
    let out = read_jsonl(&dir.path().join("out.jsonl"));
    assert!(
        !out.iter().any(|e| e["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("fanout-bomb"))),
        "outputs of the fan-out bomb were delivered"
    );
    // the plugin's log lines are escaped and cut: no forged line starts in the log
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("forged line")),
        "the plugin's log line is missing"
    );
    let forged: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("2026-01-01T00:00:00Z") || l.contains('\x1b') || l.contains('\r'))
        .take(3)
        .map(|l| l.chars().take(200).collect())
        .collect();
    assert!(forged.is_empty(), "forged log lines: {forged:?}");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 16 * 1024, "a log line of {longest} bytes");

    let (rss_end, hwm) = resident_kib(pid);
    eprintln!(
        "weft resident memory: start {} MiB, after each round {:?} MiB, end {} MiB, peak (VmHWM) {} MiB",
        rss_start / 1024,
        rss_per_round
            .iter()
            .map(|(rss, _)| rss / 1024)
            .collect::<Vec<_>>(),
        rss_end / 1024,
        hwm / 1024
    );
    // generous: an unbounded copy, handle table or fan-out goes far past this
    assert!(hwm < 768 * 1024, "peak resident memory {} MiB", hwm / 1024);
    drop(hub);
}
