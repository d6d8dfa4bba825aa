//! Logging and metrics setup for weft, and the conventions every crate follows for its
//! internal events.
//!
//! Each crate describes what happens inside it as one struct per internal event whose
//! `emit()` logs with structured fields and counts a `weft_*_total` metric with bounded
//! labels (route, plugin, source, sink names — never event ids). This crate installs the
//! `tracing` subscriber and the Prometheus recorder those metrics land in.
//!
//! ```no_run
//! let metrics = weft_telemetry::install_metrics().unwrap();
//! metrics::counter!("weft_example_total", "route" => "orders").increment(1);
//! assert!(metrics.render().contains("weft_example_total"));
//! ```

pub mod otel;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use metrics;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Installs the global `tracing` subscriber. The filter comes from `RUST_LOG`, else
/// `default_filter` (e.g. `info`). Logs go to stderr so stdout stays free for events;
/// colours only when stderr is a terminal.
/// Calling it twice is harmless.
pub fn init_tracing(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // colours only for a person at a terminal, not in files or log collectors
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Installs the global `tracing` subscriber like [`init_tracing`], with OpenTelemetry
/// traces when `traces` resolves to on (see [`otel`]): weft's spans are exported over OTLP
/// and JSON log lines inside a traced delivery carry `trace_id` and `span_id`. Must run
/// inside a Tokio runtime. Returns the guard that flushes the exporter at exit (`None`
/// when tracing is off; then this is exactly [`init_tracing`]).
pub fn init_tracing_with_traces(
    format: LogFormat,
    default_filter: &str,
    traces: &otel::OtelSettings,
) -> Result<Option<otel::OtelGuard>, String> {
    let Some(resolved) = traces.resolve()? else {
        init_tracing(format, default_filter);
        return Ok(None);
    };
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (otel_layer, guard) = otel::install::<tracing_subscriber::Registry>(&resolved)?;
    let registry = tracing_subscriber::registry().with(otel_layer);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => registry.with(fmt.with_filter(filter)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt.json()
                    .event_format(WithTraceIds(
                        tracing_subscriber::fmt::format().json().flatten_event(true),
                    ))
                    .with_filter(filter),
            )
            .try_init(),
    };
    tracing::info!(
        endpoint = %resolved.endpoint,
        protocol = ?resolved.protocol,
        service = %resolved.service_name,
        "OpenTelemetry traces on"
    );
    Ok(Some(guard))
}

/// A JSON event format that appends `trace_id` and `span_id` of the current trace.
struct WithTraceIds<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for WithTraceIds<F>
where
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some((trace_id, span_id)) = otel::current_ids() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(
            ctx,
            tracing_subscriber::fmt::format::Writer::new(&mut line),
            event,
        )?;
        match line.trim_end().strip_suffix('}') {
            Some(object) => writeln!(
                writer,
                "{object},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
            ),
            None => writer.write_str(&line),
        }
    }
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets (seconds) for `weft_*_duration_seconds` histograms: 10 µs … 10 s.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets (see [`install_metrics`]).
pub const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder (once) and returns its handle, whose
/// `render()` is the `/metrics` body.
///
/// The recorder keeps every histogram sample (e.g. each plugin call's duration) until
/// upkeep folds it into the buckets; a render does that too, but a hub nobody scrapes
/// would hold every sample it ever took. So this also starts a thread that runs the
/// upkeep every [`METRICS_UPKEEP_INTERVAL`]: memory stays bounded without a scraper.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    install_metrics_with_upkeep(METRICS_UPKEEP_INTERVAL)
}

/// [`install_metrics`] with another upkeep interval (tests).
pub fn install_metrics_with_upkeep(interval: Duration) -> Result<PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".into()),
            &DURATION_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    match metrics::set_global_recorder(recorder) {
        Ok(()) => {
            let _ = HANDLE.set(handle.clone());
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("weft-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(interval);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
            Ok(handle)
        }
        Err(_) => HANDLE
            .get()
            .cloned()
            .ok_or_else(|| "another metrics recorder is already installed".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_inside_a_traced_delivery_carry_trace_and_span_ids() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_filter(
                        tracing_subscriber::filter::Targets::new()
                            .with_target(otel::TARGET, tracing::Level::TRACE),
                    ),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(WithTraceIds(
                        tracing_subscriber::fmt::format().json().flatten_event(true),
                    ))
                    .with_writer(move || writer.clone())
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            );
        otel::ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut event = weft_event::Event::new("1", "/erp", "order.created");
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        weft_event::trace::set_trace_context(&mut event, parent, None);
        tracing::subscriber::with_default(subscriber, || {
            let span = otel::consumer_span("orders", "http:1", &event);
            {
                let _entered = span.enter();
                tracing::info!(n = 1, "inside");
            }
            tracing::info!("outside");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect(l))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "inside");
        assert_eq!(lines[0]["n"], 1);
        assert_eq!(lines[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let span_id = lines[0]["span_id"].as_str().unwrap();
        assert_eq!(span_id.len(), 16);
        assert_ne!(
            span_id, "00f067aa0ba902b7",
            "the delivery's own span, not its parent"
        );
        assert!(lines[1].get("trace_id").is_none(), "{text}");
    }
}
