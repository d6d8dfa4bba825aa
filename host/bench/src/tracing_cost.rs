//! `--tracing`: the per-event cost of OpenTelemetry traces on the delivery path. The same
//! pipeline (an in-memory source → the router → the warm passthrough plugin → a sink that
//! drops the event) runs with traces off (weft's default subscriber, exactly as `weft
//! run` without OTEL variables) and on (weft's subscriber with the OpenTelemetry layer,
//! a consumer, plugin and producer span per event, batched OTLP/HTTP export to a local
//! receiver that discards it), next to the native baseline (the same handler called
//! directly), in the same run.
//!
//! Each variant runs on a thread of its own with its subscriber as that thread's default
//! and a current-thread runtime, so the two subscribers never meet.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{Acknowledge, ConnectorError, Delivery, Settlement, Sink, SinkError, Source};
use weft_event::Event;
use weft_runtime::InstanceMode;

use crate::plugin_cost::{BenchPlugin, Measurement, bench_route, native_handle, sample};

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

/// Native baseline, traces off, traces on: mean time per event of each.
pub fn run(events: usize) -> anyhow::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    let event = sample();
    let started = Instant::now();
    for _ in 0..events {
        let outputs = native_handle(std::hint::black_box(&event));
        std::hint::black_box(outputs);
    }
    out.push(Measurement {
        name: "native Rust (same handler)",
        per_event: started.elapsed() / events as u32,
    });

    // traces off: weft's default subscriber (text logs at warn), no OTEL variables
    let off = on_thread(move |rt| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        rt.block_on(pipeline(events / 10, None))?; // warm-up
        rt.block_on(pipeline(events, None))
    })?;
    out.push(Measurement {
        name: "pipeline, traces off (default)",
        per_event: off,
    });

    // traces on: the OpenTelemetry layer, every event continuing a sampled remote trace
    let endpoint = discarding_receiver()?;
    let on = on_thread(move |rt| {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let settings = weft_telemetry::otel::OtelSettings {
            endpoint: Some(endpoint),
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
        let tp = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        rt.block_on(pipeline(events / 10, tp))?; // warm-up
        let per_event = rt.block_on(pipeline(events, tp));
        // the final flush exports through this runtime: drive it meanwhile
        rt.block_on(async { tokio::task::spawn_blocking(move || drop(guard)).await })?;
        per_event
    })?;
    out.push(Measurement {
        name: "pipeline, traces on (OTLP/HTTP)",
        per_event: on,
    });
    Ok(out)
}
