//! weft end to end with the real Redis on 127.0.0.1:6379: stream → plugin → stream,
//! consumer groups across processes, kill -9, poison entries, Redis-backed plugin state.
//! Unique stream names per test. Fails when Redis is unreachable, unless
//! `WEFT_SKIP_BROKERS=1` (then it skips with a note).

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Hub, poll};

const URL: &str = "redis://127.0.0.1:6379";

fn redis() -> Option<redis::Connection> {
    match redis::Client::open(URL)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
    {
        Ok(c) => Some(c),
        Err(e) => {
            if !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1") {
                panic!(
                    "Redis at {URL} is required (set WEFT_SKIP_BROKERS=1 to skip the broker tests): {e}"
                );
            }
            eprintln!("skipping: Redis at {URL} unreachable: {e}");
            None
        }
    }
}

fn event_json(id: &str, ty: &str, data: Value) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/redis-test", "type": ty, "datacontenttype": "application/json", "data": data}).to_string()
}

fn xadd_many(con: &mut redis::Connection, stream: &str, events: impl Iterator<Item = String>) {
    let mut pipe = redis::pipe();
    let mut n: usize = 0;
    for e in events {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("event")
            .arg(e)
            .ignore();
        n += 1;
        if n.is_multiple_of(1000) {
            let _: () = pipe.query(con).unwrap();
            pipe = redis::pipe();
        }
    }
    if !n.is_multiple_of(1000) {
        let _: () = pipe.query(con).unwrap();
    }
}

/// Ids of the events in a stream (binary or structured mode).
fn stream_ids(con: &mut redis::Connection, stream: &str) -> Vec<String> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    reply
        .ids
        .iter()
        .filter_map(|entry| {
            if let Some(redis::Value::BulkString(b)) = entry.map.get("ce_id") {
                return Some(String::from_utf8_lossy(b).into_owned());
            }
            if let Some(redis::Value::BulkString(b)) = entry.map.get("event") {
                let v: Value = serde_json::from_slice(b).ok()?;
                return v["id"].as_str().map(str::to_string);
            }
            None
        })
        .collect()
}

fn pending(con: &mut redis::Connection, stream: &str, group: &str) -> usize {
    let v: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query(con)
        .unwrap();
    match v {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n as usize,
            _ => 0,
        },
        _ => 0,
    }
}

fn write_config(
    dir: &Path,
    addr: SocketAddr,
    input: &str,
    output: &str,
    consumer: &str,
    extra: &str,
) {
    let probe = support::plugin_wasm("weft-test-probe");
    std::fs::write(
        dir.join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
max_in_flight = 256

[plugins.probe]
path = "{probe}"

[sources.orders]
type = "redis-stream"
url = "{URL}"
stream = "{input}"
group = "weft"
consumer = "{consumer}"
batch_size = 256
claim_idle_ms = 2000
max_deliveries = 3

[sinks.out]
type = "redis-stream"
url = "{URL}"
stream = "{output}"

[sinks.dlq]
type = "redis-stream"
url = "{URL}"
stream = "{output}:dlq"
binding = "structured"

[[routes]]
name = "orders"
from = ["orders"]
plugins = ["probe"]
to = ["out"]
retry = {{ attempts = 2, initial_backoff_ms = 10 }}
dead_letter = "dlq"
{extra}
"#,
            probe = probe.display()
        ),
    )
    .unwrap();
}

fn names() -> (String, String) {
    let n = support::rand_u64();
    (format!("weft-test:{n}:in"), format!("weft-test:{n}:out"))
}

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap()
}

