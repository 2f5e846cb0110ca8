//! Write a mooring guest step as a plain Rust function.
//!
//! A step is a function from its configuration and the documents its
//! pipeline selected to the documents that should exist afterwards: change
//! a document, push a new one ([`Document::new`]), leave one out to delete
//! it. Findings go into [`Results`].
//!
//! ```no_run
//! use mooring_guest::prelude::*;
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default)]
//! struct Config {
//!     team: String,
//! }
//!
//! fn label_team(config: Config, mut docs: Vec<Document>, results: &mut Results) -> Result<Vec<Document>, Error> {
//!     if config.team.is_empty() {
//!         return Err(Error::msg("config.team is required"));
//!     }
//!     for doc in &mut docs {
//!         doc.set_label("team", &config.team);
//!     }
//!     results.info(format!("labelled {} documents", docs.len()));
//!     Ok(docs)
//! }
//!
//! mooring_guest::export_step!(label_team);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` and point a
//! pipeline step's `guest:` at the `.wasm` file.

#[doc(hidden)]
pub mod bindings;
pub mod credentials;
mod document;
mod error;
pub mod log;
mod results;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use document::{Document, find_one};
pub use error::Error;
pub use mooring_model::{Object, Selector, airship, cluster_map, kubeconfig};
pub use results::{Results, Severity, StepResult};
pub use serde_json::{Map, Value, json};

/// Everything a step usually needs: `use mooring_guest::prelude::*;`.
pub mod prelude {
    pub use crate::airship::Kind;
    pub use crate::{Document, Error, Map, Object, Results, Selector, Value, find_one, json};
}

// The generated bindings name this crate by path so that `export_step!`
// works from a guest crate that does not depend on wit-bindgen itself.
extern crate self as mooring_guest;

/// The shape of a step: configuration and selected documents in, the
/// documents that should exist afterwards out.
pub type StepFn<C> = fn(C, Vec<Document>, &mut Results) -> Result<Vec<Document>, Error>;

/// The version of the WIT package this SDK implements.
pub const WIT_VERSION: &str = "0.1.0";

/// Export `$run` as the guest's entry point.
///
/// `$run` is a function `fn(C, Vec<Document>, &mut Results) -> Result<Vec<Document>, Error>`
/// where `C: serde::de::DeserializeOwned` is the step's configuration.
#[macro_export]
macro_rules! export_step {
    ($run:path) => {
        struct MooringStep;

        impl $crate::bindings::exports::mooring::step::run::Guest for MooringStep {
            fn run(
                documents: ::std::vec::Vec<$crate::bindings::mooring::step::types::Document>,
                config: ::std::string::String,
            ) -> ::std::result::Result<
                $crate::bindings::mooring::step::types::Output,
                ::std::string::String,
            > {
                $crate::__private::run($run, documents, config)
            }
        }

        $crate::bindings::__export_world!(MooringStep);
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    use crate::bindings::mooring::step::types as wit;
    use crate::{Document, Results};

    /// Adapts the WIT entry point to the plain function a guest author writes.
    pub fn run<C: serde::de::DeserializeOwned>(
        step: crate::StepFn<C>,
        documents: Vec<wit::Document>,
        config: String,
    ) -> Result<wit::Output, String> {
        let config: C =
            serde_json::from_str(&config).map_err(|e| format!("invalid step config: {e}"))?;
        let documents = documents
            .into_iter()
            .map(Document::from_wit)
            .collect::<Result<Vec<_>, _>>()?;
        let mut results = Results::default();
        let documents = step(config, documents, &mut results).map_err(|e| e.to_string())?;
        Ok(wit::Output {
            documents: documents.into_iter().map(Document::into_wit).collect(),
            results: results.into_wit(),
        })
    }
}
