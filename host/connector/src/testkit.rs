//! In-process fakes for testing what sits on top of connectors (the router, the hub): a
//! [`ScriptedSource`] that hands out given deliveries and records how each was settled,
//! and a [`ScriptedSink`] that answers each delivery from a script and records the calls.
//! Built only with the `testkit` feature (dev-dependencies turn it on).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_event::Event;

use crate::{
    Acknowledge, ConnectorError, Delivery, Malformed, Settlement, Sink, SinkError, Source,
};

/// What a [`ScriptedSink`] does with one delivery.
#[derive(Debug, Clone)]
pub enum SinkStep {
    /// Confirm.
    Ok,
    /// Fail transiently with this message.
    Transient(&'static str),
    /// Fail permanently with this message.
    Permanent(&'static str),
    /// Never answer (until the call is dropped).
    Hang,
}

/// A sink that answers from a script (then `Ok` once the script is used up) and records
/// every call's event id and whether it was confirmed.
#[derive(Clone, Default)]
pub struct ScriptedSink {
    script: Arc<Mutex<VecDeque<SinkStep>>>,
    calls: Arc<Mutex<Vec<(String, bool)>>>,
}

impl ScriptedSink {
    /// A sink that confirms everything.
    pub fn ok() -> Self {
        Self::default()
    }

    /// A sink that answers the first deliveries with `steps`, in order.
    pub fn scripted(steps: impl IntoIterator<Item = SinkStep>) -> Self {
        let sink = Self::default();
        sink.script.lock().unwrap().extend(steps);
        sink
    }

    /// A sink that fails every delivery with `step`.
    pub fn always(step: SinkStep) -> Self {
        Self::scripted(std::iter::repeat_n(step, 10_000))
    }

    /// Ids of every event offered, in call order.
    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Ids of the events confirmed, in call order.
    pub fn delivered(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[async_trait]
impl Sink for ScriptedSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(SinkStep::Ok);
        let result = match step {
            SinkStep::Ok => Ok(()),
            SinkStep::Transient(m) => Err(SinkError::Transient(m.into())),
            SinkStep::Permanent(m) => Err(SinkError::Permanent(m.into())),
            SinkStep::Hang => {
                self.calls.lock().unwrap().push((event.id.clone(), false));
                std::future::pending::<()>().await;
                unreachable!()
            }
        };
        self.calls
            .lock()
            .unwrap()
            .push((event.id.clone(), result.is_ok()));
        result
    }
}

/// A sink that keeps every confirmed event (for checking dead-letter records).
#[derive(Clone, Default)]
pub struct CollectingSink {
    events: Arc<Mutex<Vec<Event>>>,
}

impl CollectingSink {
    /// The events delivered so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sink for CollectingSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// How each delivery of a [`ScriptedSource`] was settled: `(origin, settlement)`.
pub type Settlements = Arc<Mutex<Vec<(String, Settlement)>>>;

/// A source that hands out the given events (or malformed messages) once, then waits for
/// shutdown; every settlement is recorded.
pub struct ScriptedSource {
    items: Vec<Result<Event, Malformed>>,
    settlements: Settlements,
    delivery_count: u32,
}

impl ScriptedSource {
    /// A source of `items`; returns it with the record of settlements.
    pub fn new(items: Vec<Result<Event, Malformed>>) -> (Self, Settlements) {
        let settlements = Settlements::default();
        (
            ScriptedSource {
                items,
                settlements: settlements.clone(),
                delivery_count: 1,
            },
            settlements,
        )
    }

    /// Hands every item out as its `count`-th delivery (as if handed back before).
    pub fn with_delivery_count(mut self, count: u32) -> Self {
        self.delivery_count = count;
        self
    }
}

struct RecordingAck {
    origin: String,
    settlements: Settlements,
}

#[async_trait]
impl Acknowledge for RecordingAck {
    async fn settle(self: Box<Self>, settlement: Settlement) {
        self.settlements
            .lock()
            .unwrap()
            .push((self.origin, settlement));
    }
}

#[async_trait]
impl Source for ScriptedSource {
    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        for (index, item) in self.items.into_iter().enumerate() {
            let delivery = Delivery {
                event: item,
                delivery_count: self.delivery_count,
                origin: format!("scripted/{index}"),
                ack: Box::new(RecordingAck {
                    origin: format!("scripted/{index}"),
                    settlements: self.settlements.clone(),
                }),
            };
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                sent = out.send(delivery) => if sent.is_err() { return Ok(()) },
            }
        }
        shutdown.cancelled().await;
        Ok(())
    }
}

/// Polls `settlements` until `n` are recorded (or `timeout`); returns them.
pub async fn wait_for_settlements(
    settlements: &Settlements,
    n: usize,
    timeout: Duration,
) -> Vec<(String, Settlement)> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        {
            let got = settlements.lock().unwrap();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
