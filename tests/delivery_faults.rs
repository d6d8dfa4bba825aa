//! The delivery promise under faults, with real processes: every event the HTTP ingress
//! accepted (202) reaches its sink or the dead letter — a down webhook with a small topic
//! retention, SIGKILL under load with `dedupe`, a plugin that fails once after `dedupe`,
//! SIGTERM during an outage, and dead letters re-posted through `dedupe`. Each test prints
//! accepted / delivered / lost / duplicates and asserts 0 lost.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Hub, http, poll};

/// A webhook receiver whose answer can be switched; records the `ce-id` of every request
/// it answered with a 2xx.
struct Receiver {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    delivered: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let status = Arc::new(AtomicU16::new(status));
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (st, dl, rq) = (status.clone(), delivered.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (st, dl, rq) = (st.clone(), dl.clone(), rq.clone());
                std::thread::spawn(move || serve(stream, &st, &dl, &rq));
            }
        });
        Receiver {
            addr,
            status,
            delivered,
            requests,
        }
    }

    fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn delivered(&self) -> Vec<String> {
        self.delivered.lock().unwrap().clone()
    }
}

/// Serves one keep-alive connection.
fn serve(
    stream: std::net::TcpStream,
    status: &AtomicU16,
    delivered: &Mutex<Vec<String>>,
    requests: &AtomicUsize,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut len = 0usize;
        let mut id = None;
        let mut first = true;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if first {
                first = false;
                continue;
            }
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = value.trim().parse().unwrap_or(0),
                    "ce-id" => id = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if id.is_none() {
            // structured mode: the id is in the body
            id = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string));
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let code = status.load(Ordering::SeqCst);
        if (200..300).contains(&code)
            && let Some(id) = id
        {
            delivered.lock().unwrap().push(id);
        }
        let reply = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn ev(id: &str, ty: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/faults", "type": ty, "data": {"n": id}})
}

/// Posts a batch until the hub accepts it (202), retrying refused connections (the hub is
/// restarting) and 503 (topic full, storage busy). Returns how many 503s it saw.
fn post_until_accepted(addr: SocketAddr, topic: &str, events: &[Value]) -> usize {
    let body = Value::Array(events.to_vec()).to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut refusals = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the hub never accepted the batch"
        );
        match http(
            addr,
            "POST",
            &format!("/v1/events/{topic}"),
            &[("content-type", "application/cloudevents-batch+json")],
            body.as_bytes(),
        ) {
            Ok(r) if r.status == 202 => return refusals,
            Ok(r) if r.status == 503 => {
                refusals += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            // no status line: the hub was killed while answering
            Ok(r) if r.status == 0 => std::thread::sleep(Duration::from_millis(50)),
            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn read_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

/// accepted / delivered / lost / duplicates, printed for the closing note.
fn report(scenario: &str, accepted: &[String], delivered: &[String]) -> (usize, usize) {
    let got: HashSet<&String> = delivered.iter().collect();
    let lost = accepted.iter().filter(|id| !got.contains(id)).count();
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for id in delivered {
        *counts.entry(id).or_default() += 1;
    }
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    eprintln!(
        "{scenario}: accepted {} / delivered {} distinct / lost {lost} / duplicates {duplicates}",
        accepted.len(),
        got.len()
    );
    (lost, duplicates)
}

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap()
}

fn wait_for_all(accepted: &[String], mut delivered: impl FnMut() -> Vec<String>) -> Vec<String> {
    let want: HashSet<&String> = accepted.iter().collect();
    poll(Duration::from_secs(120), || {
        let got = delivered();
        let have: HashSet<&String> = got.iter().collect();
        want.is_subset(&have).then_some(())
    });
    delivered()
}

#[test]
fn a_down_webhook_with_small_retention_loses_nothing_the_topic_fills_instead() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    let receiver = Receiver::start(503);
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
retention_events = 100

[sinks.hook]
type = "webhook"
url = "http://{}/in"

[[routes]]
name = "r"
from = ["topic:in"]
to = ["hook"]
retry = {{ initial_backoff_ms = 20, max_backoff_ms = 200 }}
"#,
            receiver.addr
        ),
    )
    .unwrap();
    let _hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..1000).map(|i| format!("r{i}")).collect();
    let poster = {
        let ids = ids.clone();
        std::thread::spawn(move || {
            let mut refused = 0;
            for chunk in ids.chunks(10) {
                let events: Vec<Value> = chunk.iter().map(|id| ev(id, "t")).collect();
                refused += post_until_accepted(addr, "in", &events);
            }
            refused
        })
    };
    // the webhook is down until the topic has filled up and refused events
    poll(Duration::from_secs(60), || {
        (receiver.requests.load(Ordering::SeqCst) > 200).then_some(())
    })
    .expect("the route retries the down webhook");
    std::thread::sleep(Duration::from_millis(500));
    receiver.set_status(200);
    let refused = poster.join().unwrap();
    let delivered = wait_for_all(&ids, || receiver.delivered());
    let (lost, _) = report("retention 100, webhook down", &ids, &delivered);
    eprintln!("  503 topic-full answers while the webhook was down: {refused}");
    assert_eq!(lost, 0);
    assert!(
        refused > 0,
        "with 1,000 events for a 100-event topic and its reader stuck, the ingress must have answered 503"
    );
}