#[test]
fn ten_thousand_events_stream_to_plugin_to_stream() {
    let Some(mut con) = redis() else { return };
    let (input, output) = names();
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &input, &output, "c1", "");
    xadd_many(
        &mut con,
        &input,
        (0..10_000).map(|i| event_json(&format!("e{i}"), "echo", json!({"i": i}))),
    );
    let started = std::time::Instant::now();
    let _hub = Hub::start(dir.path(), a);
    let done = poll(Duration::from_secs(120), || {
        let n: usize = redis::cmd("XLEN").arg(&output).query(&mut con).unwrap();
        (n >= 10_000).then_some(n)
    });
    assert!(done.is_some(), "not all events arrived");
    eprintln!(
        "10,000 events stream → probe → stream in {:?}",
        started.elapsed()
    );
    let ids: HashSet<String> = stream_ids(&mut con, &output).into_iter().collect();
    assert_eq!(ids.len(), 10_000);
    let acked = poll(Duration::from_secs(20), || {
        (pending(&mut con, &input, "weft") == 0).then_some(())
    });
    assert!(
        acked.is_some(),
        "{} entries still pending",
        pending(&mut con, &input, "weft")
    );
    let _: () = redis::cmd("DEL")
        .arg(&input)
        .arg(&output)
        .query(&mut con)
        .unwrap();
}

#[test]
fn two_processes_share_one_group() {
    let Some(mut con) = redis() else { return };
    let (input, output) = names();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a1, a2) = (addr(), addr());
    write_config(d1.path(), a1, &input, &output, "replica-1", "");
    write_config(d2.path(), a2, &input, &output, "replica-2", "");
    let _h1 = Hub::start(d1.path(), a1);
    let _h2 = Hub::start(d2.path(), a2);
    xadd_many(
        &mut con,
        &input,
        (0..4000).map(|i| event_json(&format!("e{i}"), "echo", json!({"i": i}))),
    );
    let done = poll(Duration::from_secs(120), || {
        let n: usize = redis::cmd("XLEN").arg(&output).query(&mut con).unwrap();
        (n >= 4000).then_some(n)
    });
    assert!(done.is_some());
    let ids = stream_ids(&mut con, &output);
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 4000);
    assert_eq!(ids.len(), 4000, "no event was processed by both replicas");
    // both replicas did work
    let consumers: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&input)
        .arg("weft")
        .query(&mut con)
        .unwrap();
    assert_eq!(consumers.len(), 2, "two consumers in the group");
    let _: () = redis::cmd("DEL")
        .arg(&input)
        .arg(&output)
        .query(&mut con)
        .unwrap();
}

#[test]
fn kill_9_under_load_loses_nothing() {
    let Some(mut con) = redis() else { return };
    let (input, output) = names();
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &input, &output, "c1", "");
    let total = 6000;
    xadd_many(
        &mut con,
        &input,
        (0..total).map(|i| event_json(&format!("e{i}"), "echo", json!({"i": i}))),
    );
    let mut hub = Hub::start(dir.path(), a);
    poll(Duration::from_secs(60), || {
        let n: usize = redis::cmd("XLEN").arg(&output).query(&mut con).unwrap();
        (n >= 1500).then_some(())
    })
    .expect("processing started");
    hub.kill9();
    let _hub = Hub::start(dir.path(), a);
    let all = poll(Duration::from_secs(120), || {
        let ids: HashSet<String> = stream_ids(&mut con, &output).into_iter().collect();
        (ids.len() >= total).then_some(())
    });
    let lines = stream_ids(&mut con, &output);
    let distinct: HashSet<&String> = lines.iter().collect();
    assert!(all.is_some(), "lost {} of {total}", total - distinct.len());
    eprintln!(
        "redis kill -9: {total} events, {} delivered, {} duplicates (in-flight window: batch 256 + max_in_flight 256)",
        lines.len(),
        lines.len() - distinct.len()
    );
    assert!(
        lines.len() - distinct.len() <= 1024,
        "duplicates beyond the in-flight window"
    );
    let _: () = redis::cmd("DEL")
        .arg(&input)
        .arg(&output)
        .query(&mut con)
        .unwrap();
}

