//! Routes and the delivery pipeline: sources → filter → plugins → sinks, with retry,
//! dead letter and acknowledgement tracking (docs/DESIGN.md §1).
//!
//! For every source, [`Router::run_source`] pulls [`Delivery`]s through a bounded channel,
//! processes up to `max_in_flight` at once, runs each event through every route reading
//! that source, and settles the delivery: [`Settlement::Ack`] only when every route
//! delivered to all its sinks or dead-lettered durably; otherwise [`Settlement::Requeue`]
//! so the broker delivers it again. A full pipeline stops pulling (backpressure).
//!
//! ```
//! use weft_router::RetryPolicy;
//! let retry = RetryPolicy { attempts: 3, jitter: false, ..RetryPolicy::default() };
//! assert_eq!(retry.backoff(2).as_millis(), 100);
//! ```

mod filter;
mod internal_events;
mod route;
mod spec;
mod trace;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weft_connector::{Acknowledge, Delivery, Settlement, Source, dead_letter};
use weft_event::Event;

pub use filter::RouteFilter;
pub use route::{NamedSink, Route, RouteOutcome, dead_letter_record};
pub use spec::{FanoutLimit, RetryPolicy, RouteSpec};

use internal_events::{DeliverySettled, EventDeadLettered, SettledCounters};

/// How a source is consumed.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Deliveries processed at once (1 keeps source order).
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight deliveries before handing them back.
    pub drain_timeout: Duration,
    /// A delivery whose `delivery_count` exceeds this is dead-lettered at once ("poison":
    /// it keeps being handed back) instead of being processed again. `None`: no limit here
    /// (broker sources enforce their own).
    pub max_deliveries: Option<u32>,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            max_in_flight: 64,
            drain_timeout: Duration::from_secs(30),
            max_deliveries: None,
        }
    }
}