fn dedupe_config(dir: &Path, addr: SocketAddr, plugins: &str, sinks: &str, to: &str) {
    let dedupe = support::plugin_wasm("weft-plugin-dedupe");
    let passthrough = support::plugin_wasm("weft-plugin-passthrough");
    let probe = support::plugin_wasm("weft-test-probe");
    std::fs::write(
        dir.join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
dead_letter = "dead"
drain_timeout_ms = 500

[plugins.dedupe]
path = "{}"

[plugins.passthrough]
path = "{}"

[plugins.probe]
path = "{}"
mode = "warm"

[sinks.dead]
type = "file"
path = "dead.jsonl"
{sinks}

[[routes]]
name = "r"
from = ["topic:in"]
plugins = [{plugins}]
to = ["{to}"]
retry = {{ initial_backoff_ms = 20, max_backoff_ms = 200 }}
"#,
            dedupe.display(),
            passthrough.display(),
            probe.display()
        ),
    )
    .unwrap();
}

#[test]
fn sigkill_three_times_under_load_through_dedupe_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    dedupe_config(
        dir.path(),
        addr,
        r#""dedupe", "passthrough""#,
        "[sinks.out]\ntype = \"file\"\npath = \"out.jsonl\"",
        "out",
    );
    let mut hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
    let posted = Arc::new(AtomicUsize::new(0));
    let poster = {
        let ids = ids.clone();
        let posted = posted.clone();
        std::thread::spawn(move || {
            for chunk in ids.chunks(25) {
                let events: Vec<Value> = chunk.iter().map(|id| ev(id, "t")).collect();
                post_until_accepted(addr, "in", &events);
                posted.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        })
    };
    for k in 1..=3 {
        poll(Duration::from_secs(120), || {
            (posted.load(Ordering::SeqCst) >= k * 700).then_some(())
        })
        .expect("posting goes on");
        hub.kill9();
        hub = Hub::start(dir.path(), addr);
    }
    poster.join().unwrap();
    let out = dir.path().join("out.jsonl");
    let delivered = wait_for_all(&ids, || read_ids(&out));
    let (lost, _) = report(
        "[dedupe, passthrough] -> file, 3 x SIGKILL",
        &ids,
        &delivered,
    );
    assert_eq!(lost, 0);
    assert!(read_ids(&dir.path().join("dead.jsonl")).is_empty());
    drop(hub);
}

#[test]
fn a_plugin_failing_once_after_dedupe_is_retried_from_that_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    dedupe_config(
        dir.path(),
        addr,
        r#""dedupe", "probe""#,
        "[sinks.out]\ntype = \"file\"\npath = \"out.jsonl\"",
        "out",
    );
    let _hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| ev(id, "flaky")).collect();
    post_until_accepted(addr, "in", &events);
    let out = dir.path().join("out.jsonl");
    let delivered = wait_for_all(&ids, || read_ids(&out));
    let (lost, duplicates) = report("[dedupe, fails once] -> file", &ids, &delivered);
    assert_eq!(
        lost,
        0,
        "dead letters: {:?}",
        read_ids(&dir.path().join("dead.jsonl"))
    );
    assert_eq!(duplicates, 0);
}

