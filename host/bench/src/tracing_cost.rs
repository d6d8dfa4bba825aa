//! `--tracing`: the per-event cost of OpenTelemetry traces on the delivery path. The same
//! pipeline (an in-memory source → the router → the warm passthrough plugin → a sink that
//! drops the event) runs, in the same process and interleaved round by round, as:
//!
//! - **no OpenTelemetry layer**: the `tracing` subscriber exactly as weft installed it before
//!   traces existed (fmt + `EnvFilter`, text at `warn`). This is also what `weft run`
//!   installs when traces are off (`init_tracing_with_traces` falls back to `init_tracing`,
//!   unchanged since then), so the only OpenTelemetry code left on this path are the hooks
//!   of the event path, each an `otel::enabled()` check (one relaxed atomic load) that
//!   returns a disabled span;
//! - **OTel layer, not sampled**: weft's traced subscriber (the OpenTelemetry layer, OTLP/HTTP
//!   exporter) with `sample_ratio = 0` and events without `traceparent`: spans are built
//!   and dropped by the sampler, nothing is exported;
//! - **OTel on**: every event continues a sampled remote trace, a consumer, plugin and
//!   producer span per event, batched OTLP/HTTP export to a local receiver that discards it;
//!
//! next to the native baseline (the same handler called directly). The hooks' own cost with
//! traces off is also measured alone (the exact calls the router and runtime make per event,
//! in a loop, minus the same loop without them), to set against the rounds' spread.
//!
//! Each variant runs on a thread of its own with its subscriber as that thread's default
//! and a current-thread runtime, so the subscribers never meet.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{Acknowledge, ConnectorError, Delivery, Settlement, Sink, SinkError, Source};
use weft_event::Event;
use weft_runtime::InstanceMode;

use crate::plugin_cost::{BenchPlugin, bench_route, native_handle, sample};

/// A source that hands out `events` copies of an event, then waits for shutdown.
struct RepeatSource {
    event: Event,
    events: usize,
}

struct NoAck;

#[async_trait]
impl Acknowledge for NoAck {
    async fn settle(self: Box<Self>, _settlement: Settlement) {}
}

#[async_trait]
impl Source for RepeatSource {
    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        for _ in 0..self.events {
            let delivery = Delivery {
                event: Ok(self.event.clone()),
                delivery_count: 1,
                origin: "bench".into(),
                ack: Box::new(NoAck),
            };
            if out.send(delivery).await.is_err() {
                return Ok(());
            }
        }
        shutdown.cancelled().await;
        Ok(())
    }
}

/// A sink that counts and drops; `done` fires after `target` deliveries.
struct CountingSink {
    delivered: AtomicUsize,
    target: usize,
    done: CancellationToken,
}

#[async_trait]
impl Sink for CountingSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        std::hint::black_box(event);
        if self.delivered.fetch_add(1, Ordering::Relaxed) + 1 >= self.target {
            self.done.cancel();
        }
        Ok(())
    }
}

/// Runs `events` deliveries through the router and returns the mean time per event.
async fn pipeline(events: usize, traceparent: Option<&str>) -> anyhow::Result<Duration> {
    let passthrough = BenchPlugin::passthrough(InstanceMode::Warm)?;
    let mut event = sample();
    if let Some(tp) = traceparent {
        weft_event::trace::set_trace_context(&mut event, tp, None);
    }
    let done = CancellationToken::new();
    let sink = Arc::new(CountingSink {
        delivered: AtomicUsize::new(0),
        target: events,
        done: done.clone(),
    });
    let route = bench_route(passthrough.plugin.clone(), sink);
    let shutdown = CancellationToken::new();
    let settings = weft_router::SourceSettings {
        max_in_flight: 64,
        drain_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let started = Instant::now();
    let task = tokio::spawn(weft_router::run_source(
        "bench".into(),
        Box::new(RepeatSource { event, events }),
        vec![route],
        settings,
        shutdown.clone(),
    ));
    done.cancelled().await;
    let elapsed = started.elapsed();
    shutdown.cancel();
    task.await??;
    Ok(elapsed / events as u32)
}

/// A local OTLP/HTTP endpoint that accepts every export and discards it; returns its URL.
fn discarding_receiver() -> anyhow::Result<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone the connection");
                let mut reader = BufReader::new(stream);
                // keep-alive: one request after the other on the connection
                loop {
                    let mut len = 0usize;
                    let mut first = true;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end().to_ascii_lowercase();
                        if let Some(v) = l.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if l.is_empty() && !first {
                            break;
                        }
                        first = false;
                    }
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if writer.write_all(ok).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// Runs `f` on a fresh thread with a current-thread runtime.
fn on_thread<T: Send + 'static>(
    f: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        f(&rt)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the benchmark thread panicked"))?
}

