//! CESQL route filters (`filter = { sql = "…" }`) in the running hub: only matching events
//! take the route, evaluation errors count as "no match" and are counted per kind, and a
//! syntax error is a configuration error with its location.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Hub, http, poll, post_event};

fn ev(id: &str, ty: &str, ext: Value) -> Value {
    let mut e = json!({"specversion": "1.0", "id": id, "source": "/test", "type": ty});
    if let Value::Object(m) = ext {
        for (k, v) in m {
            e[k] = v;
        }
    }
    e
}

fn ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn only_events_the_expression_accepts_take_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
max_in_flight = 1

[sinks.big]
type = "file"
path = "big.jsonl"

[sinks.eu]
type = "file"
path = "eu.jsonl"

[[routes]]
name = "big-orders"
from = ["topic:in"]
filter = {{ sql = "type LIKE 'order.%' AND amount > 100 OR id = 'end'" }}
to = ["big"]
retry = {{ attempts = 3 }}

[[routes]]
name = "eu-orders"
from = ["topic:in"]
filter = {{ type = {{ prefix = "order." }}, sql = "region IN ('de', 'fr') OR id = 'end'" }}
to = ["eu"]
retry = {{ attempts = 3 }}
"#
        ),
    )
    .unwrap();
    let _hub = Hub::start(dir.path(), addr);
    let events = [
        ev("1", "order.created", json!({"amount": 150, "region": "de"})),
        ev("2", "order.created", json!({"amount": 50, "region": "fr"})),
        ev(
            "3",
            "invoice.created",
            json!({"amount": 500, "region": "de"}),
        ),
        // no `amount`: MissingAttribute → default value, no match on big-orders
        ev("4", "order.created", json!({"region": "us"})),
        // `amount` not an integer: CastError → no match on big-orders
        ev(
            "5",
            "order.created",
            json!({"amount": "lots", "region": "fr"}),
        ),
        ev("6", "order.updated", json!({"amount": 101, "region": "it"})),
        // every attribute the expressions read is present: no error, `id = 'end'` decides
        ev("end", "order.end", json!({"amount": 0, "region": "x"})),
    ];
    for e in &events {
        let r = post_event(addr, "in", e);
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let big = dir.path().join("big.jsonl");
    let eu = dir.path().join("eu.jsonl");
    poll(Duration::from_secs(30), || {
        (ids(&big).contains(&"end".to_string()) && ids(&eu).contains(&"end".to_string()))
            .then_some(())
    })
    .expect("the last event reached both sinks");
    assert_eq!(ids(&big), ["1", "6", "end"]);
    assert_eq!(ids(&eu), ["1", "2", "5", "end"]);
    let metrics = http(addr, "GET", "/metrics", &[], b"").unwrap().body;
    let count = |route: &str, kind: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("weft_route_filter_errors_total")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains(&format!("kind=\"{kind}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    assert_eq!(
        count("big-orders", "missingAttribute"),
        Some(1),
        "{metrics}"
    );
    assert_eq!(count("big-orders", "cast"), Some(1), "{metrics}");
    assert_eq!(count("eu-orders", "missingAttribute"), None, "{metrics}");
}

#[test]
fn a_syntax_error_is_a_configuration_error_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.toml");
    std::fs::write(
        &path,
        r#"[hub]
listen = "127.0.0.1:0"

[[routes]]
name = "r"
from = ["topic:in"]
filter = { sql = "type = 'a' AND (" }
to = ["stdout"]
"#,
    )
    .unwrap();
    let out = std::process::Command::new(support::weft_bin())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    assert!(
        stdout.contains("invalid CESQL expression `type = 'a' AND (`"),
        "{stdout}"
    );
    assert!(stdout.contains("weft.toml:7:"), "the location: {stdout}");
}