/// Runs one source through its routes until `shutdown`, then drains.
pub async fn run_source(
    source_name: String,
    source: Box<dyn Source>,
    routes: Vec<Arc<Route>>,
    settings: SourceSettings,
    shutdown: CancellationToken,
) -> Result<(), weft_connector::ConnectorError> {
    let capacity = settings.max_in_flight.max(1);
    let (tx, mut rx) = mpsc::channel::<Delivery>(capacity);
    let source_stop = CancellationToken::new();
    let source_task = tokio::spawn(source.run(tx, source_stop.clone()));
    let permits = Arc::new(Semaphore::new(capacity));
    let routes: Arc<[Arc<Route>]> = routes.into();
    // Cancelled when the drain timeout expires: in-flight work gives up and requeues.
    let abort = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let name: Arc<str> = source_name.into();
    let counters = Arc::new(SettledCounters::new(&name));
    let same_event = Arc::new(SameEventLocks::default());
    loop {
        let permit = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let delivery = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            d = rx.recv() => match d {
                Some(d) => d,
                None => break, // the source ended
            },
        };
        let routes = routes.clone();
        let name = name.clone();
        let abort = abort.clone();
        let stopping = shutdown.clone();
        let counters = counters.clone();
        let max_deliveries = settings.max_deliveries;
        let same_event = same_event.clone();
        tasks.spawn(async move {
            if let Some(max) = max_deliveries
                && delivery.delivery_count > max
            {
                let outcome = dead_letter_poison(
                    &name,
                    &routes,
                    delivery.event.as_ref(),
                    &delivery.origin,
                    delivery.delivery_count,
                    max,
                )
                .await;
                settle(&name, &counters, delivery.ack, outcome).await;
                drop(permit);
                return;
            }
            // two copies of one event (a redelivery while the first is still in flight)
            // run one after the other, so the second sees the first's committed state
            let _turn = match &delivery.event {
                Ok(e) => Some(same_event.lock(&e.source, &e.id).await),
                Err(_) => None,
            };
            process(&name, &counters, &routes, delivery, &stopping, &abort).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    // Shutdown: stop the source fetching, hand back what was fetched but not started,
    // finish (or, after the drain timeout, hand back) what is in flight.
    source_stop.cancel();
    rx.close();
    while let Some(d) = rx.recv().await {
        settle(
            &name,
            &counters,
            d.ack,
            Settlement::Requeue {
                reason: "shutting down".into(),
            },
        )
        .await;
    }
    let drained = tokio::time::timeout(settings.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        abort.cancel();
        while tasks.join_next().await.is_some() {}
    }
    match source_task.await {
        Ok(r) => r,
        Err(e) => Err(weft_connector::ConnectorError::Fatal(format!(
            "source `{name}` panicked: {e}"
        ))),
    }
}

async fn settle(
    source: &str,
    counters: &SettledCounters,
    ack: Box<dyn Acknowledge>,
    settlement: Settlement,
) {
    let (outcome, counter) = match settlement {
        Settlement::Ack => ("ack", &counters.ack),
        Settlement::Requeue { .. } => ("requeue", &counters.requeue),
    };
    DeliverySettled {
        source,
        outcome,
        counter,
    }
    .emit();
    ack.settle(settlement).await;
}

/// Processes one delivery through every route and settles it. `stopping` (shutdown)
/// ends retry backoffs at once (the delivery is handed back rather than waited out);
/// `abort` (the drain timeout) ends work in progress.
async fn process(
    source: &str,
    counters: &SettledCounters,
    routes: &[Arc<Route>],
    delivery: Delivery,
    stopping: &CancellationToken,
    abort: &CancellationToken,
) {
    let Delivery {
        event,
        delivery_count,
        origin,
        ack,
    } = delivery;
    let event = match event {
        Ok(e) => e,
        Err(malformed) => {
            let outcome =
                dead_letter_malformed(source, routes, &origin, delivery_count, &malformed).await;
            settle(source, counters, ack, outcome).await;
            return;
        }
    };
    let mut incomplete = None;
    // the consumer span of this delivery (a disabled span when tracing is off)
    let span = weft_telemetry::otel::consumer_span(source, &origin, &event);
    for route in routes {
        let outcome = tokio::select! {
            o = tracing::Instrument::instrument(route.handle(&event, &origin, stopping), span.clone()) => o,
            _ = abort.cancelled() => RouteOutcome::Incomplete("drain timeout".into()),
        };
        if outcome == RouteOutcome::DeadLettered {
            weft_telemetry::otel::record_error(&span, "dead-lettered");
        }
        if let RouteOutcome::Incomplete(reason) = outcome {
            incomplete = Some(reason);
        }
    }
    let settlement = match incomplete {
        None => Settlement::Ack,
        Some(reason) => Settlement::Requeue { reason },
    };
    settle(source, counters, ack, settlement).await;
}

async fn dead_letter_malformed(
    source: &str,
    routes: &[Arc<Route>],
    origin: &str,
    delivery_count: u32,
    malformed: &weft_connector::Malformed,
) -> Settlement {
    let record = malformed_record(source, origin, malformed);
    dead_letter_at_source(
        source,
        routes,
        &record,
        &malformed.error,
        origin,
        delivery_count,
        "a malformed message",
    )
    .await
}

/// Dead-letters a delivery that was handed back more than `max` times, without running it
/// again (through the first route's dead letter, like a malformed message).
async fn dead_letter_poison(
    source: &str,
    routes: &[Arc<Route>],
    event: Result<&Event, &weft_connector::Malformed>,
    origin: &str,
    delivery_count: u32,
    max: u32,
) -> Settlement {
    let event = match event {
        Ok(e) => e.clone(),
        Err(malformed) => malformed_record(source, origin, malformed),
    };
    let reason = format!(
        "delivered {delivery_count} times without being settled (source `{source}` max_deliveries = {max}): handed back each time (shutdown, drain timeout or a failed dead-letter write)"
    );
    dead_letter_at_source(
        source,
        routes,
        &event,
        &reason,
        origin,
        delivery_count,
        "a poison message",
    )
    .await
}

/// The event written for a message that is not a CloudEvent: its raw bytes as data.
fn malformed_record(source: &str, origin: &str, malformed: &weft_connector::Malformed) -> Event {
    let mut record = Event::new(
        dead_letter::malformed_id(&malformed_origin(source, origin), &malformed.raw),
        format!("weft:source/{source}"),
        dead_letter::MALFORMED_TYPE,
    );
    record.datacontenttype = Some("application/octet-stream".into());
    record.data = Some(malformed.raw.clone());
    record
}

/// Writes `event` with the `deadletter*` attributes to the first route's dead letter, on
/// behalf of the source (`deadletterat = source:NAME`); `Ack` once it is stored, else
/// `Requeue`. `what` names the message in the requeue reason.
async fn dead_letter_at_source(
    source: &str,
    routes: &[Arc<Route>],
    event: &Event,
    reason: &str,
    origin: &str,
    delivery_count: u32,
    what: &str,
) -> Settlement {
    let Some(route) = routes.first() else {
        return Settlement::Requeue {
            reason: format!("no route to dead-letter {what}"),
        };
    };
    let at = format!("source:{source}");
    let record = dead_letter_record(event, reason, &at, delivery_count, &route.name, origin);
    let written =
        trace::deliver_dead_letter(&route.name, &route.dead_letter, &record, reason, &at, true)
            .await;
    match written {
        Ok(()) => {
            EventDeadLettered {
                route: &route.name,
                reason,
                event_id: &record.id,
            }
            .emit();
            Settlement::Ack
        }
        Err(e) => Settlement::Requeue {
            reason: format!("dead-lettering {what} failed: {e}"),
        },
    }
}

/// What a malformed message's dead-letter id is derived from (with its bytes): the source
/// and the message's stable origin (a stream entry id, a log offset, a message id); an
/// AMQP delivery tag (`…/tag-N`) is per channel, so only the queue part is used.
fn malformed_origin(source: &str, origin: &str) -> String {
    let stable = match origin.rsplit_once("/tag-") {
        Some((queue, tag)) if tag.bytes().all(|b| b.is_ascii_digit()) => queue,
        _ => origin,
    };
    format!("{source}\u{0}{stable}")
}

/// One lock per (source, id) of the events in flight on a source: copies of the same event
/// are processed one after the other. Entries are removed when their last holder is done.
#[derive(Default)]
struct SameEventLocks {
    held: std::sync::Mutex<std::collections::HashMap<EventKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// An event's (source, id).
type EventKey = (String, String);

/// A turn on one event's lock; releasing it forgets the lock when nobody else waits.
struct SameEventTurn<'a> {
    locks: &'a SameEventLocks,
    key: EventKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SameEventLocks {
    async fn lock(&self, source: &str, id: &str) -> SameEventTurn<'_> {
        let key = (source.to_string(), id.to_string());
        let mutex = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.entry(key.clone()).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        SameEventTurn {
            locks: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for SameEventTurn<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.guard.take());
        // the map's reference is the only one left: nobody holds or waits for it
        if held
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            held.remove(&self.key);
        }
    }
}
