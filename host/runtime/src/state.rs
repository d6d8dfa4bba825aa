//! The per-store state: everything one instance of a plugin can reach.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::limiter::Limiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::grants::HttpGrant;
use crate::host::http::GrantedHttp;
use crate::kv::KvBackend;
use crate::spec::Limits;

/// What a plugin is granted, shared by all its instances.
pub struct PluginGrants {
    /// The plugin's name (its KV namespace and log tag).
    pub name: String,
    /// Its configuration keys, `${ENV}` already substituted.
    pub config: BTreeMap<String, String>,
    /// Outbound HTTP destinations.
    pub http: Arc<[HttpGrant]>,
    /// Whether granted names may resolve to internal addresses.
    pub allow_private: bool,
    /// Its key-value backend.
    pub kv: Arc<dyn KvBackend>,
    /// Its limits.
    pub limits: Limits,
}

/// The `T` of `Store<T>` for plugin instances.
pub struct PluginState {
    pub(crate) plugin: Arc<PluginGrants>,
    pub(crate) kv: Arc<dyn KvBackend>,
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http_ctx: WasiHttpCtx,
    pub(crate) http_hooks: GrantedHttp,
    pub(crate) limiter: Limiter,
    pub(crate) open_buckets: usize,
    /// Epoch ticks the guest has run during the current event.
    pub(crate) ticks: u64,
    /// Tick budget of the current event.
    pub(crate) tick_budget: u64,
}

impl PluginState {
    /// A fresh, deny-by-default state: no preopened directories, no environment, no
    /// arguments, no sockets or name lookups, stdio discarded.
    pub(crate) fn new(plugin: Arc<PluginGrants>, tick_budget: u64) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        let limiter = Limiter::new(&plugin.limits);
        PluginState {
            kv: plugin.kv.clone(),
            http_hooks: GrantedHttp {
                plugin: plugin.name.as_str().into(),
                grants: plugin.http.clone(),
                allow_private: plugin.allow_private,
                in_flight: Arc::new(AtomicUsize::new(0)),
                max_in_flight: plugin.limits.max_http_requests,
            },
            table: new_table(&plugin.limits),
            http_ctx: new_http_ctx(&plugin.limits),
            plugin,
            wasi: wasi.build(),
            limiter,
            open_buckets: 0,
            ticks: 0,
            tick_budget,
        }
    }
}

impl PluginState {
    /// Makes the state of an ended instance ready for a new one: an empty resource table
    /// (whatever the last instance left open is dropped), fresh HTTP and limiter state.
    /// The WASI context is kept: it holds only this plugin's settings (no environment, no
    /// directories, discarded stdio) and its random generators.
    pub(crate) fn reset(&mut self) {
        // dropping the old table drops what the instance left: pending requests (their
        // tasks are aborted), responses, bodies, fields
        self.table = new_table(&self.plugin.limits);
        self.http_ctx = new_http_ctx(&self.plugin.limits);
        if self.http_hooks.in_flight.load(Ordering::Acquire) != 0 {
            // aborted requests of the old instance release their slots when their tasks
            // are dropped; the next instance starts with all of its own
            self.http_hooks.in_flight = Arc::new(AtomicUsize::new(0));
        }
        self.limiter = Limiter::new(&self.plugin.limits);
        self.open_buckets = 0;
        self.ticks = 0;
    }
}

/// A resource table holding at most `max_handles` entries.
fn new_table(limits: &Limits) -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(limits.max_handles);
    table
}

/// The wasi:http context: header fields bounded by `max_header_bytes`.
fn new_http_ctx(limits: &Limits) -> WasiHttpCtx {
    let mut ctx = WasiHttpCtx::new();
    ctx.set_field_size_limit(limits.max_header_bytes);
    ctx
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}
