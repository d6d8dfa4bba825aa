//! A loaded plugin: compiled once, pre-instantiated once, invoked per event in a fresh
//! store (isolated mode) or a reused one (warm mode), under its limits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, Func, InstancePre, Linker, TypedFunc};
use weft_event::Event;

use crate::bindings::weft::plugin::types as wit;
use crate::engine::TICK;
use crate::kv::KvBackend;
use crate::limiter::{LimitExceeded, LimitHit};
use crate::spec::InstanceMode;
use crate::state::{PluginGrants, PluginState};

/// Why invoking a plugin on an event did not produce events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The plugin asked for a retry (transient).
    #[error("plugin asked to retry: {0}")]
    Retry(String),
    /// The plugin rejected the event (permanent).
    #[error("plugin rejected the event: {0}")]
    Reject(String),
    /// The plugin ran past its CPU limit.
    #[error("plugin exceeded its CPU limit of {limit_ms} ms per event and was stopped")]
    CpuLimit {
        /// The limit.
        limit_ms: u64,
    },
    /// The plugin ran past its wall-clock limit (e.g. waiting on HTTP).
    #[error("plugin exceeded its wall-clock limit of {limit_ms} ms per event and was stopped")]
    WallLimit {
        /// The limit.
        limit_ms: u64,
    },
    /// The plugin tried to grow its memory past its limit.
    #[error("plugin exceeded its memory limit of {limit_mib} MiB")]
    MemoryLimit {
        /// The limit.
        limit_mib: u64,
    },
    /// The plugin held more resource handles (HTTP requests, fields, streams, buckets, …)
    /// than its `max_handles`.
    #[error("plugin exceeded its limit of {limit} resource handles (max_handles)")]
    HandleLimit {
        /// The limit.
        limit: usize,
    },
    /// The plugin trapped (a bug in the plugin: panic, unreachable, out-of-bounds access).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The input event is larger than `max_input_bytes`.
    #[error("event of {size} bytes exceeds the plugin's max_input_bytes of {limit}")]
    InputTooLarge {
        /// Event size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The plugin returned more than `max_output_bytes` or `max_output_events`.
    #[error("plugin output exceeds its limit: {0}")]
    OutputTooLarge(String),
    /// The plugin returned an event that is not a valid CloudEvent.
    #[error("plugin returned an invalid event at index {index}: {reason}")]
    InvalidOutput {
        /// Index in the returned list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The host could not instantiate the plugin.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
}

/// The prefix of a `retry` message that asks for a minimum delay before the next attempt:
/// `retry-after-ms=<milliseconds>: <reason>` (e.g. from an HTTP `Retry-After`). A
/// compatible extension of the `weft:plugin@0.1.0` contract: hubs that do not know it
/// simply show the message.
pub const RETRY_AFTER_PREFIX: &str = "retry-after-ms=";

/// The longest delay a plugin may ask for (one day).
pub const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl InvokeError {
    /// The minimum delay before the next attempt that a `retry` asked for
    /// ([`RETRY_AFTER_PREFIX`]), capped at [`MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        let InvokeError::Retry(message) = self else {
            return None;
        };
        let (digits, _) = message.strip_prefix(RETRY_AFTER_PREFIX)?.split_once(": ")?;
        let ms: u64 = digits.parse().ok()?;
        Some(std::time::Duration::from_millis(ms).min(MAX_RETRY_AFTER))
    }

    /// Whether retrying the same event may succeed. Plugin `retry`, traps, CPU/wall,
    /// memory and handle limits and instantiation errors are retried per the route's policy (a
    /// deterministic failure ends in the dead letter after the last attempt); `reject`,
    /// size limits and invalid output are permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            InvokeError::Retry(_)
                | InvokeError::CpuLimit { .. }
                | InvokeError::WallLimit { .. }
                | InvokeError::MemoryLimit { .. }
                | InvokeError::HandleLimit { .. }
                | InvokeError::Trap(_)
                | InvokeError::Instantiate(_)
        )
    }

    /// A short, bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::Retry(_) => "retry",
            InvokeError::Reject(_) => "reject",
            InvokeError::CpuLimit { .. } => "cpu_limit",
            InvokeError::WallLimit { .. } => "wall_limit",
            InvokeError::MemoryLimit { .. } => "memory_limit",
            InvokeError::HandleLimit { .. } => "handle_limit",
            InvokeError::Trap(_) => "trap",
            InvokeError::InputTooLarge { .. } => "input_too_large",
            InvokeError::OutputTooLarge(_) => "output_too_large",
            InvokeError::InvalidOutput { .. } => "invalid_output",
            InvokeError::Instantiate(_) => "instantiate",
        }
    }
}

