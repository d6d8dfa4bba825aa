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
