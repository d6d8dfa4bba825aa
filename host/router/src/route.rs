//! A built route and how one event travels it: plugins, sinks, retry, dead letter.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use weft_connector::{Sink, SinkError, dead_letter};
use weft_event::Event;
#[cfg(test)]
use weft_event::Filter;
use weft_runtime::LoadedPlugin;
use weft_runtime::kv::{KvBackend, KvError, KvTransaction, KvWrite};

use crate::filter::{FilterWarned, RouteFilter};
use crate::internal_events::{
    AttemptFailed, DeadLetterFailed, EventDeadLettered, EventEmitted, EventReceived,
    emitted_counter, received_counter,
};
use crate::spec::{FanoutLimit, RetryPolicy};

/// A sink with its name.
#[derive(Clone)]
pub struct NamedSink {
    /// Name, for logs and metrics.
    pub name: String,
    /// The sink.
    pub sink: Arc<dyn Sink>,
}

/// A route ready to run.
pub struct Route {
    /// Name.
    pub name: String,
    /// Filter on attributes and/or a CESQL expression.
    pub filter: RouteFilter,
    /// Whether a filter evaluation error was logged as a warning already.
    filter_warned: FilterWarned,
    /// Plugins in order.
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// Destinations.
    pub sinks: Vec<NamedSink>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Dead-letter destination.
    pub dead_letter: NamedSink,
    /// The fan-out bound of the plugin chain for one delivery.
    pub fanout: FanoutLimit,
    /// Plugins write their KV state straight to the backend instead of buffering it until
    /// the delivery settles: the behaviour before buffering, kept only to measure what
    /// buffering costs (`weft bench --pipeline-state`). Never set by the hub.
    direct_state: bool,
    /// Happy-path counters, registered once instead of looked up per event.
    received: metrics::Counter,
    /// `weft_events_emitted_total` per sink, in the order of `sinks`.
    emitted: Vec<metrics::Counter>,
}

/// How a route ended for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// Every output reached every sink (or there was no output).
    Delivered,
    /// The filter did not match.
    Skipped,
    /// Failed for good and written to the dead letter.
    DeadLettered,
    /// Not finished: shutdown, or the dead letter itself failed. The source message must be
    /// handed back.
    Incomplete(String),
}

enum StageError {
    Plugin {
        plugin: String,
        error: weft_runtime::InvokeError,
    },
    Sink {
        sink: String,
        error: SinkError,
    },
    /// The chain produced more than the route's fan-out bound (permanent).
    Fanout {
        plugin: String,
        message: String,
    },
    /// The plugins' buffered state would take a plugin over its KV quota (permanent).
    Quota {
        plugin: String,
        message: String,
    },
}

/// Where one delivery stands in the plugin chain: the inputs of plugin `stage`, how many
/// of them it has handled, and what it produced so far. After the last plugin `inputs`
/// holds the route's outputs.
/// `state` holds the plugins' buffered key-value writes for this delivery (one
/// transaction per plugin, created on first use), applied only once the route delivered.
struct ChainProgress {
    stage: usize,
    inputs: Vec<Event>,
    next_input: usize,
    outputs: Vec<Event>,
    state: Vec<Option<Arc<KvTransaction>>>,
    /// Events and bytes all plugins produced so far for this delivery.
    produced_events: usize,
    produced_bytes: usize,
}

impl ChainProgress {
    fn new(event: &Event, plugins: usize) -> Self {
        ChainProgress {
            stage: 0,
            inputs: vec![event.clone()],
            next_input: 0,
            outputs: Vec::new(),
            state: vec![None; plugins],
            produced_events: 0,
            produced_bytes: 0,
        }
    }
}

impl StageError {
    fn transient(&self) -> bool {
        match self {
            StageError::Plugin { error, .. } => error.is_transient(),
            StageError::Sink { error, .. } => error.is_transient(),
            StageError::Fanout { .. } => false,
            StageError::Quota { .. } => false,
        }
    }
    fn at(&self) -> String {
        match self {
            StageError::Plugin { plugin, .. } | StageError::Fanout { plugin, .. } => plugin.clone(),
            StageError::Sink { sink, .. } => format!("sink:{sink}"),
            StageError::Quota { plugin, .. } => plugin.clone(),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            StageError::Plugin { error, .. } => error.kind(),
            StageError::Sink { error, .. } if error.is_transient() => "sink_transient",
            StageError::Sink { .. } => "sink_permanent",
            StageError::Fanout { .. } => "fanout_limit",
            StageError::Quota { .. } => "kv_quota",
        }
    }
    fn message(&self) -> String {
        match self {
            StageError::Plugin { error, .. } => error.to_string(),
            StageError::Sink { sink, error } => format!("sink `{sink}`: {error}"),
            StageError::Fanout { message, .. } => message.clone(),
            StageError::Quota { message, .. } => message.clone(),
        }
    }
}

