//! `weft tail TOPIC`: follows a topic over server-sent events
//! (`GET /v1/topics/{topic}/events`) and prints each event as one JSON line (pretty and
//! coloured when stdout is a terminal).
//!
//! When the connection ends (the hub restarts, a proxy cuts it, the network fails) tail
//! reconnects with backoff and resumes with `Last-Event-ID` exactly after the last event
//! it printed; before the first event, from the position the hub reported when the stream
//! started (so `--from latest` misses nothing appended while it was reconnecting). A
//! message is printed only once complete (its blank line arrived), so a connection cut in
//! the middle of one neither prints half an event nor skips it. `401`, `403`, `404` and
//! `400` end tail with the hub's reason (exit 2).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::send_cmd::{base_url, http_client, problem_detail};

/// What `weft tail` was asked.
pub struct TailOptions {
    /// The topic.
    pub topic: String,
    /// The hub's base URL.
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
    /// Where to start: latest, earliest, an offset, an event id or an RFC 3339 timestamp.
    pub from: Option<String>,
    /// A CESQL expression.
    pub filter: Option<String>,
    /// Exit after this many events.
    pub count: Option<u64>,
    /// Pretty and coloured output (default: when stdout is a terminal).
    pub pretty: Option<bool>,
}

/// One parsed server-sent event.
#[derive(Debug, Default, PartialEq)]
struct Message {
    event: Option<String>,
    id: Option<String>,
    data: Vec<String>,
}

/// Incremental `text/event-stream` parser: feed bytes, take complete messages.
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    current: Message,
    has_field: bool,
    /// `: weft: following topic T from offset N` seen in a comment.
    start_offset: Option<u64>,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) {
        self.buf.extend_from_slice(bytes);
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = &line[..line.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = String::from_utf8_lossy(line);
            if line.is_empty() {
                if self.has_field {
                    out.push(std::mem::take(&mut self.current));
                    self.has_field = false;
                }
                continue;
            }
            if let Some(comment) = line.strip_prefix(':') {
                if let Some(n) = comment
                    .split_once(" from offset ")
                    .and_then(|(_, n)| n.trim().parse().ok())
                {
                    self.start_offset = Some(n);
                }
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_ref(), ""),
            };
            // `retry:` and unknown fields are not part of a message
            match field {
                "data" => self.current.data.push(value.to_string()),
                "id" => self.current.id = Some(value.to_string()),
                "event" => self.current.event = Some(value.to_string()),
                _ => continue,
            }
            self.has_field = true;
        }
    }
}

/// Why one connection ended.
enum Ended {
    /// The stream ended or broke; reconnect.
    Reconnect(String),
    /// Enough events printed, or stdout closed.
    Done,
    /// A refusal that retrying will not fix.
    Fatal(String),
}

/// What survives reconnects.
struct State {
    /// The `id:` of the last event printed (or a bare `id:` the hub sent).
    last_id: Option<String>,
    /// The first position the hub reported, while no event was printed.
    start: Option<u64>,
    printed: u64,
    pretty: bool,
    /// Whether the last attempt got a stream (resets the backoff).
    connected: bool,
}

