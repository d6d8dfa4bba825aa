//! Server-sent events: `GET /v1/topics/{topic}/events` follows an embedded-log topic as a
//! `text/event-stream`.
//!
//! Each message is `id: <log offset>` and `data: <the structured-mode CloudEvent JSON>`.
//! Where the stream starts:
//! - `Last-Event-ID: N` (what an `EventSource` sends when it reconnects): exactly after
//!   the event with offset N; it wins over `?from=`;
//! - `?from=latest` (the default): only events appended after the request;
//! - `?from=earliest`: the oldest event the topic still holds;
//! - `?from=N` (digits): the event at offset N (inclusive);
//! - `?from=<RFC 3339 timestamp>`: the first stored event whose `time` attribute is at or
//!   after it (events without `time` before that one are skipped);
//! - `?from=<event id>` (or `?from=id:<event id>` for an id that looks like one of the
//!   above): the first stored event with that CloudEvents `id` (inclusive).
//!
//! `?filter=<CESQL v1>` sends only events for which the expression is `true` without an
//! error (an evaluation error yields the spec's default value: the event is skipped and
//! counted in `weft_sse_filter_errors_total{kind}`). A position older than what retention
//! kept produces an `event: gap` message (`data: {"from":N,"resumed_at":M}`, no `id`)
//! before the first event, so a client knows events were lost. A comment line
//! (`: heartbeat`) is sent whenever nothing else was for the heartbeat interval, so
//! proxies keep the connection open. On shutdown the stream ends cleanly (the response
//! completes; clients reconnect with `Last-Event-ID`).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{EventReader, StoreError, StoredEvent};

/// Events read from the log per batch.
const READ_BATCH: usize = 256;
/// Largest chunk of messages written at once, in bytes (a batch is split beyond it).
const CHUNK_BYTES: usize = 64 * 1024;
/// The `retry:` hint sent first: how long an `EventSource` waits before reconnecting.
const RETRY_MS: u64 = 1000;

/// What server-sent events need.
#[derive(Clone)]
pub struct SseSettings {
    /// Where topics are read (the embedded log).
    pub reader: Arc<dyn EventReader>,
    /// Topics the hub knows from its configuration; these can be followed before they
    /// hold any event. Any other topic must already exist in the log (else 404).
    pub topics: Arc<HashSet<String>>,
    /// A comment line is sent when nothing else was sent for this long.
    pub heartbeat: Duration,
}

/// The path's topic when `path` is `/v1/topics/{topic}/events`.
pub(crate) fn topic_of(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/topics/")?.strip_suffix("/events")
}

/// The response body: chunks of messages sent by the stream's task.
pub struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Either an ordinary response or an event stream.
pub(crate) type SseResponse = Response<http_body_util::Either<Full<Bytes>, SseBody>>;

fn problem(status: StatusCode, title: &str, detail: impl Into<String>) -> SseResponse {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    let mut response = Response::new(http_body_util::Either::Left(Full::new(Bytes::from(
        body.to_string(),
    ))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// Where a stream starts, as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    Latest,
    Earliest,
    /// This offset, inclusive. `strict`: a position the client had (a gap is reported).
    Offset {
        offset: u64,
        strict: bool,
    },
    Time(chrono::DateTime<chrono::FixedOffset>),
    Id(String),
}

/// Parses `?from=` (absent = latest) and `Last-Event-ID` (wins).
pub(crate) fn parse_from(from: Option<&str>, last_event_id: Option<&str>) -> Result<Start, String> {
    if let Some(id) = last_event_id.map(str::trim).filter(|s| !s.is_empty()) {
        return match id.parse::<u64>() {
            Ok(n) => Ok(Start::Offset {
                offset: n.saturating_add(1),
                strict: true,
            }),
            Err(_) => Err(format!(
                "Last-Event-ID `{id}` is not a position of this stream (the `id:` of a message, a log offset)"
            )),
        };
    }
    let Some(from) = from.map(str::trim) else {
        return Ok(Start::Latest);
    };
    Ok(match from {
        "" | "latest" => Start::Latest,
        "earliest" => Start::Earliest,
        s if s.bytes().all(|b| b.is_ascii_digit()) => Start::Offset {
            offset: s
                .parse()
                .map_err(|_| format!("from: offset `{s}` is too large"))?,
            strict: true,
        },
        s => match s.strip_prefix("id:") {
            Some(id) => Start::Id(id.to_string()),
            None => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Start::Time(t),
                Err(_) => Start::Id(s.to_string()),
            },
        },
    })
}

/// Decodes an `application/x-www-form-urlencoded` query into pairs.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 3;
                            continue;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn unavailable(e: &StoreError) -> SseResponse {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable",
        e.to_string(),
    )
}

