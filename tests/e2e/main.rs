//! End-to-end tests: the real `mooring` binary, real compiled guests, real
//! bundles, and the real `kpt` and `kubectl` where a test needs a peer.
//!
//! - `adversarial`: hostile guests and input, concurrent runs, crashes;
//! - `author_kit`: `mooring new-guest` to a tested, running guest, and `inspect`;
//! - `bundles`: the example bundles are what their `SOURCES.txt` says;
//! - `run`: `mooring run` over the example bundles and its output modes;
//! - `bad_input`: every kind of bad input gives one clear message, a
//!   non-zero exit, and a bundle left byte-for-byte untouched;
//! - `provider_filter`: one plan for every provider, over both example sites;
//! - `sandbox`: what a guest can and cannot reach;
//! - `kubeconfig`: capture, persist, resolve and merge against `apiserver`,
//!   an in-process HTTPS API server;
//! - `fuzz`: bounded property-based fuzzing of the loader, ResourceList reader
//!   and kubeconfig merger;
//! - `krm`: `mooring fn` on its own, under `kpt fn eval`/`kpt fn render`,
//!   and as a transformer under `kubectl kustomize`.

#![allow(clippy::unwrap_used)]

mod adversarial;
mod apiserver;
mod author_kit;
mod bad_input;
mod bundles;
mod fuzz;
mod krm;
mod kubeconfig;
mod provider_filter;
mod run;
mod sandbox;
mod util;