impl Route {
    /// A route from its parts. Registers its metrics, so the metrics recorder must be
    /// installed first.
    pub fn new(
        name: String,
        filter: impl Into<RouteFilter>,
        plugins: Vec<Arc<LoadedPlugin>>,
        sinks: Vec<NamedSink>,
        retry: RetryPolicy,
        dead_letter: NamedSink,
    ) -> Route {
        Route {
            received: received_counter(&name),
            emitted: sinks
                .iter()
                .map(|s| emitted_counter(&name, &s.name))
                .collect(),
            name,
            filter: filter.into(),
            filter_warned: FilterWarned::default(),
            plugins,
            sinks,
            retry,
            dead_letter,
            fanout: FanoutLimit::default(),
            direct_state: false,
        }
    }

    /// The route with another fan-out bound (`max_fanout`, `max_fanout_bytes`).
    pub fn with_fanout(mut self, fanout: FanoutLimit) -> Route {
        self.fanout = fanout;
        self
    }

    /// The route with plugin state written directly (unbuffered; for benchmarks only, see
    /// the field `direct_state`): a retry, crash or dead letter keeps what plugins wrote.
    #[doc(hidden)]
    pub fn with_direct_state(mut self) -> Route {
        self.direct_state = true;
        self
    }

    /// Runs the plugin chain from where `progress` stands to its end. A failure leaves
    /// `progress` at the failed plugin and input, so a retry resumes there: the earlier
    /// plugins' outputs (and their side effects) are kept, not produced again.
    async fn transform(&self, progress: &mut ChainProgress) -> Result<(), StageError> {
        while progress.stage < self.plugins.len() {
            let plugin = &self.plugins[progress.stage];
            let txn = progress.state[progress.stage]
                .get_or_insert_with(KvTransaction::new)
                .clone();
            while progress.next_input < progress.inputs.len() {
                let view = if self.direct_state {
                    plugin.kv_backend()
                } else {
                    txn.view(plugin.kv_backend())
                };
                let result = plugin
                    .invoke_in(&progress.inputs[progress.next_input], Some(view))
                    .await;
                let out = match result {
                    Ok(out) => {
                        txn.keep_attempt();
                        out
                    }
                    Err(error) => {
                        // this call's writes go; earlier calls' stay for the retry
                        txn.discard_attempt();
                        return Err(StageError::Plugin {
                            plugin: plugin.name().to_string(),
                            error,
                        });
                    }
                };
                // one bound for the whole chain: each plugin's own output limits multiply
                // along it
                progress.produced_events += out.len();
                progress.produced_bytes += out.iter().map(Event::size).sum::<usize>();
                if progress.produced_events > self.fanout.events
                    || progress.produced_bytes > self.fanout.bytes
                {
                    return Err(StageError::Fanout {
                        plugin: plugin.name().to_string(),
                        message: format!(
                            "fan-out bound of route `{}` exceeded: its plugins produced {} events ({} bytes) for one delivery, more than max_fanout = {} events or max_fanout_bytes = {} bytes",
                            self.name,
                            progress.produced_events,
                            progress.produced_bytes,
                            self.fanout.events,
                            self.fanout.bytes
                        ),
                    });
                }
                progress.outputs.extend(out);
                progress.next_input += 1;
            }
            progress.inputs = std::mem::take(&mut progress.outputs);
            progress.next_input = 0;
            progress.stage += 1;
        }
        Ok(())
    }

