//! Declaring (or passively checking) exchanges, queues and bindings from config.
//!
//! `declare = true` declares everything listed, in order: exchanges, queues, bindings. A
//! declaration that clashes with an existing entity (other type, other arguments) fails
//! with the broker's `PRECONDITION_FAILED` message. `declare = false` checks, with passive
//! declares, that every listed exchange and queue exists (AMQP 0-9-1 cannot check a binding
//! passively) and reports every missing one.

use std::fmt;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};

use crate::config::{QueueConfig, QueueType, TopologyConfig, json_table};
use crate::connection::amqp_error;

/// One topology problem.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// A checked entity does not exist.
    #[error(
        "{kind} `{name}` does not exist on the broker (with declare = false weft only checks the topology: create it, or set declare = true)"
    )]
    Missing {
        /// `exchange` or `queue`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A declaration clashes with an existing entity.
    #[error(
        "cannot declare {kind} `{name}`: the broker says {message} (it exists with other settings; align the config or delete it)"
    )]
    Conflict {
        /// `exchange`, `queue` or `binding`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The broker's reply text.
        message: String,
    },
    /// The user may not declare or access the entity.
    #[error("access to {kind} `{name}` refused: {message}")]
    AccessRefused {
        /// `exchange`, `queue` or `binding`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The broker's reply text.
        message: String,
    },
    /// A configured argument cannot be sent.
    #[error("{kind} `{name}`: invalid arguments: {reason}")]
    Arguments {
        /// `exchange`, `queue` or `binding`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The connection or channel failed; retrying may help.
    #[error("broker error while {action}: {source}")]
    Broker {
        /// What was being done.
        action: String,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
}

impl TopologyError {
    /// Whether retrying cannot help (a missing entity, a clash, refused access, bad args).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, TopologyError::Broker { .. })
    }

    fn from_lapin(kind: &'static str, name: &str, action: &str, error: lapin::Error) -> Self {
        match amqp_error(&error) {
            Some((AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND), _)) => TopologyError::Missing {
                kind,
                name: name.to_string(),
            },
            Some((AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED), message)) => {
                TopologyError::Conflict {
                    kind,
                    name: name.to_string(),
                    message,
                }
            }
            Some((AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED), message)) => {
                TopologyError::AccessRefused {
                    kind,
                    name: name.to_string(),
                    message,
                }
            }
            _ => TopologyError::Broker {
                action: format!("{action} {kind} `{name}`"),
                source: error,
            },
        }
    }
}

/// Every problem found while applying a topology.
#[derive(Debug)]
pub struct TopologyErrors(pub Vec<TopologyError>);

impl TopologyErrors {
    /// Whether any problem is permanent.
    pub fn is_permanent(&self) -> bool {
        self.0.iter().any(TopologyError::is_permanent)
    }
}

impl fmt::Display for TopologyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TopologyErrors {}

/// What to make sure of besides the listed topology: the consumed queue, the target
/// exchange, a dead-letter exchange.
#[derive(Debug, Default, Clone)]
pub(crate) struct Required {
    pub(crate) queues: Vec<String>,
    pub(crate) exchanges: Vec<String>,
}

/// Declares (or checks) the topology, then passively checks the required entities that
/// the topology does not list.
pub(crate) async fn apply(
    connection: &Connection,
    topology: &TopologyConfig,
    declare: bool,
    required: &Required,
) -> Result<(), TopologyErrors> {
    let mut checker = Checker::new(connection);
    if declare {
        declare_all(connection, topology)
            .await
            .map_err(|e| TopologyErrors(vec![e]))?;
    } else {
        for ex in &topology.exchanges {
            checker.exchange(&ex.name).await;
        }
        for q in &topology.queues {
            checker.queue(&q.name).await;
        }
    }
    for name in &required.exchanges {
        if !name.is_empty() && !topology.exchanges.iter().any(|e| e.name == *name) {
            checker.exchange(name).await;
        }
    }
    for name in &required.queues {
        if !topology.queues.iter().any(|q| q.name == *name) {
            checker.queue(name).await;
        }
    }
    checker.finish().await
}

async fn declare_all(
    connection: &Connection,
    topology: &TopologyConfig,
) -> Result<(), TopologyError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(|source| TopologyError::Broker {
            action: "opening a channel to declare the topology".into(),
            source,
        })?;
    for ex in &topology.exchanges {
        let arguments = json_table(&ex.arguments).map_err(|reason| TopologyError::Arguments {
            kind: "exchange",
            name: ex.name.clone(),
            reason,
        })?;
        let kind = match ex.kind.as_str() {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_string()),
        };
        let options = ExchangeDeclareOptions {
            passive: false,
            durable: ex.durable,
            auto_delete: ex.auto_delete,
            internal: ex.internal,
            nowait: false,
        };
        channel
            .exchange_declare(short(&ex.name), kind, options, arguments)
            .await
            .map_err(|e| TopologyError::from_lapin("exchange", &ex.name, "declaring", e))?;
    }
    for q in &topology.queues {
        let arguments = queue_arguments(q)?;
        let options = QueueDeclareOptions {
            passive: false,
            durable: q.durable,
            exclusive: false,
            auto_delete: false,
            nowait: false,
        };
        channel
            .queue_declare(short(&q.name), options, arguments)
            .await
            .map_err(|e| TopologyError::from_lapin("queue", &q.name, "declaring", e))?;
    }
    for b in &topology.bindings {
        let what = format!("{} -> {} ({})", b.exchange, b.queue, b.routing_key);
        let arguments = json_table(&b.arguments).map_err(|reason| TopologyError::Arguments {
            kind: "binding",
            name: what.clone(),
            reason,
        })?;
        channel
            .queue_bind(
                short(&b.queue),
                short(&b.exchange),
                short(&b.routing_key),
                QueueBindOptions::default(),
                arguments,
            )
            .await
            .map_err(|e| TopologyError::from_lapin("binding", &what, "declaring", e))?;
    }
    let _ = channel.close(200, "topology declared".into()).await;
    Ok(())
}

