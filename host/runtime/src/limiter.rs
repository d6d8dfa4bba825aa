//! The per-store resource limiter: memory, tables, instance counts. Records which limit
//! was hit so the failure names it.

use wasmtime::ResourceLimiter;

use crate::spec::Limits;

/// Which limit stopped an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// Linear memory would have grown past `memory_mib`.
    Memory,
    /// The guest ran longer than `cpu_ms`.
    Cpu,
    /// A table would have grown past `max_table_elements`.
    Table,
}

/// A host error raised by a limit; the trap that ends the event carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("plugin exceeded its {0:?} limit")]
pub struct LimitExceeded(pub LimitHit);

/// Enforces [`Limits`] for one store.
pub struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    max_instances: usize,
    /// The limit that was hit, if any.
    pub hit: Option<LimitHit>,
}

impl Limiter {
    /// A limiter for `limits`.
    pub fn new(limits: &Limits) -> Self {
        Limiter {
            max_memory_bytes: (limits.memory_mib as usize).saturating_mul(1024 * 1024),
            max_table_elements: limits.max_table_elements,
            max_instances: limits.max_instances,
            hit: None,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.hit = Some(LimitHit::Memory);
            return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Memory)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.hit = Some(LimitHit::Table);
            return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Table)));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_instances
    }

    fn memories(&self) -> usize {
        self.max_instances
    }
}