#[test]
fn sigterm_during_a_webhook_outage_then_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    let receiver = Receiver::start(503);
    dedupe_config(
        dir.path(),
        addr,
        r#""dedupe""#,
        &format!(
            "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://{}/in\"",
            receiver.addr
        ),
        "hook",
    );
    let mut hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    for chunk in ids.chunks(50) {
        let events: Vec<Value> = chunk.iter().map(|id| ev(id, "t")).collect();
        post_until_accepted(addr, "in", &events);
    }
    poll(Duration::from_secs(30), || {
        (receiver.requests.load(Ordering::SeqCst) > 100).then_some(())
    })
    .expect("the route retries the down webhook");
    assert!(hub.terminate().success());
    receiver.set_status(200);
    let _hub = Hub::start(dir.path(), addr);
    let delivered = wait_for_all(&ids, || receiver.delivered());
    let (lost, _) = report(
        "[dedupe] -> webhook down, SIGTERM, restart",
        &ids,
        &delivered,
    );
    assert_eq!(lost, 0);
    assert!(read_ids(&dir.path().join("dead.jsonl")).is_empty());
}

#[test]
fn dead_letters_reposted_after_an_outage_pass_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    // 400: a permanent failure, dead-lettered at once
    let receiver = Receiver::start(400);
    dedupe_config(
        dir.path(),
        addr,
        r#""dedupe""#,
        &format!(
            "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://{}/in\"",
            receiver.addr
        ),
        "hook",
    );
    let _hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);
    let dead_path = dir.path().join("dead.jsonl");
    let dead = wait_for_all(&ids, || read_ids(&dead_path));
    assert_eq!(dead.len(), 50);
    // the receiver is fixed; the dead letters are posted again, as they were
    receiver.set_status(200);
    let records: Vec<Value> = std::fs::read_to_string(&dead_path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.retain(|k, _| !k.starts_with("deadletter"));
            v
        })
        .collect();
    post_until_accepted(addr, "in", &records);
    let delivered = wait_for_all(&ids, || receiver.delivered());
    let (lost, _) = report("dead letters re-posted through [dedupe]", &ids, &delivered);
    assert_eq!(lost, 0);
}

/// Unmounts the test's tmpfs.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_refuses_new_events_keeps_running_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        other => {
            // CI runs as root and mounts; elsewhere (no root, no CAP_SYS_ADMIN) say why
            eprintln!("SKIPPED: cannot mount a tmpfs for the full-disk test: {other:?}");
            return;
        }
    }
    let _mount = Mount(mnt.clone());
    let addr = addr();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "{}"
min_free_bytes = 16777216

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "r"
from = ["topic:in"]
to = ["out"]
"#,
            mnt.join("data").display()
        ),
    )
    .unwrap();
    let mut hub = Hub::start(dir.path(), addr);
    let mut accepted: Vec<String> = (0..100).map(|i| format!("b{i}")).collect();
    let events: Vec<Value> = accepted.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);

    // fill the filesystem completely, then free 4 MiB: below min_free_bytes (16 MiB)
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![7u8; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(len.saturating_sub(4 << 20))
        .unwrap();
    let refused = http(
        addr,
        "POST",
        "/v1/events/in",
        &[("content-type", "application/cloudevents+json")],
        ev("refused", "t").to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("min_free_bytes"), "{}", refused.body);
    assert!(
        hub.child.try_wait().unwrap().is_none(),
        "weft must keep running"
    );
    assert_eq!(http(addr, "GET", "/healthz", &[], b"").unwrap().status, 200);

    // space returns: new events are accepted again
    std::fs::remove_file(&filler).unwrap();
    let more: Vec<String> = (0..50).map(|i| format!("a{i}")).collect();
    let events: Vec<Value> = more.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);
    accepted.extend(more);
    let out = dir.path().join("out.jsonl");
    let delivered = wait_for_all(&accepted, || read_ids(&out));
    let (lost, _) = report(
        "full data directory, then space freed",
        &accepted,
        &delivered,
    );
    assert_eq!(lost, 0);
    assert!(hub.terminate().success());
}

#[test]
fn weft_deadletter_replay_reposts_filtered_dead_letters_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    let receiver = Receiver::start(400);
    let dedupe = support::plugin_wasm("weft-plugin-dedupe");
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"

[plugins.dedupe]
path = "{}"

[sinks.hook]
type = "webhook"
url = "http://{}/in"

