//! The AMQP source: consumes one queue with manual acknowledgements and a prefetch limit.
//!
//! Each connection is a *session* with a generation number. Every delivery's ack handle
//! holds its session; once the session is gone (connection or channel lost, or the source
//! shut down) settling is a no-op — the broker redelivers those messages, and an ack can
//! never land on a newer channel (its delivery tags mean other messages there).
//!
//! Per message, before handing it to the router:
//! - the delivery count comes from the quorum-queue `x-delivery-count` header (+1), else
//!   the `redelivered` flag (2) or 1;
//! - a message delivered more than `max_deliveries` times, or that is not a CloudEvent
//!   under the binding, is dead-lettered by the source when it has somewhere to put it:
//!   the queue's broker dead-letter exchange (`basic.reject`, requeue = false; the broker
//!   adds `x-death`) or the configured `dead_letter` exchange (published with confirms and
//!   the `deadletter*` attributes, then acked). Otherwise it goes to the router, which
//!   dead-letters through its route.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Acker, Channel, Confirmation, Connection, Consumer};
use tokio::sync::{Mutex as AsyncMutex, Notify, mpsc};
use tokio_util::sync::CancellationToken;
use weft_connector::{
    Acknowledge, ConnectorError, Delivery, Malformed, Readiness, Settlement, Source, dead_letter,
};
use weft_event::Event;

use crate::binding::{self, AmqpMessage, BindingError, ContentMode, HeaderSeparator};
use crate::config::{ConnectionSettings, DeadLetterConfig, SourceConfig};

use crate::connection::{self, reconnect_backoff};
use crate::internal_events::{
    AckFailed, Connected, ConnectionFailed, ConnectionLost, DeadLetterFailed, MessageAcked,
    MessageConsumed, MessageDeadLettered, MessageRequeued, QueueDepth, RejectReason,
    StaleSettlement,
};
use crate::topology::{self, Required};

/// How long a dead-letter publish may wait for its confirm.
const DEAD_LETTER_CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before requeueing a message whose dead-letter publish failed, so a broken
/// dead-letter destination does not turn into a hot redelivery loop.
const DEAD_LETTER_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Bound on `basic.cancel` and close handshakes with a broker that may be gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// A session that lived this long resets the reconnect backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// Consumes one AMQP queue.
pub struct AmqpSource {
    config: SourceConfig,
    settings: ConnectionSettings,
    queue: Arc<str>,
    broker_dead_letter: bool,
    /// Set after the first session is open (topology declared, consumer registered).
    ready: Readiness,
}

impl std::fmt::Debug for AmqpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSource")
            .field("queue", &self.queue)
            .field("uri", &connection::redact_uri(&self.settings.uri))
            .finish_non_exhaustive()
    }
}

impl AmqpSource {
    /// Validates the config; connecting happens in [`Source::run`].
    pub fn new(config: SourceConfig) -> Result<AmqpSource, ConnectorError> {
        config
            .validate()
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        Ok(AmqpSource {
            settings: config.connection(),
            queue: Arc::from(config.queue.as_str()),
            broker_dead_letter: config.broker_dead_letter_exchange().is_some(),
            config,
            ready: Readiness::new(),
        })
    }
}

/// One connection's worth of state shared with the ack handles it issued.
struct SessionState {
    queue: Arc<str>,
    generation: u64,
    alive: AtomicBool,
    inflight: AtomicUsize,
    settled: Notify,
}

impl SessionState {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    fn end(&self) {
        self.alive.store(false, Ordering::SeqCst);
    }
}

/// Counts a delivery as in flight until dropped.
struct InflightGuard(Arc<SessionState>);

impl InflightGuard {
    fn new(state: &Arc<SessionState>) -> Self {
        state.inflight.fetch_add(1, Ordering::SeqCst);
        InflightGuard(state.clone())
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.settled.notify_waiters();
        }
    }
}

/// The ack handle of one delivery.
struct AmqpAck {
    acker: Option<Acker>,
    guard: InflightGuard,
}

