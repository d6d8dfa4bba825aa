//! `weft run`: builds the hub from a config and runs it until SIGTERM/SIGINT.
//!
//! Order of work: storage (embedded log, KV) → engine and plugins → sinks → routes →
//! sources grouped with their routes → HTTP server → ready. Shutdown reverses it: not
//! ready, stop taking events, drain in-flight ones (or hand them back), stop HTTP, exit 0.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use weft_connector::{Sink, Source};
use weft_connector_embedded::{EmbeddedLog, FileSink, StdoutSink, TopicSink, TopicSource};
use weft_router::{NamedSink, Route, SourceSettings};
use weft_runtime::kv::{EmbeddedKv, KvBackend, RedisKv};
use weft_runtime::{EngineOptions, KvBackendKind, LoadedPlugin, Runtime};

use crate::config::{Config, SinkConfig, SourceConfig};

/// Plugin bytes supplied in-process instead of read from disk (the embedded default).
pub type BundledPlugins = BTreeMap<String, &'static [u8]>;

/// Extra behaviour of `weft run`.
#[derive(Default)]
pub struct RunOptions {
    /// Plugins whose `path` names one of these are loaded from memory.
    pub bundled: BundledPlugins,
    /// Events appended to a topic once the hub is ready (the demo's sample event).
    pub sample: Option<(String, weft_event::Event)>,
}

/// Runs the hub until a shutdown signal.
pub async fn run(config: Config, base_dir: &Path, options: RunOptions) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: draining in-flight events");
        signal.cancel();
    });
    run_until(config, base_dir, options, shutdown).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the hub until `shutdown` is cancelled.
