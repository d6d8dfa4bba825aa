//! TLS (`rediss://`) support: redis-rs builds its rustls client config from the
//! process-level crypto provider, and enables no provider itself.

/// Installs rustls's `ring` crypto provider as the process default unless one is already
/// installed (e.g. by the weft binary). Idempotent and cheap.
pub(crate) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: some provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
