//! The subscription manager: keeps one delivery task per subscription running as the
//! store says, and answers the API (see `api.rs`).
//!
//! A subscription's delivery is an ordinary weft route, built at run time: an embedded
//! topic source with the subscription's own cursor (`subscription:<id>`, registered as a
//! reader so retention waits for it) → a route with the hub's retry policy bounded by the
//! subscription's `max_elapsed_ms` → a signed webhook sink behind the subscription's
//! conditions, dead letters to the hub's dead-letter sink. So a subscription gets what
//! routes have: acknowledged progress, retries that survive outages, drain on shutdown,
//! dead letters with the reason.
//!
//! The manager *reconciles*: it reads the store (at start, after every change made through
//! this hub, and every `reconcile_interval` to see changes made by other replicas) and
//! starts, restarts (new revision) or stops deliveries to match.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_connector::{Sink, SinkError};
use weft_connector_embedded::{EmbeddedLog, TopicSource};
use weft_connector_http::{WebhookConfig, WebhookSink};
use weft_event::Event;
use weft_router::{NamedSink, RetryPolicy, Route, RouteFilter, SourceSettings};

use crate::filter::Conditions;
use crate::model::{Defaults, Record};
use crate::store::{LocalFile, StoreError, SubscriptionStore};

/// How the manager behaves (`[subscriptions]` in weft's config).
#[derive(Clone)]
pub struct Settings {
    /// Defaults applied to requests.
    pub defaults: Defaults,
    /// Timeout of one delivery request, in milliseconds.
    pub timeout_ms: u64,
    /// How long stopping a delivery waits for requests in flight.
    pub drain_timeout: Duration,
    /// How often the store is read for changes made elsewhere (other replicas).
    pub reconcile_interval: Duration,
    /// Most subscriptions (create answers 400 beyond).
    pub max_subscriptions: usize,
    /// Whether sinks may resolve to loopback, private, link-local or other internal
    /// addresses (see `is_internal`).
    pub allow_private_sinks: bool,
    /// Which addresses count as internal.
    pub is_internal: fn(IpAddr) -> bool,
    /// Topics the hub's configuration reads or writes: these can be subscribed to before
    /// they hold events (any other topic must exist in the log).
    pub known_topics: Arc<HashSet<String>>,
}

struct Running {
    revision: u64,
    topic: String,
    consumer: String,
    stop: CancellationToken,
    /// `None` while paused.
    task: Option<JoinHandle<()>>,
}

/// Runs the subscriptions of one hub.
pub struct Manager {
    pub(crate) store: Arc<dyn SubscriptionStore>,
    local: LocalFile,
    pub(crate) log: Arc<EmbeddedLog>,
    dead_letter: NamedSink,
    pub(crate) settings: Settings,
    running: Mutex<HashMap<String, Running>>,
}