/// The exported `weft:plugin/handler.handle` as a typed function (`'a`: the borrowed
/// event). The parameter is a reference so the call's future stays small.
type HandleFunc<'a> = TypedFunc<HandleParams<'a>, HandleResults>;
/// `handle`'s parameters (one: the borrowed event).
type HandleParams<'a> = (&'a wit::EventParam<'a>,);
/// `handle`'s results (one: the emitted events or the failure).
type HandleResults = (Result<Vec<wit::EventResult>, wit::Failure>,);

/// An instantiated plugin: its store and its `handle` export.
struct PluginInstance {
    store: Store<PluginState>,
    handle: Func,
}

/// A plugin ready to handle events.
pub struct LoadedPlugin {
    name: String,
    instance_pre: InstancePre<PluginState>,
    /// Where `handle` is among the component's exports (looked up once, at load).
    handle_index: ComponentExportIndex,
    /// Whether `handle`'s signature was checked against [`HandleFunc`] (on the first
    /// instance; the component, and so the signature, is the same for every instance).
    handle_typechecked: AtomicBool,
    engine: wasmtime::Engine,
    grants: Arc<PluginGrants>,
    mode: InstanceMode,
    /// Idle warm instances (warm mode).
    warm: Mutex<Vec<PluginInstance>>,
    /// Host states of ended instances, reset and ready for the next store: building a
    /// fresh WASI context per event costs more than resetting one.
    spare_states: Mutex<Vec<PluginState>>,
    duration: metrics::Histogram,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Largest number of idle warm instances kept per plugin.
const MAX_IDLE_WARM: usize = 64;
/// Largest number of spare host states kept per plugin.
const MAX_SPARE_STATES: usize = 64;
/// The interface a plugin exports.
const HANDLER_INTERFACE: &str = "weft:plugin/handler@0.1.0";

impl LoadedPlugin {
    pub(crate) fn new(
        component: &Component,
        linker: &Linker<PluginState>,
        grants: Arc<PluginGrants>,
        mode: InstanceMode,
    ) -> Result<Self, crate::RuntimeError> {
        let name = grants.name.clone();
        let instance_pre = linker.instantiate_pre(component).map_err(|e| {
            crate::RuntimeError::Load {
                plugin: name.clone(),
                reason: format!("imports not satisfiable (the plugin asks for a capability weft does not grant): {e:#}"),
            }
        })?;
        let handle_index = component
            .get_export_index(None, HANDLER_INTERFACE)
            .and_then(|handler| component.get_export_index(Some(&handler), "handle"))
            .ok_or_else(|| crate::RuntimeError::Load {
                plugin: name.clone(),
                reason: format!(
                    "not a weft plugin: it must export `handle` of {HANDLER_INTERFACE} (build it with weft-sdk's export_handler!)"
                ),
            })?;
        Ok(LoadedPlugin {
            duration: metrics::histogram!("weft_plugin_duration_seconds", "plugin" => name.clone()),
            name,
            engine: component.engine().clone(),
            instance_pre,
            handle_index,
            handle_typechecked: AtomicBool::new(false),
            grants,
            mode,
            warm: Mutex::new(Vec::new()),
            spare_states: Mutex::new(Vec::new()),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's key-value backend (what a [`crate::kv::KvTransaction`] view wraps).
    pub fn kv_backend(&self) -> Arc<dyn KvBackend> {
        self.grants.kv.clone()
    }

    /// The instance mode.
    pub fn mode(&self) -> InstanceMode {
        self.mode
    }

    fn tick_budget(&self) -> u64 {
        let tick_ms = TICK.as_millis().max(1) as u64;
        self.grants.limits.cpu_ms.div_ceil(tick_ms).max(1)
    }

    fn new_store(&self) -> Store<PluginState> {
        let spare = self.spare_states.lock().ok().and_then(|mut s| s.pop());
        let state =
            spare.unwrap_or_else(|| PluginState::new(self.grants.clone(), self.tick_budget()));
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let limits = &self.grants.limits;
        // what one call may copy from the guest into the host (strings, lists: the
        // returned events, a failure message, a log line, a KV value), checked while
        // lifting, before the host allocates
        store.set_hostcall_fuel(copy_limit(limits));
        store.set_max_component_handles(limits.max_handles);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            state.ticks += 1;
            if state.ticks > state.tick_budget {
                state.limiter.hit = Some(LimitHit::Cpu);
                return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Cpu)));
            }
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        store
    }

