//! `weft send` and `weft tail` against the running hub: a file of mixed forms sent in
//! batches and followed exactly; refusals reported with reasons; tail resumes with no gap
//! and no duplicate when its connection is cut mid-message or the hub restarts.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Hub, poll, weft_bin};

fn config(dir: &Path, addr: SocketAddr) {
    std::fs::write(
        dir.join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
sse_heartbeat_ms = 500

[[routes]]
name = "r"
from = ["topic:in"]
to = ["topic:out"]
retry = {{ attempts = 3 }}
"#
        ),
    )
    .unwrap();
}

fn start() -> (tempfile::TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    config(dir.path(), addr);
    let hub = Hub::start(dir.path(), addr);
    (dir, hub)
}

fn ev(id: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/send-test", "type": "t.sent", "data": {"id": id, "text": "a\nb \"quoted\" ü"}})
}

/// Writes `n` events starting at `first` in mixed forms: single-line events, arrays of
/// several on one line, pretty-printed events over many lines, blank lines between.
fn mixed_file(path: &Path, first: usize, n: usize) -> Vec<String> {
    let mut out = String::new();
    let mut ids = Vec::new();
    let mut i = first;
    let mut form = 0;
    while i < first + n {
        let left = first + n - i;
        match form % 4 {
            0 => {
                out.push_str(&ev(&format!("ev-{i}")).to_string());
                out.push('\n');
                ids.push(format!("ev-{i}"));
                i += 1;
            }
            1 => {
                let k = (form % 7 + 2).min(left);
                let batch: Vec<Value> = (i..i + k).map(|j| ev(&format!("ev-{j}"))).collect();
                ids.extend((i..i + k).map(|j| format!("ev-{j}")));
                out.push_str(&Value::from(batch).to_string());
                out.push('\n');
                i += k;
            }
            2 => {
                out.push_str(&serde_json::to_string_pretty(&ev(&format!("ev-{i}"))).unwrap());
                out.push_str("\n\n");
                ids.push(format!("ev-{i}"));
                i += 1;
            }
            _ => {
                let k = 3.min(left);
                let batch: Vec<Value> = (i..i + k).map(|j| ev(&format!("ev-{j}"))).collect();
                ids.extend((i..i + k).map(|j| format!("ev-{j}")));
                out.push_str(&serde_json::to_string_pretty(&Value::from(batch)).unwrap());
                out.push('\n');
                i += k;
            }
        }
        form += 1;
    }
    std::fs::write(path, out).unwrap();
    ids
}

