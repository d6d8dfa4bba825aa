//! The AMQP sink: publishes each event to an exchange, persistent, `mandatory`, and waits
//! for the broker's publisher confirm.
//!
//! Publishing runs on a pool of confirm-mode channels, one publish in flight per channel:
//! confirms are awaited concurrently across channels, and each confirm (and any
//! `basic.return`) belongs unambiguously to its publish — lapin hands a returned message to
//! whichever confirm of a `multiple` ack batch it completes first, so sharing a channel
//! between concurrent publishes could report the wrong one as unroutable.
//!
//! A channel the broker closed (publishing to a missing exchange closes it with 404) or
//! that timed out is discarded and replaced on the next publish; a lost connection is
//! reopened lazily by the next publish, with exponential backoff between attempts (a
//! publish during the backoff fails transiently at once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection};
use tokio::sync::Semaphore;
use weft_connector::{ConnectorError, Sink, SinkError};
use weft_event::Event;

use crate::binding::{self, ContentMode, HeaderSeparator};
use crate::config::{ConnectionSettings, SinkConfig};
use weft_connector::Backoff;

use crate::connection::{self, is_permanent, reconnect_backoff};
use crate::internal_events::{
    ConfirmFailure, Connected, ConnectionFailed, ConnectionLost, MessagePublished, PublishFailed,
};
use crate::routing_key::RoutingKeyTemplate;
use crate::topology::{self, Required};

/// Publishes events to an AMQP exchange with publisher confirms.
pub struct AmqpSink {
    exchange: ShortString,
    label: String,
    template: RoutingKeyTemplate,
    content_mode: ContentMode,
    separator: HeaderSeparator,
    mandatory: bool,
    persistent: bool,
    confirm_timeout: Duration,
    config: SinkConfig,
    settings: ConnectionSettings,
    permits: Semaphore,
    state: Mutex<State>,
    connect_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink")
            .field("exchange", &self.label)
            .field("uri", &connection::redact_uri(&self.settings.uri))
            .finish_non_exhaustive()
    }
}

struct State {
    current: Option<Arc<Session>>,
    backoff: Backoff,
    next_attempt: Option<Instant>,
    last_error: String,
}

/// One connection and its idle confirm-mode channels.
struct Session {
    connection: Connection,
    generation: u64,
    idle: Mutex<Vec<Channel>>,
}

impl Session {
    fn alive(&self) -> bool {
        self.connection.status().connected()
    }

    fn take_idle(&self) -> Option<Channel> {
        let mut idle = lock(&self.idle);
        while let Some(channel) = idle.pop() {
            if channel.status().connected() {
                return Some(channel);
            }
        }
        None
    }

