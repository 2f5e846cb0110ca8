//! Write a mooring guest step as a plain Rust function.
//!
//! A step gets its configuration and the documents its pipeline step
//! selected. The documents stay on the host: a [`Document`] knows who it is
//! (kind, name, path), reads fields when asked, and queues edits that the
//! host applies to the document's own text, so what the step does not
//! change keeps its bytes and comments. Findings go into [`Results`].
//!
//! ```no_run
//! use mooring_guest::prelude::*;
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     team: String,
//! }
//!
//! fn label_team(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
//!     if config.team.is_empty() {
//!         return Err(Error::msg("config.team is required"));
//!     }
//!     for doc in docs.iter() {
//!         doc.set_label("team", &config.team);
//!     }
//!     results.info(format!("labelled {} documents", docs.len()));
//!     Ok(())
//! }
//!
//! mooring_guest::export_step!(label_team);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` and point a
//! pipeline step's `guest:` at the `.wasm` file. Test it natively with
//! [`testing::run`], or for real through `mooring` with
//! [`testing::TestGuest`].
//!
//! What a step reads is what Kubernetes reads from the YAML: `0644` is 420,
//! `yes` is true, `0x1F` is 31 (YAML 1.1, as the API machinery parses it).

#[doc(hidden)]
pub mod bindings;
pub mod credentials;
mod documents;
mod error;
pub mod log;
pub mod providers;
mod results;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use documents::{Document, Documents};
pub use error::Error;
pub use mooring_model::{Object, Selector, airship, cluster_map, kubeconfig, kustomize, pointer};
pub use results::{Results, Severity, StepResult};
pub use serde_json::{Map, Value, json};

/// Everything a step usually needs: `use mooring_guest::prelude::*;`.
pub mod prelude {
    pub use crate::airship::Kind;
    pub use crate::{Document, Documents, Error, Map, Results, Selector, Value, json};
}

// The generated bindings name this crate by path so that `export_step!`
// works from a guest crate that does not depend on wit-bindgen itself.
extern crate self as mooring_guest;

/// The shape of a step: configuration and selected documents in, results
/// out; edits go to the documents.
pub type StepFn<C> = for<'s, 'a> fn(C, &'s Documents<'a>, &mut Results) -> Result<(), Error>;

/// What a guest says about itself in `mooring guests NAME`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Description {
    /// One line on what it does.
    pub summary: &'static str,
    /// A JSON Schema of its `config`, for people and tools.
    pub config_schema: &'static str,
    /// An example pipeline step using it, as YAML.
    pub example: &'static str,
}

/// The version of the WIT package this SDK implements.
pub const WIT_VERSION: &str = "0.2.0";

/// Export `$run` as the guest's entry point, optionally with a
/// [`Description`].
///
/// `$run` is a [`StepFn`]: `fn(C, &Documents, &mut Results) -> Result<(), Error>`
/// where `C: serde::de::DeserializeOwned` is the step's configuration. The
/// host checks every pipeline's config for the step by deserializing it
/// into `C` before anything runs, so a typo fails at once, pointing at the
/// pipeline file.
#[macro_export]
macro_rules! export_step {
    ($run:path) => {
        $crate::export_step!($run, $crate::Description::default());
    };
    ($run:path, $description:expr) => {
        // Only a component exports anything: a native build (a guest's
        // unit tests) links no WIT exports.
        #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
        struct MooringStep;

        impl $crate::bindings::exports::mooring::step::run::Guest for MooringStep {
            fn run(
                documents: &$crate::bindings::mooring::step::documents::DocumentSet,
                config: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::bindings::mooring::step::types::StepResult>,
                ::std::string::String,
            > {
                $crate::__private::run($run, documents, config)
            }
        }

        impl $crate::bindings::exports::mooring::step::describe::Guest for MooringStep {
            fn describe() -> $crate::bindings::mooring::step::types::Description {
                $crate::__private::describe(&$description)
            }

            fn validate_config(
                config: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::config($run, &config).map(drop)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_world!(MooringStep);
        // Natively the step is reached only from its unit tests.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _step = $run;
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    use crate::bindings::mooring::step::types as wit;
    use crate::documents::Backend;
    use crate::{Description, Documents, Results, StepFn};

    /// Reads a step's config as `C`, with serde's message and without the
    /// position in the JSON text the host sent (it means nothing to the
    /// operator; the host points at the pipeline file instead).
    pub fn config<C: serde::de::DeserializeOwned>(
        _step: StepFn<C>,
        config: &str,
    ) -> Result<C, String> {
        serde_json::from_str(config).map_err(|e| {
            let message = e.to_string();
            match message.rsplit_once(" at line ") {
                Some((what, _)) => what.to_owned(),
                None => message,
            }
        })
    }

    /// The WIT entry point: `step` over the host's document set.
    pub fn run<C: serde::de::DeserializeOwned>(
        step: StepFn<C>,
        set: &crate::bindings::mooring::step::documents::DocumentSet,
        config: String,
    ) -> Result<Vec<wit::StepResult>, String> {
        run_over(step, set, &config).map(Results::into_wit)
    }

    /// Runs `step` with `config` over the documents `backend` holds, and
    /// sends its last edits: a real run, or a native test.
    pub(crate) fn run_over<C: serde::de::DeserializeOwned>(
        step: StepFn<C>,
        backend: &dyn Backend,
        config: &str,
    ) -> Result<Results, String> {
        let config = self::config(step, config).map_err(|e| format!("invalid step config: {e}"))?;
        let documents = Documents::new(backend);
        let mut results = Results::default();
        step(config, &documents, &mut results).map_err(|e| e.to_string())?;
        documents.finish().map_err(|e| e.to_string())?;
        Ok(results)
    }

    /// The WIT form of a [`Description`].
    pub fn describe(description: &Description) -> wit::Description {
        wit::Description {
            summary: description.summary.to_owned(),
            config_schema: description.config_schema.to_owned(),
            example: description.example.to_owned(),
        }
    }
}
