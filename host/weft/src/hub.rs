//! `weft run`: builds the hub from a config and runs it until SIGTERM/SIGINT.
//!
//! Order of work: storage (embedded log, KV) → engine and plugins → sinks → routes →
//! sources grouped with their routes → HTTP server → ready. Shutdown reverses it: not
//! ready, stop taking events, drain in-flight ones (or hand them back), stop HTTP, exit 0.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use weft_connector::redact::redact_url;
use weft_connector::{BuildContext, Sink, Source};
use weft_connector_embedded::EmbeddedLog;
use weft_kv_embedded::EmbeddedKv;
use weft_kv_redis::RedisKv;
use weft_router::{NamedSink, Route, SourceSettings};
use weft_runtime::kv::KvBackend;
use weft_runtime::{EngineOptions, KvBackendKind, LoadedPlugin, Runtime};

use crate::config::Config;

/// Extra behaviour of `weft run`.
#[derive(Default)]
pub struct RunOptions {
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
    let problems: Vec<_> = crate::validate::check_for_run(&config, base_dir);
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
    let retention = weft_connector_embedded::Retention {
        events: config.hub.retention_events,
        bytes: config.hub.retention_bytes,
    };
    let log = EmbeddedLog::open(&data_dir.join("log.redb"), retention)
        .with_context(|| format!("failed to open the embedded log in {}", data_dir.display()))?;
    log.set_min_free_bytes(config.hub.min_free_bytes);
    for (topic, settings) in &config.topics {
        log.set_max_age(topic, settings.max_age_secs.map(Duration::from_secs));
    }

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
                        redact_url(&r.url)
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
        kv.set_quota(
            name,
            weft_runtime::kv::KvQuota {
                max_keys: spec.kv_max_keys,
                max_bytes: spec.kv_max_bytes,
            },
        );
        let loaded = match weft_bundled::for_path(&spec.path) {
            Some(bytes) => {
                let bytes = bytes.map_err(anyhow::Error::msg)?;
                runtime.load_bytes(name, spec, bytes, kv)?
            }
            None => runtime.load(name, spec, base_dir, kv)?,
        };
        tracing::info!(plugin = %name, mode = ?spec.mode, "plugin loaded");
        plugins.insert(name.clone(), Arc::new(loaded));
    }

    // connectors find the embedded log among the build context's resources
    let mut build_context = BuildContext::new(base_dir);
    build_context.resources.insert(log.clone());

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
        let sink = build_sink(&config, &build_context, &name).await?;
        sinks.insert(name.clone(), NamedSink { name, sink });
    }

    // routes grouped by source
    let mut by_source: BTreeMap<String, Vec<Arc<Route>>> = BTreeMap::new();
    for spec in &config.routes {
        let route = Arc::new(
            Route::new(
                spec.name.clone(),
                spec.filter.clone().unwrap_or_default(),
                spec.plugins.iter().map(|p| plugins[p].clone()).collect(),
                spec.to.iter().map(|s| sinks[s].clone()).collect(),
                spec.retry.clone(),
                sinks[spec.dead_letter.as_ref().unwrap_or(&config.hub.dead_letter)].clone(),
            )
            .with_fanout(spec.fanout_limit()),
        );
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
        max_deliveries: None,
    };
    let mut topics = HashSet::new();
    let mut source_tasks = Vec::new();
    let sources_stop = CancellationToken::new();
    let mut source_ready = Vec::new();
    for (name, routes) in by_source {
        let mut source = build_source(&config, &build_context, &name, &mut topics).await?;
        let readiness = weft_connector::Readiness::new();
        source.report_ready(readiness.clone());
        source_ready.push(readiness);
        let settings = SourceSettings {
            max_deliveries: config
                .source(&name)
                .and_then(|s| s.connector().max_deliveries()),
            ..settings.clone()
        };
        let task = tokio::spawn(weft_router::run_source(
            name.clone(),
            source,
            routes,
            settings,
            sources_stop.clone(),
        ));
        source_tasks.push((name, task));
    }

    // subscriptions: their readers are registered before the hub takes events
    let subscriptions_stop = CancellationToken::new();
    let subscriptions = match config.hub.listen_addr().ok().flatten() {
        Some(addr) if config.subscriptions.enabled => Some(
            start_subscriptions(&config, &data_dir, &log, &sinks, &topics, addr)
                .await
                .context("failed to start subscriptions ([subscriptions])")?,
        ),
        _ => None,
    };
    let subscriptions_task = subscriptions
        .clone()
        .map(|m| tokio::spawn(m.run(subscriptions_stop.clone())));

    // HTTP server
    let ready = Arc::new(AtomicBool::new(false));
    let http_stop = CancellationToken::new();
    let http_task = match config.hub.listen_addr().map_err(anyhow::Error::msg)? {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {addr} (hub.listen)"))?;
            // topics the config reads or writes can be followed (SSE) before they hold events
            let sse_topics: HashSet<String> = topics
                .iter()
                .cloned()
                .chain(
                    sinks
                        .keys()
                        .filter_map(|k| k.strip_prefix("topic:").map(str::to_string)),
                )
                .collect();
            let ingress = weft_connector_http::Ingress {
                store: log.clone(),
                topics: Arc::new(topics),
                max_body_bytes: config.hub.max_body_bytes,
                ready: ready.clone(),
                metrics: Arc::new(move || metrics.render()),
                auth: Arc::new(
                    weft_connector_http::Authorizer::new(&config.auth, Some(addr))
                        .map_err(anyhow::Error::msg)?,
                ),
                limits: config.hub.http_limits(),
                sse: Some(weft_connector_http::SseSettings {
                    reader: log.clone(),
                    topics: Arc::new(sse_topics),
                    heartbeat: Duration::from_millis(config.hub.sse_heartbeat_ms),
                }),
                subscriptions: subscriptions
                    .clone()
                    .map(|m| m as Arc<dyn weft_connector_http::SubscriptionApi>),
            };
            let tls = match &config.hub.tls {
                Some(tls) => Some(
                    weft_connector_http::TlsServer::load(&tls.resolve(base_dir))
                        .map_err(anyhow::Error::msg)?,
                ),
                None => None,
            };
            let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
            tracing::info!(%addr, scheme, "HTTP ingress listening: POST /v1/events/{{topic}}, GET /healthz /readyz /metrics");
            Some(match tls {
                Some(tls) => tokio::spawn(weft_connector_http::serve_tls(
                    listener,
                    ingress,
                    tls,
                    http_stop.clone(),
                )),
                None => tokio::spawn(weft_connector_http::serve(
                    listener,
                    ingress,
                    http_stop.clone(),
                )),
            })
        }
        None => None,
    };
    // ready once every source has connected and declared what it reads (see Readiness)
    let ready_stop = CancellationToken::new();
    let ready_task = tokio::spawn(mark_ready(
        ready.clone(),
        source_ready,
        ready_stop.clone(),
        (config.routes.len(), plugins.len()),
    ));
    if let Some((topic, event)) = options.sample {
        log.append(&topic, &[event])
            .await
            .context("failed to store the sample event")?;
        tracing::info!(%topic, "sample event posted");
    }

    // run until shutdown or a source fails for good
    let mut failed = None;
    // (select_all panics on no futures, and select! builds every branch's future even
    // when its condition is false: a hub without routes waits for shutdown only)
    let first_source_end = async {
        if source_tasks.is_empty() {
            std::future::pending().await
        } else {
            futures::future::select_all(source_tasks.iter_mut().map(|(_, t)| t)).await
        }
    };
    tokio::select! {
        _ = shutdown.cancelled() => {}
        (result, index, _) = first_source_end => {
            let name = source_tasks[index].0.clone();
            failed = Some(match result {
                Ok(Ok(())) => format!("source `{name}` stopped"),
                Ok(Err(e)) => format!("source `{name}` failed: {e}"),
                Err(e) => format!("source `{name}` panicked: {e}"),
            });
        }
    }
    ready_stop.cancel();
    let _ = ready_task.await;
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
    subscriptions_stop.cancel();
    if let Some(t) = subscriptions_task {
        let _ = t.await;
        tracing::info!("subscriptions drained");
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

/// Sets `ready` (`/readyz` 200) once every source's [`weft_connector::Readiness`] is set,
/// unless `stop` comes first.
async fn mark_ready(
    ready: Arc<AtomicBool>,
    sources: Vec<weft_connector::Readiness>,
    stop: CancellationToken,
    (routes, plugins): (usize, usize),
) {
    let all = futures::future::join_all(sources.iter().map(|r| r.wait()));
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = all => {
            ready.store(true, Ordering::Relaxed);
            tracing::info!(routes, plugins, "weft is ready");
        }
    }
}