    /// Runs the event through the route with retries; dead-letters it after the last
    /// attempt. `origin` and `delivery_count` describe the source message.
    pub async fn handle(
        &self,
        event: &Event,
        origin: &str,
        shutdown: &CancellationToken,
    ) -> RouteOutcome {
        if !self
            .filter
            .matches_on_route(&self.name, &self.filter_warned, event)
        {
            return RouteOutcome::Skipped;
        }
        EventReceived {
            counter: &self.received,
        }
        .emit();
        let started = std::time::Instant::now();
        let mut progress = ChainProgress::new(event, self.plugins.len());
        let mut outputs: Option<Vec<Event>> = None;
        // (output index, sink index) pairs still to deliver
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                if outputs.is_none() {
                    self.transform(&mut progress).await?;
                    self.check_quotas(&progress).await?;
                    let out = std::mem::take(&mut progress.inputs);
                    pending = (0..out.len())
                        .flat_map(|o| (0..self.sinks.len()).map(move |s| (o, s)))
                        .collect();
                    outputs = Some(out);
                }
                let outs = outputs.as_deref().unwrap_or_default();
                self.deliver(outs, &mut pending).await
            }
            .await;
            let error = match result {
                Ok(()) => return self.commit_state(&progress, event, origin, attempt).await,
                Err(e) => e,
            };
            let message = error.message();
            AttemptFailed {
                route: &self.name,
                at: &error.at(),
                kind: error.kind(),
                error: &message,
                attempt,
                event_id: &event.id,
            }
            .emit();
            let delay = self.retry_delay(attempt + 1, &error);
            if !error.transient() || self.retry.gives_up(attempt, started.elapsed() + delay) {
                return self
                    .dead_letter(event, &message, &error.at(), attempt, origin)
                    .await;
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => {
                    return RouteOutcome::Incomplete("shutting down during retry backoff".into());
                }
            }
        }
    }

    /// Applies the plugins' buffered key-value writes of a delivered event, one
    /// [`KvBackend::apply`] per backend (atomic there). If that fails the event was
    /// delivered but its state is not stored: the delivery is handed back (a duplicate
    /// downstream is possible, a loss is not).
    ///
    /// A plugin going over its KV quota at this point (another delivery used the room
    /// since [`Route::check_quotas`]) is permanent: the event was delivered, its state is
    /// dropped, and a dead letter records why.
    async fn commit_state(
        &self,
        progress: &ChainProgress,
        event: &Event,
        origin: &str,
        attempt: u32,
    ) -> RouteOutcome {
        let event_id = &event.id;
        for (backend, writes) in self.state_writes(progress, true) {
            if let Err(e) = backend.apply(writes).await {
                if let KvError::Quota { plugin, .. } = &e {
                    let reason =
                        format!("delivered to the sinks, but its plugin state was not stored: {e}");
                    return self
                        .dead_letter(event, &reason, plugin, attempt, origin)
                        .await;
                }
                let error = format!("storing the plugins' state failed: {e}");
                tracing::error!(route = %self.name, event_id, %error, "event delivered but its plugin state was not stored; handing it back");
                return RouteOutcome::Incomplete(error);
            }
        }
        RouteOutcome::Delivered
    }

    /// The plugins' buffered writes grouped by backend (taken from the buffers if `take`).
    fn state_writes(
        &self,
        progress: &ChainProgress,
        take: bool,
    ) -> Vec<(Arc<dyn KvBackend>, Vec<KvWrite>)> {
        let mut by_backend: Vec<(Arc<dyn KvBackend>, Vec<KvWrite>)> = Vec::new();
        for (stage, txn) in progress.state.iter().enumerate() {
            let Some(txn) = txn else { continue };
            if txn.is_empty() {
                continue;
            }
            let backend = self.plugins[stage].kv_backend();
            let writes = if take {
                txn.take_writes()
            } else {
                txn.writes()
            };
            match by_backend
                .iter_mut()
                .find(|(b, _)| std::ptr::addr_eq(Arc::as_ptr(b), Arc::as_ptr(&backend)))
            {
                Some((_, all)) => all.extend(writes),
                None => by_backend.push((backend, writes)),
            }
        }
        by_backend
    }

    /// Before delivering: whether the plugins' buffered writes would take one over its KV
    /// quota (`kv_max_keys`, `kv_max_bytes`). If so the event fails permanently (dead
    /// letter naming the plugin, the quota and the amounts) and is not delivered. A
    /// failing backend is left for [`Route::commit_state`] to find.
    async fn check_quotas(&self, progress: &ChainProgress) -> Result<(), StageError> {
        for (backend, writes) in self.state_writes(progress, false) {
            if let Err(e) = backend.check_quota(&writes).await
                && let KvError::Quota { plugin, .. } = &e
            {
                return Err(StageError::Quota {
                    plugin: plugin.clone(),
                    message: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The wait before attempt `next_attempt`: the policy's backoff, or longer when a
    /// plugin's `retry` asked for a minimum delay (`retry-after-ms=N: …`, e.g. an HTTP
    /// `Retry-After` it received).
    fn retry_delay(&self, next_attempt: u32, error: &StageError) -> std::time::Duration {
        let backoff = self.retry.backoff(next_attempt);
        match error {
            StageError::Plugin { error, .. } => {
                error.retry_after().map_or(backoff, |d| d.max(backoff))
            }
            StageError::Sink { .. } | StageError::Fanout { .. } | StageError::Quota { .. } => {
                backoff
            }
        }
    }

    /// Delivers outputs to sinks concurrently; removes what succeeded from `pending`.
    async fn deliver(
        &self,
        outputs: &[Event],
        pending: &mut Vec<(usize, usize)>,
    ) -> Result<(), StageError> {
        let results = futures::future::join_all(pending.iter().map(|&(o, s)| async move {
            let sink = &self.sinks[s];
            let result = crate::trace::deliver(&self.name, sink, &outputs[o]).await;
            (o, s, result)
        }))
        .await;
        let mut first_error = None;
        let mut still = Vec::new();
        for (o, s, r) in results {
            match r {
                Ok(()) => EventEmitted {
                    counter: &self.emitted[s],
                }
                .emit(),
                Err(error) => {
                    still.push((o, s));
                    // a permanent error wins over a transient one: retrying cannot help
                    let replace = match &first_error {
                        None => true,
                        Some(StageError::Sink { error: prev, .. }) => {
                            prev.is_transient() && !error.is_transient()
                        }
                        Some(_) => false,
                    };
                    if replace {
                        first_error = Some(StageError::Sink {
                            sink: self.sinks[s].name.clone(),
                            error,
                        });
                    }
                }
            }
        }
        *pending = still;
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    async fn dead_letter(
        &self,
        event: &Event,
        reason: &str,
        at: &str,
        attempts: u32,
        origin: &str,
    ) -> RouteOutcome {
        let record = dead_letter_record(event, reason, at, attempts, &self.name, origin);
        let written = crate::trace::deliver_dead_letter(
            &self.name,
            &self.dead_letter,
            &record,
            reason,
            at,
            false,
        )
        .await;
        match written {
            Ok(()) => {
                EventDeadLettered {
                    route: &self.name,
                    reason,
                    event_id: &event.id,
                }
                .emit();
                RouteOutcome::DeadLettered
            }
            Err(e) => {
                let error = format!("dead letter `{}`: {e}", self.dead_letter.name);
                DeadLetterFailed {
                    route: &self.name,
                    error: &error,
                }
                .emit();
                RouteOutcome::Incomplete(error)
            }
        }
    }
}

/// The dead-letter record: the original event plus the `deadletter*` extensions.
pub fn dead_letter_record(
    event: &Event,
    reason: &str,
    at: &str,
    attempts: u32,
    route: &str,
    origin: &str,
) -> Event {
    let mut record = event.clone();
    let ext = &mut record.extensions;
    // bounded and escaped: a reason may quote what a plugin or a remote system said
    let reason = weft_runtime::text::bounded(reason, weft_runtime::text::MAX_TEXT_BYTES);
    ext.insert(dead_letter::REASON.into(), reason.into_owned());
    ext.insert(dead_letter::FAILED_AT.into(), at.to_string());
    ext.insert(dead_letter::ATTEMPTS.into(), attempts.to_string());
    ext.insert(dead_letter::ROUTE.into(), route.to_string());
    if !origin.is_empty() {
        ext.insert(dead_letter::ORIGIN.into(), origin.to_string());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_can_ask_for_a_longer_wait_than_the_backoff() {
        let sink = NamedSink {
            name: "s".into(),
            sink: Arc::new(NoSink),
        };
        let retry = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let route = Route::new(
            "r".into(),
            Filter::default(),
            Vec::new(),
            vec![sink.clone()],
            retry,
            sink,
        );
        let asked = StageError::Plugin {
            plugin: "llm".into(),
            error: weft_runtime::InvokeError::Retry("retry-after-ms=20000: rate limited".into()),
        };
        assert_eq!(
            route.retry_delay(2, &asked),
            std::time::Duration::from_secs(20)
        );
        let short = StageError::Plugin {
            plugin: "llm".into(),
            error: weft_runtime::InvokeError::Retry("retry-after-ms=1: x".into()),
        };
        assert_eq!(
            route.retry_delay(2, &short),
            std::time::Duration::from_millis(100)
        );
        let plain = StageError::Sink {
            sink: "s".into(),
            error: SinkError::Transient("503".into()),
        };
        assert_eq!(
            route.retry_delay(3, &plain),
            std::time::Duration::from_millis(200)
        );
    }

    struct NoSink;

    #[async_trait::async_trait]
    impl Sink for NoSink {
        async fn deliver(&self, _event: &Event) -> Result<(), SinkError> {
            Ok(())
        }
    }
}
