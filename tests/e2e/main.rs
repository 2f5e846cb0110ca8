//! End-to-end tests: the real `mooring` binary, real compiled guests, real
//! bundles, and the real `kpt` and `kubectl` where a test needs a peer.
//!
//! - `adversarial`: hostile guests and input, concurrent runs, crashes;
//! - `author_kit`: `mooring new-guest` to a tested, running guest, and `inspect`;
//! - `bundles`: the example bundles are what their `SOURCES.txt` says;
//! - `run`: `mooring run` over the example bundles and its output modes;
//! - `bad_input`: every kind of bad input gives one clear message, a
//!   non-zero exit, and a bundle left byte-for-byte untouched;
//! - one module per standard guest, named after it: `set_metadata`,
//!   `provider_filter`, `kubeconfig_rewrite`, `inject_credentials`,
//!   `check_site` (with validators);
//! - `fixture_guests`: the guests that misbehave on purpose, one test each;
//! - `sandbox`: what a guest can and cannot reach;
//! - `kubeconfig`: capture, persist, resolve and merge against `apiserver`,
//!   an in-process HTTPS API server;
//! - `trust`: the operator grants, the data only asks; secrets stay with the
//!   steps granted them;
//! - `fidelity`: what a step did not change keeps its bytes, in every mode
//!   and under kpt;
//! - `fuzz`: bounded property-based fuzzing of the loader, ResourceList reader
//!   and kubeconfig merger;
//! - `overlays`: real airshipctl sites, which are kustomize overlays, and
//!   rendered sites on stdin;
//! - `krm`: `mooring fn` on its own, under `kpt fn eval`/`kpt fn render`,
//!   and as a transformer under `kubectl kustomize`.

#![allow(clippy::unwrap_used)]

mod adversarial;
mod airship_repo;
mod apiserver;
mod author_kit;
mod bad_input;
mod bundles;
mod check_site;
mod diff;
mod fidelity;
mod fixture_guests;
mod fleet_docs;
mod fuzz;
mod help;
mod host_bounds;
mod inject_credentials;
mod krm;
mod kubeconfig;
mod kubeconfig_rewrite;
mod overlays;
mod provider_filter;
mod registry;
mod results;
mod run;
mod sandbox;
mod set_metadata;
mod trust;
mod util;

/// Every standard guest has a module of tests named after it, and every
/// fixture guest a test in `fixture_guests`: a guest without them does not
/// compile (the lists come from the build scripts that build the guests).
macro_rules! standard_guest_is_tested {
    ($guest:ident) => {
        #[allow(unused_imports)]
        use $guest as _;
    };
}
mooring_guests::foreach_standard_guest!(standard_guest_is_tested);
