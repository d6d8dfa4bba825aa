//! Per-event cost of the sandbox for a trivial plugin (isolated and warm
//! instances) next to the same handler called natively, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_event::Event;
use weft_runtime::{InstanceMode, PluginSpec, Runtime};

/// Which instance modes a benchmark measures (the native baseline always runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Modes {
    /// Isolated and warm.
    Both,
    /// Only a fresh instance per event.
    Isolated,
    /// Only warm instances.
    Warm,
}

impl Modes {
    /// Whether `mode` is measured.
    pub fn includes(self, mode: InstanceMode) -> bool {
        match self {
            Modes::Both => true,
            Modes::Isolated => mode == InstanceMode::Isolated,
            Modes::Warm => mode == InstanceMode::Warm,
        }
    }
}

/// One measured line.
pub struct Measurement {
    /// What was measured.
    pub name: &'static str,
    /// Mean time per event.
    pub per_event: Duration,
}

pub(crate) fn sample() -> Event {
    let mut e = Event::new("bench-1", "/bench", "com.example.bench");
    e.datacontenttype = Some("application/json".into());
    e.data = Some(br#"{"orderId":"PO-1","total":"10.00"}"#.to_vec());
    e
}

pub(crate) fn native_handle(event: &Event) -> Vec<Event> {
    // The same work a plugin call does natively: convert to the SDK event, call the
    // passthrough handler, convert back.
    let sdk = weft_sdk::Event {
        id: event.id.clone(),
        source: event.source.clone(),
        ty: event.ty.clone(),
        subject: event.subject.clone(),
        time: event.time.clone(),
        datacontenttype: event.datacontenttype.clone(),
        dataschema: event.dataschema.clone(),
        data: event.data.clone(),
        extensions: event
            .extensions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    weft_plugin_passthrough::handle(sdk)
        .unwrap_or_default()
        .into_iter()
        .map(|e| Event {
            id: e.id,
            source: e.source,
            ty: e.ty,
            subject: e.subject,
            time: e.time,
            datacontenttype: e.datacontenttype,
            dataschema: e.dataschema,
            data: e.data,
            extensions: e.extensions.into_iter().collect(),
        })
        .collect()
}

/// The bundled passthrough plugin loaded in `mode`, with the runtime (and its epoch
/// ticker) and the KV directory it needs kept alive alongside.
pub(crate) struct BenchPlugin {
    /// The loaded plugin.
    pub plugin: Arc<weft_runtime::LoadedPlugin>,
    _runtime: Runtime,
    _dir: tempfile::TempDir,
}

impl BenchPlugin {
    /// Loads the bundled passthrough plugin.
    pub(crate) fn passthrough(mode: InstanceMode) -> anyhow::Result<BenchPlugin> {
        let wasm = weft_bundled::get("passthrough").map_err(anyhow::Error::msg)?;
        let mut spec = PluginSpec::new("passthrough.wasm");
        spec.mode = mode;
        BenchPlugin::load("passthrough", &spec, wasm)
    }

    /// Loads any component with `spec` (its path is only used in messages).
    pub(crate) fn load(name: &str, spec: &PluginSpec, wasm: &[u8]) -> anyhow::Result<BenchPlugin> {
        let dir = tempfile::tempdir()?;
        let kv = Arc::new(weft_kv_embedded::EmbeddedKv::open(
            &dir.path().join("kv.redb"),
        )?);
        let runtime = Runtime::new(&weft_runtime::EngineOptions::default())?;
        let plugin = Arc::new(runtime.load_bytes(name, spec, wasm, kv)?);
        Ok(BenchPlugin {
            plugin,
            _runtime: runtime,
            _dir: dir,
        })
    }
}

/// Mean time per event of `plugin` on `event`, after a warm-up of a tenth of `events`.
async fn time_per_event(
    plugin: &weft_runtime::LoadedPlugin,
    event: &Event,
    events: usize,
) -> anyhow::Result<Duration> {
    for _ in 0..(events / 10).max(10) {
        plugin.invoke(event).await?; // warm-up
    }
    let started = Instant::now();
    for _ in 0..events {
        std::hint::black_box(plugin.invoke(event).await?);
    }
    Ok(started.elapsed() / events as u32)
}

/// Per-event time of a user's plugin (`wasm`) on one input event, in the selected modes:
/// "how fast is my plugin inside the sandbox?".
pub async fn run_plugin(
    wasm: &std::path::Path,
    event: &Event,
    config: &[(String, String)],
    events: usize,
    modes: Modes,
) -> anyhow::Result<Vec<Measurement>> {
    let bytes = std::fs::read(wasm)
        .map_err(|e| anyhow::anyhow!("cannot read plugin {}: {e}", wasm.display()))?;
    let mut out = Vec::new();
    for (name, mode) in [
        ("isolated instance per event", InstanceMode::Isolated),
        ("warm instance", InstanceMode::Warm),
    ] {
        if !modes.includes(mode) {
            continue;
        }
        let mut spec = PluginSpec::new(wasm);
        spec.mode = mode;
        spec.config = config.iter().cloned().collect();
        let loaded = BenchPlugin::load("plugin", &spec, &bytes)?;
        out.push(Measurement {
            name,
            per_event: time_per_event(&loaded.plugin, event, events).await?,
        });
    }
    Ok(out)
}

/// Prints per-event times without a baseline.
pub fn print_plugin(wasm: &std::path::Path, measurements: &[Measurement]) {
    println!("{}", wasm.display());
    println!("{:<36} {:>14} {:>14}", "mode", "per event", "events/s");
    for m in measurements {
        println!(
            "{:<36} {:>11.3} µs {:>14.0}",
            m.name,
            m.per_event.as_secs_f64() * 1e6,
            1.0 / m.per_event.as_secs_f64().max(1e-12)
        );
    }
}

/// Runs the benchmark with `events` events per mode.
pub async fn run(events: usize, modes: Modes) -> anyhow::Result<Vec<Measurement>> {
    let event = sample();
    let mut out = Vec::new();

    let started = Instant::now();
    for _ in 0..events {
        std::hint::black_box(native_handle(std::hint::black_box(&event)));
    }
    out.push(Measurement {
        name: "native Rust (same handler)",
        per_event: started.elapsed() / events as u32,
    });

    for (name, mode) in [
        ("wasm, isolated instance per event", InstanceMode::Isolated),
        ("wasm, warm instance", InstanceMode::Warm),
    ] {
        if !modes.includes(mode) {
            continue;
        }
        let passthrough = BenchPlugin::passthrough(mode)?;
        out.push(Measurement {
            name,
            per_event: time_per_event(&passthrough.plugin, &event, events).await?,
        });
    }
    Ok(out)
}

/// Prints the measurements as a table with ratios to the native baseline.
pub fn print(measurements: &[Measurement]) {
    print_against(measurements, "vs native");
}

/// Prints measurements against the first one, whose role `header` names (e.g.
/// `vs native`).
pub fn print_against(measurements: &[Measurement], header: &str) {
    let native = measurements
        .first()
        .map(|m| m.per_event)
        .unwrap_or_default();
    println!("{:<36} {:>14} {:>14}", "mode", "per event", header);
    for m in measurements {
        let ratio = m.per_event.as_secs_f64() / native.as_secs_f64().max(1e-12);
        let overhead = m.per_event.saturating_sub(native);
        println!(
            "{:<36} {:>11.3} µs {:>13.1}x   (overhead {:.3} µs)",
            m.name,
            m.per_event.as_secs_f64() * 1e6,
            ratio,
            overhead.as_secs_f64() * 1e6
        );
    }
}

/// Throughput of one end-to-end run.
pub struct Throughput {
    /// What was measured.
    pub name: String,
    /// Events per second.
    pub events_per_sec: f64,
}

async fn seed_stream(
    con: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    events: usize,
) -> anyhow::Result<()> {
    let event = sample();
    let fields = weft_connector_redis::binding::encode(
        &event,
        weft_connector_redis::binding::Binding::Binary,
    );
    let mut pipe = redis::pipe();
    for i in 0..events {
        let mut e = fields.clone();
        for (k, v) in e.iter_mut() {
            if k == "ce_id" {
                *v = format!("bench-{i}").into_bytes();
            }
        }
        pipe.cmd("XADD").arg(stream).arg("*").arg(e).ignore();
        if (i + 1).is_multiple_of(1000) {
            pipe.query_async::<()>(con).await?;
            pipe = redis::pipe();
        }
    }
    if !events.is_multiple_of(1000) {
        pipe.query_async::<()>(con).await?;
    }
    Ok(())
}

/// The native baseline: the same redis crate, the same batching (XREADGROUP COUNT 256,
/// pipelined XADD, batched XACK), the passthrough handler called natively.
async fn native_redis(
    url: &str,
    input: &str,
    output: &str,
    events: usize,
) -> anyhow::Result<Duration> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(input)
        .arg("native")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut con)
        .await;
    let started = Instant::now();
    let mut done = 0;
    while done < events {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("native")
            .arg("c1")
            .arg("COUNT")
            .arg(256)
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS")
            .arg(input)
            .arg(">")
            .query_async(&mut con)
            .await?;
        let mut pipe = redis::pipe();
        let mut ids = Vec::new();
        for key in reply.keys {
            for entry in key.ids {
                let fields: Vec<(String, Vec<u8>)> = entry
                    .map
                    .iter()
                    .filter_map(|(k, v)| match v {
                        redis::Value::BulkString(b) => Some((k.clone(), b.clone())),
                        _ => None,
                    })
                    .collect();
                let event = weft_connector_redis::binding::decode(&fields)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for out in native_handle(&event) {
                    let f = weft_connector_redis::binding::encode(
                        &out,
                        weft_connector_redis::binding::Binding::Binary,
                    );
                    pipe.cmd("XADD").arg(output).arg("*").arg(f).ignore();
                }
                ids.push(entry.id);
            }
        }
        if ids.is_empty() {
            continue;
        }
        pipe.query_async::<()>(&mut con).await?;
        let _: usize = redis::cmd("XACK")
            .arg(input)
            .arg("native")
            .arg(&ids)
            .query_async(&mut con)
            .await?;
        done += ids.len();
    }
    Ok(started.elapsed())
}