    /// Names why `store`'s instantiation or call failed, then retires the store.
    fn fail(&self, store: Store<PluginState>, error: wasmtime::Error) -> InvokeError {
        let error = self.classify(&store, error);
        self.retire(store);
        error
    }

    /// Ends an instance: its store (and with it the instance's memory) is released and
    /// its host state kept, reset, for a later store.
    fn retire(&self, store: Store<PluginState>) {
        let mut state = store.into_data();
        state.reset();
        if let Ok(mut spare) = self.spare_states.lock()
            && spare.len() < MAX_SPARE_STATES
        {
            spare.push(state);
        }
    }

    async fn instantiate(&self) -> Result<PluginInstance, InvokeError> {
        let mut store = self.new_store();
        let instance = match self.instance_pre.instantiate_async(&mut store).await {
            Ok(instance) => instance,
            Err(e) => return Err(self.fail(store, e)),
        };
        if !self.handle_typechecked.load(Ordering::Relaxed) {
            // the same types as `HandleFunc`, which `handle_func` relies on
            if let Err(e) = instance
                .get_typed_func::<HandleParams<'_>, HandleResults>(&mut store, self.handle_index)
            {
                return Err(InvokeError::Instantiate(format!(
                    "`handle` does not have the signature of {HANDLER_INTERFACE}: {e:#}"
                )));
            }
            self.handle_typechecked.store(true, Ordering::Relaxed);
        }
        let handle = instance
            .get_func(&mut store, self.handle_index)
            .ok_or_else(|| InvokeError::Instantiate("`handle` is not a function".into()))?;
        Ok(PluginInstance { store, handle })
    }

    fn classify(&self, store: &Store<PluginState>, error: wasmtime::Error) -> InvokeError {
        let limits = &self.grants.limits;
        match store.data().limiter.hit {
            Some(LimitHit::Cpu) => InvokeError::CpuLimit {
                limit_ms: limits.cpu_ms,
            },
            Some(LimitHit::Memory) => InvokeError::MemoryLimit {
                limit_mib: limits.memory_mib,
            },
            Some(LimitHit::Table) => InvokeError::Trap(format!(
                "table grew past max_table_elements ({})",
                limits.max_table_elements
            )),
            None => {
                let mut msg = format!("{error:#}");
                if msg.contains(HOSTCALL_FUEL_EXHAUSTED) {
                    return InvokeError::OutputTooLarge(format!(
                        "the plugin passed more than {} bytes to the host in one call (the copy limit, derived from max_output_bytes)",
                        copy_limit(limits)
                    ));
                }
                if msg.contains(FIELDS_TOO_BIG) {
                    return InvokeError::Trap(format!(
                        "HTTP header fields larger than max_header_bytes ({} bytes)",
                        limits.max_header_bytes
                    ));
                }
                if msg.contains(TABLE_FULL) || msg.contains(HANDLE_LIMIT) {
                    return InvokeError::HandleLimit {
                        limit: limits.max_handles,
                    };
                }
                if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
                    msg = format!("{trap}: {msg}");
                }
                InvokeError::Trap(crate::text::bounded_owned(msg))
            }
        }
    }

    /// Runs the plugin on one event and returns the events it emits. With traces on, the
    /// call is a `plugin {name}` span (its outgoing HTTP requests carry its `traceparent`).
    pub async fn invoke(&self, event: &Event) -> Result<Vec<Event>, InvokeError> {
        self.invoke_in(event, None).await
    }

    /// [`invoke`](Self::invoke) with the plugin's key-value store replaced by `kv` for this
    /// call (the router passes a [`crate::kv::KvTransaction`] view, so the call's writes are
    /// buffered until the delivery is acknowledged). `None`: the plugin's own backend.
    pub async fn invoke_in(
        &self,
        event: &Event,
        kv: Option<Arc<dyn KvBackend>>,
    ) -> Result<Vec<Event>, InvokeError> {
        if !weft_telemetry::otel::enabled() {
            return self.invoke_untraced(event, kv).await;
        }
        let mode = match self.mode {
            InstanceMode::Warm => "warm",
            InstanceMode::Isolated => "isolated",
        };
        let span = weft_telemetry::otel::plugin_span(self.name(), mode);
        let started = std::time::Instant::now();
        let result =
            tracing::Instrument::instrument(self.invoke_untraced(event, kv), span.clone()).await;
        let (outcome, outputs, error) = match &result {
            Ok(out) => ("ok", out.len(), None),
            Err(e) => (e.kind(), 0, Some(e.to_string())),
        };
        weft_telemetry::otel::record_plugin_outcome(
            &span,
            outcome,
            outputs,
            started.elapsed(),
            error.as_deref(),
        );
        result
    }