/// Runs `weft tail`; returns the exit code.
pub async fn run_tail(options: TailOptions) -> anyhow::Result<u8> {
    let base = base_url(&options.url)?;
    weft_connector_embedded::check_topic(&options.topic).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(sql) = &options.filter {
        weft_cesql::Expression::parse(sql)
            .map_err(|e| anyhow::anyhow!("--filter: invalid CESQL expression `{sql}`: {e}"))?;
    }
    if options.count == Some(0) {
        return Ok(0);
    }
    let client = http_client();
    let mut state = State {
        last_id: None,
        start: None,
        printed: 0,
        pretty: options
            .pretty
            .unwrap_or_else(|| std::io::stdout().is_terminal()),
        connected: false,
    };
    let mut backoff = Duration::from_millis(100);
    let mut notified = false;
    loop {
        state.connected = false;
        match connect_once(&client, &base, &options, &mut state).await {
            Ended::Done => return Ok(0),
            Ended::Fatal(why) => {
                eprintln!("weft tail: {why}");
                return Ok(2);
            }
            Ended::Reconnect(why) => {
                if state.connected {
                    backoff = Duration::from_millis(100);
                    notified = false;
                }
                if !notified {
                    eprintln!("weft tail: {why}; reconnecting");
                    notified = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One connection: request, then print messages until it ends.
async fn connect_once(
    client: &crate::send_cmd::HttpClient,
    base: &str,
    options: &TailOptions,
    state: &mut State,
) -> Ended {
    let mut params = Vec::new();
    if state.last_id.is_none() {
        match (state.start, &options.from) {
            (Some(n), _) => params.push(format!("from={n}")),
            (None, Some(f)) => params.push(format!("from={}", encode(f))),
            (None, None) => {}
        }
    }
    if let Some(f) = &options.filter {
        params.push(format!("filter={}", encode(f)));
    }
    let mut url = format!("{base}/v1/topics/{}/events", options.topic);
    if !params.is_empty() {
        url.push('?');
        url.push_str(&params.join("&"));
    }
    let mut req = http::Request::get(&url).header(http::header::ACCEPT, "text/event-stream");
    if let Some(id) = &state.last_id {
        req = req.header("last-event-id", id.as_str());
    }
    if let Some(token) = &options.token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = match req.body(Full::new(Bytes::new())) {
        Ok(r) => r,
        Err(e) => return Ended::Fatal(format!("building the request failed: {e}")),
    };
    let response = match client.request(req).await {
        Ok(r) => r,
        Err(e) => return Ended::Reconnect(format!("cannot reach {base}: {e}")),
    };
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let why = format!(
            "{} {}: {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            problem_detail(&body)
        );
        return if status.is_server_error() {
            Ended::Reconnect(why)
        } else {
            Ended::Fatal(why)
        };
    }
    state.connected = true;
    let mut body = response.into_body();
    let mut parser = Parser::default();
    let mut messages = Vec::new();
    loop {
        let frame = match body.frame().await {
            None => return Ended::Reconnect("the hub ended the stream".into()),
            Some(Err(e)) => return Ended::Reconnect(format!("the stream broke: {e}")),
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        parser.feed(&data, &mut messages);
        if state.last_id.is_none() && state.start.is_none() {
            state.start = parser.start_offset;
        }
        let mut out = std::io::stdout().lock();
        for m in messages.drain(..) {
            match m.event.as_deref() {
                Some("gap") => {
                    eprintln!(
                        "weft tail: events were lost before this point (removed by retention): {}",
                        m.data.join("\n")
                    );
                    continue;
                }
                None | Some("message") => {}
                Some(_) => continue,
            }
            if m.data.is_empty() {
                // a bare `id:`: the position moved without an event to show
                if let Some(id) = m.id {
                    state.last_id = Some(id);
                }
                continue;
            }
            let data = m.data.join("\n");
            let line = if state.pretty {
                match serde_json::from_str::<Value>(&data) {
                    Ok(v) => {
                        let mut s = String::new();
                        write_coloured(&mut s, &v, 0);
                        s
                    }
                    Err(_) => data,
                }
            } else {
                data
            };
            if writeln!(out, "{line}").is_err() {
                return Ended::Done; // stdout closed (e.g. `| head`)
            }
            if m.id.is_some() {
                state.last_id = m.id;
            }
            state.printed += 1;
            if options.count.is_some_and(|c| state.printed >= c) {
                let _ = out.flush();
                return Ended::Done;
            }
        }
        if out.flush().is_err() {
            return Ended::Done;
        }
    }
}

/// Writes `value` as pretty JSON with ANSI colours.
fn write_coloured(out: &mut String, value: &Value, indent: usize) {
    const KEY: &str = "\x1b[34m";
    const STRING: &str = "\x1b[32m";
    const NUMBER: &str = "\x1b[33m";
    const LITERAL: &str = "\x1b[35m";
    const RESET: &str = "\x1b[0m";
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(KEY);
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push_str(RESET);
                out.push_str(": ");
                write_coloured(out, v, indent + 1);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_coloured(out, v, indent + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::String(_) => {
            out.push_str(STRING);
            out.push_str(&value.to_string());
            out.push_str(RESET);
        }
        Value::Number(_) => {
            out.push_str(NUMBER);
            out.push_str(&value.to_string());
            out.push_str(RESET);
        }
        _ => {
            out.push_str(LITERAL);
            out.push_str(&value.to_string());
            out.push_str(RESET);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_complete_only_at_their_blank_line() {
        let mut p = Parser::default();
        let mut out = Vec::new();
        p.feed(
            b"retry: 1000\n: weft: following topic t from offset 5\n\n",
            &mut out,
        );
        assert_eq!(p.start_offset, Some(5));
        assert!(out.is_empty(), "{out:?}");
        p.feed(b"id: 5\ndata: {\"a\"", &mut out);
        assert!(out.is_empty());
        p.feed(b":1}\n", &mut out);
        assert!(out.is_empty(), "no blank line yet");
        p.feed(
            b"\r\n: heartbeat\n\nid: 6\ndata: x\ndata: y\n\nevent: gap\ndata: {}\n\n",
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].id.as_deref(), Some("5"));
        assert_eq!(out[0].data, vec!["{\"a\":1}".to_string()]);
        assert_eq!(out[1].data, vec!["x".to_string(), "y".to_string()]);
        assert_eq!(out[2].event.as_deref(), Some("gap"));
    }

    #[test]
    fn colours_keep_the_json() {
        let v: Value = serde_json::json!({"a": [1, "x", null], "b": {}});
        let mut s = String::new();
        write_coloured(&mut s, &v, 0);
        let plain: String = {
            let mut out = String::new();
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    for c in chars.by_ref() {
                        if c == 'm' {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(serde_json::from_str::<Value>(&plain).unwrap(), v);
        assert!(s.contains("\x1b[34m\"a\""));
    }
}