[[routes]]
name = "r"
from = ["topic:in"]
plugins = ["dedupe"]
to = ["hook"]
retry = {{ initial_backoff_ms = 20, max_backoff_ms = 200 }}
"#,
            dedupe.display(),
            receiver.addr
        ),
    )
    .unwrap();
    let mut hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..30).map(|i| format!("x{i}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);
    poll(Duration::from_secs(30), || {
        (receiver.requests.load(Ordering::SeqCst) >= 30).then_some(())
    })
    .expect("every event was tried once (400: dead-lettered at once)");
    assert!(hub.terminate().success());
    let replay = |args: &[&str]| {
        let out = std::process::Command::new(support::weft_bin())
            .args(["deadletter", "replay", "--config"])
            .arg(dir.path().join("weft.toml"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    // a filter that matches nothing, and a dry run, append nothing
    let none = replay(&["--route", "other"]);
    assert!(
        none.contains("replayed 0 event(s)") && none.contains("30 by --route/--reason"),
        "{none}"
    );
    let dry = replay(&["--reason", "400", "--dry-run"]);
    assert!(dry.contains("would replay 30 event(s)"), "{dry}");
    receiver.set_status(200);
    let done = replay(&["--route", "r", "--reason", "400"]);
    assert!(
        done.contains("replayed 30 event(s)") && done.contains("30 to topic `in`"),
        "{done}"
    );
    assert!(done.contains("--from 30"), "{done}");
    let _hub = Hub::start(dir.path(), addr);
    let delivered = wait_for_all(&ids, || receiver.delivered());
    let (lost, duplicates) = report("weft deadletter replay through [dedupe]", &ids, &delivered);
    assert_eq!((lost, duplicates), (0, 0));
}

/// Posts `ids` in batches of 10 until each batch is accepted; a batch whose answer was cut
/// off (the hub stopped while answering) is counted: if it had been stored, posting it
/// again is a duplicate the log did not cause.
fn post_all(addr: SocketAddr, ids: &[String], posted: &AtomicUsize, cut_off: &AtomicUsize) {
    for chunk in ids.chunks(10) {
        let events: Vec<Value> = chunk.iter().map(|id| ev(id, "t")).collect();
        let body = Value::Array(events).to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "the hub never accepted a batch");
            match http(
                addr,
                "POST",
                "/v1/events/in",
                &[("content-type", "application/cloudevents-batch+json")],
                body.as_bytes(),
            ) {
                Ok(r) if r.status == 202 => break,
                Ok(r) if r.status == 503 => std::thread::sleep(Duration::from_millis(20)),
                Ok(r) if r.status == 0 => {
                    cut_off.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        posted.fetch_add(chunk.len(), Ordering::SeqCst);
    }
}

#[test]
fn sigterm_under_load_then_restart_no_duplicates_on_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
dead_letter = "dead"

[sinks.dead]
type = "file"
path = "dead.jsonl"

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "r"
from = ["topic:in"]
to = ["out"]
"#
        ),
    )
    .unwrap();
    let mut hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..3000).map(|i| format!("t{i}")).collect();
    let posted = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let poster = {
        let (ids, posted, cut_off) = (ids.clone(), posted.clone(), cut_off.clone());
        std::thread::spawn(move || post_all(addr, &ids, &posted, &cut_off))
    };
    for k in 1..=3 {
        poll(Duration::from_secs(120), || {
            (posted.load(Ordering::SeqCst) >= k * 700).then_some(())
        })
        .expect("posting goes on");
        assert!(hub.terminate().success(), "a clean stop exits 0");
        hub = Hub::start(dir.path(), addr);
    }
    poster.join().unwrap();
    let out = dir.path().join("out.jsonl");
    let delivered = wait_for_all(&ids, || read_ids(&out));
    let (lost, duplicates) = report(
        "HTTP -> topic -> file, 3 x SIGTERM under load",
        &ids,
        &delivered,
    );
    eprintln!(
        "  batches whose answer was cut off by a stop: {}",
        cut_off.load(Ordering::SeqCst)
    );
    assert_eq!(lost, 0);
    assert_eq!(
        duplicates, 0,
        "a clean stop commits every acknowledged position"
    );
    assert!(read_ids(&dir.path().join("dead.jsonl")).is_empty());
    drop(hub);
}

/// Mounts a tmpfs of `size` at `<dir>/mnt` (as root); `None` (with a note) otherwise.
fn tmpfs(dir: &Path, size: &str) -> Option<(std::path::PathBuf, Mount)> {
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => Some((mnt.clone(), Mount(mnt))),
        other => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the full-disk test: {other:?}");
            None
        }
    }
}