/// weft itself: the Redis stream source, the router, the passthrough plugin in `mode`,
/// the Redis stream sink.
async fn weft_redis(
    url: &str,
    input: &str,
    output: &str,
    events: usize,
    mode: InstanceMode,
) -> anyhow::Result<Duration> {
    let passthrough = BenchPlugin::passthrough(mode)?;
    let plugin = passthrough.plugin.clone();
    let source_cfg: weft_connector_redis::StreamSourceConfig = toml::from_str(&format!(
        "url = {url:?}\nstream = {input:?}\ngroup = \"weft\"\nconsumer = \"bench\"\nbatch_size = 256\n"
    ))?;
    let sink_cfg: weft_connector_redis::StreamSinkConfig =
        toml::from_str(&format!("url = {url:?}\nstream = {output:?}\n"))?;
    let sink = weft_connector_redis::stream_sink(sink_cfg).await?;
    let route = bench_route(plugin, sink);
    let source = weft_connector_redis::stream_source(source_cfg)?;
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(weft_router::run_source(
        "bench".into(),
        source,
        vec![route],
        weft_router::SourceSettings {
            max_in_flight: 256,
            drain_timeout: Duration::from_secs(10),
            ..Default::default()
        },
        stop.clone(),
    ));
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    loop {
        let n: usize = redis::cmd("XLEN").arg(output).query_async(&mut con).await?;
        if n >= events {
            break;
        }
        if task.is_finished() {
            anyhow::bail!("the weft pipeline stopped early");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    let _ = task.await;
    Ok(elapsed)
}

/// The route every throughput benchmark runs: no filter, the plugin, one sink (also the
/// dead letter), default retry.
pub(crate) fn bench_route(
    plugin: Arc<weft_runtime::LoadedPlugin>,
    sink: Arc<dyn weft_connector::Sink>,
) -> Arc<weft_router::Route> {
    let named = weft_router::NamedSink {
        name: "out".into(),
        sink,
    };
    Arc::new(weft_router::Route::new(
        "bench".into(),
        weft_router::RouteFilter::default(),
        vec![plugin],
        vec![named.clone()],
        Default::default(),
        named,
    ))
}

/// End-to-end Redis throughput, native baseline and weft, in the same run.
pub async fn run_redis(url: &str, events: usize, modes: Modes) -> anyhow::Result<Vec<Throughput>> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let tag = std::process::id();
    let mut out = Vec::new();
    let runs: [(&str, Option<InstanceMode>); 3] = [
        ("native Rust consumer (same crate, same batching)", None),
        (
            "weft, isolated instance per event",
            Some(InstanceMode::Isolated),
        ),
        ("weft, warm instances", Some(InstanceMode::Warm)),
    ];
    for (i, (name, mode)) in runs.into_iter().enumerate() {
        if mode.is_some_and(|m| !modes.includes(m)) {
            continue;
        }
        let input = format!("weft-bench:{tag}:{i}:in");
        let output = format!("weft-bench:{tag}:{i}:out");
        seed_stream(&mut con, &input, events).await?;
        let elapsed = match mode {
            None => native_redis(url, &input, &output, events).await?,
            Some(m) => weft_redis(url, &input, &output, events, m).await?,
        };
        let _: () = redis::cmd("DEL")
            .arg(&input)
            .arg(&output)
            .query_async(&mut con)
            .await?;
        out.push(Throughput {
            name: name.to_string(),
            events_per_sec: events as f64 / elapsed.as_secs_f64(),
        });
    }
    Ok(out)
}

/// Prints throughputs with ratios to the first (native) line.
pub fn print_throughput(title: &str, results: &[Throughput]) {
    let native = results.first().map(|r| r.events_per_sec).unwrap_or(1.0);
    println!("{title}");
    println!("{:<52} {:>14} {:>10}", "pipeline", "events/s", "of native");
    for r in results {
        println!(
            "{:<52} {:>14.0} {:>9.1}%",
            r.name,
            r.events_per_sec,
            100.0 * r.events_per_sec / native
        );
    }
}