/// Answers a request to `/v1/topics/{topic}/events`: method, access (`read` on the topic)
/// and whether server-sent events are served, then the stream.
pub(crate) async fn respond(
    ingress: &crate::Ingress,
    req: http::Request<hyper::body::Incoming>,
    shutdown: CancellationToken,
) -> SseResponse {
    let path = req.uri().path();
    let Some(topic) = topic_of(path) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not found",
            format!("no endpoint at {path}"),
        );
    };
    let response = if req.method() != http::Method::GET {
        let mut r = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
            "use GET to follow a topic",
        );
        r.headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("GET"));
        r
    } else if let Err(e) = ingress
        .auth
        .check_request(&req, crate::auth::Scope::Read(topic))
    {
        e.response().map(http_body_util::Either::Left)
    } else {
        match &ingress.sse {
            None => problem(
                StatusCode::NOT_FOUND,
                "not found",
                "server-sent events are not served by this hub",
            ),
            Some(settings) => {
                handle(settings, topic, req.uri().query(), req.headers(), shutdown).await
            }
        }
    };
    metrics::counter!("weft_http_requests_total", "status" => response.status().as_u16().to_string())
        .increment(1);
    response
}

/// Handles `GET /v1/topics/{topic}/events` once access is checked.
pub(crate) async fn handle(
    settings: &SseSettings,
    topic: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    shutdown: CancellationToken,
) -> SseResponse {
    let reader = settings.reader.clone();
    match reader.exists(topic) {
        Err(StoreError::InvalidTopic(e)) => {
            return problem(StatusCode::BAD_REQUEST, "invalid topic", e);
        }
        Err(e) => return unavailable(&e),
        Ok(false) if !settings.topics.contains(topic) => {
            return problem(
                StatusCode::NOT_FOUND,
                "unknown topic",
                format!("topic `{topic}` holds no events and no route or sink uses it"),
            );
        }
        Ok(_) => {}
    }
    let pairs = query.map(query_pairs).unwrap_or_default();
    let param = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "from" && k != "filter") {
        return problem(
            StatusCode::BAD_REQUEST,
            "unknown parameter",
            format!("unknown query parameter `{k}`: use `from` and `filter`"),
        );
    }
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let from = match parse_from(param("from"), last_event_id) {
        Ok(f) => f,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid position", e),
    };
    let filter = match param("filter").filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(sql) => match weft_cesql::Expression::parse(sql) {
            Ok(e) => Some(e),
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid filter",
                    format!("filter: invalid CESQL expression `{sql}`: {e}"),
                );
            }
        },
    };
    // subscribe before resolving the start, so no append between the two is missed
    let watch = reader.watch(topic);
    let start = {
        let reader = reader.clone();
        let topic = topic.to_string();
        let from = from.clone();
        tokio::task::spawn_blocking(move || resolve(&*reader, &topic, &from)).await
    };
    let (start, strict) = match start {
        Ok(Ok(Some(s))) => s,
        Ok(Ok(None)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid position",
                match &from {
                    Start::Id(id) => {
                        format!("from: no stored event of topic `{topic}` has the id `{id}`")
                    }
                    _ => format!("from: no stored event of topic `{topic}` matches"),
                },
            );
        }
        Ok(Err(e)) => return unavailable(&e),
        Err(e) => return unavailable(&StoreError::Unavailable(e.to_string())),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let stream = Stream {
        reader,
        topic: topic.to_string(),
        filter,
        heartbeat: settings.heartbeat.max(Duration::from_millis(10)),
        next: start,
        strict,
        tx,
    };
    tokio::spawn(stream.run(watch, shutdown));
    metrics::counter!("weft_sse_connections_total", "topic" => topic.to_string()).increment(1);
    let mut response = Response::new(http_body_util::Either::Right(SseBody { rx }));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}

