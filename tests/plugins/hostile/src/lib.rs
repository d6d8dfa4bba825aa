//! An adversarial test plugin: each event type is one attempt to get past the host's
//! bounds. The event data (JSON) parameterises it.
//!
//! - `echo`: pass the event on;
//! - `handles` `{"n", "value_bytes"}`: create `n` `wasi:http` header `fields`, each with one
//!   header of `value_bytes`, and keep them all (handle exhaustion);
//! - `big-header` `{"bytes"}`: build one header value of `bytes` (header size cap);
//! - `flood` `{"url", "n"}`: start `n` requests at once, then wait for each; emits
//!   `{"ok", "limited", "other"}` counts (concurrent request cap);
//! - `leave-pending` `{"url"}`: start a request and return without waiting for it, keeping
//!   its handle in a static; emits `{"kept_from_before": bool}` saying whether a request
//!   of an earlier event was still held by this instance (pending requests across events);
//! - `fail-huge` `{"bytes"}`: reject with a message of `bytes` bytes full of newlines and
//!   escape sequences;
//! - `log-huge` `{"bytes"}`: log such a message, then pass the event on;
//! - `copy-bomb` `{"bytes"}`: return one event whose data is `bytes` long;
//! - `fanout` `{"n"}`: return `n` copies of the event (a chain of these multiplies);
//! - `http` `{"url"}`: GET the URL, emit `{"status"}` (granted name resolving to loopback,
//!   slow hosts).

#[cfg(target_arch = "wasm32")]
use std::cell::RefCell;

use weft_sdk::{Event, Failure, HandlerResult};

#[cfg(target_arch = "wasm32")]
use weft_sdk::bindings::wasi::http::{outgoing_handler, types};

fn num(event: &Event, name: &str) -> Result<usize, Failure> {
    let data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
    data[name]
        .as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| Failure::reject(format!("data field `{name}` missing")))
}

fn text(event: &Event, name: &str) -> Result<String, Failure> {
    let data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
    data[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::reject(format!("data field `{name}` missing")))
}

/// A message of `bytes` bytes that tries to forge log lines and colour the terminal.
fn nasty(bytes: usize) -> String {
    let unit = "\n2026-01-01T00:00:00Z  INFO weft: forged line \x1b[31mred\r";
    unit.repeat(bytes / unit.len() + 1)[..bytes].to_string()
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// Requests an earlier event of this instance left pending.
    static KEPT: RefCell<Vec<types::FutureIncomingResponse>> = const { RefCell::new(Vec::new()) };
    /// Header fields kept alive.
    static FIELDS: RefCell<Vec<types::Fields>> = const { RefCell::new(Vec::new()) };
}

#[cfg(target_arch = "wasm32")]
fn start_get(url: &str) -> Result<types::FutureIncomingResponse, String> {
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = types::OutgoingRequest::new(types::Fields::new());
    let scheme = if scheme == "https" {
        types::Scheme::Https
    } else {
        types::Scheme::Http
    };
    request.set_scheme(Some(&scheme)).map_err(|_| "scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|_| "authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|_| "path")?;
    outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))
}

/// Does what the event type says.
pub fn handle(event: Event) -> HandlerResult {
    match event.ty.as_str() {
        "echo" => Ok(vec![event]),
        #[cfg(target_arch = "wasm32")]
        "handles" => {
            let n = num(&event, "n")?;
            let value = vec![b'v'; num(&event, "value_bytes")?];
            FIELDS.with(|kept| {
                let mut kept = kept.borrow_mut();
                for i in 0..n {
                    let fields = types::Fields::new();
                    fields
                        .append("x-filler", &value)
                        .map_err(|e| Failure::reject(format!("append {i}: {e:?}")))?;
                    kept.push(fields);
                }
                Ok(())
            })?;
            Ok(vec![event.with_json(&serde_json::json!({"created": n}))])
        }
        #[cfg(target_arch = "wasm32")]
        "big-header" => {
            let value = vec![b'v'; num(&event, "bytes")?];
            let fields = types::Fields::new();
            fields
                .append("x-big", &value)
                .map_err(|e| Failure::reject(format!("header refused: {e:?}")))?;
            Ok(vec![event])
        }
        #[cfg(target_arch = "wasm32")]
        "flood" => {
            let url = text(&event, "url")?;
            let n = num(&event, "n")?;
            let started: Vec<_> = (0..n).map(|_| start_get(&url)).collect();
            let (mut ok, mut limited, mut other) = (0, 0, Vec::new());
            for pending in started {
                let result = pending.and_then(|p| {
                    p.subscribe().block();
                    match p.get() {
                        Some(Ok(Ok(response))) => Ok(response.status()),
                        Some(Ok(Err(e))) => Err(format!("{e:?}")),
                        _ => Err("no response".into()),
                    }
                });
                match result {
                    Ok(_) => ok += 1,
                    Err(e) if e.contains("ConnectionLimitReached") => limited += 1,
                    Err(e) => other.push(e),
                }
            }
            Ok(vec![event.with_json(
                &serde_json::json!({"ok": ok, "limited": limited, "other": other}),
            )])
        }
        #[cfg(target_arch = "wasm32")]
        "leave-pending" => {
            let url = text(&event, "url")?;
            let kept_from_before = KEPT.with(|k| !k.borrow().is_empty());
            let pending = start_get(&url).map_err(Failure::reject)?;
            KEPT.with(|k| k.borrow_mut().push(pending));
            Ok(vec![event.with_json(
                &serde_json::json!({"kept_from_before": kept_from_before}),
            )])
        }
        "fail-huge" => Err(Failure::reject(nasty(num(&event, "bytes")?))),
        "log-huge" => {
            weft_sdk::log::warn(&nasty(num(&event, "bytes")?));
            Ok(vec![event])
        }
        "copy-bomb" => {
            let bytes = num(&event, "bytes")?;
            let mut out = event.clone();
            out.data = Some(vec![b'x'; bytes]);
            out.datacontenttype = Some("application/octet-stream".into());
            Ok(vec![out])
        }
        "fanout" => {
            let n = num(&event, "n")?;
            Ok((0..n)
                .map(|i| {
                    let mut e = event.clone();
                    e.id = format!("{}-{i}", e.id);
                    e
                })
                .collect())
        }
        "http" => {
            let url = text(&event, "url")?;
            match weft_sdk::http::get(&url) {
                Ok(r) => Ok(vec![
                    event.with_json(&serde_json::json!({"status": r.status})),
                ]),
                Err(e) => Err(Failure::reject(e)),
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        "handles" | "big-header" | "flood" | "leave-pending" => {
            Err(Failure::reject("only as WebAssembly"))
        }
        other => Err(Failure::reject(format!("hostile: unknown type `{other}`"))),
    }
}

weft_sdk::export_handler!(handle);
