//! Server-sent events against the running hub: `GET /v1/topics/{topic}/events` framing,
//! every `from` position, `Last-Event-ID` resumption, CESQL filters, heartbeats, access
//! control, errors, and a clean end on shutdown.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Hub, http};

const TOKEN_READER: &str = "reader-token-0123456789";
const TOKEN_WRITER: &str = "writer-token-0123456789";

fn write_config(dir: &Path, addr: SocketAddr, extra_hub: &str, extra: &str) {
    std::fs::write(
        dir.join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
{extra_hub}

[[routes]]
name = "r"
from = ["topic:in"]
to = ["topic:out"]
retry = {{ attempts = 3 }}
{extra}
"#
        ),
    )
    .unwrap();
}

fn start(extra_hub: &str, extra: &str) -> (tempfile::TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, extra_hub, extra);
    let hub = Hub::start(dir.path(), addr);
    (dir, hub)
}

fn ev(id: &str, ty: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/test", "type": ty, "data": {"n": id}})
}

fn post_batch(addr: SocketAddr, topic: &str, events: &[Value], token: Option<&str>) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/cloudevents-batch+json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let r = http(
        addr,
        "POST",
        &format!("/v1/events/{topic}"),
        &headers,
        Value::from(events.to_vec()).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
}

/// One message of the stream.
#[derive(Debug, Default, Clone)]
struct Msg {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
    comments: Vec<String>,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data.join("\n")).unwrap()
    }
}

/// A streaming reader of one SSE response (HTTP/1.1, chunked).
struct Stream {
    status: u16,
    headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
    body: String,
    ended: bool,
}

impl Stream {
    fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Stream {
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut req =
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            match reader.read(&mut b) {
                Ok(0) => break,
                Ok(_) => head.push(b[0]),
                Err(_) if Instant::now() < deadline => continue,
                Err(e) => panic!("no response head: {e}"),
            }
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Stream {
            status,
            headers,
            reader,
            pending: Vec::new(),
            body: String::new(),
            ended: false,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads one chunk of the chunked body into `pending`; false at the end or timeout.
    fn read_chunk(&mut self, deadline: Instant) -> bool {
        let mut size_line = String::new();
        loop {
            match self.reader.read_line(&mut size_line) {
                Ok(0) => {
                    self.ended = true;
                    return false;
                }
                Ok(_) if size_line.ends_with('\n') => break,
                Ok(_) => continue,
                Err(_) if Instant::now() < deadline => continue,
                Err(_) => return false,
            }
        }
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
        if size == 0 {
            self.ended = true;
            return false;
        }
        let mut buf = vec![0u8; size + 2];
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => {
                    self.ended = true;
                    return false;
                }
                Ok(n) => got += n,
                Err(_) if Instant::now() < deadline + Duration::from_secs(5) => continue,
                Err(e) => panic!("chunk cut: {e}"),
            }
        }
        self.pending.extend_from_slice(&buf[..size]);
        true
    }

    /// The next complete message (comments-only blocks included), or None at the end or
    /// after `timeout`.
    fn next(&mut self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = find_blank(&self.pending) {
                let block: Vec<u8> = self.pending.drain(..pos).collect();
                let text = String::from_utf8_lossy(&block).to_string();
                self.body.push_str(&text);
                let mut m = Msg::default();
                for line in text.split('\n').filter(|l| !l.is_empty()) {
                    if let Some(c) = line.strip_prefix(':') {
                        m.comments.push(c.trim().to_string());
                    } else if let Some((f, v)) = line.split_once(':') {
                        let v = v.strip_prefix(' ').unwrap_or(v).to_string();
                        match f {
                            "id" => m.id = Some(v),
                            "event" => m.event = Some(v),
                            "data" => m.data.push(v),
                            _ => {}
                        }
                    }
                }
                return Some(m);
            }
            if self.ended || Instant::now() >= deadline {
                return None;
            }
            self.read_chunk(deadline);
        }
    }

    /// The next `n` events (messages with data), skipping comments and bare ids.
    fn events(&mut self, n: usize, timeout: Duration) -> Vec<Msg> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(m) if !m.data.is_empty() => out.push(m),
                Some(_) => {}
                None => break,
            }
        }
        out
    }
}

/// Position just after the next "\n\n" (end of one message block).
fn find_blank(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2)
}

