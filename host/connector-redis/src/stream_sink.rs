//! The Redis Streams sink: one `XADD` per event on a shared multiplexed connection
//! (concurrent calls are pipelined on it); the entry id in the reply is the confirmation.

use async_trait::async_trait;
use redis::Value;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use weft_connector::{ConnectorError, Sink, SinkError};
use weft_event::Event;

use crate::binding::{self, Binding};
use crate::config::{StreamSinkConfig, ms};
use crate::internal_events::{SinkFailed, SinkWritten, sink_written_counter};
use crate::util;

/// The Redis Streams sink built by [`crate::stream_sink`].
pub(crate) struct StreamSink {
    conn: ConnectionManager,
    stream: String,
    binding: Binding,
    maxlen: Option<(bool, u64)>,
    written: weft_telemetry::metrics::Counter,
}

impl StreamSink {
    /// Builds the sink; the connection is made on first use (and remade after a loss).
    pub(crate) fn new(config: StreamSinkConfig) -> Result<Self, ConnectorError> {
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
        Ok(StreamSink {
            conn,
            written: sink_written_counter(&config.stream),
            stream: config.stream,
            binding: config.binding,
            maxlen: config.maxlen.map(|n| (config.maxlen_exact, n)),
        })
    }
}

/// Connection-manager settings shared by the sinks. Reconnect attempts are few and short:
/// a failed write is reported as transient and the router retries it.
pub(crate) fn manager_config(
    connection_timeout_ms: u64,
    response_timeout_ms: u64,
    reconnect_max_backoff_ms: u64,
) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(ms(connection_timeout_ms)))
        .set_response_timeout(Some(ms(response_timeout_ms)))
        .set_max_delay(ms(reconnect_max_backoff_ms))
        .set_number_of_retries(2)
}

/// Maps a redis error to a sink error: connection-level and server-busy errors are
/// transient, refusals (wrong type, ACL, bad arguments) permanent.
pub(crate) fn sink_error(error: &redis::RedisError) -> SinkError {
    if util::is_transient(error) {
        SinkError::Transient(error.to_string())
    } else {
        SinkError::Permanent(error.to_string())
    }
}

#[async_trait]
impl Sink for StreamSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream);
        if let Some((exact, maxlen)) = self.maxlen {
            cmd.arg("MAXLEN")
                .arg(if exact { "=" } else { "~" })
                .arg(maxlen);
        }
        cmd.arg("*");
        for (name, value) in binding::encode(event, self.binding) {
            cmd.arg(name).arg(value);
        }
        match cmd.query_async::<Value>(&mut self.conn.clone()).await {
            Ok(Value::Nil) => {
                // Only with NOMKSTREAM, which weft does not send; never claim success.
                Err(SinkError::Transient("XADD did not add the entry".into()))
            }
            Ok(_) => {
                SinkWritten {
                    counter: &self.written,
                }
                .emit();
                Ok(())
            }
            Err(error) => {
                let mapped = sink_error(&error);
                SinkFailed {
                    stream: &self.stream,
                    transient: mapped.is_transient(),
                    error: &error,
                }
                .emit();
                Err(mapped)
            }
        }
    }
}
