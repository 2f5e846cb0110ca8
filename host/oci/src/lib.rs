//! Guests as OCI artifacts, in the layout the component ecosystem uses
//! (`wkg`, `oras`): a config of media type [`CONFIG_MEDIA_TYPE`] and one
//! [`LAYER_MEDIA_TYPE`] layer, the component.
//!
//! [`OciRegistry`] is what the engine's [`Registry`] pulls through: a
//! reference pinned by digest comes from the [`store`] when it is there (a
//! digest names the same bytes forever), anything else from the registry,
//! checked against every digest that names it and then stored, so an
//! offline run has what an online one pulled. [`push`] publishes one.

pub mod client;
pub mod credentials;
pub mod store;

use std::path::PathBuf;

use mooring_engine::guests::{Pulled, Registry};

pub use client::{Inspected, OciError, Pushed, inspect, push, resolve};

/// The config media type of a WebAssembly component artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of its one layer, the component.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The manifest annotation naming the WIT world a guest was built for
/// (`mooring:step@0.2.0`), so `mooring inspect REF` can say whether mooring
/// runs it before pulling the layer.
pub const WIT_ANNOTATION: &str = "dev.mooring.wit-world";

/// Pulls guests for the engine, through a store by digest.
#[derive(Debug)]
pub struct OciRegistry {
    store: store::Store,
    offline: bool,
}

impl OciRegistry {
    /// A registry client keeping what it pulls in `store_dir`; `offline`
    /// uses only that. Credentials come from the docker config file
    /// ([`credentials::config_path`]).
    pub fn new(store_dir: PathBuf, offline: bool) -> Self {
        OciRegistry {
            store: store::Store::new(store_dir),
            offline,
        }
    }
}

impl Registry for OciRegistry {
    fn pull(&self, reference: &str, digest: Option<&str>) -> Result<Pulled, String> {
        let auth = || credentials::for_reference(reference, None).map_err(|e| e.to_string());
        // Which manifest to run. Online, a tag is asked what it names now
        // (a manifest, not the component): it must still name the pin, and
        // what it names is then taken from the store when it is there.
        // Offline, a tag means what it named when last pulled.
        let wanted = match (digest, has_tag(reference) && !self.offline) {
            (pin, true) => {
                let now = client::resolve(reference, &auth()?).map_err(|e| e.to_string())?;
                if let Some(pin) = pin
                    && now != pin
                {
                    return Err(format!(
                        "the tag now names manifest sha256:{now}, but the pipeline pins sha256:{pin}; \
                         refusing to run it (pin the new digest if the change is intended)"
                    ));
                }
                Some(now)
            }
            (Some(pin), false) => Some(pin.to_owned()),
            (None, false) => self.store.tag(reference),
        };
        if let Some(manifest_digest) = wanted.clone()
            && let Some(wasm) = self.store.get(&manifest_digest)
        {
            tracing::info!("guest {reference}: sha256:{manifest_digest} from the local store");
            return Ok(Pulled {
                manifest_digest,
                wasm,
            });
        }
        if self.offline {
            return Err(format!(
                "it is not in the local store ({}) and --offline forbids pulling it; \
                 run once without --offline to store it",
                self.store.dir().display()
            ));
        }
        // By digest, so a tag that moves meanwhile cannot change what runs.
        let pulled =
            client::pull(reference, wanted.as_deref(), &auth()?).map_err(|e| e.to_string())?;
        self.store
            .put(reference, &pulled.manifest_digest, &pulled.wasm)
            .map_err(|e| format!("pulled, but failed to store it: {e}"))?;
        tracing::info!(
            "guest {reference}: pulled sha256:{} ({} bytes)",
            pulled.manifest_digest,
            pulled.wasm.len()
        );
        Ok(pulled)
    }
}

/// Whether `reference` (no digest in it) names a tag.
fn has_tag(reference: &str) -> bool {
    mooring_engine::guests::oci_repository(reference) != reference
}
