//! TLS for the HTTP listener (`[hub.tls]`): rustls with the *ring* provider (the one the
//! workspace's HTTP clients use), HTTP/1.1 over TLS 1.2 and 1.3.
//!
//! ```toml
//! [hub.tls]
//! cert = "tls/server.pem"       # PEM certificate chain, leaf first
//! key = "tls/server.key"        # PEM private key (PKCS#8, PKCS#1 or SEC1)
//! client_ca = "tls/clients.pem" # optional: CA certificates client certificates are checked against
//! ```
//!
//! The files are read again every `reload_interval_ms` (2 s); when one changed, a new
//! server configuration is built and used for the next handshakes (open connections keep
//! theirs). A changed file that does not parse, or a key that does not match the
//! certificate, is logged as an error and the previous configuration stays in use, so a
//! renewal written in two steps (certificate, then key) is picked up once both are in.
//!
//! With `client_ca`, a client may present a certificate; it must chain to one of those
//! CAs or the handshake fails. A verified certificate is a credential: the
//! `[[auth.tokens]]` entry whose `client_cert_subject` or `client_cert_sha256` matches it
//! gives the request its scopes (see [`crate::auth`]). A client without a certificate
//! still connects and is judged by its `Authorization` header.
//!
//! The TLS handshake must complete within `hub.header_timeout_ms`, like a request head.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// `[hub.tls]`: serve HTTPS instead of HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server's certificate chain (leaf first); relative to the config
    /// file. Reloaded when it changes.
    pub cert: PathBuf,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1); relative to
    /// the config file. Reloaded when it changes.
    pub key: PathBuf,
    /// PEM file with the CA certificates that client certificates must chain to; unset:
    /// clients are not asked for certificates. A verified client certificate is the
    /// credential of the `[[auth.tokens]]` entry whose `client_cert_subject` or
    /// `client_cert_sha256` matches it.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// How often the files are checked for changes, in ms.
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
}

fn default_reload_interval_ms() -> u64 {
    2000
}

impl TlsConfig {
    /// The same configuration with relative paths taken from `base` (the config file's
    /// directory).
    pub fn resolve(&self, base: &Path) -> TlsConfig {
        TlsConfig {
            cert: base.join(&self.cert),
            key: base.join(&self.key),
            client_ca: self.client_ca.as_ref().map(|p| base.join(p)),
            reload_interval_ms: self.reload_interval_ms,
        }
    }

    /// Every problem of the files (unreadable, not PEM, no certificate, key not matching
    /// the certificate, no CA in `client_ca`) as (field, message); fields are `cert`,
    /// `key`, `client_ca` or `reload_interval_ms`.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut found = Vec::new();
        if self.reload_interval_ms == 0 {
            found.push(("reload_interval_ms", "must be at least 1".to_string()));
        }
        match Files::read(self) {
            Err(e) => found.push(e),
            Ok(files) => {
                if let Err(e) = files.build() {
                    found.push(e);
                }
            }
        }
        found
    }
}

/// The contents of the configured files, as last read.
#[derive(PartialEq, Eq)]
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl Files {
    fn read(config: &TlsConfig) -> Result<Files, (&'static str, String)> {
        let read = |field: &'static str, path: &Path| {
            std::fs::read(path).map_err(|e| (field, format!("{}: {e}", path.display())))
        };
        Ok(Files {
            cert: read("cert", &config.cert)?,
            key: read("key", &config.key)?,
            client_ca: match &config.client_ca {
                Some(p) => Some(read("client_ca", p)?),
                None => None,
            },
        })
    }

    /// The server configuration these files make.
    fn build(&self) -> Result<Arc<ServerConfig>, (&'static str, String)> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = CertificateDer::pem_slice_iter(&self.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("cert", format!("not a PEM certificate chain: {e}")))?;
        if certs.is_empty() {
            return Err(("cert", "holds no PEM CERTIFICATE block".to_string()));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key)
            .map_err(|e| ("key", format!("not a PEM private key: {e}")))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ("cert", e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert =
                        cert.map_err(|e| ("client_ca", format!("not PEM certificates: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| ("client_ca", format!("not a CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(("client_ca", "holds no PEM CERTIFICATE block".to_string()));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| ("client_ca", e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| ("key", format!("does not fit the certificate: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The listener's TLS state: the current server configuration, swapped when the files
/// change.
pub struct TlsServer {
    config: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
    seen: Mutex<Files>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Reads the files of `config` (paths already resolved, see [`TlsConfig::resolve`]).
    pub fn load(config: &TlsConfig) -> Result<Arc<TlsServer>, String> {
        let located = |(field, message): (&str, String)| format!("hub.tls.{field}: {message}");
        let files = Files::read(config).map_err(located)?;
        let server = files.build().map_err(located)?;
        Ok(Arc::new(TlsServer {
            config: config.clone(),
            current: RwLock::new(server),
            seen: Mutex::new(files),
        }))
    }

    /// The acceptor for the next handshake.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }

    /// Reads the files again; when they changed and make a valid configuration, it is
    /// used from the next handshake on (`Ok(true)`). A changed but invalid set keeps the
    /// previous configuration (`Err`, reported once per change).
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let located = |(field, message): (&str, String)| format!("hub.tls.{field}: {message}");
        let files = Files::read(&self.config).map_err(located)?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == files {
            return Ok(false);
        }
        let built = files.build();
        *seen = files;
        drop(seen);
        let server = built.map_err(located)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = server;
        Ok(true)
    }

    /// Checks the files every `reload_interval_ms` until `stop`, logging reloads and
    /// failures.
    pub async fn watch(self: Arc<Self>, stop: CancellationToken) {
        let every = Duration::from_millis(self.config.reload_interval_ms.max(1));
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match self.reload_if_changed() {
                Ok(true) => {
                    last_error = None;
                    metrics::counter!("weft_http_tls_reloads_total", "result" => "ok").increment(1);
                    tracing::info!(cert = %self.config.cert.display(), "TLS certificate reloaded");
                }
                Ok(false) => {}
                Err(e) => {
                    // an unreadable file is reported once, not every interval
                    if last_error.as_deref() != Some(e.as_str()) {
                        metrics::counter!("weft_http_tls_reloads_total", "result" => "error")
                            .increment(1);
                        tracing::error!(error = %e, "TLS files changed but cannot be used; keeping the previous certificate");
                        last_error = Some(e);
                    }
                }
            }
        }
    }
}