#[async_trait]
impl Acknowledge for AmqpAck {
    async fn settle(mut self: Box<Self>, settlement: Settlement) {
        let Some(acker) = self.acker.take() else {
            return;
        };
        let state = &self.guard.0;
        if !state.alive() {
            StaleSettlement {
                queue: &state.queue,
                generation: state.generation,
            }
            .emit();
            return;
        }
        match settlement {
            Settlement::Ack => match acker.ack(BasicAckOptions::default()).await {
                Ok(true) => MessageAcked {
                    queue: &state.queue,
                }
                .emit(),
                Ok(false) => StaleSettlement {
                    queue: &state.queue,
                    generation: state.generation,
                }
                .emit(),
                Err(error) => AckFailed {
                    queue: &state.queue,
                    operation: "ack",
                    error: &error,
                }
                .emit(),
            },
            Settlement::Requeue { reason } => {
                let options = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                match acker.nack(options).await {
                    Ok(true) => MessageRequeued {
                        queue: &state.queue,
                        reason: &reason,
                    }
                    .emit(),
                    Ok(false) => StaleSettlement {
                        queue: &state.queue,
                        generation: state.generation,
                    }
                    .emit(),
                    Err(error) => AckFailed {
                        queue: &state.queue,
                        operation: "nack",
                        error: &error,
                    }
                    .emit(),
                }
            }
        }
    }
}

impl Drop for AmqpAck {
    fn drop(&mut self) {
        // Dropped without being settled: hand the message back now rather than when the
        // channel closes.
        if let Some(acker) = self.acker.take()
            && self.guard.0.alive()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let options = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                let _ = acker.nack(options).await;
            });
        }
    }
}

/// Publishes dead letters on one confirm-mode channel, one at a time (so a returned
/// message is attributed to the right publish).
struct DeadLetterPublisher {
    connection: Arc<Connection>,
    config: DeadLetterConfig,
    channel: AsyncMutex<Option<Channel>>,
}

