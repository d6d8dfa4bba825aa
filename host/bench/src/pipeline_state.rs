//! `--pipeline-state`: what buffered plugin state costs on the whole delivery path. HTTP
//! ingress (keep-alive clients posting single events) → embedded log topic → topic source
//! → router → warm `dedupe` (embedded KV) → file sink (fsync per write), in-process, run
//! as:
//!
//! - **buffered** (what `weft run` does): the plugin's KV writes are buffered per delivery
//!   and applied with one transaction once the file sink confirmed;
//! - **direct** (before buffering): every KV write goes to the backend as the plugin makes
//!   it (`Route::with_direct_state`).
//!
//! Rounds are interleaved (direct, buffered, direct, …); each round has a fresh data
//! directory. The time of a round runs from the first request until the sink has written
//! every event.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use weft_connector::{Sink, SinkError};
use weft_connector_embedded::{EmbeddedLog, FileSink, TopicSource};
use weft_event::Event;
use weft_runtime::{InstanceMode, PluginSpec};

use crate::plugin_cost::BenchPlugin;

/// Concurrent keep-alive clients.
const CLIENTS: usize = 8;

/// The file sink, counting; `done` fires after `target` writes.
struct CountingFile {
    inner: FileSink,
    delivered: AtomicUsize,
    target: usize,
    done: CancellationToken,
}

#[async_trait]
impl Sink for CountingFile {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        self.inner.deliver(event).await?;
        if self.delivered.fetch_add(1, Ordering::SeqCst) + 1 >= self.target {
            self.done.cancel();
        }
        Ok(())
    }
}

/// The two ways plugin state is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Writes applied as the plugin makes them (before buffering).
    Direct,
    /// Buffered per delivery, applied once at the acknowledgement (today).
    Buffered,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Direct => "direct (unbuffered) plugin state",
            Variant::Buffered => "buffered plugin state (weft run)",
        }
    }
}

/// Per-round times of both variants.
pub struct Report {
    /// Events per round.
    pub events: usize,
    /// (variant, time per event of each round).
    pub rounds: Vec<(Variant, Vec<Duration>)>,
}

/// One keep-alive client posting `ids` one event at a time.
async fn client(addr: SocketAddr, ids: Vec<String>) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    for id in ids {
        let body = format!(
            r#"{{"specversion":"1.0","id":"{id}","source":"/bench","type":"bench.order","data":{{"order":"{id}","amount":42}}}}"#
        );
        let request = format!(
            "POST /v1/events/bench HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/cloudevents+json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        write.write_all(request.as_bytes()).await?;
        let mut status = String::new();
        read.read_line(&mut status).await?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        if !status.contains(" 202 ") {
            anyhow::bail!("the ingress answered {}", status.trim_end());
        }
    }
    Ok(())
}

/// One round: a fresh data directory, `events` distinct events.
async fn round(variant: Variant, events: usize, tag: &str) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), 10_000_000)?;
    let wasm = weft_bundled::get("dedupe").map_err(anyhow::Error::msg)?;
    let mut spec = PluginSpec::new("dedupe.wasm");
    spec.mode = InstanceMode::Warm;
    let dedupe = BenchPlugin::load("dedupe", &spec, wasm)?;
    let done = CancellationToken::new();
    let sink = Arc::new(CountingFile {
        inner: FileSink::open(dir.path().join("out.jsonl"))?,
        delivered: AtomicUsize::new(0),
        target: events,
        done: done.clone(),
    });
    let named = weft_router::NamedSink {
        name: "out".into(),
        sink,
    };
    let mut route = weft_router::Route::new(
        "bench".into(),
        weft_router::RouteFilter::default(),
        vec![dedupe.plugin.clone()],
        vec![named.clone()],
        Default::default(),
        named,
    );
    if variant == Variant::Direct {
        route = route.with_direct_state();
    }
    let stop = CancellationToken::new();
    let source = TopicSource::new(log.clone(), "bench", "weft");
    let settings = weft_router::SourceSettings {
        max_in_flight: 64,
        drain_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let router = tokio::spawn(weft_router::run_source(
        "topic:bench".into(),
        Box::new(source),
        vec![Arc::new(route)],
        settings,
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let ingress = weft_connector_http::Ingress {
        store: log.clone(),
        topics: Arc::default(),
        max_body_bytes: 1 << 20,
        ready: Arc::new(AtomicBool::new(true)),
        metrics: Arc::new(String::new),
        auth: Arc::new(weft_connector_http::Authorizer::open()),
        limits: Default::default(),
        sse: None,
        subscriptions: None,
    };
    let http_stop = CancellationToken::new();
    let server = tokio::spawn(weft_connector_http::serve(
        listener,
        ingress,
        http_stop.clone(),
    ));
    let ids: Vec<String> = (0..events).map(|i| format!("{tag}-{i}")).collect();
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mine: Vec<String> = ids.iter().skip(c).step_by(CLIENTS).cloned().collect();
            tokio::spawn(client(addr, mine))
        })
        .collect();
    for c in clients {
        c.await??;
    }
    tokio::select! {
        _ = done.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(300)) => anyhow::bail!("the sink never got every event"),
    }
    let elapsed = started.elapsed();
    http_stop.cancel();
    stop.cancel();
    let _ = server.await;
    router.await??;
    Ok(elapsed / events as u32)
}

/// `rounds` interleaved rounds of both variants, `events` events each.
pub async fn run(events: usize, rounds: usize) -> anyhow::Result<Report> {
    let variants = [Variant::Direct, Variant::Buffered];
    let mut report = Report {
        events,
        rounds: variants.iter().map(|v| (*v, Vec::new())).collect(),
    };
    // warm-up: compile the plugin, fill the page cache
    round(Variant::Buffered, (events / 10).max(50), "warmup").await?;
    for r in 0..rounds.max(1) {
        for (i, v) in variants.iter().enumerate() {
            let t = round(*v, events, &format!("r{r}")).await?;
            report.rounds[i].1.push(t);
        }
    }
    Ok(report)
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[v.len() / 2]
}

/// Prints medians, every round, and the load average.
pub fn print(report: &Report) {
    println!(
        "HTTP ({CLIENTS} keep-alive clients) → embedded log → route [dedupe, warm, embedded KV] → file (fsync), {} distinct events per round",
        report.events
    );
    println!(
        "{:<36} {:>12} {:>12} {:>10}   rounds (µs/event)",
        "plugin state", "per event", "events/s", "vs direct"
    );
    let base = median(&report.rounds[0].1);
    for (variant, times) in &report.rounds {
        let m = median(times);
        let all: Vec<String> = times
            .iter()
            .map(|t| format!("{:.0}", t.as_secs_f64() * 1e6))
            .collect();
        println!(
            "{:<36} {:>9.1} µs {:>12.0} {:>9.2}×   {}",
            variant.name(),
            m.as_secs_f64() * 1e6,
            1.0 / m.as_secs_f64(),
            m.as_secs_f64() / base.as_secs_f64(),
            all.join(" ")
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
