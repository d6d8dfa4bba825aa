//! `[subscriptions]` in weft's config.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where subscriptions are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In the data directory (`subscriptions.redb`): one hub.
    #[default]
    Embedded,
    /// In Redis (`[subscriptions] redis_url`): shared by every replica.
    Redis,
}

/// `[subscriptions]`: the Subscriptions API and its deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// Serve `/v1/subscriptions` and run subscriptions (needs the HTTP server).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// `embedded` (default) or `redis`.
    #[serde(default)]
    pub store: StoreKind,
    /// Redis URL for `store = "redis"`, e.g. `redis://127.0.0.1:6379` (`${VAR}` allowed).
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Key prefix in Redis: subscriptions are the hash `{prefix}:subscriptions`.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// Default of `config.max_elapsed_ms`: how long one event is retried before it is
    /// dead-lettered, in milliseconds (default one day).
    #[serde(default = "default_max_elapsed_ms")]
    pub max_elapsed_ms: u64,
    /// Timeout of one delivery request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How often the store is read for changes made by other replicas, in milliseconds.
    #[serde(default = "default_reconcile_ms")]
    pub reconcile_ms: u64,
    /// Most subscriptions.
    #[serde(default = "default_max_subscriptions")]
    pub max_subscriptions: usize,
    /// Allow sinks on loopback, private, link-local and other internal addresses. Unset:
    /// allowed when the hub listens on a loopback address (a laptop), refused otherwise.
    #[serde(default)]
    pub allow_private_sinks: Option<bool>,
}

fn default_enabled() -> bool {
    true
}
fn default_key_prefix() -> String {
    "weft".to_string()
}
fn default_max_elapsed_ms() -> u64 {
    86_400_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_reconcile_ms() -> u64 {
    1_000
}
fn default_max_subscriptions() -> usize {
    1_000
}

impl Default for SubscriptionsConfig {
    fn default() -> Self {
        SubscriptionsConfig {
            enabled: default_enabled(),
            store: StoreKind::default(),
            redis_url: None,
            key_prefix: default_key_prefix(),
            max_elapsed_ms: default_max_elapsed_ms(),
            timeout_ms: default_timeout_ms(),
            reconcile_ms: default_reconcile_ms(),
            max_subscriptions: default_max_subscriptions(),
            allow_private_sinks: None,
        }
    }
}

impl SubscriptionsConfig {
    /// Problems serde cannot see, as (field, message).
    pub fn check(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        if self.store == StoreKind::Redis && self.redis_url.as_deref().is_none_or(str::is_empty) {
            found.push((
                "subscriptions.redis_url".to_string(),
                "store = \"redis\" needs redis_url, e.g. \"redis://127.0.0.1:6379\"".to_string(),
            ));
        }
        if let Some(url) = self.redis_url.as_deref().filter(|u| !u.is_empty())
            && let Err(e) = redis::Client::open(url)
        {
            found.push((
                "subscriptions.redis_url".to_string(),
                format!("invalid Redis URL: {e}"),
            ));
        }
        if self.reconcile_ms < 10 {
            found.push((
                "subscriptions.reconcile_ms".to_string(),
                "at least 10".to_string(),
            ));
        }
        if self.max_elapsed_ms < 1000 {
            found.push((
                "subscriptions.max_elapsed_ms".to_string(),
                "at least 1000".to_string(),
            ));
        }
        found
    }
}