impl DeadLetterPublisher {
    async fn publish(&self, message: AmqpMessage, original_key: &str) -> Result<(), String> {
        let mut slot = self.channel.lock().await;
        let channel = match slot.as_ref().filter(|c| c.status().connected()) {
            Some(c) => c.clone(),
            None => {
                let c = self
                    .connection
                    .create_channel()
                    .await
                    .map_err(|e| format!("cannot open the dead-letter channel: {e}"))?;
                c.confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
                *slot = Some(c.clone());
                c
            }
        };
        let routing_key = self.config.routing_key.as_deref().unwrap_or(original_key);
        let result = async {
            let confirm = channel
                .basic_publish(
                    topology::short(&self.config.exchange),
                    topology::short(routing_key),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &message.body,
                    message.properties,
                )
                .await
                .map_err(|e| e.to_string())?;
            match tokio::time::timeout(DEAD_LETTER_CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => Ok(()),
                Ok(Ok(Confirmation::Ack(Some(r)) | Confirmation::Nack(Some(r)))) => Err(format!(
                    "unroutable: no queue bound to dead-letter exchange `{}` for routing key `{routing_key}` ({} {})",
                    self.config.exchange, r.reply_code, r.reply_text
                )),
                Ok(Ok(Confirmation::Nack(None))) => Err("the broker nacked the dead letter".into()),
                Ok(Ok(Confirmation::NotRequested)) => Err("publisher confirms are off".into()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no publisher confirm within 30 s".into()),
            }
        }
        .await;
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

/// Where the source dead-letters a message itself.
#[derive(Clone)]
enum DeadLetterRoute {
    /// `basic.reject` without requeue: the queue's dead-letter exchange takes it.
    Broker,
    /// Publish to the configured exchange, then ack.
    Publish(Arc<DeadLetterPublisher>),
}

/// An open connection consuming the queue.
struct Session {
    connection: Arc<Connection>,
    channel: Channel,
    consumer: Consumer,
    state: Arc<SessionState>,
    publisher: Option<Arc<DeadLetterPublisher>>,
    /// Whether `publisher` is the configured `dead_letter` (not only the broker's
    /// dead-letter exchange, which is used for malformed messages).
    dead_letter_configured: bool,
    background: CancellationToken,
}

impl Session {
    fn route(&self, reason: RejectReason, broker: bool) -> Option<DeadLetterRoute> {
        let publish = self.publisher.clone().map(DeadLetterRoute::Publish);
        match reason {
            // the broker path keeps quorum-queue delivery accounting and x-death
            RejectReason::MaxDeliveries if broker => Some(DeadLetterRoute::Broker),
            RejectReason::MaxDeliveries => publish.filter(|_| self.dead_letter_configured),
            // publishing keeps the parse error with the message
            RejectReason::Malformed => publish.or(broker.then_some(DeadLetterRoute::Broker)),
        }
    }
}

enum OpenError {
    /// Retrying will not help (missing queue with `declare = false`, clashing declaration).
    Permanent(String),
    /// Broker down, network, timeouts.
    Transient(String),
}

enum Outcome {
    Shutdown,
    RouterGone,
    Lost(String),
}

impl AmqpSource {
    async fn open(&self, generation: u64) -> Result<Session, OpenError> {
        let connection = Arc::new(
            connection::connect(&self.settings)
                .await
                .map_err(|e| OpenError::Transient(e.to_string()))?,
        );
        let mut required = Required {
            queues: vec![self.config.queue.clone()],
            exchanges: Vec::new(),
        };
        if let Some(dl) = &self.config.dead_letter {
            required.exchanges.push(dl.exchange.clone());
        }
        if let Err(e) = topology::apply(
            &connection,
            &self.config.topology,
            self.config.declare,
            &required,
        )
        .await
        {
            let _ = connection.close(200, "topology problem".into()).await;
            let message = format!("amqp source `{}`: {e}", self.queue);
            return Err(if e.is_permanent() {
                OpenError::Permanent(message)
            } else {
                OpenError::Transient(message)
            });
        }
        let transient = |what: &str, e: lapin::Error| {
            OpenError::Transient(format!("amqp source `{}`: {what}: {e}", self.queue))
        };
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| transient("cannot open a channel", e))?;
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions { global: false })
            .await
            .map_err(|e| transient("basic.qos failed", e))?;
        let consumer = channel
            .basic_consume(
                topology::short(&self.config.queue),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                if connection::is_permanent(&e) || connection::is_not_found(&e) {
                    OpenError::Permanent(format!(
                        "amqp source `{}`: cannot consume: {e}",
                        self.queue
                    ))
                } else {
                    transient("cannot consume", e)
                }
            })?;
        let publisher = self.config.malformed_dead_letter().map(|config| {
            Arc::new(DeadLetterPublisher {
                connection: connection.clone(),
                config,
                channel: AsyncMutex::new(None),
            })
        });
        let state = Arc::new(SessionState {
            queue: self.queue.clone(),
            generation,
            alive: AtomicBool::new(true),
            inflight: AtomicUsize::new(0),
            settled: Notify::new(),
        });
        let background = CancellationToken::new();
        if self.config.depth_interval_secs > 0 {
            tokio::spawn(poll_depth(
                connection.clone(),
                self.queue.clone(),
                Duration::from_secs(self.config.depth_interval_secs),
                background.clone(),
            ));
        }
        Ok(Session {
            connection,
            channel,
            consumer,
            state,
            publisher,
            dead_letter_configured: self.config.dead_letter.is_some(),
            background,
        })
    }

