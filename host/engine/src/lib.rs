//! The mooring engine: everything but the Kubernetes client and the command
//! line. It reads bundles, runs pipelines of sandboxed guests over them, and
//! writes the result back without disturbing what no step changed.
//!
//! From the bottom up:
//! - [`yaml`], [`document`] and [`bundle`]: read a directory of YAML, keep
//!   every byte, and write back only what changed, atomically; [`overlay`]:
//!   a site that is a kustomize overlay is read as its kustomize build;
//! - [`guests`] and [`pipeline`]: which guests run, in what order, over
//!   which documents, with what configuration, [`limits`] and grants;
//! - [`runtime`] and [`capabilities`]: the wasmtime sandbox and exactly what
//!   a guest may import;
//! - [`execute`]: run a pipeline over documents and check what guests return;
//! - [`krm`]: the same, as a KRM function over a `ResourceList`;
//! - [`session`]: the use cases, as calls that return reports: run a
//!   pipeline over a bundle, answer a ResourceList.
//!
//! Dependencies point down this list; nothing here prints, and nothing
//! here knows about Kubernetes clients or command lines.

pub mod atomic;
pub mod bindings;
pub mod bundle;
mod cache;
pub mod capabilities;
pub mod digest;
pub mod document;
pub mod edit;
pub mod execute;
pub mod guests;
pub mod krm;
pub mod limits;
pub mod overlay;
pub mod pipeline;
pub mod policy;
mod readback;
pub mod runtime;
pub mod secrets;
pub mod session;
pub mod trust;
mod writeback;
pub mod yaml;