impl Manager {
    /// A manager over `store`, reading topics of `log`, dead-lettering to `dead_letter`.
    pub fn new(
        store: Arc<dyn SubscriptionStore>,
        local: LocalFile,
        log: Arc<EmbeddedLog>,
        dead_letter: NamedSink,
        settings: Settings,
    ) -> Arc<Manager> {
        Arc::new(Manager {
            store,
            local,
            log,
            dead_letter,
            settings,
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Brings the running deliveries in line with the store. Called at start (before the
    /// hub takes events, so every subscription's reader holds retention), after every
    /// change and periodically.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let records = self.store.list().await?;
        let mut running = self.running.lock().await;
        let wanted: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let gone: Vec<String> = running
            .keys()
            .filter(|id| !wanted.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if let Some(r) = running.remove(&id) {
                self.retire(&id, r).await;
            }
        }
        // subscriptions deleted while this hub was not running
        for (id, topic) in self.local.all_started().await? {
            if !wanted.contains(id.as_str()) && !running.contains_key(&id) {
                self.log
                    .unregister_reader(&topic, &format!("subscription:{id}"));
                self.local.set_started(&id, None).await?;
            }
        }
        for record in &records {
            let current = running.get(&record.id);
            let alive = current.is_some_and(|r| r.task.as_ref().is_none_or(|t| !t.is_finished()));
            if current.is_some_and(|r| r.revision == record.revision) && alive {
                continue;
            }
            if let Some(old) = running.remove(&record.id) {
                stop(&old).await;
                if old.topic != record.topic {
                    self.log.unregister_reader(&old.topic, &old.consumer);
                }
            }
            match self.start(record).await {
                Ok(r) => {
                    running.insert(record.id.clone(), r);
                }
                Err(e) => {
                    tracing::error!(subscription = %record.id, error = %e, "subscription cannot start; retrying at the next reconcile");
                }
            }
        }
        let active = running.values().filter(|r| r.task.is_some()).count();
        metrics::gauge!("weft_subscriptions", "state" => "active").set(active as f64);
        metrics::gauge!("weft_subscriptions", "state" => "paused")
            .set((running.len() - active) as f64);
        for (id, r) in running.iter() {
            if let (Ok(head), Ok(cursor)) = (
                self.log.head(&r.topic),
                self.log.cursor(&r.topic, &r.consumer),
            ) {
                metrics::gauge!("weft_subscription_lag_events", "subscription" => id.clone())
                    .set(head.saturating_sub(cursor) as f64);
            }
        }
        Ok(())
    }

    /// Reconciles every `reconcile_interval` until `shutdown`, then stops every delivery
    /// (each drains and commits its position).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.settings.reconcile_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.reconcile().await {
                        tracing::warn!(error = %e, store = %self.store.describe(), "reading subscriptions failed; deliveries continue as they are");
                    }
                }
            }
        }
        let mut running = self.running.lock().await;
        let all: Vec<Running> = running.drain().map(|(_, r)| r).collect();
        for r in &all {
            r.stop.cancel();
        }
        for r in all {
            if let Some(task) = r.task {
                let _ = task.await;
            }
        }
    }

    /// Starts (or, paused, only registers) one subscription's delivery.
    async fn start(&self, record: &Record) -> Result<Running, String> {
        let consumer = record.consumer();
        let topic = record.topic.clone();
        if self
            .local
            .started(&record.id)
            .await
            .map_err(|e| e.to_string())?
            .as_deref()
            != Some(topic.as_str())
        {
            let offset = self.start_offset(record).await?;
            self.log
                .commit(&topic, &consumer, offset)
                .await
                .map_err(|e| format!("cannot store the starting position: {e}"))?;
            self.local
                .set_started(&record.id, Some(&topic))
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(subscription = %record.id, %topic, offset, from = %record.from, "subscription starts reading");
        }
        let stop = CancellationToken::new();
        if record.paused {
            self.log.register_reader(&topic, &consumer);
            return Ok(Running {
                revision: record.revision,
                topic,
                consumer,
                stop,
                task: None,
            });
        }
        let conditions = record
            .conditions()
            .map_err(|e| format!("{}: {}", e.field, e.message))?;
        let mut headers = record.headers.clone();
        if let Some(c) = &record.credential {
            headers.insert("authorization".into(), c.authorization());
        }
        let webhook = WebhookSink::new(WebhookConfig {
            url: record.sink.clone(),
            timeout_ms: self.settings.timeout_ms,
            headers,
            secret: Some(record.secret.clone()),
            method: record.method.clone(),
        })
        .map_err(|e| e.to_string())?;
        let name = format!("subscription:{}", record.id);
        let sink = NamedSink {
            name: name.clone(),
            sink: Arc::new(SubscriptionSink::new(&record.id, conditions, webhook)),
        };
        let retry = RetryPolicy {
            attempts: 0,
            max_elapsed_ms: record.max_elapsed_ms,
            ..RetryPolicy::default()
        };
        let route = Arc::new(Route::new(
            name.clone(),
            RouteFilter::default(),
            Vec::new(),
            vec![sink],
            retry,
            self.dead_letter.clone(),
        ));
        let source = TopicSource::new(self.log.clone(), &topic, &consumer);
        let settings = SourceSettings {
            max_in_flight: record.concurrency as usize,
            drain_timeout: self.settings.drain_timeout,
            max_deliveries: None,
        };
        let id = record.id.clone();
        let task_stop = stop.clone();
        let task = tokio::spawn(async move {
            if let Err(e) =
                weft_router::run_source(name, Box::new(source), vec![route], settings, task_stop)
                    .await
            {
                tracing::error!(subscription = %id, error = %e, "subscription delivery stopped; restarting at the next reconcile");
            }
        });
        Ok(Running {
            revision: record.revision,
            topic,
            consumer,
            stop,
            task: Some(task),
        })
    }

    /// The offset `config.from` names now.
    async fn start_offset(&self, record: &Record) -> Result<u64, String> {
        let log = self.log.clone();
        let (topic, from) = (record.topic.clone(), record.from.clone());
        let found = tokio::task::spawn_blocking(move || {
            weft_connector_http::resolve_start(&*log, &topic, Some(&from))
        })
        .await
        .map_err(|e| e.to_string())??;
        match found {
            Some(offset) => Ok(offset),
            None => {
                // the id was seen at creation; it was trimmed since: start at the head
                tracing::warn!(subscription = %record.id, from = %record.from, "no stored event matches config.from any more; starting at the newest position");
                self.log.head(&record.topic).map_err(|e| e.to_string())
            }
        }
    }

    /// Stops a deleted subscription and forgets its reader.
    async fn retire(&self, id: &str, running: Running) {
        stop(&running).await;
        self.log
            .unregister_reader(&running.topic, &running.consumer);
        if let Err(e) = self.local.set_started(id, None).await {
            tracing::warn!(subscription = %id, error = %e, "cannot forget a deleted subscription's position");
        }
        metrics::gauge!("weft_subscription_lag_events", "subscription" => id.to_string()).set(0.0);
        tracing::info!(subscription = %id, "subscription removed");
    }
}

async fn stop(running: &Running) {
    running.stop.cancel();
    if let Some(task) = &running.task {
        // the task drains (bounded by the drain timeout) and commits its position
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The sink of one subscription: its conditions, then the signed webhook.
struct SubscriptionSink {
    conditions: Conditions,
    webhook: WebhookSink,
    delivered: metrics::Counter,
    filtered: metrics::Counter,
    failed: metrics::Counter,
    last_status: metrics::Gauge,
}

impl SubscriptionSink {
    fn new(id: &str, conditions: Conditions, webhook: WebhookSink) -> SubscriptionSink {
        let counter = |outcome: &'static str| metrics::counter!("weft_subscription_events_total", "subscription" => id.to_string(), "outcome" => outcome);
        SubscriptionSink {
            conditions,
            webhook,
            delivered: counter("delivered"),
            filtered: counter("filtered"),
            failed: counter("failed"),
            last_status: metrics::gauge!("weft_subscription_last_status", "subscription" => id.to_string()),
        }
    }
}

#[async_trait]
impl Sink for SubscriptionSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        if !self.conditions.matches(event) {
            self.filtered.increment(1);
            return Ok(());
        }
        let (result, status) = self.webhook.deliver_observed(event).await;
        self.last_status.set(f64::from(status.unwrap_or(0)));
        match &result {
            Ok(()) => self.delivered.increment(1),
            Err(_) => self.failed.increment(1),
        }
        result
    }
}