    async fn consume(
        &self,
        session: &mut Session,
        out: &mpsc::Sender<Delivery>,
        shutdown: &CancellationToken,
    ) -> Outcome {
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Outcome::Shutdown,
                next = session.consumer.next() => next,
            };
            let delivery = match next {
                None => return Outcome::Lost("the broker cancelled the consumer".into()),
                Some(Err(e)) => return Outcome::Lost(e.to_string()),
                Some(Ok(d)) => d,
            };
            if let Some(outcome) = self.handle(session, delivery, out, shutdown).await {
                return outcome;
            }
        }
    }

    async fn handle(
        &self,
        session: &Session,
        delivery: lapin::message::Delivery,
        out: &mpsc::Sender<Delivery>,
        shutdown: &CancellationToken,
    ) -> Option<Outcome> {
        let delivery_count = delivery_count(&delivery);
        let origin = origin(&self.queue, &delivery);
        MessageConsumed {
            queue: &self.queue,
            delivery_tag: delivery.delivery_tag,
            delivery_count,
        }
        .emit();
        let guard = InflightGuard::new(&session.state);
        let decoded = binding::decode(&delivery.properties, &delivery.data);
        let verdict = match &decoded {
            Err(e) => Some((RejectReason::Malformed, e.to_string())),
            Ok(_) if delivery_count > self.config.max_deliveries => Some((
                RejectReason::MaxDeliveries,
                format!(
                    "delivered {delivery_count} times, more than max_deliveries = {}",
                    self.config.max_deliveries
                ),
            )),
            Ok(_) => None,
        };
        if let Some((reason, detail)) = verdict
            && let Some(route) = session.route(reason, self.broker_dead_letter)
        {
            let job = DeadLetterJob {
                queue: self.queue.clone(),
                delivery,
                decoded,
                reason,
                detail,
                delivery_count,
                origin,
                guard,
            };
            tokio::spawn(job.run(route, shutdown.clone()));
            return None;
        }
        let lapin::message::Delivery { data, acker, .. } = delivery;
        let event = decoded.map_err(|e| Malformed {
            raw: data,
            error: e.to_string(),
        });
        let delivery = Delivery {
            event,
            delivery_count,
            origin,
            ack: Box::new(AmqpAck {
                acker: Some(acker),
                guard,
            }),
        };
        // Dropping `delivery` unsent (shutdown, router gone) requeues it (AmqpAck::drop).
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => Some(Outcome::Shutdown),
            permit = out.reserve() => match permit {
                Ok(permit) => {
                    permit.send(delivery);
                    None
                }
                Err(_) => Some(Outcome::RouterGone),
            },
        }
    }

    /// Stops fetching, waits (bounded) for handed-out deliveries to be settled, closes.
    async fn drain(&self, session: Session) {
        let cancel = session
            .channel
            .basic_cancel(session.consumer.tag(), BasicCancelOptions::default());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, cancel).await;
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.config.drain_timeout_secs);
        let state = &session.state;
        loop {
            let notified = state.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pending = state.inflight.load(Ordering::SeqCst);
            if pending == 0 || !session.connection.status().connected() {
                break;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(queue = %self.queue, pending, "amqp source shutdown: deliveries still unsettled after the drain timeout; the broker redelivers them");
                    break;
                }
            }
        }
        close(session).await;
    }
}

async fn close(session: Session) {
    session.state.end();
    session.background.cancel();
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.channel.close(200, "closing".into())).await;
    let closing = session.connection.close(200, "closing".into());
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
}