/// The offset of `topic` that a reader starting at `from` reads first: `latest` (or
/// `None`), `earliest`, an offset, an RFC 3339 time or an event id (`id:<id>` for an id
/// that looks like one of the others), as `?from=` of server-sent events. `Ok(None)`: no
/// stored event matches that id. Used by subscriptions (`config.from`). Blocking: it may
/// scan the topic.
pub fn resolve_start(
    reader: &dyn EventReader,
    topic: &str,
    from: Option<&str>,
) -> Result<Option<u64>, String> {
    let start = parse_from(from, None)?;
    resolve(reader, topic, &start)
        .map(|found| found.map(|(offset, _)| offset))
        .map_err(|e| e.to_string())
}

/// The offset a stream starts at (`None`: nothing matches) and whether a gap before it
/// should be reported.
fn resolve(
    reader: &dyn EventReader,
    topic: &str,
    from: &Start,
) -> Result<Option<(u64, bool)>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        id: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        time: Option<std::borrow::Cow<'a, str>>,
    }
    let scan = |pred: &dyn Fn(&Probe<'_>) -> bool| -> Result<Option<(u64, bool)>, StoreError> {
        let mut next = 0;
        loop {
            let batch = reader.read(topic, next, 1024)?;
            let Some(last) = batch.last() else {
                return Ok(None);
            };
            next = last.offset + 1;
            for e in &batch {
                if let Ok(p) = serde_json::from_slice::<Probe<'_>>(&e.json)
                    && pred(&p)
                {
                    return Ok(Some((e.offset, false)));
                }
            }
        }
    };
    match from {
        Start::Latest => Ok(Some((reader.head(topic)?, false))),
        Start::Earliest => Ok(Some((0, false))),
        // a position past the head (a log that was replaced) follows from the head
        Start::Offset { offset, strict } => Ok(Some(((*offset).min(reader.head(topic)?), *strict))),
        Start::Id(id) => scan(&|p| p.id.as_deref() == Some(id.as_str())),
        Start::Time(t) => {
            let at = scan(&|p| {
                p.time
                    .as_deref()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .is_some_and(|time| time >= *t)
            })?;
            // nothing stored is that recent: follow from the head
            Ok(Some(match at {
                Some(a) => a,
                None => (reader.head(topic)?, false),
            }))
        }
    }
}

struct Stream {
    reader: Arc<dyn EventReader>,
    topic: String,
    filter: Option<weft_cesql::Expression>,
    heartbeat: Duration,
    next: u64,
    strict: bool,
    tx: mpsc::Sender<Bytes>,
}