fn ids(msgs: &[Msg]) -> Vec<String> {
    msgs.iter()
        .map(|m| m.json()["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn streams_from_earliest_resumes_with_last_event_id_and_follows_live() {
    let (_dir, hub) = start("", "");
    let addr = hub.addr;
    let first: Vec<Value> = (0..10).map(|i| ev(&format!("e{i}"), "t.a")).collect();
    post_batch(addr, "in", &first, None);

    let mut s = Stream::open(addr, "/v1/topics/in/events?from=earliest", &[]);
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    assert_eq!(s.header("cache-control"), Some("no-cache"));
    let got = s.events(10, Duration::from_secs(10));
    assert_eq!(
        got.iter()
            .map(|m| m.id.clone().unwrap())
            .collect::<Vec<_>>(),
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>(),
        "`id:` is the log offset"
    );
    assert_eq!(
        ids(&got),
        (0..10).map(|i| format!("e{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        got[3].json()["data"],
        json!({"n": "e3"}),
        "the structured CloudEvent"
    );
    assert_eq!(got[3].json()["specversion"], "1.0");

    // live: events appended later arrive on the open stream
    let more: Vec<Value> = (10..13).map(|i| ev(&format!("e{i}"), "t.a")).collect();
    post_batch(addr, "in", &more, None);
    let live = s.events(3, Duration::from_secs(10));
    assert_eq!(ids(&live), ["e10", "e11", "e12"]);

    // Last-Event-ID resumes exactly after that event, and wins over ?from
    let mut r = Stream::open(
        addr,
        "/v1/topics/in/events?from=earliest",
        &[("last-event-id", "4")],
    );
    let resumed = r.events(8, Duration::from_secs(10));
    assert_eq!(
        ids(&resumed),
        (5..13).map(|i| format!("e{i}")).collect::<Vec<_>>()
    );
    assert!(
        r.events(1, Duration::from_millis(300)).is_empty(),
        "nothing more"
    );

    // latest (the default): only what is appended after the request
    let mut l = Stream::open(addr, "/v1/topics/in/events", &[]);
    let hello = l.next(Duration::from_secs(5)).unwrap();
    assert_eq!(
        hello.id.as_deref(),
        Some("12"),
        "a bare id: the position before the first new event"
    );
    post_batch(addr, "in", &[ev("e13", "t.a")], None);
    assert_eq!(ids(&l.events(1, Duration::from_secs(10))), ["e13"]);

    // a topic a route writes can be followed too
    let mut o = Stream::open(addr, "/v1/topics/out/events?from=earliest", &[]);
    assert_eq!(o.status, 200);
    assert_eq!(o.events(14, Duration::from_secs(20)).len(), 14);
}

#[test]
fn positions_by_offset_id_and_time_and_cesql_filters() {
    let (_dir, hub) = start("", "");
    let addr = hub.addr;
    let mut events = Vec::new();
    for i in 0..12 {
        let mut e = ev(
            &format!("x{i}"),
            if i % 3 == 0 { "b.hit" } else { "a.miss" },
        );
        e["time"] = format!("2026-01-01T00:00:{:02}Z", i * 5).into();
        if i % 4 == 0 {
            e["prio"] = json!(i);
        }
        events.push(e);
    }
    post_batch(addr, "in", &events, None);

    let mut s = Stream::open(addr, "/v1/topics/in/events?from=7", &[]);
    assert_eq!(ids(&s.events(5, Duration::from_secs(10)))[0], "x7");
    let mut s = Stream::open(addr, "/v1/topics/in/events?from=x9", &[]);
    assert_eq!(
        ids(&s.events(3, Duration::from_secs(10))),
        ["x9", "x10", "x11"]
    );
    let mut s = Stream::open(addr, "/v1/topics/in/events?from=2026-01-01T00:00:42Z", &[]);
    assert_eq!(
        ids(&s.events(3, Duration::from_secs(10))),
        ["x9", "x10", "x11"]
    );
    let mut s = Stream::open(
        addr,
        "/v1/topics/in/events?from=2026-01-01T01:00:00%2B01:00",
        &[],
    );
    assert_eq!(
        ids(&s.events(1, Duration::from_secs(10)))[0],
        "x0",
        "a timestamp with an offset"
    );

    let filter = "type%20LIKE%20%27b.%25%27";
    let mut s = Stream::open(
        addr,
        &format!("/v1/topics/in/events?from=earliest&filter={filter}"),
        &[],
    );
    let got = s.events(4, Duration::from_secs(10));
    assert_eq!(ids(&got), ["x0", "x3", "x6", "x9"]);
    assert_eq!(got[1].id.as_deref(), Some("3"), "ids stay log offsets");
    // evaluation errors (prio missing) yield the default value: those events are skipped
    let mut s = Stream::open(
        addr,
        "/v1/topics/in/events?from=earliest&filter=prio+%3E+3",
        &[],
    );
    assert_eq!(ids(&s.events(2, Duration::from_secs(10))), ["x4", "x8"]);
    let metrics = http(addr, "GET", "/metrics", &[], b"").unwrap().body;
    assert!(
        metrics.contains("weft_sse_filter_errors_total{kind=\"missingAttribute\"}"),
        "{metrics}"
    );

    // errors
    for (path, headers, status, needle) in [
        (
            "/v1/topics/in/events?filter=type+%3D",
            vec![],
            400,
            "filter: invalid CESQL expression",
        ),
        (
            "/v1/topics/in/events?from=nope-such-id",
            vec![],
            400,
            "no stored event of topic `in` has the id `nope-such-id`",
        ),
        (
            "/v1/topics/in/events",
            vec![("last-event-id", "abc")],
            400,
            "Last-Event-ID `abc`",
        ),
        (
            "/v1/topics/in/events?form=earliest",
            vec![],
            400,
            "unknown query parameter `form`",
        ),
        (
            "/v1/topics/nothing.here/events",
            vec![],
            404,
            "topic `nothing.here`",
        ),
        (
            "/v1/topics/bad%20name/events",
            vec![],
            400,
            "invalid topic name",
        ),
    ] {
        let r = http(addr, "GET", path, &headers, b"").unwrap();
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body.contains(needle), "{path}: {}", r.body);
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/problem+json")
        );
    }
    let r = http(addr, "POST", "/v1/topics/in/events", &[], b"").unwrap();
    assert_eq!(r.status, 405);
}

#[test]
fn heartbeats_and_a_clean_end_on_shutdown() {
    let (_dir, mut hub) = start("sse_heartbeat_ms = 200", "");
    let addr = hub.addr;
    let mut s = Stream::open(addr, "/v1/topics/in/events", &[]);
    assert_eq!(s.status, 200);
    let started = Instant::now();
    let mut beats = 0;
    while beats < 2 && started.elapsed() < Duration::from_secs(10) {
        if let Some(m) = s.next(Duration::from_secs(5))
            && m.comments.iter().any(|c| c == "heartbeat")
        {
            beats += 1;
        }
    }
    assert_eq!(beats, 2, "heartbeats every 200 ms: {}", s.body);
    // SIGTERM: the stream ends (the last chunk arrives) and weft exits 0
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(hub.child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.ended && Instant::now() < deadline {
        s.next(Duration::from_millis(500));
    }
    assert!(s.ended, "the stream ended cleanly");
    let status = hub.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn reading_needs_the_read_scope_on_the_topic() {
    let (_dir, hub) = start(
        "",
        &format!(
            r#"
[[auth.tokens]]
name = "reader"
token = "{TOKEN_READER}"
read = ["in"]

[[auth.tokens]]
name = "writer"
token = "{TOKEN_WRITER}"
publish = ["in"]
"#
        ),
    );
    let addr = hub.addr;
    post_batch(addr, "in", &[ev("a1", "t")], Some(TOKEN_WRITER));
    let r = http(addr, "GET", "/v1/topics/in/events", &[], b"").unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let bearer = format!("Bearer {TOKEN_WRITER}");
    let r = http(
        addr,
        "GET",
        "/v1/topics/in/events",
        &[("authorization", &bearer)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let bearer = format!("Bearer {TOKEN_READER}");
    let r = http(
        addr,
        "GET",
        "/v1/topics/out/events",
        &[("authorization", &bearer)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 403, "read covers `in` only: {}", r.body);
    let mut s = Stream::open(
        addr,
        "/v1/topics/in/events?from=earliest",
        &[("authorization", &bearer)],
    );
    assert_eq!(s.status, 200);
    assert_eq!(ids(&s.events(1, Duration::from_secs(10))), ["a1"]);
}
