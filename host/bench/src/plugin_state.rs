//! What buffered plugin state costs: the bundled `dedupe` plugin (two KV increments per
//! event) with its writes applied at once, as before (`invoke`, one backend write per
//! increment), and buffered in a `KvTransaction` applied with one `apply` per event after
//! the call, as the router does now. Same run, same embedded backend, unique event ids.

use std::time::Instant;

use weft_runtime::kv::KvTransaction;
use weft_runtime::{InstanceMode, PluginSpec};

use crate::plugin_cost::{BenchPlugin, Measurement, sample};

/// Measures both ways, warm instances, `events` events each.
pub async fn run(events: usize) -> anyhow::Result<Vec<Measurement>> {
    let wasm = weft_bundled::get("dedupe").map_err(anyhow::Error::msg)?;
    let mut spec = PluginSpec::new("dedupe.wasm");
    spec.mode = InstanceMode::Warm;
    let mut out = Vec::new();
    for (name, buffered) in [
        ("dedupe, writes applied at once", false),
        ("dedupe, buffered + apply at ack", true),
    ] {
        let loaded = BenchPlugin::load("dedupe", &spec, wasm)?;
        let plugin = &loaded.plugin;
        let mut event = sample();
        // warm up (compile, first instance)
        event.id = format!("warmup-{buffered}");
        plugin.invoke(&event).await?;
        let started = Instant::now();
        for i in 0..events {
            event.id = format!("e{i}");
            if buffered {
                let txn = KvTransaction::new();
                let view = txn.view(plugin.kv_backend());
                let outputs = plugin.invoke_in(&event, Some(view)).await?;
                txn.keep_attempt();
                plugin.kv_backend().apply(txn.take_writes()).await?;
                std::hint::black_box(outputs);
            } else {
                std::hint::black_box(plugin.invoke(&event).await?);
            }
        }
        out.push(Measurement {
            name,
            per_event: started.elapsed() / events as u32,
        });
    }
    Ok(out)
}