/// Appends one message to `out`; `data` is split on line breaks (stored events are one
/// line, but the format requires it of any text).
fn message(out: &mut Vec<u8>, id: u64, data: &[u8]) {
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(id.to_string().as_bytes());
    out.push(b'\n');
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

impl Stream {
    /// Whether `event` passes the filter.
    fn passes(&self, event: &StoredEvent) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        match weft_cesql::JsonEvent::from_json_slice(&event.json) {
            Ok(e) => {
                if filter.matches_with(&e) {
                    return true;
                }
                if let Some(err) = filter.eval_with(&e).error {
                    metrics::counter!("weft_sse_filter_errors_total", "kind" => err.kind.as_str())
                        .increment(1);
                    tracing::debug!(topic = %self.topic, offset = event.offset, kind = %err.kind,
                        error = %err.message, "SSE filter: evaluation error, event skipped");
                }
                false
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, offset = event.offset, error = %e,
                    "SSE: a stored entry is not a valid CloudEvent; skipped");
                false
            }
        }
    }

    /// Sends `chunk`; false when the client is gone or the hub stops.
    async fn send(&self, chunk: Vec<u8>, shutdown: &CancellationToken) -> bool {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => false,
            r = self.tx.send(Bytes::from(chunk)) => r.is_ok(),
        }
    }

    async fn run(
        mut self,
        mut watch: tokio::sync::watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) {
        let gauge = metrics::gauge!("weft_sse_streams", "topic" => self.topic.clone());
        gauge.increment(1.0);
        let sent = metrics::counter!("weft_sse_events_sent_total", "topic" => self.topic.clone());
        let hello = format!(
            "retry: {RETRY_MS}\n: weft: following topic {} from offset {}\n{}\n",
            self.topic,
            self.next,
            // a bare `id:` sets the client's last event id, so a reconnect before the
            // first event resumes here
            match self.next.checked_sub(1) {
                Some(before) => format!("id: {before}\n"),
                None => String::new(),
            }
        );
        let mut last_sent = Instant::now();
        if self.send(hello.into_bytes(), &shutdown).await {
            loop {
                let batch = match self.reader.read(&self.topic, self.next, READ_BATCH) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, error = %e, "SSE: reading the topic failed; ending the stream");
                        break;
                    }
                };
                if let Some(first) = batch.first() {
                    let mut chunk = Vec::new();
                    if self.strict && first.offset > self.next {
                        chunk.extend_from_slice(
                            format!(
                                "event: gap\ndata: {{\"from\":{},\"resumed_at\":{}}}\n\n",
                                self.next, first.offset
                            )
                            .as_bytes(),
                        );
                        tracing::info!(topic = %self.topic, from = self.next, resumed_at = first.offset,
                            "SSE: the requested position is older than what retention kept");
                    }
                    self.strict = false;
                    let mut count = 0u64;
                    let mut alive = true;
                    for event in &batch {
                        self.next = event.offset + 1;
                        if self.passes(event) {
                            message(&mut chunk, event.offset, &event.json);
                            count += 1;
                        }
                        if chunk.len() >= CHUNK_BYTES {
                            sent.increment(count);
                            count = 0;
                            if !self.send(std::mem::take(&mut chunk), &shutdown).await {
                                alive = false;
                                break;
                            }
                            last_sent = Instant::now();
                        }
                    }
                    if !alive {
                        break;
                    }
                    if !chunk.is_empty() {
                        sent.increment(count);
                        if !self.send(chunk, &shutdown).await {
                            break;
                        }
                        last_sent = Instant::now();
                    } else if last_sent.elapsed() >= self.heartbeat {
                        if !self.send(b": heartbeat\n\n".to_vec(), &shutdown).await {
                            break;
                        }
                        last_sent = Instant::now();
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                // caught up: wait for an append, the heartbeat, the client leaving or shutdown
                let due = self.heartbeat.saturating_sub(last_sent.elapsed());
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break,
                    _ = self.tx.closed() => break,
                    r = watch.changed() => if r.is_err() { break },
                    _ = tokio::time::sleep(due) => {
                        if !self.send(b": heartbeat\n\n".to_vec(), &shutdown).await {
                            break;
                        }
                        last_sent = Instant::now();
                    }
                }
            }
        }
        gauge.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(parse_from(None, None), Ok(Start::Latest));
        assert_eq!(parse_from(Some("earliest"), None), Ok(Start::Earliest));
        assert_eq!(
            parse_from(Some("42"), None),
            Ok(Start::Offset {
                offset: 42,
                strict: true
            })
        );
        assert_eq!(
            parse_from(Some("earliest"), Some("41")),
            Ok(Start::Offset {
                offset: 42,
                strict: true
            }),
            "Last-Event-ID resumes after that event and wins over ?from"
        );
        assert!(parse_from(None, Some("abc")).is_err());
        assert_eq!(
            parse_from(Some("order-7"), None),
            Ok(Start::Id("order-7".into()))
        );
        assert_eq!(parse_from(Some("id:42"), None), Ok(Start::Id("42".into())));
        assert!(matches!(
            parse_from(Some("2026-01-01T00:00:00Z"), None),
            Ok(Start::Time(_))
        ));
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            query_pairs("from=earliest&filter=type%20LIKE+%27a.%25%27"),
            vec![
                ("from".to_string(), "earliest".to_string()),
                ("filter".to_string(), "type LIKE 'a.%'".to_string())
            ]
        );
        assert_eq!(query_pairs("x=%zz%4"), vec![("x".into(), "%zz%4".into())]);
    }

    #[test]
    fn messages_are_framed() {
        let mut out = Vec::new();
        message(&mut out, 7, b"{\"a\":1}");
        assert_eq!(out, b"id: 7\ndata: {\"a\":1}\n\n");
        out.clear();
        message(&mut out, 8, b"a\r\nb");
        assert_eq!(out, b"id: 8\ndata: a\ndata: b\n\n");
        assert_eq!(topic_of("/v1/topics/orders/events"), Some("orders"));
        assert_eq!(topic_of("/v1/topics/orders"), None);
    }
}
