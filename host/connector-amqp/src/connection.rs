//! Opening connections (URI, TLS, connection name, timeout), reconnect backoff, and
//! classifying broker errors.

use std::time::Duration;

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::LongString;
use lapin::uri::AMQPUri;
use lapin::{Connect as _, Connection, ConnectionProperties, ErrorKind};

use weft_connector::Backoff;

use crate::config::{ConnectionSettings, ReconnectConfig};

/// Why a connection could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URI does not parse.
    #[error("invalid AMQP URI `{uri}`: {reason}")]
    Uri {
        /// The URI with its password masked.
        uri: String,
        /// The parser's message.
        reason: String,
    },
    /// A TLS file could not be read.
    #[error("cannot read TLS file {path}: {reason}")]
    TlsFile {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// No connection within the connect timeout.
    #[error("connecting to {uri} timed out after {secs}s")]
    Timeout {
        /// The URI with its password masked.
        uri: String,
        /// The timeout.
        secs: u64,
    },
    /// The broker refused or the network failed.
    #[error("cannot connect to {uri}: {source}")]
    Broker {
        /// The URI with its password masked.
        uri: String,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
}

pub(crate) use weft_connector::redact::redact_url as redact_uri;

/// Opens a connection with the settings' URI, TLS material, connection name and timeout.
pub(crate) async fn connect(settings: &ConnectionSettings) -> Result<Connection, ConnectError> {
    let redacted = redact_uri(&settings.uri);
    let uri: AMQPUri = settings.uri.parse().map_err(|reason| ConnectError::Uri {
        uri: redacted.clone(),
        reason,
    })?;
    let tls = tls_config(settings)?;
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(settings.connection_name.as_bytes()))
        .with_client_property("product".into(), LongString::from("weft"));
    let runtime = lapin::runtime::default_runtime().map_err(|source| ConnectError::Broker {
        uri: redacted.clone(),
        source,
    })?;
    let connecting = uri.connect_with_config(properties, tls, runtime);
    match tokio::time::timeout(settings.connect_timeout, connecting).await {
        Err(_) => Err(ConnectError::Timeout {
            uri: redacted,
            secs: settings.connect_timeout.as_secs(),
        }),
        Ok(Err(source)) => Err(ConnectError::Broker {
            uri: redacted,
            source,
        }),
        Ok(Ok(connection)) => Ok(connection),
    }
}

fn tls_config(settings: &ConnectionSettings) -> Result<OwnedTLSConfig, ConnectError> {
    let mut config = OwnedTLSConfig::default();
    let Some(tls) = &settings.tls else {
        return Ok(config);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ConnectError::TlsFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    if let Some(ca) = &tls.ca_file {
        config.cert_chain = Some(String::from_utf8_lossy(&read(ca)?).into_owned());
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        config.identity = Some(OwnedIdentity::PKCS8 {
            pem: read(cert)?,
            key: read(key)?,
        });
    }
    Ok(config)
}

/// The reconnect backoff the config asks for (`weft_connector::Backoff`: delay n is drawn
/// from `[d/2, d]`, `d = min(initial × 2^n, max)`).
pub(crate) fn reconnect_backoff(config: &ReconnectConfig) -> Backoff {
    Backoff::new(
        Duration::from_millis(config.initial_ms),
        Duration::from_millis(config.max_ms),
    )
}

/// The AMQP reply code and text of a broker error, if it is one.
pub(crate) fn amqp_error(error: &lapin::Error) -> Option<(&AMQPErrorKind, String)> {
    match error.kind() {
        ErrorKind::ProtocolError(e) => Some((e.kind(), e.get_message().to_string())),
        _ => None,
    }
}

/// Whether the error says an entity does not exist (404).
pub(crate) fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        amqp_error(error),
        Some((AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND), _))
    )
}

/// Whether retrying the same operation cannot succeed (403, 406, 311, 530).
pub(crate) fn is_permanent(error: &lapin::Error) -> bool {
    matches!(
        amqp_error(error),
        Some((
            AMQPErrorKind::Soft(
                AMQPSoftError::ACCESSREFUSED
                    | AMQPSoftError::PRECONDITIONFAILED
                    | AMQPSoftError::CONTENTTOOLARGE
            ) | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED),
            _
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap() {
        let mut b = reconnect_backoff(&ReconnectConfig {
            initial_ms: 100,
            max_ms: 1000,
        });
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..10 {
            assert!(b.next_delay() <= Duration::from_millis(1000));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_millis(500), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
