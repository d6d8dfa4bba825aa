//! The wasmtime host for weft plugins.
//!
//! [`Runtime`] owns the engine (component model, async, epoch interruption, pooling
//! allocator, on-disk compilation cache) and the linker with every host capability.
//! [`Runtime::load`] compiles a component once and pre-instantiates it; the resulting
//! [`LoadedPlugin::invoke`] runs one event under the plugin's limits and grants:
//!
//! - deny by default: no filesystem, sockets or environment; outbound HTTP only to the
//!   `allow_http` grant ([`grants`]); KV namespaced per plugin ([`kv`]); config only the
//!   plugin's own keys; logs into `tracing` with the plugin name;
//! - limits: linear memory, CPU time per event (epoch ticks), wall time, input/output size.
//!   A plugin that traps, loops or runs out of memory fails that one event.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use weft_runtime::{Runtime, EngineOptions, PluginSpec};
//! use weft_kv_embedded::EmbeddedKv;
//! let runtime = Runtime::new(&EngineOptions::default())?;
//! let kv = Arc::new(EmbeddedKv::open(std::path::Path::new(".weft/kv.redb"))?);
//! let plugin = runtime.load("greeter", &PluginSpec::new("greeter.wasm"), std::path::Path::new("."), kv)?;
//! let out = plugin.invoke(&weft_event::Event::new("1", "/demo", "demo")).await?;
//! # Ok(()) }
//! ```

mod bindings;
pub mod cache;
mod engine;
pub mod grants;
mod host;
/// The key-value contract the sandbox serves `wasi:keyvalue` from (backends are crates of
/// their own: `weft-kv-embedded`, `weft-kv-redis`).
pub use weft_kv as kv;
mod limiter;
mod plugin;
mod resources;
mod spec;
mod state;
pub mod text;

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};

pub use engine::{EngineOptions, TICK};
pub use plugin::{
    InvokeError, LoadedPlugin, MAX_RETRY_AFTER, RETRY_AFTER_PREFIX, copy_limit, extension_pairs,
    from_wit, to_wit,
};
pub use spec::{InstanceMode, KvBackendKind, Limits, PluginSpec};
pub use state::{PluginGrants, PluginState};

/// Errors setting up the runtime or loading a plugin.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured.
    #[error("failed to set up the WebAssembly engine: {0}")]
    Engine(String),
    /// A plugin could not be loaded.
    #[error("failed to load plugin `{plugin}`: {reason}")]
    Load {
        /// The plugin's name.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
}

/// The engine, the linker and the epoch ticker. Create one per process.
pub struct Runtime {
    engine: wasmtime::Engine,
    linker: Linker<PluginState>,
    cache: Option<cache::CompileCache>,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Creates the engine and links every host capability.
    pub fn new(options: &EngineOptions) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(options)?;
        let linker = build_linker(&engine)?;
        let cache = match &options.cache_dir {
            Some(dir) => cache::CompileCache::open(dir, &engine).map_err(|e| {
                RuntimeError::Engine(format!("compilation cache {}: {e}", dir.display()))
            })?,
            None => None,
        };
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            _ticker: ticker,
        })
    }

    /// Compiles (or loads from the cache) and pre-instantiates a component from bytes.
    pub fn load_bytes(
        &self,
        name: &str,
        spec: &PluginSpec,
        wasm: &[u8],
        kv: Arc<dyn kv::KvBackend>,
    ) -> Result<LoadedPlugin, RuntimeError> {
        let load_err = |reason: String| RuntimeError::Load {
            plugin: name.to_string(),
            reason,
        };
        let http = spec
            .allow_http
            .iter()
            .map(|p| grants::HttpGrant::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| load_err(e.to_string()))?;
        let component = match &self.cache {
            Some(cache) => {
                cache
                    .load_or_compile(&self.engine, wasm)
                    .map_err(load_err)?
                    .0
            }
            None => Component::new(&self.engine, wasm)
                .map_err(|e| load_err(format!("not a valid WebAssembly component: {e:#}")))?,
        };
        let grants = Arc::new(PluginGrants {
            name: name.to_string(),
            config: spec.config.clone(),
            http: http.into(),
            allow_private: spec.allow_private,
            kv,
            limits: spec.limits.clone(),
        });
        LoadedPlugin::new(&component, &self.linker, grants, spec.mode)
    }

    /// Loads the plugin at `spec.path` (relative paths are resolved against `base_dir`).
    pub fn load(
        &self,
        name: &str,
        spec: &PluginSpec,
        base_dir: &Path,
        kv: Arc<dyn kv::KvBackend>,
    ) -> Result<LoadedPlugin, RuntimeError> {
        let path = base_dir.join(&spec.path);
        let wasm = std::fs::read(&path).map_err(|e| RuntimeError::Load {
            plugin: name.to_string(),
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        self.load_bytes(name, spec, &wasm, kv)
    }

    /// The engine (for benchmarks and tools).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }
}

fn build_linker(engine: &wasmtime::Engine) -> Result<Linker<PluginState>, RuntimeError> {
    let err =
        |e: wasmtime::Error| RuntimeError::Engine(format!("linking host capabilities: {e:#}"));
    let mut linker = Linker::<PluginState>::new(engine);
    // wasi:cli, clocks, random, io, filesystem, sockets: present because Rust's std imports
    // them, but the WasiCtx grants nothing (see PluginState::new).
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
    bindings::wasi::logging::logging::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(err)?;
    bindings::wasi::config::store::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(err)?;
    bindings::wasi::keyvalue::store::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(err)?;
    bindings::wasi::keyvalue::atomics::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(err)?;
    Ok(linker)
}