#[async_trait]
impl Source for AmqpSource {
    fn report_ready(&mut self, ready: Readiness) {
        self.ready = ready;
    }

    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let mut backoff = reconnect_backoff(&self.settings.reconnect);
        let mut generation = 0u64;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            // connect has its own timeout; topology and consume setup get twice that
            let setup = self.settings.connect_timeout * 3;
            let opened = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                opened = tokio::time::timeout(setup, self.open(generation + 1)) => {
                    opened.unwrap_or_else(|_| Err(OpenError::Transient(format!(
                        "amqp source `{}`: no answer from the broker within {}s while setting up",
                        self.queue,
                        setup.as_secs()
                    ))))
                }
            };
            let mut session = match opened {
                Ok(session) => session,
                Err(OpenError::Permanent(message)) if generation == 0 => {
                    return Err(ConnectorError::Fatal(message));
                }
                Err(OpenError::Permanent(message) | OpenError::Transient(message)) => {
                    let delay = backoff.next_delay();
                    ConnectionFailed {
                        role: "source",
                        target: &self.queue,
                        error: &message,
                        retry_in: delay,
                    }
                    .emit();
                    if sleep_or_shutdown(delay, &shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            generation += 1;
            Connected {
                role: "source",
                target: &self.queue,
                generation,
            }
            .emit();
            // the queue is declared and consumed: a message published from now on is kept
            self.ready.set();
            let started = Instant::now();
            match self.consume(&mut session, &out, &shutdown).await {
                Outcome::Shutdown | Outcome::RouterGone => {
                    self.drain(session).await;
                    return Ok(());
                }
                Outcome::Lost(error) => {
                    ConnectionLost {
                        role: "source",
                        target: &self.queue,
                        error: &error,
                    }
                    .emit();
                    close(session).await;
                    if started.elapsed() >= HEALTHY_SESSION {
                        backoff.reset();
                    }
                    let delay = backoff.next_delay();
                    tracing::debug!(queue = %self.queue, attempt = backoff.attempt(), delay_ms = delay.as_millis() as u64, "amqp source reconnecting");
                    if sleep_or_shutdown(delay, &shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Sleeps unless shutdown comes first; returns whether it did.
async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

/// Refreshes the queue depth gauge with a passive declare on its own channel.
async fn poll_depth(
    connection: Arc<Connection>,
    queue: Arc<str>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut channel: Option<Channel> = None;
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !connection.status().connected() {
            break;
        }
        let ch = match channel.as_ref().filter(|c| c.status().connected()) {
            Some(c) => c.clone(),
            None => match connection.create_channel().await {
                Ok(c) => {
                    channel = Some(c.clone());
                    c
                }
                Err(_) => continue,
            },
        };
        match topology::passive_queue_declare(&ch, &queue).await {
            Ok(q) => QueueDepth {
                queue: &queue,
                depth: q.message_count(),
            }
            .emit(),
            Err(e) => {
                channel = None;
                tracing::debug!(queue = %queue, error = %e, "amqp queue depth check failed");
            }
        }
    }
    if let Some(c) = channel {
        let _ = c.close(200, "done".into()).await;
    }
}

/// How many times the broker delivered the message, this time included.
fn delivery_count(delivery: &lapin::message::Delivery) -> u32 {
    let header = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count"))
        .and_then(amqp_int);
    match header {
        Some(n) => u32::try_from(n.max(0))
            .unwrap_or(u32::MAX)
            .saturating_add(1),
        None if delivery.redelivered => 2,
        None => 1,
    }
}

fn amqp_int(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::ShortShortInt(i) => (*i).into(),
        AMQPValue::ShortShortUInt(i) => (*i).into(),
        AMQPValue::ShortInt(i) => (*i).into(),
        AMQPValue::ShortUInt(i) => (*i).into(),
        AMQPValue::LongInt(i) => (*i).into(),
        AMQPValue::LongUInt(i) => (*i).into(),
        AMQPValue::LongLongInt(i) => *i,
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok()?,
        _ => return None,
    })
}

/// The dead-letter id of a malformed message without a message id: stable (the same
/// message redelivered gets the same id, so downstream deduplication works) and unique per
/// queue and content — delivery tags repeat across channels.
fn malformed_id(queue: &str, body: &[u8]) -> String {
    weft_connector::dead_letter::malformed_id(&format!("amqp:{queue}"), body)
}

/// `amqp:<queue>/<message-id>`, or the delivery tag when there is no message id.
fn origin(queue: &str, delivery: &lapin::message::Delivery) -> String {
    match delivery.properties.message_id() {
        Some(id) => format!("amqp:{queue}/{id}"),
        None => format!("amqp:{queue}/tag-{}", delivery.delivery_tag),
    }
}

/// Dead-letters one message, off the consume loop.
struct DeadLetterJob {
    queue: Arc<str>,
    delivery: lapin::message::Delivery,
    decoded: Result<Event, BindingError>,
    reason: RejectReason,
    detail: String,
    delivery_count: u32,
    origin: String,
    guard: InflightGuard,
}

impl DeadLetterJob {
    async fn run(self, route: DeadLetterRoute, shutdown: CancellationToken) {
        let acker = &self.delivery.acker;
        match route {
            DeadLetterRoute::Broker => {
                match acker.reject(BasicRejectOptions { requeue: false }).await {
                    Ok(true) => MessageDeadLettered {
                        queue: &self.queue,
                        reason: self.reason,
                        detail: &self.detail,
                        destination: "broker",
                        origin: &self.origin,
                    }
                    .emit(),
                    Ok(false) => StaleSettlement {
                        queue: &self.queue,
                        generation: self.guard.0.generation,
                    }
                    .emit(),
                    Err(error) => AckFailed {
                        queue: &self.queue,
                        operation: "reject",
                        error: &error,
                    }
                    .emit(),
                }
            }
            DeadLetterRoute::Publish(publisher) => {
                let published = match self.record() {
                    Ok(record) => {
                        publisher
                            .publish(record, self.delivery.routing_key.as_str())
                            .await
                    }
                    Err(e) => Err(format!("cannot encode the dead-letter record: {e}")),
                };
                match published {
                    Ok(()) => match acker.ack(BasicAckOptions::default()).await {
                        Ok(true) => MessageDeadLettered {
                            queue: &self.queue,
                            reason: self.reason,
                            detail: &self.detail,
                            destination: &publisher.config.exchange,
                            origin: &self.origin,
                        }
                        .emit(),
                        // the channel is gone: the broker redelivers, a duplicate dead
                        // letter is possible (at-least-once)
                        Ok(false) => StaleSettlement {
                            queue: &self.queue,
                            generation: self.guard.0.generation,
                        }
                        .emit(),
                        Err(error) => AckFailed {
                            queue: &self.queue,
                            operation: "ack",
                            error: &error,
                        }
                        .emit(),
                    },
                    Err(error) => {
                        DeadLetterFailed {
                            queue: &self.queue,
                            error: &error,
                            origin: &self.origin,
                        }
                        .emit();
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            _ = tokio::time::sleep(DEAD_LETTER_RETRY_PAUSE) => {}
                        }
                        let options = BasicNackOptions {
                            multiple: false,
                            requeue: true,
                        };
                        if let Err(error) = acker.nack(options).await {
                            AckFailed {
                                queue: &self.queue,
                                operation: "nack",
                                error: &error,
                            }
                            .emit();
                        }
                    }
                }
            }
        }
    }

    /// The dead-letter record, in binary mode: the event with the `deadletter*` attributes
    /// added, or for a malformed message a `weft.deadletter.malformed` event whose data is
    /// the raw body. Application headers of the original message are kept.
    fn record(&self) -> Result<AmqpMessage, BindingError> {
        let original = &self.delivery.properties;
        let mut event = match &self.decoded {
            Ok(event) => event.clone(),
            Err(_) => {
                let id = original
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| malformed_id(&self.queue, &self.delivery.data));
                let mut event = Event::new(
                    id,
                    format!("/weft/source/amqp/{}", self.queue),
                    dead_letter::MALFORMED_TYPE,
                );
                event.datacontenttype = original
                    .content_type()
                    .as_ref()
                    .map(|ct| ct.to_string())
                    .filter(|ct| {
                        binding::detect_mode(original) == ContentMode::Binary && !ct.is_empty()
                    })
                    .or_else(|| Some("application/octet-stream".into()));
                if !self.delivery.data.is_empty() {
                    event.data = Some(self.delivery.data.clone());
                }
                event
            }
        };
        for (name, value) in [
            (dead_letter::REASON, self.detail.clone()),
            (
                dead_letter::FAILED_AT,
                format!("source:amqp:{}", self.queue),
            ),
            (dead_letter::ATTEMPTS, self.delivery_count.to_string()),
            (dead_letter::ORIGIN, self.origin.clone()),
        ] {
            event.extensions.insert(name.to_string(), value);
        }
        let mut message = binding::encode(&event, ContentMode::Binary, HeaderSeparator::Colon)?;
        let mut headers = message.properties.headers().clone().unwrap_or_default();
        if let Some(original_headers) = original.headers() {
            for (name, value) in original_headers {
                if binding::attribute_header(name.as_str()).is_none()
                    && name.as_str() != "x-delivery-count"
                {
                    headers.insert(name.clone(), value.clone());
                }
            }
        }
        message.properties = message
            .properties
            .with_headers(headers)
            .with_delivery_mode(2);
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::BasicProperties;

    /// A message carrying a quorum-queue delivery count.
    fn with_delivery_count(n: i64) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(n));
        BasicProperties::default().with_headers(headers)
    }

    fn mock(redelivered: bool, properties: BasicProperties) -> lapin::message::Delivery {
        let mut d = lapin::message::Delivery::mock(7, "".into(), "rk".into(), redelivered, vec![]);
        d.properties = properties;
        d
    }

    #[test]
    fn delivery_count_from_header_or_flag() {
        assert_eq!(delivery_count(&mock(false, BasicProperties::default())), 1);
        assert_eq!(delivery_count(&mock(true, BasicProperties::default())), 2);
        assert_eq!(delivery_count(&mock(true, with_delivery_count(4))), 5);
        assert_eq!(delivery_count(&mock(true, with_delivery_count(-1))), 1);
    }

    #[test]
    fn origin_prefers_message_id() {
        let d = mock(
            false,
            BasicProperties::default().with_message_id("m1".into()),
        );
        assert_eq!(origin("q", &d), "amqp:q/m1");
        assert_eq!(
            origin("q", &mock(false, BasicProperties::default())),
            "amqp:q/tag-7"
        );
    }

    fn job(
        properties: BasicProperties,
        body: &[u8],
        decoded: Result<Event, BindingError>,
    ) -> DeadLetterJob {
        let state = Arc::new(SessionState {
            queue: Arc::from("q"),
            generation: 1,
            alive: AtomicBool::new(true),
            inflight: AtomicUsize::new(0),
            settled: Notify::new(),
        });
        let mut delivery = mock(true, properties);
        delivery.data = body.to_vec();
        DeadLetterJob {
            queue: Arc::from("q"),
            delivery,
            decoded,
            reason: RejectReason::Malformed,
            detail: "bad".into(),
            delivery_count: 3,
            origin: "amqp:q/tag-7".into(),
            guard: InflightGuard::new(&state),
        }
    }

    #[test]
    fn malformed_record_keeps_the_raw_body_and_says_why() {
        let mut headers = FieldTable::default();
        headers.insert("app".into(), AMQPValue::LongString("x".into()));
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(2));
        let props = BasicProperties::default()
            .with_headers(headers)
            .with_content_type("text/plain".into());
        let err = BindingError::NotCloudEvent {
            content_type: "text/plain".into(),
        };
        let record = job(props, b"not an event", Err(err)).record().unwrap();
        let back = binding::decode(&record.properties, &record.body).unwrap();
        assert_eq!(back.ty, dead_letter::MALFORMED_TYPE);
        assert_eq!(back.data.as_deref(), Some(&b"not an event"[..]));
        assert_eq!(back.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(back.extensions[dead_letter::REASON], "bad");
        assert_eq!(back.extensions[dead_letter::ATTEMPTS], "3");
        let headers = record.properties.headers().clone().unwrap();
        assert!(headers.contains_key("app"));
        assert!(!headers.contains_key("x-delivery-count"));
        assert_eq!(*record.properties.delivery_mode(), Some(2));
    }

    #[test]
    fn event_record_is_the_event_plus_reason() {
        let event = Event::new("1", "/s", "t");
        let props =
            BasicProperties::default().with_content_type("application/cloudevents+json".into());
        let record = job(props, b"{}", Ok(event.clone())).record().unwrap();
        let back = binding::decode(&record.properties, &record.body).unwrap();
        assert_eq!(back.id, "1");
        assert_eq!(back.extensions[dead_letter::FAILED_AT], "source:amqp:q");
        assert_eq!(back.extensions[dead_letter::ORIGIN], "amqp:q/tag-7");
    }
}
