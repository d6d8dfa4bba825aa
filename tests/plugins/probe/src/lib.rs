//! Test plugin for weft's limit and grant tests. The event type says what to do:
//!
//! - `echo`: return the event unchanged;
//! - `trap`: panic (a trap);
//! - `loop`: spin forever (stopped by the CPU limit);
//! - `alloc`: allocate without bound (stopped by the memory limit);
//! - `http`: GET the URL in the event data (`{"url": ...}`), emit `{"status": n}`;
//! - `kv-set`: store data `{"key": k, "value": v}`; `kv-get`: emit `{"value": v|null}`;
//! - `config`: emit all config keys as a JSON object;
//! - `many`: emit `{"n": n}` copies of the event;
//! - `flaky`: fail with `retry` the first time (per warm instance) an id is seen;
//! - `retry` / `reject`: fail that way.

use weft_sdk::{Event, Failure, HandlerResult};

fn field(event: &Event, name: &str) -> Result<String, Failure> {
    let data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
    match &data[name] {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(Failure::reject(format!("data field `{name}` missing"))),
    }
}

/// Does what the event type says.
pub fn handle(event: Event) -> HandlerResult {
    match event.ty.as_str() {
        "echo" => Ok(vec![event]),
        // computes for `data.ms` milliseconds of wall time, then passes the event on
        "spin" => {
            let ms = event
                .data_json::<serde_json::Value>()
                .ok()
                .and_then(|d| d["ms"].as_u64())
                .unwrap_or(20);
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_millis(ms) {
                std::hint::black_box(started);
            }
            Ok(vec![event])
        }
        "trap" => panic!("probe asked to trap"),
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1024 * 1024]);
                std::hint::black_box(&hoard);
            }
        }
        "http" => {
            let url = field(&event, "url")?;
            match weft_sdk::http::get(&url) {
                Ok(r) => Ok(vec![event.with_json(&serde_json::json!({"status": r.status, "body": String::from_utf8_lossy(&r.body)}))]),
                Err(e) => Err(Failure::reject(e)),
            }
        }
        "kv-set" => {
            let key = field(&event, "key")?;
            let value = field(&event, "value")?;
            weft_sdk::kv::set(&key, value.as_bytes()).map_err(Failure::retry)?;
            Ok(vec![event])
        }
        "kv-get" => {
            let key = field(&event, "key")?;
            let value = weft_sdk::kv::get(&key).map_err(Failure::retry)?;
            let value = value.map(|v| String::from_utf8_lossy(&v).into_owned());
            Ok(vec![event.with_json(&serde_json::json!({"value": value}))])
        }
        "config" => {
            let all: serde_json::Map<String, serde_json::Value> = weft_sdk::config::all()
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect();
            Ok(vec![event.with_json(&all)])
        }
        "many" => {
            let n: usize = field(&event, "n")?.parse().map_err(Failure::reject)?;
            Ok((0..n)
                .map(|i| {
                    let mut e = event.clone();
                    e.id = format!("{}-{i}", e.id);
                    e
                })
                .collect())
        }
        // fails with `retry` the first time this instance sees the event's id, then
        // passes it on (run it in warm mode: an instance remembers across events)
        "flaky" => {
            static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
            let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
            if seen.contains(&event.id) {
                Ok(vec![event])
            } else {
                seen.push(event.id.clone());
                Err(Failure::retry("probe: failing once"))
            }
        }
        "retry" => Err(Failure::retry("probe asked to retry")),
        "reject" => Err(Failure::reject("probe asked to reject")),
        other => Err(Failure::reject(format!("probe: unknown type `{other}`"))),
    }
}

weft_sdk::export_handler!(handle);
