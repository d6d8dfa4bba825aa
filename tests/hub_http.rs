//! The hub end to end through its HTTP ingress: the CloudEvents HTTP binding, validation,
//! plugins with limits inside routes, dead letter, metrics, crash durability, shutdown.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Hub, http, poll, post_event};

fn write_config(dir: &Path, addr: SocketAddr, extra: &str) {
    let probe = support::plugin_wasm("weft-test-probe");
    let text = format!(
        r#"
[hub]
listen = "{addr}"
data_dir = "data"
max_body_bytes = 4096
dead_letter = "dead"

[plugins.probe]
path = "{probe}"
limits.cpu_ms = 100
limits.memory_mib = 16

[sinks.out]
type = "file"
path = "out.jsonl"

[sinks.dead]
type = "file"
path = "dead.jsonl"

[[routes]]
name = "probe"
from = ["topic:in"]
plugins = ["probe"]
to = ["out"]
retry = {{ attempts = 2, initial_backoff_ms = 10 }}
{extra}
"#,
        probe = probe.display()
    );
    std::fs::write(dir.join("weft.toml"), text).unwrap();
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn ev(id: &str, ty: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/test", "type": ty, "datacontenttype": "application/json", "data": data})
}

#[test]
fn malformed_events_get_a_problem_naming_it_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, "");
    let _hub = Hub::start(dir.path(), addr);
    let ce = [("content-type", "application/cloudevents+json")];
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("missing id", br#"{"specversion":"1.0","source":"/s","type":"t"}"#.to_vec(), 400, "`id` is missing"),
        ("bad attribute name", br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad-Name":"x"}"#.to_vec(), 400, "invalid attribute name `Bad-Name`"),
        ("data and data_base64", br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#.to_vec(), 400, "mutually exclusive"),
        ("invalid JSON", b"{\"specversion\": ".to_vec(), 400, "invalid JSON"),
        ("oversize", format!(r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"{}"}}"#, "x".repeat(5000)).into_bytes(), 413, "exceeds the limit of 4096 bytes"),
    ];
    for (name, body, status, needle) in cases {
        let r = http(addr, "POST", "/v1/events/in", &ce, &body).unwrap();
        assert_eq!(r.status, status, "{name}: {}", r.body);
        let problem = r.json();
        assert!(
            problem["detail"].as_str().unwrap_or("").contains(needle),
            "{name}: {}",
            r.body
        );
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/problem+json"),
            "{name}"
        );
    }
    // a bad event inside a batch rejects the whole batch and names its index
    let batch = json!([ev("b1", "echo", json!({})), {"specversion": "1.0", "id": "b2"}]);
    let r = http(
        addr,
        "POST",
        "/v1/events/in",
        &[("content-type", "application/cloudevents-batch+json")],
        batch.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.body.contains("index 1"), "{}", r.body);
    // binary mode without the required headers
    let r = http(
        addr,
        "POST",
        "/v1/events/in",
        &[("content-type", "application/json")],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.body.contains("ce-specversion"), "{}", r.body);
    // nothing of the above was stored: the next good event gets offset 0
    let r = post_event(addr, "in", &ev("good", "echo", json!({})));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["offsets"], json!([0]));
}

