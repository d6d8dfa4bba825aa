//! The per-store resource limiter: memory, tables, instance counts. Records which limit
//! was hit so the failure names it.
//!
//! `memory_mib` bounds the instance as a whole: the limiter keeps the sum of every linear
//! memory and table of the store (a component may have several core instances, each with
//! memories and tables), not just the largest one.

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

/// Bytes counted per table element (a function reference: one pointer).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Enforces [`Limits`] for one store.
pub struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    max_instances: usize,
    /// Bytes of all linear memories and tables of the store (as granted so far).
    used_bytes: usize,
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
            used_bytes: 0,
            hit: None,
        }
    }

    /// Bytes of linear memory and tables the store holds.
    #[cfg(test)]
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }

    /// Grants growing one memory or table from `current` to `desired` bytes if the
    /// store's total stays within the limit.
    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let total = self
            .used_bytes
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.max_memory_bytes {
            return false;
        }
        self.used_bytes = total;
        true
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.grow(current, desired) {
            self.hit = Some(LimitHit::Memory);
            return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Memory)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.hit = Some(LimitHit::Table);
            return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Table)));
        }
        let bytes = |elements: usize| elements.saturating_mul(TABLE_ELEMENT_BYTES);
        if !self.grow(bytes(current), bytes(desired)) {
            self.hit = Some(LimitHit::Memory);
            return Err(wasmtime::Error::new(LimitExceeded(LimitHit::Memory)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (memory 100) (memory 100))`: two linear memories of 6.25 MiB each.
    const TWO_MEMORIES: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x05, 0x05, 0x02, 0x00, 0x64, 0x00, 0x64, // memory section: 2 × min 100 pages
    ];

    fn instantiate(memory_mib: u64) -> (wasmtime::Result<wasmtime::Instance>, Limiter) {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, TWO_MEMORIES).unwrap();
        let limits = Limits {
            memory_mib,
            ..Limits::default()
        };
        let mut store = wasmtime::Store::new(&engine, Limiter::new(&limits));
        store.limiter(|l| l);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]);
        (instance, store.into_data())
    }

    #[test]
    fn memory_mib_bounds_the_sum_of_all_memories() {
        // each memory alone (6.25 MiB) is within 10 MiB, both together are not
        let (result, limiter) = instantiate(10);
        assert!(result.is_err(), "two memories of 6.25 MiB fit in 10 MiB");
        assert_eq!(limiter.hit, Some(LimitHit::Memory));
        let (result, limiter) = instantiate(13);
        assert!(result.is_ok(), "{:?}", result.err());
        assert_eq!(limiter.used_bytes(), 2 * 100 * 65536);
    }
}