fn send(url: &str, topic: &str, file: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(weft_bin())
        .args(["send", topic])
        .arg(file)
        .args(["--url", url, "--batch", "64"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `weft tail`, its stdout going to a file; killed on drop.
struct Tail {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Tail {
    fn start(dir: &Path, url: &str, topic: &str, args: &[&str]) -> Tail {
        let n = support::rand_u64();
        let out = dir.join(format!("tail-{n}.jsonl"));
        let err = dir.join(format!("tail-{n}.err"));
        let child = Command::new(weft_bin())
            .args(["tail", topic, "--url", url])
            .args(args)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Tail { child, out, err }
    }

    fn ids(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("tail printed a line that is not JSON ({e}): {l}"));
                v["id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        poll(timeout, || {
            let ids = self.ids();
            (ids.len() >= n).then_some(ids)
        })
        .unwrap_or_else(|| {
            panic!(
                "tail printed {} of {n} events; stderr: {}",
                self.ids().len(),
                std::fs::read_to_string(&self.err).unwrap_or_default()
            )
        })
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_file_of_mixed_forms_is_sent_and_tail_sees_exactly_it() {
    let (dir, hub) = start();
    let url = format!("http://{}", hub.addr);
    let file = dir.path().join("events.json");
    let sent = mixed_file(&file, 0, 1000);
    assert_eq!(sent.len(), 1000);
    let (code, stdout, stderr) = send(&url, "in", &file, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "accepted 1000, refused 0", "{stderr}");

    let tail = Tail::start(
        dir.path(),
        &url,
        "in",
        &["--from", "earliest", "--count", "1000"],
    );
    let got = tail.wait_for(1000, Duration::from_secs(30));
    assert_eq!(got, sent, "every event, once, in order");
    let lines = std::fs::read_to_string(&tail.out).unwrap();
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first, ev("ev-0"), "the structured CloudEvent, unchanged");
    let mut tail = tail;
    let status = poll(Duration::from_secs(10), || {
        tail.child.try_wait().ok().flatten()
    })
    .expect("tail --count 1000 exits after 1000 events");
    assert!(status.success());

    // the output topic is followed too; a filter selects
    let tail = Tail::start(
        dir.path(),
        &url,
        "out",
        &["--from", "earliest", "--filter", "id LIKE 'ev-99_'"],
    );
    let mut got = tail.wait_for(10, Duration::from_secs(30));
    got.sort(); // the route delivers concurrently (hub.max_in_flight): any order
    assert_eq!(
        got,
        (990..1000).map(|i| format!("ev-{i}")).collect::<Vec<_>>()
    );

    // one event built from flags
    let out = Command::new(weft_bin())
        .args([
            "send", "in", "--url", &url, "--type", "t.flag", "--source", "/cli",
        ])
        .args(["--id", "flag-1", "--data", r#"{"x":1}"#])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tail = Tail::start(
        dir.path(),
        &url,
        "in",
        &["--from", "flag-1", "--count", "1"],
    );
    tail.wait_for(1, Duration::from_secs(30));
    let line = std::fs::read_to_string(&tail.out).unwrap();
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["type"], "t.flag");
    assert_eq!(v["data"], json!({"x": 1}));
    assert_eq!(v["datacontenttype"], "application/json");
}

#[test]
fn refused_events_are_listed_with_reasons_and_the_exit_code_says_so() {
    let (dir, hub) = start();
    let url = format!("http://{}", hub.addr);
    let file = dir.path().join("mixed.json");
    let mut text = String::new();
    text.push_str(&ev("ok-1").to_string());
    text.push('\n');
    text.push_str(r#"{"specversion":"1.0","id":"no-source","type":"t"}"#);
    text.push('\n');
    text.push_str(&Value::from(vec![ev("ok-2"), json!(42), ev("ok-3")]).to_string());
    text.push('\n');
    std::fs::write(&file, text).unwrap();
    let (code, stdout, _) = send(&url, "in", &file, &[]);
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "accepted 3, refused 2");
    assert!(
        lines[1].starts_with("refused: event #2 (id `no-source`): invalid CloudEvent:")
            && lines[1].contains("source"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("refused: event #4: not a CloudEvent"),
        "{stdout}"
    );

    // the hub refuses: an unknown topic ends the run with the reason, exit 1
    let (code, stdout, stderr) = send(&url, "nobody-reads-this", &file, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stdout.contains("refused 5"), "{stdout}");
    // usage: a bad URL is exit 2
    let (code, _, stderr) = send("ftp://x", "in", &file, &[]);
    assert_eq!(code, 2, "{stderr}");
}

/// A TCP proxy that cuts every connection after a varying number of bytes from the
/// server (mid-message), so tail must reconnect and resume again and again.
fn cutting_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counter = cuts.clone();
    std::thread::spawn(move || {
        let mut budget = 7_001usize;
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut server) = TcpStream::connect(upstream) else {
                continue;
            };
            budget = budget * 7 % 40_009 + 3_000;
            let limit = budget;
            let mut c2 = client.try_clone().unwrap();
            let mut s2 = server.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
            });
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut sent = 0;
                let mut buf = [0u8; 1024];
                loop {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let n2 = n.min(limit - sent);
                    if client.write_all(&buf[..n2]).is_err() {
                        break;
                    }
                    sent += n2;
                    if sent >= limit {
                        counter.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, cuts)
}

#[test]
fn tail_resumes_without_gap_or_duplicate_when_cut_mid_message() {
    let (dir, hub) = start();
    let url = format!("http://{}", hub.addr);
    let (proxy, cuts) = cutting_proxy(hub.addr);
    let file = dir.path().join("events.json");
    let sent = mixed_file(&file, 0, 1000);
    let tail = Tail::start(
        dir.path(),
        &format!("http://{proxy}"),
        "in",
        &["--from", "earliest"],
    );
    let (code, stdout, stderr) = send(&url, "in", &file, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let got = tail.wait_for(1000, Duration::from_secs(60));
    assert!(
        cuts.load(Ordering::SeqCst) >= 5,
        "the proxy cut the stream {} times",
        cuts.load(Ordering::SeqCst)
    );
    assert_eq!(got, sent, "no gap, no duplicate");
}

#[test]
fn tail_resumes_across_a_hub_restart() {
    let (dir, mut hub) = start();
    let url = format!("http://{}", hub.addr);
    let tail = Tail::start(dir.path(), &url, "in", &[]);
    // `--from latest`: wait until the stream is open before sending
    poll(Duration::from_secs(10), || {
        let m = support::http(hub.addr, "GET", "/metrics", &[], b"")
            .ok()?
            .body;
        m.contains("weft_sse_streams{topic=\"in\"} 1").then_some(())
    })
    .expect("tail connected");
    let first_file = dir.path().join("a.json");
    let mut sent = mixed_file(&first_file, 0, 300);
    assert_eq!(send(&url, "in", &first_file, &[]).0, 0);
    tail.wait_for(300, Duration::from_secs(30));
    // stop the hub (the stream ends), send nothing while it is down, start it again
    assert!(hub.terminate().success());
    let addr = hub.addr;
    drop(hub);
    let hub = Hub::start(dir.path(), addr);
    let second_file = dir.path().join("b.json");
    sent.extend(mixed_file(&second_file, 300, 300));
    let (code, stdout, stderr) = send(&url, "in", &second_file, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let got = tail.wait_for(600, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tail.ids(), sent, "no gap, no duplicate");
    assert_eq!(got.len(), 600);
    drop(hub);
}