    fn give_back(&self, channel: Channel) {
        if self.alive() && channel.status().connected() {
            lock(&self.idle).push(channel);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AmqpSink {
    /// Validates the config and connects; a broker that is down now is not fatal (the first
    /// publish connects), but a reachable broker on which the exchange (or a listed entity)
    /// is missing with `declare = false`, or a clashing declaration, is.
    pub async fn new(config: SinkConfig) -> Result<AmqpSink, ConnectorError> {
        config
            .validate()
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let template = RoutingKeyTemplate::parse(&config.routing_key)
            .map_err(|e| ConnectorError::Config(format!("routing_key: {e}")))?;
        let settings = config.connection();
        let label = if config.exchange.is_empty() {
            "(default)".to_string()
        } else {
            config.exchange.clone()
        };
        let sink = AmqpSink {
            exchange: topology::short(&config.exchange),
            label,
            template,
            content_mode: config.content_mode,
            separator: config.header_separator,
            mandatory: config.mandatory,
            persistent: config.persistent,
            confirm_timeout: Duration::from_millis(config.confirm_timeout_ms),
            permits: Semaphore::new(config.channels),
            state: Mutex::new(State {
                current: None,
                backoff: reconnect_backoff(&config.reconnect),
                next_attempt: None,
                last_error: String::new(),
            }),
            connect_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            settings,
            config,
        };
        let connected = match connection::connect(&sink.settings).await {
            Ok(conn) => match sink.prepare(&conn).await {
                Ok(()) => Ok(conn),
                Err((permanent, message)) => {
                    let _ = conn.close(200, "topology problem".into()).await;
                    if permanent {
                        return Err(ConnectorError::Fatal(format!(
                            "amqp sink `{}`: {message}",
                            sink.label
                        )));
                    }
                    Err(message)
                }
            },
            Err(e) => Err(e.to_string()),
        };
        match connected {
            Ok(conn) => {
                sink.install(conn);
            }
            Err(e) => {
                let delay = {
                    let mut state = lock(&sink.state);
                    let delay = state.backoff.next_delay();
                    state.next_attempt = Some(Instant::now() + delay);
                    state.last_error = e.clone();
                    delay
                };
                ConnectionFailed {
                    role: "sink",
                    target: &sink.label,
                    error: &e,
                    retry_in: delay,
                }
                .emit();
            }
        }
        Ok(sink)
    }

    /// Declares or checks the topology on a fresh connection; the flag says whether the
    /// problem is permanent (missing entity, clash) rather than a slow or failing broker.
    async fn prepare(&self, conn: &Connection) -> Result<(), (bool, String)> {
        let required = Required {
            queues: Vec::new(),
            exchanges: vec![self.config.exchange.clone()],
        };
        let limit = self.settings.connect_timeout * 2;
        let apply = topology::apply(conn, &self.config.topology, self.config.declare, &required);
        match tokio::time::timeout(limit, apply).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((e.is_permanent(), e.to_string())),
            Err(_) => Err((
                false,
                format!(
                    "no answer from the broker within {}s while setting up the topology",
                    limit.as_secs()
                ),
            )),
        }
    }

    fn install(&self, conn: Connection) -> Arc<Session> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let session = Arc::new(Session {
            connection: conn,
            generation,
            idle: Mutex::new(Vec::new()),
        });
        let mut state = lock(&self.state);
        state.current = Some(session.clone());
        state.backoff.reset();
        state.next_attempt = None;
        drop(state);
        Connected {
            role: "sink",
            target: &self.label,
            generation,
        }
        .emit();
        session
    }

    fn current(&self) -> Option<Arc<Session>> {
        lock(&self.state)
            .current
            .as_ref()
            .filter(|s| s.alive())
            .cloned()
    }

    /// The live session, reconnecting if needed (one reconnect at a time).
    async fn session(&self) -> Result<Arc<Session>, SinkError> {
        if let Some(s) = self.current() {
            return Ok(s);
        }
        let _guard = self.connect_lock.lock().await;
        if let Some(s) = self.current() {
            return Ok(s);
        }
        {
            let mut state = lock(&self.state);
            if let Some(old) = state.current.take() {
                ConnectionLost {
                    role: "sink",
                    target: &self.label,
                    error: &format!("connection (generation {}) is closed", old.generation),
                }
                .emit();
            }
            if let Some(at) = state.next_attempt {
                let now = Instant::now();
                if now < at {
                    return Err(SinkError::Transient(format!(
                        "not connected to {} ({}); next attempt in {} ms",
                        connection::redact_uri(&self.settings.uri),
                        state.last_error,
                        (at - now).as_millis()
                    )));
                }
            }
        }
        match connection::connect(&self.settings).await {
            Ok(conn) => {
                if let Err((_, e)) = self.prepare(&conn).await {
                    tracing::error!(sink = %self.label, error = %e, "amqp sink topology problem after (re)connect");
                }
                Ok(self.install(conn))
            }
            Err(e) => {
                let error = e.to_string();
                let delay = {
                    let mut state = lock(&self.state);
                    let delay = state.backoff.next_delay();
                    state.next_attempt = Some(Instant::now() + delay);
                    state.last_error = error.clone();
                    delay
                };
                ConnectionFailed {
                    role: "sink",
                    target: &self.label,
                    error: &error,
                    retry_in: delay,
                }
                .emit();
                Err(SinkError::Transient(error))
            }
        }
    }

    async fn channel(&self, session: &Session) -> Result<Channel, SinkError> {
        if let Some(c) = session.take_idle() {
            return Ok(c);
        }
        let open = async {
            let channel = session.connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        };
        match tokio::time::timeout(self.confirm_timeout, open).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(self.classify(&e)),
            Err(_) => Err(SinkError::Transient(format!(
                "opening a publisher channel took longer than {} ms",
                self.confirm_timeout.as_millis()
            ))),
        }
    }

