//! `--sse`: server-sent events with many readers on one topic. Starts the `weft` binary (next
//! to this one, or `--weft PATH`) on a loopback port with one topic, connects `readers` SSE
//! clients to `GET /v1/topics/bench/events`, then posts `events` events one after the other
//! (each `POST` waits for its 202, then a pause) and measures, for every reader and event,
//! the time from just before the `POST` was sent to the arrival of that event's `data:` line
//! at the reader. Reports weft's resident memory (`VmRSS` from `/proc/<pid>/status`)
//! before and with the readers connected and after the deliveries, its peak (`VmHWM`), and
//! the latency percentiles over all deliveries.
//!
//! The readers are hyper HTTP/1.1 clients on this process's runtime, so on a small machine
//! they compete with weft for the CPU: the latencies are an upper bound.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::rt::TokioIo;

use crate::weft_process::{Hub, weft_binary};

/// The topic the readers follow.
const TOPIC: &str = "bench";

/// What `--sse` measured.
pub struct Report {
    readers: usize,
    events: usize,
    delivered: usize,
    rss_idle_kib: u64,
    rss_connected_kib: u64,
    rss_after_kib: u64,
    hwm_kib: u64,
    /// Every (reader, event) latency, sorted.
    latencies: Vec<Duration>,
    connect_time: Duration,
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

async fn start_hub(weft: &Path, readers: usize) -> anyhow::Result<(Hub, SocketAddr)> {
    Hub::start(weft, |addr| {
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"
max_connections = {max}

[[routes]]
name = "bench"
from = ["topic:{TOPIC}"]
to = ["stdout"]
"#,
            max = readers + 64
        )
    })
    .await
}

/// One request on a fresh connection: status and body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Bytes,
) -> anyhow::Result<(u16, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/cloudevents+json")
        .body(Full::new(body))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// The index of the benchmark event in a `data:` line (`"id":"sse-N"`).
fn event_index(line: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"\"id\":\"sse-";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: Vec<u8> = line[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// One SSE reader: connects, reports when the response head arrived, then records the
/// arrival time of each benchmark event until `events` arrived or `stop` fires.
async fn reader(
    addr: SocketAddr,
    events: usize,
    connected: Arc<AtomicUsize>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Vec<(usize, Instant)>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .uri(format!("/v1/topics/{TOPIC}/events"))
        .header("host", addr.to_string())
        .header("accept", "text/event-stream")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        bail!("SSE request answered {}", response.status());
    }
    connected.fetch_add(1, Ordering::SeqCst);
    let mut body = response.into_body();
    let mut arrived = Vec::with_capacity(events);
    let mut pending: Vec<u8> = Vec::new();
    while arrived.len() < events {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            f = body.frame() => f,
        };
        let Some(frame) = frame else { break };
        let frame = frame?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        pending.extend_from_slice(&data);
        // complete lines only; a line split across frames waits for its end
        let mut consumed = 0;
        while let Some(nl) = pending[consumed..].iter().position(|&b| b == b'\n') {
            let line = &pending[consumed..consumed + nl];
            if line.starts_with(b"data:")
                && let Some(i) = event_index(line)
            {
                arrived.push((i, now));
            }
            consumed += nl + 1;
        }
        pending.drain(..consumed);
    }
    Ok(arrived)
}

/// Connects `readers` SSE clients, posts `events` events `interval` apart, collects.
pub async fn run(
    readers: usize,
    events: usize,
    interval: Duration,
    weft: Option<&Path>,
) -> anyhow::Result<Report> {
    let weft = weft_binary(weft);
    let (hub, addr) = start_hub(&weft, readers).await?;
    let pid = hub.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_idle_kib, _) = memory_kib(pid)?;

    let connected = Arc::new(AtomicUsize::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..readers {
        tasks.spawn(reader(addr, events, connected.clone(), stop.clone()));
        if i % 64 == 63 {
            // let the listener's backlog drain
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected.load(Ordering::SeqCst) < readers {
        if Instant::now() > deadline {
            bail!(
                "only {} of {readers} readers connected within 60 s",
                connected.load(Ordering::SeqCst)
            );
        }
        if let Some(Ok(Err(e))) = tasks.try_join_next() {
            bail!("a reader failed to connect: {e:#}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_connected_kib, _) = memory_kib(pid)?;

    let mut sent = Vec::with_capacity(events);
    for i in 0..events {
        let body = format!(
            r#"{{"specversion":"1.0","id":"sse-{i}","source":"/bench","type":"com.example.bench","data":{{"n":{i}}}}}"#
        );
        let at = Instant::now();
        let (status, answer) = request(addr, "POST", &format!("/v1/events/{TOPIC}"), body.into())
            .await
            .context("posting an event")?;
        if status != 202 {
            bail!(
                "posting event {i} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        sent.push(at);
        tokio::time::sleep(interval).await;
    }
    // every reader stops by itself after the last event; stragglers get 30 s
    let collect = async {
        let mut all = Vec::new();
        while let Some(r) = tasks.join_next().await {
            all.push(r);
        }
        all
    };
    let results = match tokio::time::timeout(Duration::from_secs(30), collect).await {
        Ok(r) => r,
        Err(_) => {
            stop.cancel();
            let mut all = Vec::new();
            while let Some(r) = tasks.join_next().await {
                all.push(r);
            }
            all
        }
    };
    let (rss_after_kib, hwm_kib) = memory_kib(pid)?;
    drop(hub);

    let mut latencies = Vec::with_capacity(readers * events);
    for r in results {
        for (i, at) in r?? {
            if let Some(posted) = sent.get(i) {
                latencies.push(at.saturating_duration_since(*posted));
            }
        }
    }
    latencies.sort();
    Ok(Report {
        readers,
        events,
        delivered: latencies.len(),
        rss_idle_kib,
        rss_connected_kib,
        rss_after_kib,
        hwm_kib,
        latencies,
        connect_time,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints the report.
pub fn print(r: &Report) {
    let expected = r.readers * r.events;
    println!(
        "{} SSE readers on one topic, {} events posted one at a time",
        r.readers, r.events
    );
    println!(
        "connected in {:.2} s; deliveries received {} of {} ({} missing)",
        r.connect_time.as_secs_f64(),
        r.delivered,
        expected,
        expected.saturating_sub(r.delivered)
    );
    println!(
        "weft resident memory (VmRSS): {:.1} MiB idle, {:.1} MiB with the readers connected \
         ({:.1} KiB per reader), {:.1} MiB after the deliveries; peak (VmHWM) {:.1} MiB",
        mib(r.rss_idle_kib),
        mib(r.rss_connected_kib),
        r.rss_connected_kib.saturating_sub(r.rss_idle_kib) as f64 / r.readers.max(1) as f64,
        mib(r.rss_after_kib),
        mib(r.hwm_kib)
    );
    println!(
        "delivery latency, post → received by a reader: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&r.latencies, 50.0)),
        ms(percentile(&r.latencies, 90.0)),
        ms(percentile(&r.latencies, 99.0)),
        ms(r.latencies.last().copied().unwrap_or_default())
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average: {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_event_index_and_percentiles() {
        assert_eq!(
            event_index(br#"data: {"specversion":"1.0","id":"sse-42","source":"/b"}"#),
            Some(42)
        );
        assert_eq!(event_index(b"data: {\"id\":\"other\"}"), None);
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
    }
}
