//! What the operator configures per plugin: the file, the instance mode, the limits and
//! the grants. These structs are embedded in weft's TOML config as `[plugins.NAME]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One plugin: `[plugins.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// Path of the `.wasm` component, relative to the config file's directory.
    pub path: PathBuf,
    /// `isolated` (default): a fresh instance per event, nothing survives between events.
    /// `warm`: instances are reused across events (faster; linear memory persists between
    /// events of the same instance; an instance that trapped is never reused).
    #[serde(default)]
    pub mode: InstanceMode,
    /// Resource limits, enforced per event.
    #[serde(default)]
    pub limits: Limits,
    /// Outbound HTTP the plugin may use: `scheme://host[:port]` patterns, e.g.
    /// `https://api.example.com`, `http://127.0.0.1:*`, `https://*.example.com`. Empty
    /// (default): no outbound HTTP at all.
    #[serde(default)]
    pub allow_http: Vec<String>,
    /// Let granted host names resolve to internal addresses (loopback, RFC 1918 and ULA
    /// private ranges, link-local incl. 169.254.169.254, CGNAT, multicast, unspecified).
    /// Default `false`: such names are refused; a grant that names the IP itself
    /// (`http://10.0.0.5:8080`) is always allowed.
    #[serde(default)]
    pub allow_private: bool,
    /// Where the plugin's key-value state lives: `embedded` (default, in the data
    /// directory) or `redis` (the hub's `[kv.redis]` connection).
    #[serde(default)]
    pub kv: KvBackendKind,
    /// Most keys the plugin may hold in its key-value state (all buckets). A delivery
    /// whose writes would go over it fails for good: it is dead-lettered with a reason
    /// naming the plugin, the quota and the amounts. No limit by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_max_keys: Option<u64>,
    /// Most bytes (per key: bucket name, key and value) the plugin may hold in its
    /// key-value state; like `kv_max_keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_max_bytes: Option<u64>,
    /// The plugin's configuration keys, read with `wasi:config/store`. Values may use
    /// `${ENV}` to take secrets from the environment.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// How instances are used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceMode {
    /// A fresh instance per event.
    #[default]
    Isolated,
    /// Instances reused across events.
    Warm,
}

/// The plugin's key-value backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KvBackendKind {
    /// The embedded store in the data directory.
    #[default]
    Embedded,
    /// Redis, from the hub's `[kv.redis]` section.
    Redis,
}

/// Per-plugin limits. A plugin that exceeds one fails that event only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Maximum memory of an instance as a whole, in MiB: the sum of all its linear
    /// memories and tables (a component may have several).
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Maximum CPU time per event, in milliseconds (measured in epoch ticks while the
    /// plugin runs; time spent waiting on host calls such as HTTP does not count).
    #[serde(default = "default_cpu_ms")]
    pub cpu_ms: u64,
    /// Maximum wall-clock time per event, in milliseconds, including host calls.
    #[serde(default = "default_wall_ms")]
    pub wall_ms: u64,
    /// Maximum size of the event handed to the plugin (attributes + data), in bytes.
    #[serde(default = "default_max_input_bytes")]
    pub max_input_bytes: usize,
    /// Maximum total size of the events a plugin returns for one input, in bytes.
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: usize,
    /// Maximum number of events a plugin may return for one input.
    #[serde(default = "default_max_output_events")]
    pub max_output_events: usize,
    /// Maximum number of tables, instances and memories per store.
    #[serde(default = "default_max_instances")]
    pub max_instances: usize,
    /// Maximum elements per table.
    #[serde(default = "default_max_table_elements")]
    pub max_table_elements: usize,
    /// Maximum resource handles an instance may hold at once (HTTP requests, responses,
    /// header fields, streams, pollables, KV buckets, and resources the guest creates):
    /// host memory a plugin controls, outside its linear memory.
    #[serde(default = "default_max_handles")]
    pub max_handles: usize,
    /// Maximum size of one set of HTTP header fields a plugin builds (`wasi:http`
    /// `fields`), in bytes of their in-memory representation.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Maximum outgoing HTTP requests of one instance in flight at once; more are refused
    /// (`connection-limit-reached`).
    #[serde(default = "default_max_http_requests")]
    pub max_http_requests: usize,
}

fn default_memory_mib() -> u64 {
    64
}
fn default_cpu_ms() -> u64 {
    100
}
fn default_wall_ms() -> u64 {
    30_000
}
fn default_max_input_bytes() -> usize {
    1024 * 1024
}
fn default_max_output_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_max_output_events() -> usize {
    1000
}
fn default_max_instances() -> usize {
    32
}
fn default_max_table_elements() -> usize {
    100_000
}
fn default_max_handles() -> usize {
    1000
}
fn default_max_header_bytes() -> usize {
    32 * 1024
}
fn default_max_http_requests() -> usize {
    8
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: default_memory_mib(),
            cpu_ms: default_cpu_ms(),
            wall_ms: default_wall_ms(),
            max_input_bytes: default_max_input_bytes(),
            max_output_bytes: default_max_output_bytes(),
            max_output_events: default_max_output_events(),
            max_instances: default_max_instances(),
            max_table_elements: default_max_table_elements(),
            max_handles: default_max_handles(),
            max_header_bytes: default_max_header_bytes(),
            max_http_requests: default_max_http_requests(),
        }
    }
}

impl PluginSpec {
    /// A spec with defaults for everything but the path (handy in tests and `plugin run`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PluginSpec {
            path: path.into(),
            mode: InstanceMode::default(),
            limits: Limits::default(),
            allow_http: Vec::new(),
            allow_private: false,
            kv: KvBackendKind::default(),
            kv_max_keys: None,
            kv_max_bytes: None,
            config: BTreeMap::new(),
        }
    }
}
