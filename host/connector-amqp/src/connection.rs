//! Opening connections (URI, TLS, connection name, timeout), reconnect backoff, and
//! classifying broker errors.

use std::time::Duration;

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::LongString;
use lapin::uri::AMQPUri;
use lapin::{Connect as _, Connection, ConnectionProperties, ErrorKind};

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

/// Masks the password of an AMQP URI for logs and error messages.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{path}")
            } else {
                format!("{scheme}://{user}@{host}{path}")
            }
        }
        None => uri.to_string(),
    }
}

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

/// Exponential backoff with full jitter in the upper half: delay n is uniformly drawn from
/// `[d/2, d]` where `d = min(initial * 2^n, max)`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(config: &ReconnectConfig) -> Self {
        Backoff {
            initial: Duration::from_millis(config.initial_ms.max(1)),
            max: Duration::from_millis(config.max_ms.max(config.initial_ms).max(1)),
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.initial.saturating_mul(factor).min(self.max);
        let jitter: f64 = rand::random::<f64>() * 0.5 + 0.5;
        ceiling.mul_f64(jitter)
    }

    /// How many delays were handed out since the last reset.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a success.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
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
    fn passwords_are_masked() {
        assert_eq!(
            redact_uri("amqp://weft:s3cr3t@rabbit:5672/%2f"),
            "amqp://weft:***@rabbit:5672/%2f"
        );
        assert_eq!(
            redact_uri("amqps://user@rabbit/vh"),
            "amqps://user@rabbit/vh"
        );
        assert_eq!(redact_uri("amqp://rabbit"), "amqp://rabbit");
        assert_eq!(redact_uri("amqp://a:b:c@h"), "amqp://a:***@h");
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let mut b = Backoff::new(&ReconnectConfig {
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