/// Fills the filesystem of `path` completely.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![7u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_disk_full_under_the_database_itself_pauses_and_resumes_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mnt, _mount)) = tmpfs(dir.path(), "48m") else {
        return;
    };
    let addr = addr();
    // no free-space margin: redb itself runs into ENOSPC and must be reopened
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "{}"
min_free_bytes = 0

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "r"
from = ["topic:in"]
to = ["out"]
"#,
            mnt.join("data").display()
        ),
    )
    .unwrap();
    let mut hub = Hub::start(dir.path(), addr);
    let mut accepted: Vec<String> = (0..100).map(|i| format!("b{i}")).collect();
    let events: Vec<Value> = accepted.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);

    let filler = mnt.join("filler");
    fill(&filler);
    // post until the database fails to grow; what was accepted meanwhile counts
    let big = "x".repeat(32 << 10);
    let mut refused = None;
    for i in 0..4000 {
        let id = format!("f{i}");
        let mut e = ev(&id, "t");
        e["data"] = json!({ "pad": big });
        let r = http(
            addr,
            "POST",
            "/v1/events/in",
            &[("content-type", "application/cloudevents+json")],
            e.to_string().as_bytes(),
        )
        .unwrap();
        match r.status {
            202 => accepted.push(id),
            _ => {
                refused = Some(r);
                break;
            }
        }
    }
    let refused = refused.expect("a full filesystem refuses appends");
    assert_eq!(refused.status, 503, "{}", refused.body);
    eprintln!("  refused on a full disk: {}", refused.body);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        hub.child.try_wait().unwrap().is_none(),
        "weft must keep running"
    );
    assert_eq!(http(addr, "GET", "/healthz", &[], b"").unwrap().status, 200);

    // space returns: the log is reopened, new events are accepted, nothing is lost
    std::fs::remove_file(&filler).unwrap();
    let more: Vec<String> = (0..50).map(|i| format!("a{i}")).collect();
    let events: Vec<Value> = more.iter().map(|id| ev(id, "t")).collect();
    post_until_accepted(addr, "in", &events);
    accepted.extend(more);
    let out = dir.path().join("out.jsonl");
    let delivered = wait_for_all(&accepted, || read_ids(&out));
    let (lost, _) = report(
        "database hit ENOSPC, then space freed",
        &accepted,
        &delivered,
    );
    assert_eq!(lost, 0);
    assert!(hub.terminate().success());
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(
        log.contains("embedded log reopened"),
        "the I/O error was met and the log reopened: {log}"
    );
}

/// `[dedupe]` with `kv_max_keys = 6` on `backend`: the first 5 distinct events fit
/// (a `seen/` key each plus one shared `count/` key), the next 5 are dead-lettered with
/// the plugin, the quota and the amounts.
fn kv_quota_dead_letters(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    let dedupe = support::plugin_wasm("weft-plugin-dedupe");
    let plugin = format!(
        "dq{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let redis = if backend == "redis" {
        "[kv.redis]\nurl = \"redis://127.0.0.1:6379\"\n"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
dead_letter = "dead"
max_in_flight = 1

{redis}
[plugins.{plugin}]
path = "{}"
kv = "{backend}"
kv_max_keys = 6

[sinks.dead]
type = "file"
path = "dead.jsonl"

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "r"
from = ["topic:in"]
plugins = ["{plugin}"]
to = ["out"]
"#,
            dedupe.display()
        ),
    )
    .unwrap();
    let _hub = Hub::start(dir.path(), addr);
    let ids: Vec<String> = (0..10).map(|i| format!("q{i}")).collect();
    for id in &ids {
        post_until_accepted(addr, "in", &[ev(id, "t")]);
    }
    let out = dir.path().join("out.jsonl");
    let dead = dir.path().join("dead.jsonl");
    let all = wait_for_all(&ids, || {
        let mut both = read_ids(&out);
        both.extend(read_ids(&dead));
        both
    });
    assert_eq!(all.len(), 10, "each event once: delivered or dead-lettered");
    assert_eq!(read_ids(&out), ids[..5].to_vec());
    assert_eq!(read_ids(&dead), ids[5..].to_vec());
    let text = std::fs::read_to_string(&dead).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let reason = first["deadletterreason"].as_str().unwrap_or_default();
    eprintln!("  {backend}: dead-letter reason: {reason}");
    assert!(reason.contains(&format!("plugin `{plugin}`")), "{reason}");
    assert!(reason.contains("kv_max_keys = 6"), "{reason}");
    assert!(reason.contains("would hold 7 keys"), "{reason}");
    assert_eq!(
        first["deadletterat"].as_str(),
        Some(plugin.as_str()),
        "{first}"
    );
}

#[test]
fn a_plugin_over_its_kv_quota_dead_letters_the_event_embedded() {
    kv_quota_dead_letters("embedded");
}

#[test]
fn a_plugin_over_its_kv_quota_dead_letters_the_event_redis() {
    kv_quota_dead_letters("redis");
}
