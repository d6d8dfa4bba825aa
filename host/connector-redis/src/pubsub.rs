//! Redis pub/sub source and sink — **best effort** (`Guarantee::BestEffort`).
//!
//! Pub/sub has no persistence and no acknowledgement: a message published while weft is
//! disconnected (or before it subscribed) is lost, and settling a delivery does nothing
//! (a `Requeue` cannot be honoured). Use Redis Streams when every event matters.
//! Messages carry the CloudEvents JSON event format as their payload.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::Client;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use weft_connector::{
    Acknowledge, ConnectorError, Delivery, Malformed, Readiness, Settlement, Sink, SinkError,
    Source,
};
use weft_event::Event;

use crate::binding;
use crate::config::{PubSubSinkConfig, PubSubSourceConfig, ms};
use crate::internal_events::{
    ConnectionError, PubSubPublished, PubSubReceived, Reconnected, SinkFailed,
};
use crate::stream_sink::{manager_config, sink_error};
use crate::util::reconnect_backoff;

/// The pub/sub source built by [`crate::pubsub_source`].
pub(crate) struct PubSubSource {
    config: PubSubSourceConfig,
    client: Client,
    /// Label for logs and metrics: the subscriptions, joined.
    label: String,
    /// Set once subscribed (messages published before that are not received).
    ready: Readiness,
}

impl PubSubSource {
    pub(crate) fn new(config: PubSubSourceConfig) -> Result<Self, ConnectorError> {
        config.validate()?;
        let client = config.client()?;
        let label = config
            .channels
            .iter()
            .chain(&config.patterns)
            .cloned()
            .collect::<Vec<_>>()
            .join(",");
        Ok(PubSubSource {
            config,
            client,
            label,
            ready: Readiness::new(),
        })
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSub, redis::RedisError> {
        let connect = self.client.get_async_pubsub();
        let mut pubsub =
            match tokio::time::timeout(ms(self.config.connection_timeout_ms), connect).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connecting to redis timed out",
                    )));
                }
            };
        if !self.config.channels.is_empty() {
            pubsub.subscribe(&self.config.channels).await?;
        }
        if !self.config.patterns.is_empty() {
            pubsub.psubscribe(&self.config.patterns).await?;
        }
        Ok(pubsub)
    }
}

/// Settling a pub/sub delivery does nothing: there is nothing to acknowledge.
struct NoAck;

#[async_trait]
impl Acknowledge for NoAck {
    async fn settle(self: Box<Self>, settlement: Settlement) {
        if let Settlement::Requeue { reason } = settlement {
            debug!(%reason, "pub/sub message cannot be requeued; it is dropped (best effort)");
        }
    }
}

#[async_trait]
impl Source for PubSubSource {
    fn report_ready(&mut self, ready: Readiness) {
        self.ready = ready;
    }

    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let mut backoff = reconnect_backoff(ms(self.config.reconnect_max_backoff_ms));
        let mut failed = false;
        let ping_every = ms(self.config.ping_interval_ms);
        loop {
            let subscribed = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                s = self.subscribe() => s,
            };
            let pubsub = match subscribed {
                Ok(p) => p,
                Err(error) => {
                    ConnectionError {
                        stream: &self.label,
                        operation: "subscribe",
                        error: &error,
                    }
                    .emit();
                    failed = true;
                    if !backoff.wait(&shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            if failed {
                Reconnected {
                    stream: &self.label,
                    role: "subscriber",
                }
                .emit();
            } else {
                info!(subscriptions = %self.label, "redis pub/sub source subscribed");
            }
            self.ready.set();
            backoff.reset();
            failed = true; // any exit from the loop below is a connection loss
            let (mut sink, mut messages) = pubsub.split();
            let mut ping = tokio::time::interval(ping_every);
            ping.reset();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = ping.tick() => {
                        let pong = tokio::time::timeout(ping_every.max(Duration::from_secs(1)), sink.ping::<redis::Value>()).await;
                        match pong {
                            Ok(Ok(_)) => {}
                            Ok(Err(error)) => {
                                ConnectionError { stream: &self.label, operation: "ping", error: &error }.emit();
                                break;
                            }
                            Err(_) => {
                                warn!(subscriptions = %self.label, "pub/sub ping timed out; reconnecting");
                                break;
                            }
                        }
                    }
                    message = messages.next() => {
                        let Some(message) = message else {
                            warn!(subscriptions = %self.label, "pub/sub connection closed; reconnecting (messages published meanwhile are lost)");
                            break;
                        };
                        let subscription: String = match message.get_pattern::<Option<String>>() {
                            Ok(Some(pattern)) => pattern,
                            _ => message.get_channel_name().to_string(),
                        };
                        PubSubReceived { channel: &subscription }.emit();
                        let payload = message.get_payload_bytes();
                        let event = binding::decode_message(payload).map_err(|e| Malformed {
                            raw: payload.to_vec(),
                            error: e.to_string(),
                        });
                        let delivery = Delivery {
                            event,
                            delivery_count: 1,
                            origin: format!("redis-pubsub:{}", message.get_channel_name()),
                            ack: Box::new(NoAck),
                        };
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(()),
                            sent = out.send(delivery) => {
                                if sent.is_err() {
                                    return Ok(());
                                }
                            }
                        }
                    }
                }
            }
            if !backoff.wait(&shutdown).await {
                return Ok(());
            }
        }
    }
}

/// The pub/sub sink built by [`crate::pubsub_sink`].
pub(crate) struct PubSubSink {
    conn: ConnectionManager,
    channel: String,
}

impl PubSubSink {
    pub(crate) fn new(config: PubSubSinkConfig) -> Result<Self, ConnectorError> {
        config.validate()?;
        let client = config.client()?;
        let conn = ConnectionManager::new_lazy_with_config(
            client,
            manager_config(
                config.connection_timeout_ms,
                config.response_timeout_ms,
                config.reconnect_max_backoff_ms,
            ),
        )
        .map_err(|e| ConnectorError::Config(format!("redis connection: {e}")))?;
        Ok(PubSubSink {
            conn,
            channel: config.channel,
        })
    }
}

#[async_trait]
impl Sink for PubSubSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let published = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(binding::encode_message(event))
            .query_async::<i64>(&mut self.conn.clone())
            .await;
        match published {
            Ok(receivers) => {
                PubSubPublished {
                    channel: &self.channel,
                    receivers,
                }
                .emit();
                Ok(())
            }
            Err(error) => {
                let mapped = sink_error(&error);
                SinkFailed {
                    stream: &self.channel,
                    transient: mapped.is_transient(),
                    error: &error,
                }
                .emit();
                Err(mapped)
            }
        }
    }
}
