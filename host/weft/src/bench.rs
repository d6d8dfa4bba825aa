//! `weft bench`: per-event cost of the sandbox for a trivial plugin (isolated and warm
//! instances) next to the same handler called natively, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_event::Event;
use weft_runtime::{InstanceMode, PluginSpec, Runtime};

/// One measured line.
pub struct Measurement {
    /// What was measured.
    pub name: &'static str,
    /// Mean time per event.
    pub per_event: Duration,
}

fn sample() -> Event {
    let mut e = Event::new("bench-1", "/bench", "com.example.bench");
    e.datacontenttype = Some("application/json".into());
    e.data = Some(br#"{"orderId":"PO-1","total":"10.00"}"#.to_vec());
    e
}

fn native_handle(event: &Event) -> Vec<Event> {
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
        extensions: event.extensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
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

/// Runs the benchmark with `events` events per mode.
pub async fn run(events: usize) -> anyhow::Result<Vec<Measurement>> {
    let bundled = crate::embedded_default::bundled().map_err(anyhow::Error::msg)?;
    let wasm = bundled["bundled:passthrough"];
    let dir = tempfile::tempdir()?;
    let kv = Arc::new(weft_runtime::kv::EmbeddedKv::open(&dir.path().join("kv.redb"))?);
    let runtime = Runtime::new(&weft_runtime::EngineOptions::default())?;
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
        let mut spec = PluginSpec::new("passthrough.wasm");
        spec.mode = mode;
        let plugin = runtime.load_bytes("passthrough", &spec, wasm, kv.clone())?;
        for _ in 0..(events / 10).max(10) {
            plugin.invoke(&event).await?; // warm-up
        }
        let started = Instant::now();
        for _ in 0..events {
            std::hint::black_box(plugin.invoke(&event).await?);
        }
        out.push(Measurement {
            name,
            per_event: started.elapsed() / events as u32,
        });
    }
    Ok(out)
}

/// Prints the measurements as a table with ratios to the native baseline.
pub fn print(measurements: &[Measurement]) {
    let native = measurements.first().map(|m| m.per_event).unwrap_or_default();
    println!("{:<36} {:>14} {:>14}", "mode", "per event", "vs native");
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
