//! `weft-bench` (also run as `weft bench`): the per-event cost of the sandbox for a trivial
//! plugin, isolated and warm, or for any plugin on any event, next to the same handler
//! called natively in the same run; with `--redis`/`--amqp`, end-to-end broker throughput
//! through weft's own source, router and sink next to a hand-written native consumer.
//!
//! A binary of its own so the hub does not link the benchmark clients and the native
//! baseline plugin (ARCHITECTURE.md, "Where things live").

mod amqp;
mod fanout;
mod ingress;
mod pipeline_state;
mod plugin_cost;
mod plugin_state;
mod sse;
mod tracing_cost;
mod weft_process;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use plugin_cost::Modes;

/// Measure the per-event cost of the sandbox against native Rust.
#[derive(Parser)]
#[command(name = "weft bench", version)]
struct Args {
    /// Events per mode.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Also measure end-to-end throughput stream → plugin → stream against this Redis
    /// (e.g. redis://127.0.0.1:6379), next to a native consumer.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// Also measure end-to-end throughput queue → plugin → confirmed publish → ack
    /// against this RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/%2f), next to a
    /// native lapin consumer/publisher.
    #[arg(long, value_name = "URI")]
    amqp: Option<String>,
    /// Which instance modes to measure (the native baseline always runs).
    #[arg(long, value_enum, default_value_t = Modes::Both)]
    mode: Modes,
    /// Measure this plugin (.wasm component) instead, on the event in --input.
    #[arg(long, value_name = "WASM", requires = "input")]
    plugin: Option<PathBuf>,
    /// The CloudEvent (structured JSON) that --plugin is measured on.
    #[arg(long, value_name = "EVENT.json", requires = "plugin")]
    input: Option<PathBuf>,
    /// Plugin configuration for --plugin, as key=value (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    plugin_config: Vec<(String, String)>,
    /// Measure the per-event cost of OpenTelemetry traces instead: the router pipeline
    /// with traces off and on (OTLP/HTTP export to a local receiver), next to native.
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp"])]
    tracing: bool,
    /// Measure what buffered plugin state costs instead: the bundled dedupe plugin with
    /// its KV writes applied at once and buffered until the acknowledgement.
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp", "tracing"])]
    state: bool,
    /// Measure buffered plugin state on the whole path instead: HTTP → embedded log →
    /// route [dedupe] → file, with the KV writes buffered until the acknowledgement (as
    /// `weft run`) and written directly (as before); --events per round, --rounds.
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp", "tracing", "state"])]
    pipeline_state: bool,
    /// Measure server-sent events instead: weft's resident memory and the delivery latency
    /// with --readers SSE clients on one topic (starts the `weft` binary next to this one,
    /// or --weft).
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp", "tracing", "state"])]
    sse: bool,
    /// With --sse: connected readers.
    #[arg(long, default_value_t = 1000)]
    readers: usize,
    /// With --sse: events posted (one at a time, --interval-ms apart).
    #[arg(long, default_value_t = 200)]
    sse_events: usize,
    /// With --sse: pause between two posts, in milliseconds.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// With --sse: the `weft` binary to start.
    #[arg(long, value_name = "PATH")]
    weft: Option<PathBuf>,
    /// With --tracing or --ingress: rounds of the variants, interleaved (medians are
    /// reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Measure subscription fan-out instead: one topic delivered to --subscriptions
    /// webhook subscriptions on local receivers, next to a plain hyper client (starts the
    /// `weft` binary next to this one, or --weft).
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp", "tracing", "state", "sse"])]
    fanout: bool,
    /// With --fanout: subscriptions (one local receiver each).
    #[arg(long, default_value_t = 100)]
    subscriptions: usize,
    /// With --fanout: events posted to the topic (each goes to every subscription).
    #[arg(long, default_value_t = 200)]
    fanout_events: usize,
    /// Measure the HTTP ingress instead: requests/s without auth, with a bearer token,
    /// over TLS (bearer token, client certificate), next to a native hyper server with an
    /// empty handler (HTTP and HTTPS); --events requests per variant and round.
    #[arg(long, conflicts_with_all = ["plugin", "redis", "amqp", "tracing", "state"])]
    ingress: bool,
    /// With --ingress: concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    // the pipelines pay for logging and metrics exactly as under `weft run`
    weft_telemetry::init_tracing(weft_telemetry::LogFormat::Text, "warn");
    if let Err(e) = weft_telemetry::install_metrics() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let events = args.events.max(1);
    if args.ingress {
        let rounds = args.rounds;
        return match ingress::run(events, args.connections.max(1), rounds).await {
            Ok(r) => {
                ingress::print(&r);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.fanout {
        return match fanout::run(
            args.subscriptions.max(1),
            args.fanout_events.max(1),
            args.weft.as_deref(),
        )
        .await
        {
            Ok(r) => {
                fanout::print(&r);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.sse {
        let interval = std::time::Duration::from_millis(args.interval_ms);
        return match sse::run(
            args.readers.max(1),
            args.sse_events.max(1),
            interval,
            args.weft.as_deref(),
        )
        .await
        {
            Ok(r) => {
                sse::print(&r);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.tracing {
        println!("per event through source → router → warm passthrough plugin → sink");
        let rounds = args.rounds;
        return match tokio::task::spawn_blocking(move || tracing_cost::run(events, rounds)).await {
            Ok(Ok(report)) => {
                tracing_cost::print(&report);
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.pipeline_state {
        return match pipeline_state::run(events, args.rounds).await {
            Ok(r) => {
                pipeline_state::print(&r);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.state {
        println!("per event, warm dedupe plugin, embedded KV (first line is the baseline)");
        return match plugin_state::run(events).await {
            Ok(m) => {
                plugin_cost::print_against(&m, "vs at once");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let (Some(wasm), Some(input)) = (&args.plugin, &args.input) {
        let event = match std::fs::read(input)
            .map_err(|e| e.to_string())
            .and_then(|b| weft_event::Event::from_json_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {}: {e}", input.display());
                return ExitCode::from(2);
            }
        };
        return match plugin_cost::run_plugin(wasm, &event, &args.plugin_config, events, args.mode)
            .await
        {
            Ok(m) => {
                plugin_cost::print_plugin(wasm, &m);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match plugin_cost::run(events, args.mode).await {
        Ok(m) => plugin_cost::print(&m),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(url) = &args.redis {
        println!();
        match plugin_cost::run_redis(url, events, args.mode).await {
            Ok(r) => plugin_cost::print_throughput(
                "Redis stream → passthrough plugin → Redis stream",
                &r,
            ),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(uri) = &args.amqp {
        println!();
        match amqp::run_amqp(uri, events, args.mode).await {
            Ok(r) => plugin_cost::print_throughput(
                "RabbitMQ queue → passthrough plugin → confirmed publish → ack",
                &r,
            ),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Parses `key=value`.
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}