    async fn invoke_untraced(
        &self,
        event: &Event,
        kv: Option<Arc<dyn KvBackend>>,
    ) -> Result<Vec<Event>, InvokeError> {
        let limits = &self.grants.limits;
        let size = event.size();
        if size > limits.max_input_bytes {
            return Err(InvokeError::InputTooLarge {
                size,
                limit: limits.max_input_bytes,
            });
        }
        let reused = match self.mode {
            InstanceMode::Warm => self.warm.lock().map(|mut w| w.pop()).unwrap_or(None),
            InstanceMode::Isolated => None,
        };
        let mut instance = match reused {
            Some(i) => i,
            None => self.instantiate().await?,
        };
        instance.store.data_mut().ticks = 0;
        instance.store.data_mut().kv = kv.unwrap_or_else(|| self.grants.kv.clone());
        instance.store.set_epoch_deadline(1);
        let extensions = extension_pairs(event);
        let input = to_wit(event, &extensions);
        let wall = Duration::from_millis(limits.wall_ms);
        // quanta reads the TSC (~9 ns here) where `std::time::Instant` takes ~21 ns:
        // two reads per event, on the path every event takes
        let started = quanta::Instant::now();
        let handle = handle_func(instance.handle);
        let call = handle.call_async(&mut instance.store, (&input,));
        let result = match with_wall_limit(started, wall, call).await {
            None => {
                self.retire(instance.store);
                return Err(InvokeError::WallLimit {
                    limit_ms: limits.wall_ms,
                });
            }
            Some(Err(e)) => return Err(self.fail(instance.store, e)),
            Some(Ok((r,))) => r,
        };
        self.duration.record(started.elapsed().as_secs_f64());
        // The call returned normally: in warm mode the instance is healthy and is reused.
        match self.mode {
            // an instance that still holds resources (a pending HTTP request, a response,
            // a stream, an open bucket) is not reused: retiring it drops them all, so
            // nothing of one event lives on into the next
            InstanceMode::Warm if !instance.store.data().table.is_empty() => {
                self.retire(instance.store)
            }
            InstanceMode::Warm => {
                // an idle instance holds no delivery's state
                instance.store.data_mut().kv = self.grants.kv.clone();
                if let Ok(mut idle) = self.warm.lock()
                    && idle.len() < MAX_IDLE_WARM
                {
                    idle.push(instance);
                }
            }
            InstanceMode::Isolated => self.retire(instance.store),
        }
        // the plugin's own words: bounded and escaped before they reach logs and
        // dead-letter reasons
        let outputs = result.map_err(|f| match f {
            wit::Failure::Retry(m) => InvokeError::Retry(crate::text::bounded_owned(m)),
            wit::Failure::Reject(m) => InvokeError::Reject(crate::text::bounded_owned(m)),
        })?;
        if outputs.len() > limits.max_output_events {
            return Err(InvokeError::OutputTooLarge(format!(
                "{} events returned, max_output_events is {}",
                outputs.len(),
                limits.max_output_events
            )));
        }
        let mut total = 0;
        let mut events = Vec::with_capacity(outputs.len());
        for (index, out) in outputs.into_iter().enumerate() {
            let event = from_wit(out).map_err(|reason| InvokeError::InvalidOutput {
                index,
                reason: crate::text::bounded_owned(reason),
            })?;
            total += event.size();
            if total > limits.max_output_bytes {
                return Err(InvokeError::OutputTooLarge(format!(
                    "more than {} bytes returned (max_output_bytes)",
                    limits.max_output_bytes
                )));
            }
            events.push(event);
        }
        Ok(events)
    }
}

/// What wasmtime's error says when a call copied more than the store's hostcall fuel.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";
/// wasmtime-wasi-http's error for header fields past `max_header_bytes`.
const FIELDS_TOO_BIG: &str = "total size of fields exceeds limit";
/// `ResourceTableError::Full`: the host resource table is at `max_handles`.
const TABLE_FULL: &str = "resource table has no free keys";
/// The store's component handle limit (`Store::set_max_component_handles`).
const HANDLE_LIMIT: &str = "store handle limit exceeded";