/// The `queue.declare` arguments of a configured queue.
pub(crate) fn queue_arguments(q: &QueueConfig) -> Result<FieldTable, TopologyError> {
    let mut arguments = json_table(&q.arguments).map_err(|reason| TopologyError::Arguments {
        kind: "queue",
        name: q.name.clone(),
        reason,
    })?;
    if q.queue_type == QueueType::Quorum {
        arguments.insert("x-queue-type".into(), long_string("quorum"));
    }
    if let Some(dlx) = &q.dead_letter_exchange {
        arguments.insert("x-dead-letter-exchange".into(), long_string(dlx));
    }
    if let Some(rk) = &q.dead_letter_routing_key {
        arguments.insert("x-dead-letter-routing-key".into(), long_string(rk));
    }
    if let Some(limit) = q.delivery_limit {
        arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(limit.into()),
        );
    }
    Ok(arguments)
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes()))
}

/// Names were checked to be at most 255 bytes by `validate`; anything longer is cut at a
/// character boundary rather than panicking (the broker then reports it missing).
pub(crate) fn short(name: &str) -> ShortString {
    match ShortString::try_new(name) {
        Ok(s) => s,
        Err(_) => {
            let mut end = 255;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            ShortString::try_new(&name[..end]).unwrap_or_default()
        }
    }
}

/// Passive declares, reopening the channel after each failure (a failed passive declare
/// closes the channel), collecting every problem.
struct Checker<'a> {
    connection: &'a Connection,
    channel: Option<Channel>,
    errors: Vec<TopologyError>,
}

impl<'a> Checker<'a> {
    fn new(connection: &'a Connection) -> Self {
        Checker {
            connection,
            channel: None,
            errors: Vec::new(),
        }
    }

    async fn channel(&mut self) -> Option<Channel> {
        if let Some(c) = &self.channel
            && c.status().connected()
        {
            return Some(c.clone());
        }
        match self.connection.create_channel().await {
            Ok(c) => {
                self.channel = Some(c.clone());
                Some(c)
            }
            Err(source) => {
                self.errors.push(TopologyError::Broker {
                    action: "opening a channel to check the topology".into(),
                    source,
                });
                None
            }
        }
    }

    async fn exchange(&mut self, name: &str) {
        let Some(channel) = self.channel().await else {
            return;
        };
        let options = ExchangeDeclareOptions {
            passive: true,
            ..ExchangeDeclareOptions::default()
        };
        if let Err(e) = channel
            .exchange_declare(
                short(name),
                ExchangeKind::Direct,
                options,
                FieldTable::default(),
            )
            .await
        {
            self.channel = None;
            self.errors
                .push(TopologyError::from_lapin("exchange", name, "checking", e));
        }
    }

    async fn queue(&mut self, name: &str) {
        let Some(channel) = self.channel().await else {
            return;
        };
        if let Err(e) = passive_queue_declare(&channel, name).await {
            self.channel = None;
            self.errors
                .push(TopologyError::from_lapin("queue", name, "checking", e));
        }
    }

    async fn finish(self) -> Result<(), TopologyErrors> {
        if let Some(c) = &self.channel {
            let _ = c.close(200, "topology checked".into()).await;
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(TopologyErrors(self.errors))
        }
    }
}

/// A passive `queue.declare`: the queue's ready message count, or 404 if it is missing
/// (which closes the channel).
pub(crate) async fn passive_queue_declare(
    channel: &Channel,
    name: &str,
) -> Result<lapin::Queue, lapin::Error> {
    channel
        .queue_declare(
            short(name),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn quorum_queue_arguments() {
        let q = QueueConfig {
            name: "q".into(),
            queue_type: QueueType::Quorum,
            durable: true,
            dead_letter_exchange: Some("dlx".into()),
            dead_letter_routing_key: Some("dead".into()),
            delivery_limit: Some(3),
            arguments: BTreeMap::from([("x-max-length".to_string(), serde_json::json!(10))]),
        };
        let args = queue_arguments(&q).unwrap();
        let inner = args.inner();
        assert_eq!(inner.get("x-queue-type"), Some(&long_string("quorum")));
        assert_eq!(
            inner.get("x-dead-letter-exchange"),
            Some(&long_string("dlx"))
        );
        assert_eq!(
            inner.get("x-dead-letter-routing-key"),
            Some(&long_string("dead"))
        );
        assert_eq!(
            inner.get("x-delivery-limit"),
            Some(&AMQPValue::LongLongInt(3))
        );
        assert_eq!(inner.get("x-max-length"), Some(&AMQPValue::LongLongInt(10)));
    }

    #[test]
    fn long_names_do_not_panic() {
        assert_eq!(short(&"é".repeat(200)).as_str().len(), 254);
    }
}