#[test]
fn poison_entries_end_in_the_dead_letter_and_the_stream_keeps_flowing() {
    let Some(mut con) = redis() else { return };
    let (input, output) = names();
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &input, &output, "c1", "");
    let _hub = Hub::start(dir.path(), a);
    let mut events = vec![
        event_json("bad-reject", "reject", json!({})),
        event_json("bad-trap", "trap", json!({})),
    ];
    events.extend((0..100).map(|i| event_json(&format!("ok{i}"), "echo", json!({}))));
    xadd_many(&mut con, &input, events.into_iter());
    let _: () = redis::cmd("XADD")
        .arg(&input)
        .arg("*")
        .arg("garbage")
        .arg("not an event")
        .query(&mut con)
        .unwrap();
    poll(Duration::from_secs(60), || {
        let n: usize = redis::cmd("XLEN").arg(&output).query(&mut con).unwrap();
        (n >= 100).then_some(())
    })
    .expect("the good events flow");
    let dlq = format!("{output}:dlq");
    let dead = poll(Duration::from_secs(60), || {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&dlq)
            .arg("-")
            .arg("+")
            .query(&mut con)
            .unwrap();
        let events: Vec<Value> = reply
            .ids
            .iter()
            .filter_map(|e| match e.map.get("event") {
                Some(redis::Value::BulkString(b)) => serde_json::from_slice(b).ok(),
                _ => None,
            })
            .collect();
        (events.len() >= 2).then_some(events)
    })
    .expect("two dead letters from the route");
    let find = |id: &str| {
        dead.iter()
            .find(|e| e["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        find("bad-reject")["deadletterreason"],
        "plugin rejected the event: probe asked to reject"
    );
    assert_eq!(find("bad-reject")["deadletterattempts"], "1");
    assert!(
        find("bad-trap")["deadletterreason"]
            .as_str()
            .unwrap_or("")
            .contains("trapped")
    );
    assert_eq!(find("bad-trap")["deadletterattempts"], "2");
    // the malformed entry is dead-lettered by the source, to `<input stream>:dlq`
    let source_dlq = format!("{input}:dlq");
    let malformed = poll(Duration::from_secs(30), || {
        let n: usize = redis::cmd("XLEN").arg(&source_dlq).query(&mut con).unwrap();
        (n >= 1).then_some(n)
    });
    assert!(
        malformed.is_some(),
        "the malformed entry was not dead-lettered"
    );
    let _: () = redis::cmd("DEL").arg(&source_dlq).query(&mut con).unwrap();
    let acked = poll(Duration::from_secs(20), || {
        (pending(&mut con, &input, "weft") == 0).then_some(())
    });
    assert!(acked.is_some(), "poison entries left pending");
    let _: () = redis::cmd("DEL")
        .arg(&input)
        .arg(&output)
        .arg(&dlq)
        .query(&mut con)
        .unwrap();
}

#[test]
fn plugin_state_on_redis_survives_a_restart_and_is_invisible_to_other_plugins() {
    let Some(mut con) = redis() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    let probe = support::plugin_wasm("weft-test-probe");
    let n = support::rand_u64();
    let (pa, pb) = (format!("kv-a-{n}"), format!("kv-b-{n}"));
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{a}"
data_dir = "data"
[kv.redis]
url = "{URL}"
[plugins.{pa}]
path = "{probe}"
kv = "redis"
[plugins.{pb}]
path = "{probe}"
kv = "redis"
[sinks.out]
type = "file"
path = "out.jsonl"
[[routes]]
name = "a"
from = ["topic:a"]
plugins = ["{pa}"]
to = ["out"]
[[routes]]
name = "b"
from = ["topic:b"]
plugins = ["{pb}"]
to = ["out"]
"#,
            probe = probe.display()
        ),
    )
    .unwrap();
    let ev = |id: &str, ty: &str, data: Value| json!({"specversion": "1.0", "id": id, "source": "/t", "type": ty, "datacontenttype": "application/json", "data": data});
    let mut hub = Hub::start(dir.path(), a);
    assert_eq!(
        support::post_event(
            a,
            "a",
            &ev("set", "kv-set", json!({"key": "k", "value": "v1"}))
        )
        .status,
        202
    );
    poll(Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("out.jsonl"))
            .ok()
            .filter(|s| s.contains("\"set\""))
    })
    .expect("set processed");
    assert_eq!(hub.terminate().code(), Some(0));
    let _hub = Hub::start(dir.path(), a);
    assert_eq!(
        support::post_event(a, "a", &ev("get-a", "kv-get", json!({"key": "k"}))).status,
        202
    );
    assert_eq!(
        support::post_event(a, "b", &ev("get-b", "kv-get", json!({"key": "k"}))).status,
        202
    );
    let out = poll(Duration::from_secs(20), || {
        let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap_or_default();
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (events.len() >= 3).then_some(events)
    })
    .expect("both reads processed");
    let get = |id: &str| out.iter().find(|e| e["id"] == id).unwrap()["data"]["value"].clone();
    assert_eq!(get("get-a"), "v1", "state survived the restart");
    assert_eq!(
        get("get-b"),
        Value::Null,
        "plugin b cannot see plugin a's keys"
    );
    let stored: Option<String> = redis::cmd("GET")
        .arg(format!("weft:kv2:{}:{pa}:7:default:k", pa.len()))
        .query(&mut con)
        .unwrap();
    assert_eq!(stored.as_deref(), Some("v1"));
    let _: () = redis::cmd("DEL")
        .arg(format!("weft:kv2:{}:{pa}:7:default:k", pa.len()))
        .query(&mut con)
        .unwrap();
}

