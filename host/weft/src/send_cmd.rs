//! `weft send TOPIC [FILE]`: posts CloudEvents to a hub's HTTP ingress.
//!
//! Input (a file, or stdin when no file or `-` is given): one event per line (JSON lines),
//! a batch (a JSON array of events), a single event (even pretty-printed over several
//! lines), or any sequence of those. `--type/--source/--data` build one event instead.
//! Events are checked locally as CloudEvents first (an invalid one is refused with the
//! reason and not sent), then posted in batches (`application/cloudevents-batch+json`).
//! A batch the hub refuses because of one event (`400` naming its index) is posted again
//! without that event; one too large (`413`) is split; `503` (topic full, storage busy) is
//! retried after `Retry-After`. The summary names every refused event and why; the exit
//! code is 0 when all were accepted, 1 when any was refused, 2 on usage errors.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The HTTP client of `weft send` and `weft tail` (http and https).
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the client.
pub fn http_client() -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

/// The hub's base URL without a trailing slash, checked.
pub fn base_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/');
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("--url `{url}` is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        bail!("--url `{url}` must be an http:// or https:// URL of a weft hub");
    }
    Ok(url.to_string())
}

/// A problem+json body's `detail` (or the body itself).
pub fn problem_detail(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

/// What `weft send` was asked.
pub struct SendOptions {
    /// The topic.
    pub topic: String,
    /// Input file (`None` or `-`: stdin).
    pub file: Option<PathBuf>,
    /// The hub's base URL.
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
    /// Events per request.
    pub batch: usize,
    /// Most bytes per request.
    pub batch_bytes: usize,
    /// Build one event: its type.
    pub ty: Option<String>,
    /// Build one event: its source.
    pub source: Option<String>,
    /// Build one event: its data (JSON, or else a string).
    pub data: Option<String>,
    /// Build one event: its id (default: random).
    pub id: Option<String>,
    /// Build one event: its subject.
    pub subject: Option<String>,
    /// Show a progress bar (default: when stderr is a terminal and the input is large).
    pub progress: Option<bool>,
}

/// One event to send: where it was in the input, its id, its JSON.
struct Item {
    index: usize,
    id: String,
    json: Value,
}

/// Outcome counts.
#[derive(Default)]
struct Summary {
    accepted: usize,
    refused: Vec<(usize, String, String)>,
}

/// Counts the bytes read through it (for the progress bar).
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads events from `input`: any sequence of events and arrays of events. Calls `item`
/// with each element's position and the event (or why the element is not one).
fn read_events(
    input: impl Read,
    mut item: impl FnMut(usize, Result<Value, String>),
) -> anyhow::Result<()> {
    let input = std::io::BufReader::with_capacity(1 << 16, input);
    let mut index = 0;
    for value in serde_json::Deserializer::from_reader(input).into_iter::<Value>() {
        let value = value.map_err(|e| {
            anyhow::anyhow!("the input is not JSON events (one per line, or arrays of them): {e}")
        })?;
        match value {
            Value::Array(batch) => {
                for v in batch {
                    item(index, as_event(v));
                    index += 1;
                }
            }
            Value::Object(_) => {
                item(index, Ok(value));
                index += 1;
            }
            other => {
                item(index, as_event(other));
                index += 1;
            }
        }
    }
    Ok(())
}

/// An input element as an event: it must be a JSON object.
fn as_event(value: Value) -> Result<Value, String> {
    match value {
        Value::Object(_) => Ok(value),
        other => Err(format!(
            "not a CloudEvent (a JSON object): {}",
            truncate(&other.to_string(), 60)
        )),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// A simple progress bar on stderr.
struct Progress {
    enabled: bool,
    total_bytes: Option<u64>,
    last_draw: Instant,
}

impl Progress {
    fn draw(&mut self, sent: usize, accepted: usize, refused: usize, bytes: u64, force: bool) {
        if !self.enabled || (!force && self.last_draw.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last_draw = Instant::now();
        let line = match self.total_bytes.filter(|t| *t > 0) {
            Some(total) => {
                let frac = (bytes as f64 / total as f64).clamp(0.0, 1.0);
                let width = 30;
                let done = (frac * width as f64) as usize;
                format!(
                    "\r[{}{}] {:>3}%  {sent} sent, {accepted} accepted, {refused} refused",
                    "=".repeat(done),
                    " ".repeat(width - done),
                    (frac * 100.0) as u32
                )
            }
            None => format!("\r{sent} sent, {accepted} accepted, {refused} refused"),
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
}

/// Runs `weft send`; returns the exit code.
pub async fn run_send(options: SendOptions) -> anyhow::Result<u8> {
    let base = base_url(&options.url)?;
    if let Err(e) = weft_connector_embedded::check_topic(&options.topic) {
        bail!("{e}");
    }
    let endpoint: http::Uri = format!("{base}/v1/events/{}", options.topic)
        .parse()
        .context("building the request URL")?;
    let client = http_client();
    let mut sender = Sender {
        client,
        endpoint,
        token: options.token.clone(),
        summary: Summary::default(),
        fatal: None,
        sent: 0,
    };
    let batch_max = options.batch.max(1);
    let bytes_max = options.batch_bytes.max(1024);

    if let Some(ty) = &options.ty {
        let Some(source) = &options.source else {
            bail!("--type needs --source (and usually --data)");
        };
        let mut event = serde_json::json!({
            "specversion": "1.0",
            "id": options.id.clone().unwrap_or_else(random_id),
            "source": source,
            "type": ty,
        });
        if let Some(subject) = &options.subject {
            event["subject"] = subject.clone().into();
        }
        if let Some(data) = &options.data {
            match serde_json::from_str::<Value>(data) {
                Ok(v) => {
                    event["datacontenttype"] = "application/json".into();
                    event["data"] = v;
                }
                Err(_) => {
                    event["datacontenttype"] = "text/plain".into();
                    event["data"] = data.clone().into();
                }
            }
        }
        let items = match check(0, Ok(event)) {
            Ok(item) => vec![item],
            Err((index, id, reason)) => {
                sender.summary.refused.push((index, id, reason));
                Vec::new()
            }
        };
        sender.post_all(items).await;
        return Ok(report(&sender));
    } else if options.source.is_some() || options.data.is_some() || options.subject.is_some() {
        bail!("--source, --data and --subject build an event together with --type");
    }

    let (reader, total_bytes): (Box<dyn Read + Send>, Option<u64>) = match &options.file {
        Some(p) if p.as_os_str() != "-" => {
            let f =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(f), len)
        }
        _ => (Box::new(std::io::stdin()), None),
    };
    let mut progress = Progress {
        enabled: options.progress.unwrap_or_else(|| {
            std::io::stderr().is_terminal() && total_bytes.is_none_or(|t| t > (1 << 20))
        }),
        total_bytes,
        last_draw: Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now),
    };
    // parse on a blocking thread, post batches here as they fill
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Item, (usize, String, String)>>(4096);
    let bytes_read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = Counting {
        inner: reader,
        read: bytes_read.clone(),
    };
    let parse = tokio::task::spawn_blocking(move || {
        read_events(counting, |index, value| {
            let _ = tx.blocking_send(check(index, value));
        })
    });
    let mut batch: Vec<Item> = Vec::new();
    let mut batch_size = 2;
    while let Some(r) = rx.recv().await {
        match r {
            Ok(item) => {
                let size = item.json.to_string().len() + 1;
                if !batch.is_empty() && (batch.len() >= batch_max || batch_size + size > bytes_max)
                {
                    sender.post_all(std::mem::take(&mut batch)).await;
                    batch_size = 2;
                }
                batch_size += size;
                batch.push(item);
            }
            Err(refused) => sender.summary.refused.push(refused),
        }
        if sender.fatal.is_some() {
            break;
        }
        progress.draw(
            sender.sent,
            sender.summary.accepted,
            sender.summary.refused.len(),
            bytes_read.load(std::sync::atomic::Ordering::Relaxed),
            false,
        );
    }
    if sender.fatal.is_none() && !batch.is_empty() {
        sender.post_all(batch).await;
    }
    if let Some(fatal) = sender.fatal.clone() {
        // what was not sent after the hub refused the run
        while let Some(r) = rx.recv().await {
            sender.summary.refused.push(match r {
                Ok(item) => (item.index, item.id, format!("not sent: {fatal}")),
                Err(refused) => refused,
            });
        }
    }
    let parsed = parse.await.context("the input reader stopped")?;
    progress.draw(
        sender.sent,
        sender.summary.accepted,
        sender.summary.refused.len(),
        total_bytes.unwrap_or(0),
        true,
    );
    progress.finish();
    if let Some(fatal) = &sender.fatal {
        eprintln!("error: {fatal}");
    }
    if let Err(e) = parsed {
        eprintln!("error: {e:#}");
        report(&sender);
        return Ok(1);
    }
    Ok(report(&sender))
}

fn report(sender: &Sender) -> u8 {
    let s = &sender.summary;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "accepted {}, refused {}", s.accepted, s.refused.len());
    let mut refused = s.refused.clone();
    refused.sort_by_key(|r| r.0);
    for (index, id, reason) in &refused {
        let id = if id.is_empty() {
            String::new()
        } else {
            format!(" (id `{id}`)")
        };
        let _ = writeln!(out, "refused: event #{}{id}: {reason}", index + 1);
    }
    if s.refused.is_empty() && sender.fatal.is_none() {
        0
    } else {
        1
    }
}

fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())
}

/// Checks one input element locally (the same validation the hub does).
fn check(index: usize, value: Result<Value, String>) -> Result<Item, (usize, String, String)> {
    let value = value.map_err(|reason| (index, String::new(), reason))?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match weft_event::Event::from_json_value(value.clone()) {
        Ok(_) => Ok(Item {
            index,
            id,
            json: value,
        }),
        Err(e) => Err((index, id, format!("invalid CloudEvent: {e}"))),
    }
}

struct Sender {
    client: HttpClient,
    endpoint: http::Uri,
    token: Option<String>,
    summary: Summary,
    /// Set when nothing more can be sent (unauthorized, unknown topic, hub gone).
    fatal: Option<String>,
    sent: usize,
}

enum Posted {
    Accepted,
    /// The hub refused the event at this index of the batch.
    RefusedAt(usize, String),
    /// The batch as a whole is too large.
    TooLarge(String),
    /// Try again after this long.
    Later(Duration, String),
    /// Nothing will work (401, 403, 404, …).
    Fatal(String),
}

impl Sender {
    /// Posts `items` (a batch), handling partial refusals, splits and retries.
    async fn post_all(&mut self, items: Vec<Item>) {
        let mut queue = vec![items];
        let mut waits = 0u32;
        while let Some(mut batch) = queue.pop() {
            if batch.is_empty() {
                continue;
            }
            if let Some(fatal) = &self.fatal {
                let reason = fatal.clone();
                for item in batch {
                    self.summary
                        .refused
                        .push((item.index, item.id, reason.clone()));
                }
                continue;
            }
            match self.post(&batch).await {
                Posted::Accepted => {
                    waits = 0;
                    self.sent += batch.len();
                    self.summary.accepted += batch.len();
                }
                Posted::RefusedAt(i, reason) if i < batch.len() => {
                    let item = batch.remove(i);
                    self.summary.refused.push((item.index, item.id, reason));
                    queue.push(batch);
                }
                Posted::RefusedAt(_, reason) | Posted::TooLarge(reason) if batch.len() == 1 => {
                    let item = batch.remove(0);
                    self.summary.refused.push((item.index, item.id, reason));
                }
                Posted::RefusedAt(_, _) | Posted::TooLarge(_) => {
                    let second = batch.split_off(batch.len() / 2);
                    queue.push(second);
                    queue.push(batch);
                }
                Posted::Later(delay, reason) => {
                    waits += 1;
                    if waits > 30 {
                        self.fatal = Some(format!("the hub kept refusing: {reason}"));
                    } else {
                        tokio::time::sleep(delay).await;
                    }
                    queue.push(batch);
                }
                Posted::Fatal(reason) => {
                    self.fatal = Some(reason);
                    queue.push(batch);
                }
            }
        }
    }

    async fn post(&self, batch: &[Item]) -> Posted {
        let body = {
            let mut b = Vec::with_capacity(batch.len() * 256);
            b.push(b'[');
            for (i, item) in batch.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                let _ = serde_json::to_writer(&mut b, &item.json);
            }
            b.push(b']');
            b
        };
        let mut req = http::Request::post(self.endpoint.clone()).header(
            http::header::CONTENT_TYPE,
            "application/cloudevents-batch+json",
        );
        if let Some(token) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match req.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => return Posted::Fatal(format!("building the request failed: {e}")),
        };
        let response = match tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
        {
            Err(_) => return Posted::Later(Duration::from_secs(1), "no answer within 60 s".into()),
            Ok(Err(e)) => {
                return Posted::Later(
                    Duration::from_millis(500),
                    format!("cannot reach {}: {e}", self.endpoint),
                );
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.clamp(1, 60)))
            .unwrap_or(Duration::from_secs(1));
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        match status.as_u16() {
            200..=299 => Posted::Accepted,
            400 => {
                let index = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("index").and_then(Value::as_u64));
                Posted::RefusedAt(
                    index.map_or(usize::MAX, |i| i as usize),
                    problem_detail(&body),
                )
            }
            413 => Posted::TooLarge(problem_detail(&body)),
            429 | 502 | 503 | 504 => Posted::Later(retry_after, problem_detail(&body)),
            401 | 403 | 404 | 405 | 415 => Posted::Fatal(format!(
                "{} {}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                problem_detail(&body)
            )),
            _ => Posted::Later(
                retry_after,
                format!("{}: {}", status.as_u16(), problem_detail(&body)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_arrays_and_pretty_events() {
        let input =
            "{\"id\":\"1\"}\n[{\"id\":\"2\"},{\"id\":\"3\"}]\n{\n  \"id\": \"4\"\n}\n42\n[true]";
        let mut got = Vec::new();
        read_events(input.as_bytes(), |i, v| got.push((i, v))).unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|(i, v)| (*i, v.as_ref().ok().map(|v| v["id"].clone())))
            .collect();
        assert_eq!(ids.len(), 6);
        assert_eq!(ids[3], (3, Some(Value::from("4"))));
        assert!(got[4].1.is_err(), "a number is not an event");
        assert!(got[5].1.is_err(), "nor inside an array");
        assert!(read_events("{\"id\":".as_bytes(), |_, _| {}).is_err());
    }

    #[test]
    fn local_check_names_the_problem() {
        let bad = serde_json::json!({"specversion":"1.0","id":"x","type":"t"});
        let (i, id, reason) = check(7, Ok(bad)).err().unwrap();
        assert_eq!((i, id.as_str()), (7, "x"));
        assert!(reason.contains("source"), "{reason}");
    }
}
