//! mooring runs sandboxed WebAssembly steps over Airship-style document
//! bundles.
//!
//! The pieces, from the bottom up:
//! - [`yaml`] and [`bundle`]: read a directory of YAML, keep every byte, and
//!   write back only what changed, atomically;
//! - [`pipeline`]: the steps to run, their guests, selectors and [`limits`];
//! - [`runtime`] and [`capabilities`]: the wasmtime sandbox and exactly what
//!   a guest may import;
//! - [`guests`]: the standard guests built into the binary, and pinned
//!   `.wasm` files;
//! - [`execute`]: run a pipeline over documents and check what guests return;
//! - [`krm`]: the same, as a KRM function over a `ResourceList`;
//! - [`fleet`]: many bundles at once, one per core;
//! - [`kubeconfig`]: resolve, capture, persist and merge cluster
//!   kubeconfigs (the document model is in `mooring-model`);
//! - [`template`]: a new guest crate for a plugin author.
//!
//! The `mooring` binary ([`cli`]) is a thin layer over these.

pub mod bindings;
pub mod bundle;
mod cache;
pub mod capabilities;
pub mod cli;
pub mod document;
pub mod execute;
pub mod fleet;
pub mod guests;
pub mod krm;
pub mod kubeconfig;
pub mod limits;
pub mod pipeline;
pub mod runtime;
pub mod template;
pub mod yaml;
