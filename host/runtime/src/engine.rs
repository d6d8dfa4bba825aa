//! The shared wasmtime engine: component model, async, epoch interruption, the pooling
//! allocator, and the epoch ticker thread. (The on-disk compilation cache is
//! [`crate::cache`], checked before use.)

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::RuntimeError;

/// How often the epoch advances; the CPU limit is counted in these ticks.
pub const TICK: Duration = Duration::from_millis(2);

/// Bytes of each linear-memory slot reset in place (not released to the kernel) when an
/// instance ends: covers a plugin's stack, data and the heap it typically touches.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// The same for tables.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;
/// Regions released to the kernel together (one `process_madvise` batch). wasmtime queues
/// a region per memory, table and stack of every ended instance, empty ones included (all
/// of a small plugin's pages stay resident), so a larger batch means fewer syscalls:
/// 64 measured ~0.1 µs per isolated event less than 16. Slots wait in the queue until it
/// is flushed; the pool flushes early when it runs out of slots.
const DECOMMIT_BATCH: usize = 64;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Directory for compiled components, so a restart does not recompile. `None`: no cache.
    /// Artifacts are authenticated with a per-install key before use ([`crate::cache`]).
    pub cache_dir: Option<PathBuf>,
    /// Largest memory limit of any plugin, in MiB (sizes the pooling allocator's slots).
    pub max_memory_mib: u64,
    /// Instances that may exist at once across all plugins (pool size).
    pub max_concurrent_instances: u32,
    /// Use the pooling allocator (fast instantiation). Off: allocate on demand.
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            cache_dir: None,
            max_memory_mib: 256,
            max_concurrent_instances: 256,
            pooling: true,
        }
    }
}

/// Builds the engine.
pub fn build_engine(options: &EngineOptions) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .gc_support(false)
        .wasm_gc(false)
        .epoch_interruption(true)
        .max_wasm_stack(1024 * 1024);
    if std::env::var_os("WEFT_PERFMAP").is_some_and(|v| v == "1") {
        // /tmp/perf-<pid>.map names the compiled plugin functions for `perf report`
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if options.pooling {
        let n = options.max_concurrent_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .table_elements(100_000)
            .max_memory_size((options.max_memory_mib as usize) * 1024 * 1024)
            .max_unused_warm_slots(n / 4)
            // Reset a used memory slot by rewriting only its dirty pages (found with
            // Linux's PAGEMAP_SCAN where the kernel has it) instead of `madvise`: the
            // next instance on the slot takes no page faults and no TLB shootdown.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
            .decommit_batch_size(DECOMMIT_BATCH);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every [`TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts the ticker thread.
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match engine.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