/// One variant of the pipeline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    NoLayer,
    Unsampled,
    On,
}

/// The pre-OpenTelemetry subscriber (weft's `init_tracing`, text at `warn`).
fn plain_subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .finish()
}

/// Runs `events` deliveries (after a warm-up of a tenth) of one variant on its own thread.
fn run_variant(variant: Variant, events: usize, endpoint: &str) -> anyhow::Result<Duration> {
    if variant == Variant::NoLayer {
        return on_thread(move |rt| {
            let _default = tracing::subscriber::set_default(plain_subscriber());
            rt.block_on(pipeline(events / 10, None))?; // warm-up
            rt.block_on(pipeline(events, None))
        });
    }
    let endpoint = endpoint.to_string();
    on_thread(move |rt| {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let settings = weft_telemetry::otel::OtelSettings {
            endpoint: Some(endpoint),
            sample_ratio: (variant == Variant::Unsampled).then_some(0.0),
            ..Default::default()
        };
        let resolved = settings
            .resolve_with(|_| None)
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("traces did not resolve to on"))?;
        let (layer, guard) = {
            let _entered = rt.enter();
            weft_telemetry::otel::install::<tracing_subscriber::Registry>(&resolved)
                .map_err(anyhow::Error::msg)?
        };
        let subscriber = tracing_subscriber::registry().with(layer).with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::new("warn")),
        );
        let _default = tracing::subscriber::set_default(subscriber);
        // on: every event continues a sampled remote trace; unsampled: new roots, ratio 0
        let tp = (variant == Variant::On)
            .then_some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        rt.block_on(pipeline(events / 10, tp))?; // warm-up
        let per_event = rt.block_on(pipeline(events, tp));
        // the final flush exports through this runtime: drive it meanwhile (this also turns
        // the hooks off again for the next variant)
        rt.block_on(async { tokio::task::spawn_blocking(move || drop(guard)).await })?;
        per_event
    })
}

/// The hooks of the event path with traces off, alone: per event, the consumer span (a
/// disabled span), the route future instrumented with it and polled, the plugin call's and
/// each sink delivery's `enabled()` check; minus the same loop without them.
fn hooks_off(events: usize) -> Duration {
    use std::future::Future as _;
    let event = sample();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut looped = |with_hooks: bool| {
        let started = Instant::now();
        for _ in 0..events {
            let event = std::hint::black_box(&event);
            if with_hooks {
                let span = weft_telemetry::otel::consumer_span("bench", "bench", event);
                let fut = tracing::Instrument::instrument(std::future::ready(()), span.clone());
                let mut fut = std::pin::pin!(fut);
                let _ = std::hint::black_box(fut.as_mut().poll(&mut cx));
                std::hint::black_box(weft_telemetry::otel::enabled()); // plugin call
                std::hint::black_box(weft_telemetry::otel::enabled()); // sink delivery
            } else {
                let fut = std::future::ready(());
                let mut fut = std::pin::pin!(fut);
                let _ = std::hint::black_box(fut.as_mut().poll(&mut cx));
            }
        }
        started.elapsed()
    };
    let _default = tracing::subscriber::set_default(plain_subscriber());
    looped(true);
    looped(false); // warm-up
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let with = looped(true);
        let without = looped(false);
        best = best.min(with.saturating_sub(without));
    }
    best / events as u32
}