async fn build_sink(
    config: &Config,
    context: &BuildContext,
    name: &str,
) -> anyhow::Result<Arc<dyn Sink>> {
    let spec = config
        .sink(name)
        .with_context(|| format!("no sink named `{name}`"))?;
    spec.connector()
        .build(context)
        .await
        .with_context(|| format!("failed to set up sink `{name}`"))
}

async fn build_source(
    config: &Config,
    context: &BuildContext,
    name: &str,
    topics: &mut HashSet<String>,
) -> anyhow::Result<Box<dyn Source>> {
    let spec = config
        .source(name)
        .with_context(|| format!("no source named `{name}`"))?;
    if let Some(topic) = spec.connector().ingress_topic() {
        topics.insert(topic.to_string());
    }
    spec.connector()
        .build(context)
        .await
        .with_context(|| format!("failed to set up source `{name}`"))
}

/// Opens the subscription store, registers every subscription's reader and starts the
/// deliveries (`[subscriptions]`).
async fn start_subscriptions(
    config: &Config,
    data_dir: &Path,
    log: &Arc<EmbeddedLog>,
    sinks: &HashMap<String, NamedSink>,
    topics: &HashSet<String>,
    listen: std::net::SocketAddr,
) -> anyhow::Result<Arc<weft_subscriptions::Manager>> {
    use weft_subscriptions::{EmbeddedStore, LocalFile, RedisStore, StoreKind, SubscriptionStore};
    let cfg = &config.subscriptions;
    let local = LocalFile::open(&data_dir.join("subscriptions.redb"))?;
    let store: Arc<dyn SubscriptionStore> = match cfg.store {
        StoreKind::Embedded => Arc::new(EmbeddedStore::new(local.clone())),
        StoreKind::Redis => Arc::new(
            RedisStore::connect(
                cfg.redis_url.as_deref().unwrap_or_default(),
                &cfg.key_prefix,
            )
            .await?,
        ),
    };
    let known_topics: HashSet<String> = topics
        .iter()
        .cloned()
        .chain(
            sinks
                .keys()
                .filter_map(|k| k.strip_prefix("topic:").map(str::to_string)),
        )
        .collect();
    let settings = weft_subscriptions::Settings {
        defaults: weft_subscriptions::Defaults {
            max_elapsed_ms: cfg.max_elapsed_ms,
        },
        timeout_ms: cfg.timeout_ms,
        drain_timeout: Duration::from_millis(config.hub.drain_timeout_ms),
        reconcile_interval: Duration::from_millis(cfg.reconcile_ms.max(10)),
        max_subscriptions: cfg.max_subscriptions,
        allow_private_sinks: cfg
            .allow_private_sinks
            .unwrap_or_else(|| listen.ip().is_loopback()),
        is_internal: weft_runtime::grants::is_internal,
        known_topics: Arc::new(known_topics),
    };
    let dead_letter = sinks[&config.hub.dead_letter].clone();
    let manager =
        weft_subscriptions::Manager::new(store.clone(), local, log.clone(), dead_letter, settings);
    manager.reconcile().await?;
    tracing::info!(store = %store.describe(), "subscriptions served at /v1/subscriptions");
    Ok(manager)
}