pub async fn run_until(
    config: Config,
    base_dir: &Path,
    options: RunOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let problems: Vec<_> = crate::validate::check_for_run(&config, base_dir, &options.bundled);
    if !problems.is_empty() {
        for p in &problems {
            tracing::error!("{p}");
        }
        bail!(
            "the configuration has {} problem(s); run `weft validate` for details",
            problems.len()
        );
    }
    let metrics = weft_telemetry::install_metrics().map_err(anyhow::Error::msg)?;
    let data_dir = base_dir.join(&config.hub.data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("failed to create data directory {}", data_dir.display()))?;
    let log = EmbeddedLog::open(&data_dir.join("log.redb"), config.hub.retention_events)
        .with_context(|| format!("failed to open the embedded log in {}", data_dir.display()))?;

    // plugin state backends
    let embedded_kv: Arc<dyn KvBackend> = Arc::new(
        EmbeddedKv::open(&data_dir.join("kv.redb"))
            .context("failed to open the embedded KV store")?,
    );
    let redis_kv: Option<Arc<dyn KvBackend>> = match &config.kv.redis {
        Some(r)
            if config
                .plugins
                .values()
                .any(|p| p.kv == KvBackendKind::Redis) =>
        {
            Some(Arc::new(RedisKv::connect(&r.url).await.with_context(
                || {
                    format!(
                        "failed to connect to the Redis KV backend at {}",
                        redact(&r.url)
                    )
                },
            )?))
        }
        _ => None,
    };

    // engine and plugins
    let max_memory_mib = config
        .plugins
        .values()
        .map(|p| p.limits.memory_mib)
        .max()
        .unwrap_or(64)
        .max(64);
    let runtime = Runtime::new(&EngineOptions {
        cache_dir: config.engine.cache.then(|| data_dir.join("cache")),
        max_memory_mib,
        max_concurrent_instances: config.engine.max_concurrent_instances,
        pooling: config.engine.pooling,
    })?;
    let mut plugins: HashMap<String, Arc<LoadedPlugin>> = HashMap::new();
    for (name, spec) in &config.plugins {
        let kv = match spec.kv {
            KvBackendKind::Embedded => embedded_kv.clone(),
            KvBackendKind::Redis => redis_kv.clone().context("kv = redis without [kv.redis]")?,
        };
        let key = spec.path.to_string_lossy().to_string();
        let loaded = match options.bundled.get(&key) {
            Some(bytes) => runtime.load_bytes(name, spec, bytes, kv)?,
            None => runtime.load(name, spec, base_dir, kv)?,
        };
        tracing::info!(plugin = %name, mode = ?spec.mode, "plugin loaded");
        plugins.insert(name.clone(), Arc::new(loaded));
    }

    // sinks, built once per name
    let mut sinks: HashMap<String, NamedSink> = HashMap::new();
    let mut sink_refs: Vec<String> = vec![config.hub.dead_letter.clone()];
    for r in &config.routes {
        sink_refs.extend(r.to.iter().cloned());
        sink_refs.extend(r.dead_letter.iter().cloned());
    }
    for name in sink_refs {
        if sinks.contains_key(&name) {
            continue;
        }
        let sink = build_sink(&config, base_dir, &log, &name).await?;
        sinks.insert(name.clone(), NamedSink { name, sink });
    }

    // routes grouped by source
    let mut by_source: BTreeMap<String, Vec<Arc<Route>>> = BTreeMap::new();
    for spec in &config.routes {
        let route = Arc::new(Route::new(
            spec.name.clone(),
            spec.filter.clone().unwrap_or_default(),
            spec.plugins.iter().map(|p| plugins[p].clone()).collect(),
            spec.to.iter().map(|s| sinks[s].clone()).collect(),
            spec.retry.clone(),
            sinks[spec.dead_letter.as_ref().unwrap_or(&config.hub.dead_letter)].clone(),
        ));
        for from in &spec.from {
            by_source
                .entry(from.clone())
                .or_default()
                .push(route.clone());
        }
    }

    let settings = SourceSettings {
        max_in_flight: config.hub.max_in_flight,
        drain_timeout: Duration::from_millis(config.hub.drain_timeout_ms),
    };
    let mut topics = HashSet::new();
    let mut source_tasks = Vec::new();
    let sources_stop = CancellationToken::new();
    for (name, routes) in by_source {
        let source = build_source(&config, &log, &name, &mut topics)?;
        let task = tokio::spawn(weft_router::run_source(
            name.clone(),
            source,
            routes,
            settings.clone(),
            sources_stop.clone(),
        ));
        source_tasks.push((name, task));
    }

    // HTTP server
    let ready = Arc::new(AtomicBool::new(false));
    let http_stop = CancellationToken::new();
    let http_task = match config.hub.listen_addr().map_err(anyhow::Error::msg)? {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {addr} (hub.listen)"))?;
            let ingress = weft_connector_http::Ingress {
                log: log.clone(),
                topics: Arc::new(topics),
                max_body_bytes: config.hub.max_body_bytes,
                ready: ready.clone(),
                metrics: Arc::new(move || metrics.render()),
            };
            tracing::info!(%addr, "HTTP ingress listening: POST /v1/events/{{topic}}, GET /healthz /readyz /metrics");
            Some(tokio::spawn(weft_connector_http::serve(
                listener,
                ingress,
                http_stop.clone(),
            )))
        }
        None => None,
    };
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        routes = config.routes.len(),
        plugins = plugins.len(),
        "weft is ready"
    );
    if let Some((topic, event)) = options.sample {
        log.append(&topic, &[event])
            .await
            .context("failed to store the sample event")?;
        tracing::info!(%topic, "sample event posted");
    }

    // run until shutdown or a source fails for good
    let mut failed = None;
    tokio::select! {
        _ = shutdown.cancelled() => {}
        (result, index, _) = futures::future::select_all(source_tasks.iter_mut().map(|(_, t)| t)), if !source_tasks.is_empty() => {
            let name = source_tasks[index].0.clone();
            failed = Some(match result {
                Ok(Ok(())) => format!("source `{name}` stopped"),
                Ok(Err(e)) => format!("source `{name}` failed: {e}"),
                Err(e) => format!("source `{name}` panicked: {e}"),
            });
        }
    }
    ready.store(false, Ordering::Relaxed);
    sources_stop.cancel();
    for (name, task) in source_tasks {
        if task.is_finished() {
            continue;
        }
        match task.await {
            Ok(Ok(())) => tracing::info!(source = %name, "source drained"),
            Ok(Err(e)) => {
                tracing::error!(source = %name, error = %e, "source failed while draining")
            }
            Err(e) => tracing::error!(source = %name, error = %e, "source task panicked"),
        }
    }
    http_stop.cancel();
    if let Some(t) = http_task {
        let _ = t.await;
    }
    match failed {
        Some(reason) => bail!(reason),
        None => {
            tracing::info!("weft stopped cleanly");
            Ok(())
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

async fn build_sink(
    config: &Config,
    base_dir: &Path,
    log: &Arc<EmbeddedLog>,
    name: &str,
) -> anyhow::Result<Arc<dyn Sink>> {
    if let Some(topic) = name.strip_prefix("topic:") {
        return Ok(Arc::new(TopicSink::new(log.clone(), topic)));
    }
    if name == "stdout" && !config.sinks.contains_key(name) {
        return Ok(Arc::new(StdoutSink));
    }
    let spec = config
        .sinks
        .get(name)
        .with_context(|| format!("no sink named `{name}`"))?;
    let sink: Arc<dyn Sink> = match spec {
        SinkConfig::Topic(t) => Arc::new(TopicSink::new(log.clone(), &t.topic)),
        SinkConfig::Stdout(_) => Arc::new(StdoutSink),
        SinkConfig::File(f) => {
            let path: PathBuf = base_dir.join(&f.path);
            Arc::new(FileSink::open(path).map_err(|e| anyhow::anyhow!("sink `{name}`: {e}"))?)
        }
        SinkConfig::Webhook(w) => Arc::new(
            weft_connector_http::WebhookSink::new(w.clone())
                .map_err(|e| anyhow::anyhow!("sink `{name}`: {e}"))?,
        ),
        SinkConfig::RedisStream(c) => weft_connector_redis::stream_sink(c.clone())
            .await
            .with_context(|| format!("failed to set up sink `{name}`"))?,
        SinkConfig::RedisPubsub(c) => weft_connector_redis::pubsub_sink(c.clone())
            .await
            .with_context(|| format!("failed to set up sink `{name}`"))?,
        SinkConfig::Amqp(c) => weft_connector_amqp::sink(c.clone())
            .await
            .with_context(|| format!("failed to set up sink `{name}`"))?,
    };
    Ok(sink)
}

fn build_source(
    config: &Config,
    log: &Arc<EmbeddedLog>,
    name: &str,
    topics: &mut HashSet<String>,
) -> anyhow::Result<Box<dyn Source>> {
    if let Some(topic) = name.strip_prefix("topic:") {
        topics.insert(topic.to_string());
        return Ok(Box::new(TopicSource::new(log.clone(), topic, "weft")));
    }
    let spec = config
        .sources
        .get(name)
        .with_context(|| format!("no source named `{name}`"))?;
    Ok(match spec {
        SourceConfig::Topic(t) => {
            topics.insert(t.topic.clone());
            Box::new(TopicSource::new(log.clone(), &t.topic, &t.consumer))
        }
        SourceConfig::RedisStream(c) => weft_connector_redis::stream_source(c.clone())
            .with_context(|| format!("failed to set up source `{name}`"))?,
        SourceConfig::RedisPubsub(c) => weft_connector_redis::pubsub_source(c.clone())
            .with_context(|| format!("failed to set up source `{name}`"))?,
        SourceConfig::Amqp(c) => weft_connector_amqp::source(c.clone())
            .with_context(|| format!("failed to set up source `{name}`"))?,
    })
}