/// A `redis-server` owned by one test, on its own port, persisting every write (AOF,
/// fsync always) so that a `kill -9` and restart keeps what it confirmed.
struct OwnRedis {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start() -> Option<OwnRedis> {
        let which = std::process::Command::new("redis-server")
            .arg("--version")
            .output();
        if which.is_err() {
            if !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1") {
                panic!(
                    "redis-server is required (set WEFT_SKIP_BROKERS=1 to skip the broker tests) but not installed"
                );
            }
            eprintln!("skipping: redis-server not installed");
            return None;
        }
        let mut server = OwnRedis {
            child: None,
            port: support::free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starting redis-server");
        self.child = Some(child);
        let url = self.url();
        poll(Duration::from_secs(20), || {
            redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .ok()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).ok())
        })
        .expect("test redis-server did not come up");
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[test]
fn redis_restarted_under_load_weft_reconnects_and_loses_nothing() {
    let Some(mut server) = OwnRedis::start() else {
        return;
    };
    let url = server.url();
    let (input, output) = ("restart:in", "restart:out");
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    let probe = support::plugin_wasm("weft-test-probe");
    let connection =
        "connection_timeout_ms = 500\nresponse_timeout_ms = 1000\nreconnect_max_backoff_ms = 300";
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{a}"
data_dir = "data"

[plugins.probe]
path = "{probe}"

[sources.orders]
type = "redis-stream"
url = "{url}"
stream = "{input}"
group = "weft"
consumer = "c1"
batch_size = 64
claim_idle_ms = 1000
claim_interval_ms = 200
{connection}

[sinks.out]
type = "redis-stream"
url = "{url}"
stream = "{output}"
{connection}

[[routes]]
name = "orders"
from = ["orders"]
plugins = ["probe"]
to = ["out"]
retry = {{ attempts = 50, initial_backoff_ms = 20, max_backoff_ms = 500 }}
dead_letter = "out"
"#,
            probe = probe.display()
        ),
    )
    .unwrap();
    let _hub = Hub::start(dir.path(), a);

    // The producer adds events one by one, retrying through the outage, and records the
    // ones Redis confirmed.
    const N: usize = 3000;
    let producer_url = url.clone();
    let producer = std::thread::spawn(move || {
        let client = redis::Client::open(producer_url.as_str()).unwrap();
        let mut con = None;
        let mut confirmed = Vec::with_capacity(N);
        for i in 0..N {
            let event = event_json(&format!("e{i}"), "echo", json!({"i": i}));
            loop {
                if con.is_none() {
                    con = client
                        .get_connection_with_timeout(Duration::from_millis(200))
                        .ok();
                }
                let Some(c) = con.as_mut() else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let added: redis::RedisResult<String> = redis::cmd("XADD")
                    .arg(input)
                    .arg("*")
                    .arg("event")
                    .arg(&event)
                    .query(c);
                match added {
                    Ok(_) => {
                        confirmed.push(format!("e{i}"));
                        break;
                    }
                    Err(_) => {
                        con = None;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            if i % 5 == 0 {
                std::thread::sleep(Duration::from_millis(2)); // a steady load of ~2,000 events/s
            }
        }
        confirmed
    });

    let output_ids = |url: &str| -> Option<Vec<String>> {
        let mut con = redis::Client::open(url)
            .ok()?
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        Some(stream_ids(&mut con, output))
    };
    poll(Duration::from_secs(60), || {
        output_ids(&url).filter(|ids| ids.len() >= N / 3)
    })
    .expect("events flowed before the restart");
    server.kill9();
    std::thread::sleep(Duration::from_millis(500));
    server.spawn();
    let started = std::time::Instant::now();
    let confirmed = producer.join().expect("producer");
    assert_eq!(confirmed.len(), N);
    let arrived = poll(Duration::from_secs(120), || {
        let ids: HashSet<String> = output_ids(&url)?.into_iter().collect();
        confirmed.iter().all(|id| ids.contains(id)).then_some(ids)
    });
    let lines = output_ids(&url).unwrap_or_default();
    let distinct: HashSet<&String> = lines.iter().collect();
    let missing: Vec<&String> = confirmed
        .iter()
        .filter(|id| !distinct.contains(id))
        .take(5)
        .collect();
    assert!(
        arrived.is_some(),
        "lost events across the Redis restart, e.g. {missing:?} ({} of {N} arrived)",
        distinct.len()
    );
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let acked = poll(Duration::from_secs(30), || {
        (pending(&mut con, input, "weft") == 0).then_some(())
    });
    assert!(
        acked.is_some(),
        "{} entries still pending after the restart",
        pending(&mut con, input, "weft")
    );
    eprintln!(
        "redis-server kill -9 + restart under load: {N} confirmed, all delivered ({} duplicates), caught up {:?} after the restart",
        lines.len() - distinct.len(),
        started.elapsed()
    );
}

/// `examples/redis-streams.toml` as shipped (its stream names made unique): the command in
/// its header comment gives one event on the downstream stream, and a duplicate is
/// dropped by the bundled dedupe plugin with state in Redis.
#[test]
fn the_redis_streams_example_runs_as_its_comment_says() {
    let Some(mut con) = redis() else { return };
    let tag = support::rand_u64();
    let example =
        std::fs::read_to_string(support::root().join("examples/redis-streams.toml")).unwrap();
    let (orders, accepted) = (format!("orders-{tag}"), format!("orders.accepted-{tag}"));
    let config = example
        .replace(
            "stream = \"orders.accepted\"",
            &format!("stream = \"{accepted}\""),
        )
        .replace(
            "stream = \"orders:dlq\"",
            &format!("stream = \"{orders}:dlq\""),
        )
        .replace("stream = \"orders\"", &format!("stream = \"{orders}\""))
        .replace("data_dir = \"../.weft\"", "data_dir = \"data\"");
    assert_ne!(config, example, "the example's stream names changed");
    let dir = tempfile::tempdir().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let config = config.replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"{addr}\""),
    );
    std::fs::write(dir.path().join("weft.toml"), config).unwrap();
    let _hub = support::Hub::start(dir.path(), addr);
    let event = json!({"specversion":"1.0","id":format!("ex-{tag}"),"source":"/erp","type":"com.example.order.created","data":{}}).to_string();
    xadd_many(&mut con, &orders, [event.clone(), event].into_iter());
    let got = support::poll(Duration::from_secs(30), || {
        let ids = stream_ids(&mut con, &accepted);
        (!ids.is_empty()).then_some(ids)
    })
    .expect("the example delivers to its downstream stream");
    // the duplicate is read and acknowledged without reaching the stream
    support::poll(Duration::from_secs(30), || {
        let info: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&orders)
            .query(&mut con)
            .ok()?;
        let group = info.groups.into_iter().find(|g| g.name == "weft")?;
        (group.entries_read == Some(2) && group.pending == 0).then_some(())
    })
    .expect("both entries read and acknowledged");
    assert_eq!(stream_ids(&mut con, &accepted), got);
    assert_eq!(got, vec![format!("ex-{tag}")]);
    let _: () = redis::cmd("DEL")
        .arg(&orders)
        .arg(&accepted)
        .query(&mut con)
        .unwrap();
}