    fn fail(&self, routing_key: &str, reason: ConfirmFailure, error: SinkError) -> SinkError {
        let text = match &error {
            SinkError::Transient(s) | SinkError::Permanent(s) => s.as_str(),
        };
        PublishFailed {
            exchange: &self.label,
            routing_key,
            reason,
            error: text,
        }
        .emit();
        error
    }

    fn classify(&self, error: &lapin::Error) -> SinkError {
        let text = format!("publishing to exchange `{}` failed: {error}", self.label);
        if is_permanent(error) {
            SinkError::Permanent(text)
        } else {
            SinkError::Transient(text)
        }
    }
}

#[async_trait]
impl Sink for AmqpSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let routing_key = self
            .template
            .render(event)
            .map_err(|e| SinkError::Permanent(e.to_string()))?;
        let message = binding::encode(event, self.content_mode, self.separator)
            .map_err(|e| SinkError::Permanent(e.to_string()))?;
        let mut properties = message.properties;
        if self.persistent {
            properties = properties.with_delivery_mode(2);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SinkError::Transient("sink is closed".into()))?;
        let session = match self.session().await {
            Ok(s) => s,
            Err(e) => return Err(self.fail(&routing_key, ConfirmFailure::NotConnected, e)),
        };
        let channel = match self.channel(&session).await {
            Ok(c) => c,
            Err(err) => return Err(self.fail(&routing_key, ConfirmFailure::ChannelClosed, err)),
        };
        let options = BasicPublishOptions {
            mandatory: self.mandatory,
            immediate: false,
        };
        let confirm = match channel
            .basic_publish(
                self.exchange.clone(),
                topology::short(&routing_key),
                options,
                &message.body,
                properties,
            )
            .await
        {
            Ok(confirm) => confirm,
            Err(e) => {
                let err = self.classify(&e);
                return Err(self.fail(&routing_key, ConfirmFailure::ChannelClosed, err));
            }
        };
        match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Ok(Ok(Confirmation::Ack(None))) => {
                session.give_back(channel);
                MessagePublished {
                    exchange: &self.label,
                    routing_key: &routing_key,
                }
                .emit();
                Ok(())
            }
            Ok(Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)))) => {
                session.give_back(channel);
                let err = SinkError::Permanent(format!(
                    "unroutable: exchange `{}` has no queue bound for routing key `{}` (broker returned {} {})",
                    self.label, routing_key, returned.reply_code, returned.reply_text
                ));
                Err(self.fail(&routing_key, ConfirmFailure::Unroutable, err))
            }
            Ok(Ok(Confirmation::Nack(None))) => {
                session.give_back(channel);
                let err = SinkError::Transient(format!(
                    "broker refused the message (publisher confirm nack) on exchange `{}`",
                    self.label
                ));
                Err(self.fail(&routing_key, ConfirmFailure::Nack, err))
            }
            Ok(Ok(Confirmation::NotRequested)) => {
                // the channel lost confirm mode: never report success without a confirm
                let err = SinkError::Transient("publisher confirms are off on the channel".into());
                Err(self.fail(&routing_key, ConfirmFailure::ChannelClosed, err))
            }
            Ok(Err(e)) => {
                let err = self.classify(&e);
                Err(self.fail(&routing_key, ConfirmFailure::ChannelClosed, err))
            }
            Err(_) => {
                // the channel may still deliver a late confirm for this message: discard it
                let err = SinkError::Transient(format!(
                    "no publisher confirm from the broker within {} ms",
                    self.confirm_timeout.as_millis()
                ));
                Err(self.fail(&routing_key, ConfirmFailure::Timeout, err))
            }
        }
    }
}
