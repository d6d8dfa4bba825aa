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
pub use spec::{RetryPolicy, RouteSpec};

use internal_events::{DeliverySettled, EventDeadLettered, SettledCounters};

/// How a source is consumed.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Deliveries processed at once (1 keeps source order).
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight deliveries before handing them back.
    pub drain_timeout: Duration,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            max_in_flight: 64,
            drain_timeout: Duration::from_secs(30),
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
        tasks.spawn(async move {
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
    let Some(route) = routes.first() else {
        return Settlement::Requeue {
            reason: "no route to dead-letter a malformed message".into(),
        };
    };
    let mut record = Event::new(
        format!("malformed-{origin}"),
        format!("weft:source/{source}"),
        dead_letter::MALFORMED_TYPE,
    );
    record.datacontenttype = Some("application/octet-stream".into());
    record.data = Some(malformed.raw.clone());
    let record = dead_letter_record(
        &record,
        &malformed.error,
        &format!("source:{source}"),
        delivery_count,
        &route.name,
        origin,
    );
    match route.dead_letter.sink.deliver(&record).await {
        Ok(()) => {
            EventDeadLettered {
                route: &route.name,
                reason: &malformed.error,
                event_id: &record.id,
            }
            .emit();
            Settlement::Ack
        }
        Err(e) => Settlement::Requeue {
            reason: format!("dead-lettering a malformed message failed: {e}"),
        },
    }
}