#[test]
fn structured_batch_and_binary_modes_flow_through_a_plugin_to_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, "");
    let _hub = Hub::start(dir.path(), addr);
    assert_eq!(
        post_event(addr, "in", &ev("s1", "echo", json!({"n": 1}))).status,
        202
    );
    let batch = json!([
        ev("b1", "echo", json!({"n": 2})),
        ev("b2", "echo", json!({"n": 3}))
    ]);
    let r = http(
        addr,
        "POST",
        "/v1/events/in",
        &[("content-type", "application/cloudevents-batch+json")],
        batch.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let r = http(
        addr,
        "POST",
        "/v1/events/in",
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "bin1"),
            ("ce-source", "/test"),
            ("ce-type", "echo"),
            ("ce-subject", "a%20b"),
            (
                "ce-traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("content-type", "application/json"),
        ],
        br#"{"n":4}"#,
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let out = poll(Duration::from_secs(20), || {
        let events = read_jsonl(&dir.path().join("out.jsonl"));
        (events.len() >= 4).then_some(events)
    })
    .expect("four events at the sink");
    let ids: HashSet<&str> = out.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, HashSet::from(["s1", "b1", "b2", "bin1"]));
    let bin = out.iter().find(|e| e["id"] == "bin1").unwrap();
    assert_eq!(bin["subject"], "a b");
    assert_eq!(
        bin["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(bin["data"], json!({"n": 4}));
    // unknown topic
    assert_eq!(
        post_event(addr, "nobody-reads-this", &ev("x", "echo", json!({}))).status,
        404
    );
    // metrics: four events reached the sink, each counted once on the happy path. The
    // counters move just after the sink's write returns, so poll until they settle.
    let scrape = || {
        let m = http(addr, "GET", "/metrics", &[], b"").unwrap();
        assert_eq!(m.status, 200);
        m
    };
    let value = |body: &str, series: &str| -> Option<f64> {
        body.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
    };
    let emitted = "weft_events_emitted_total{route=\"probe\",sink=\"out\"}";
    let received = "weft_events_received_total{route=\"probe\"}";
    let m = poll(Duration::from_secs(10), || {
        let m = scrape();
        (value(&m.body, emitted) >= Some(4.0) && value(&m.body, received) >= Some(4.0)).then_some(m)
    })
    .unwrap_or_else(|| panic!("metrics never counted four events: {}", scrape().body));
    assert_eq!(value(&m.body, emitted), Some(4.0), "{}", m.body);
    assert_eq!(value(&m.body, received), Some(4.0), "{}", m.body);
    assert!(
        m.body.contains("weft_plugin_duration_seconds_bucket"),
        "{}",
        m.body
    );
    assert_eq!(http(addr, "GET", "/healthz", &[], b"").unwrap().status, 200);
}

#[test]
fn misbehaving_plugins_fail_their_event_only_and_end_in_the_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, "");
    let _hub = Hub::start(dir.path(), addr);
    for (id, ty) in [
        ("loop-1", "loop"),
        ("alloc-1", "alloc"),
        ("trap-1", "trap"),
        ("reject-1", "reject"),
    ] {
        assert_eq!(post_event(addr, "in", &ev(id, ty, json!({}))).status, 202);
    }
    for i in 0..20 {
        assert_eq!(
            post_event(addr, "in", &ev(&format!("ok-{i}"), "echo", json!({}))).status,
            202
        );
    }
    let out = poll(Duration::from_secs(30), || {
        let e = read_jsonl(&dir.path().join("out.jsonl"));
        (e.len() >= 20).then_some(e)
    })
    .expect("the good events arrive");
    assert_eq!(out.len(), 20);
    let dead = poll(Duration::from_secs(30), || {
        let e = read_jsonl(&dir.path().join("dead.jsonl"));
        (e.len() >= 4).then_some(e)
    })
    .expect("the bad events are dead-lettered");
    let reason = |id: &str| {
        dead.iter().find(|e| e["id"] == id).map(|e| {
            (
                e["deadletterreason"].as_str().unwrap_or("").to_string(),
                e["deadletterattempts"].clone(),
            )
        })
    };
    let (r, attempts) = reason("loop-1").unwrap();
    assert!(r.contains("CPU limit of 100 ms"), "{r}");
    assert_eq!(attempts, "2");
    let (r, _) = reason("alloc-1").unwrap();
    assert!(r.contains("memory limit of 16 MiB"), "{r}");
    let (r, _) = reason("trap-1").unwrap();
    assert!(r.contains("trapped"), "{r}");
    let (r, attempts) = reason("reject-1").unwrap();
    assert!(r.contains("probe asked to reject"), "{r}");
    assert_eq!(attempts, "1", "a rejection is not retried");
    assert_eq!(
        dead.iter().find(|e| e["id"] == "loop-1").unwrap()["deadletterat"],
        "probe"
    );
}