/// What `--tracing` measured: per-round means of each variant.
pub struct Report {
    native: Duration,
    rounds: usize,
    events: usize,
    no_layer: Vec<Duration>,
    unsampled: Vec<Duration>,
    on: Vec<Duration>,
    hooks_off: Duration,
}

/// Native baseline, then `rounds` rounds of the three variants (interleaved, so drift of the
/// machine's load spreads over all three), then the hooks alone.
pub fn run(events: usize, rounds: usize) -> anyhow::Result<Report> {
    let event = sample();
    let started = Instant::now();
    for _ in 0..events {
        let outputs = native_handle(std::hint::black_box(&event));
        std::hint::black_box(outputs);
    }
    let native = started.elapsed() / events as u32;
    let endpoint = discarding_receiver()?;
    let rounds = rounds.max(1);
    let mut report = Report {
        native,
        rounds,
        events,
        no_layer: Vec::new(),
        unsampled: Vec::new(),
        on: Vec::new(),
        hooks_off: Duration::ZERO,
    };
    for round in 0..rounds {
        // rotate the order so no variant always runs first
        let order = [Variant::NoLayer, Variant::Unsampled, Variant::On];
        for i in 0..order.len() {
            let variant = order[(i + round) % order.len()];
            let per_event = run_variant(variant, events, &endpoint)?;
            match variant {
                Variant::NoLayer => report.no_layer.push(per_event),
                Variant::Unsampled => report.unsampled.push(per_event),
                Variant::On => report.on.push(per_event),
            }
        }
    }
    report.hooks_off = hooks_off(events.max(100_000));
    Ok(report)
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Prints the report: median, min–max and spread of the rounds, ratios to the run without
/// an OpenTelemetry layer.
pub fn print(report: &Report) {
    println!(
        "{} rounds × {} events; per event: median (min–max of the rounds)",
        report.rounds, report.events
    );
    let base = median(&report.no_layer);
    println!(
        "{:<44} {:>10}  {:>20}  {:>10}",
        "variant", "median", "min–max", "vs no layer"
    );
    println!(
        "{:<44} {:>7.3} µs",
        "native Rust (same handler)",
        us(report.native)
    );
    for (name, values) in [
        (
            "pipeline, no OpenTelemetry layer (traces off)",
            &report.no_layer,
        ),
        ("pipeline, OTel layer, not sampled", &report.unsampled),
        ("pipeline, OTel on (OTLP/HTTP, all sampled)", &report.on),
    ] {
        let m = median(values);
        let min = values.iter().min().copied().unwrap_or_default();
        let max = values.iter().max().copied().unwrap_or_default();
        println!(
            "{:<44} {:>7.3} µs  {:>8.3}–{:<8.3} µs  {:>9.3}x",
            name,
            us(m),
            us(min),
            us(max),
            m.as_secs_f64() / base.as_secs_f64().max(1e-12)
        );
    }
    let min = report.no_layer.iter().min().copied().unwrap_or_default();
    let max = report.no_layer.iter().max().copied().unwrap_or_default();
    let spread = (max.as_secs_f64() - min.as_secs_f64()) / base.as_secs_f64().max(1e-12);
    println!(
        "traces off: the event path's OpenTelemetry hooks cost {:.1} ns per event alone \
         ({:.2}% of the pipeline's median); the rounds without a layer spread over {:.1}%",
        report.hooks_off.as_secs_f64() * 1e9,
        100.0 * report.hooks_off.as_secs_f64() / base.as_secs_f64().max(1e-12),
        100.0 * spread
    );
}
