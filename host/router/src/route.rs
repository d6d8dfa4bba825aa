//! A built route and how one event travels it: plugins, sinks, retry, dead letter.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use weft_connector::{Sink, SinkError, dead_letter};
use weft_event::Event;
#[cfg(test)]
use weft_event::Filter;
use weft_runtime::LoadedPlugin;

use crate::filter::{FilterWarned, RouteFilter};
use crate::internal_events::{
    AttemptFailed, DeadLetterFailed, EventDeadLettered, EventEmitted, EventReceived,
    emitted_counter, received_counter,
};
use crate::spec::RetryPolicy;

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
}

impl StageError {
    fn transient(&self) -> bool {
        match self {
            StageError::Plugin { error, .. } => error.is_transient(),
            StageError::Sink { error, .. } => error.is_transient(),
        }
    }
    fn at(&self) -> String {
        match self {
            StageError::Plugin { plugin, .. } => plugin.clone(),
            StageError::Sink { sink, .. } => format!("sink:{sink}"),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            StageError::Plugin { error, .. } => error.kind(),
            StageError::Sink { error, .. } if error.is_transient() => "sink_transient",
            StageError::Sink { .. } => "sink_permanent",
        }
    }
    fn message(&self) -> String {
        match self {
            StageError::Plugin { error, .. } => error.to_string(),
            StageError::Sink { sink, error } => format!("sink `{sink}`: {error}"),
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
        }
    }

    /// Runs the plugin chain on one event.
    async fn transform(&self, event: &Event) -> Result<Vec<Event>, StageError> {
        let mut current = vec![event.clone()];
        for plugin in &self.plugins {
            let mut next = Vec::new();
            for e in &current {
                let out = plugin.invoke(e).await.map_err(|error| StageError::Plugin {
                    plugin: plugin.name().to_string(),
                    error,
                })?;
                next.extend(out);
            }
            current = next;
        }
        Ok(current)
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
        let attempts = self.retry.attempts.max(1);
        let mut outputs: Option<Vec<Event>> = None;
        // (output index, sink index) pairs still to deliver
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                if outputs.is_none() {
                    let out = self.transform(event).await?;
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
                Ok(()) => return RouteOutcome::Delivered,
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
            if !error.transient() || attempt >= attempts {
                return self
                    .dead_letter(event, &message, &error.at(), attempt, origin)
                    .await;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry_delay(attempt + 1, &error)) => {}
                _ = shutdown.cancelled() => {
                    return RouteOutcome::Incomplete("shutting down during retry backoff".into());
                }
            }
        }
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
            StageError::Sink { .. } => backoff,
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
        match self.dead_letter.sink.deliver(&record).await {
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
    ext.insert(dead_letter::REASON.into(), reason.to_string());
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