#[test]
fn every_accepted_event_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, "");
    let mut hub = Hub::start(dir.path(), addr);
    let mut accepted = HashSet::new();
    let total = 1000;
    let mut i = 0;
    let mut kills = 0;
    while i < total {
        // kill -9 twice: once while events are still being processed, once mid-stream
        if (kills == 0 && i == total / 4) || (kills == 1 && i == total / 2) {
            hub.kill9();
            kills += 1;
            hub = Hub::start(dir.path(), addr);
        }
        let id = format!("c-{i}");
        match http(
            addr,
            "POST",
            "/v1/events/in",
            &[("content-type", "application/cloudevents+json")],
            ev(&id, "echo", json!({"i": i})).to_string().as_bytes(),
        ) {
            Ok(r) if r.status == 202 => {
                accepted.insert(id);
                i += 1;
            }
            _ => std::thread::sleep(Duration::from_millis(20)), // not accepted: send again
        }
    }
    assert_eq!(kills, 2);
    let delivered = poll(Duration::from_secs(60), || {
        let ids: HashSet<String> = read_jsonl(&dir.path().join("out.jsonl"))
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect();
        accepted.is_subset(&ids).then_some(ids)
    });
    let ids: HashSet<String> = read_jsonl(&dir.path().join("out.jsonl"))
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    let lost: Vec<_> = accepted.difference(&ids).take(10).collect();
    assert!(
        delivered.is_some(),
        "{} accepted events lost, e.g. {lost:?}",
        accepted.difference(&ids).count()
    );
    assert_eq!(accepted.len(), total);
    let lines = read_jsonl(&dir.path().join("out.jsonl")).len();
    eprintln!(
        "kill -9 test: {total} accepted, {} distinct delivered, {} lines ({} duplicates)",
        ids.len(),
        lines,
        lines - ids.len()
    );
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, "");
    // two at a time, 1 s each: when the signal comes right after the first two were
    // delivered, the next two are half a second or more from done
    let config = std::fs::read_to_string(dir.path().join("weft.toml")).unwrap();
    let config = config
        .replace(
            "max_body_bytes = 4096",
            "max_body_bytes = 4096\nmax_in_flight = 2",
        )
        .replace("limits.cpu_ms = 100", "limits.cpu_ms = 10000");
    std::fs::write(dir.path().join("weft.toml"), config).unwrap();
    let mut hub = Hub::start(dir.path(), addr);
    for i in 0..6 {
        assert_eq!(
            post_event(
                addr,
                "in",
                &ev(&format!("t-{i}"), "spin", json!({"ms": 1000}))
            )
            .status,
            202
        );
    }
    let delivered = |dir: &Path| -> HashSet<String> {
        read_jsonl(&dir.join("out.jsonl"))
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect()
    };
    poll(Duration::from_secs(30), || {
        (!delivered(dir.path()).is_empty()).then_some(())
    })
    .expect("events start flowing");
    let before_signal = delivered(dir.path()).len();
    let status = hub.terminate();
    assert!(status.success(), "weft exited with {status}");
    // the events in flight when the signal came were finished before the exit
    let at_exit = delivered(dir.path()).len();
    assert!(
        at_exit > before_signal,
        "nothing was drained: {before_signal} delivered at the signal, {at_exit} at exit"
    );
    // whatever had not started is delivered after a restart: nothing is lost
    let _hub = Hub::start(dir.path(), addr);
    let got = poll(Duration::from_secs(30), || {
        let ids = delivered(dir.path());
        (ids.len() >= 6).then_some(ids)
    });
    assert_eq!(got.map(|ids| ids.len()), Some(6));
}