/// The most bytes one call may copy from the guest into the host: the returned events
/// (twice `max_output_bytes`, as lifting also counts the host-side size of each string
/// and list) plus the host-side record of each of up to `max_output_events` events, and
/// 64 KiB of slack. wasmtime's default is 128 MiB per call.
pub fn copy_limit(limits: &crate::spec::Limits) -> usize {
    limits
        .max_output_bytes
        .saturating_mul(2)
        .saturating_add(
            limits
                .max_output_events
                .saturating_mul(std::mem::size_of::<wit::EventResult>()),
        )
        .saturating_add(64 * 1024)
}

/// `handle` as a typed function.
///
/// `func` is the `handle` export of an instance of a component whose export was checked
/// once against [`HandleFunc`] (`LoadedPlugin::instantiate`, first instance): every
/// instance of one component has the same export types, so the per-instance check that
/// `Func::typed` would repeat is skipped.
#[allow(unsafe_code)]
fn handle_func<'a>(func: Func) -> HandleFunc<'a> {
    // SAFETY: the signature was checked for this component (see above); `new_unchecked`
    // requires exactly that the function has type `HandleFunc`.
    unsafe { TypedFunc::new_unchecked(func) }
}

/// Runs `call` until `limit` after `started`; `None` when the limit expired.
///
/// Most calls finish in their first poll (the guest computes and returns without
/// waiting on the host), so the timer is armed only when the call first has to wait:
/// a fast event pays for no timer registration at all.
async fn with_wall_limit<F: std::future::Future>(
    started: quanta::Instant,
    limit: Duration,
    call: F,
) -> Option<F::Output> {
    let mut call = std::pin::pin!(call);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(output) = call.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(output));
        }
        let timer = timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep(limit.saturating_sub(started.elapsed())))
        });
        match timer.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
    .await
}

/// Borrows a host event as the WIT record passed to `handle`; `extensions` are the event's
/// extension attributes as string pairs (see [`extension_pairs`]).
pub fn to_wit<'a>(e: &'a Event, extensions: &'a [(&'a str, &'a str)]) -> wit::EventParam<'a> {
    wit::EventParam {
        id: &e.id,
        source: &e.source,
        type_: &e.ty,
        subject: e.subject.as_deref(),
        time: e.time.as_deref(),
        datacontenttype: e.datacontenttype.as_deref(),
        dataschema: e.dataschema.as_deref(),
        data: e.data.as_deref(),
        extensions,
    }
}

/// The extension attributes of `e` as borrowed string pairs, for [`to_wit`].
pub fn extension_pairs(e: &Event) -> Vec<(&str, &str)> {
    e.extensions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Converts and validates a WIT record from a plugin.
pub fn from_wit(e: wit::EventResult) -> Result<Event, String> {
    let mut event = Event {
        id: e.id,
        source: e.source,
        ty: e.type_,
        subject: e.subject,
        time: e.time,
        datacontenttype: e.datacontenttype,
        dataschema: e.dataschema,
        data: e.data,
        extensions: Default::default(),
    };
    for (k, v) in e.extensions {
        if weft_event::CONTEXT_ATTRIBUTES.contains(&k.as_str()) {
            return Err(format!("extension `{k}` collides with a context attribute"));
        }
        event.set_attribute(&k, v).map_err(|e| e.to_string())?;
    }
    event.validate().map_err(|e| e.to_string())?;
    Ok(event)
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;

    #[test]
    fn a_retry_message_can_ask_for_a_minimum_delay() {
        let asked = InvokeError::Retry("retry-after-ms=2500: rate limited".into());
        assert_eq!(
            asked.retry_after(),
            Some(std::time::Duration::from_millis(2500))
        );
        let huge = InvokeError::Retry("retry-after-ms=999999999999: x".into());
        assert_eq!(huge.retry_after(), Some(MAX_RETRY_AFTER));
        for plain in [
            InvokeError::Retry("rate limited".into()),
            InvokeError::Retry("retry-after-ms=abc: x".into()),
            InvokeError::Retry("retry-after-ms=5".into()),
            InvokeError::Reject("retry-after-ms=5: x".into()),
        ] {
            assert_eq!(plain.retry_after(), None, "{plain}");
        }
    }
}
