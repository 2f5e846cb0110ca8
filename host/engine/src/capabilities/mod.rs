//! What a guest may reach, and how each import is served.
//!
//! Every guest gets exactly this and nothing more:
//! - `mooring:step/documents`, served by [`documents`]: the documents its
//!   step selected, kept on the host, read and edited through a handle;
//! - `mooring:step/log`, served by [`log`], bounded in lines and length;
//! - WASI 0.2, because every `wasm32-wasip2` std guest imports it whether it
//!   uses it or not, served by [`wasi`] as an empty sandbox: no preopened
//!   directories, no environment or arguments, no network, a frozen clock,
//!   deterministic "randomness", and stdout/stderr captured into a bounded
//!   buffer that the host shows only when the step fails.
//!
//! and, only when the pipeline grants it:
//! - `mooring:step/credentials`, served by [`credentials`]: the captured
//!   kubeconfigs of the clusters named in the step's grant.

pub mod credentials;
pub mod documents;
#[cfg(test)]
mod fuzz;
pub mod log;
pub mod wasi;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Result};

use crate::bindings;

/// Everything a running guest's store holds.
pub(crate) struct HostState {
    wasi: wasmtime_wasi::WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    pub(crate) log: log::LogBuffer,
    pub(crate) output: wasi::CapturedOutput,
    pub(crate) credentials: credentials::Credentials,
}

impl HostState {
    /// A fresh sandbox for one step run with a `memory_limit` in bytes and
    /// the `credentials` its step is granted.
    pub(crate) fn new(memory_limit: u64, credentials: credentials::Credentials) -> Self {
        let output = wasi::CapturedOutput::default();
        HostState {
            wasi: wasi::sandbox(&output),
            table: ResourceTable::new(),
            memory: MemoryLimiter::new(memory_limit),
            log: log::LogBuffer::default(),
            output,
            credentials,
        }
    }
}

impl wasmtime_wasi::WasiView for HostState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::mooring::step::types::Host for HostState {}

/// Links every import a guest may use.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    bindings::Step::add_to_linker::<_, HasSelf<_>>(linker, |state| state)
}

/// The interfaces of our package a guest may import (`types` carries only
/// type definitions, but a guest that uses them imports it).
const PROVIDED: &[&str] = &["types", "documents", "log", "credentials"];

/// True for an import the linker serves, for telling an author which
/// import of theirs is not provided.
pub(crate) fn is_provided(import: &str) -> bool {
    let ours = import
        .strip_prefix(bindings::WIT_PACKAGE)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split_once('@'))
        .is_some_and(|(interface, _)| PROVIDED.contains(&interface));
    ours || import.starts_with("wasi:")
}

/// Caps a guest's linear memory, across all its memories, and remembers
/// whether it ever asked for more, so that an abort that follows a refused
/// allocation is reported as running out of memory.
pub(crate) struct MemoryLimiter {
    limit: u64,
    used: u64,
    /// The total the guest asked for when it was refused.
    pub(crate) refused: Option<u64>,
}

/// What one table element costs the host, charged against the same limit
/// as linear memory: a table grown by a guest is host memory too.
const TABLE_ELEMENT_BYTES: u64 = 16;

impl MemoryLimiter {
    fn new(limit: u64) -> Self {
        MemoryLimiter {
            limit,
            used: 0,
            refused: None,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let total = self
            .used
            .saturating_add(desired.saturating_sub(current) as u64);
        if total > self.limit {
            self.refused = Some(total);
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let growth = (desired.saturating_sub(current) as u64).saturating_mul(TABLE_ELEMENT_BYTES);
        let total = self.used.saturating_add(growth);
        if total > self.limit {
            self.refused = Some(total);
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_memories_share_one_limit() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 512 << 10, None).unwrap());
        // 1 MiB: what is left is 32,768 elements at 16 bytes each.
        assert!(limiter.table_growing(0, 32 << 10, None).unwrap());
        assert!(
            !limiter
                .table_growing(32 << 10, (32 << 10) + 1, None)
                .unwrap()
        );
        assert_eq!(limiter.refused, Some((1 << 20) + 16));
        assert!(
            !limiter
                .memory_growing(512 << 10, (512 << 10) + 1, None)
                .unwrap()
        );
        let mut fresh = MemoryLimiter::new(1 << 20);
        assert!(
            !fresh.table_growing(0, 1 << 20, None).unwrap(),
            "842 MB of table is refused"
        );
    }
}
