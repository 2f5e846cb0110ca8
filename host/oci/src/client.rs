//! The network side: pull a guest's manifest and component, push one,
//! read a manifest alone. Every call runs on its own current-thread
//! runtime (the engine and the command line are synchronous), speaks plain
//! HTTP only to a registry on the loopback interface, and bounds what it
//! reads by the largest guest mooring runs.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use mooring_engine::digest::sha256_hex;
use mooring_engine::guests::{MAX_GUEST_BYTES, Pulled};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;

use crate::{CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, WIT_ANNOTATION};

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Not a reference.
    #[error("`{0}` is not an OCI reference registry/repository[:tag][@sha256:digest]")]
    Reference(String),
    /// The registry could not be reached, or answered with an error.
    #[error("registry {registry}: {message}")]
    Registry {
        /// The registry.
        registry: String,
        /// What went wrong, as the client says.
        message: String,
    },
    /// The manifest is not a WebAssembly component artifact.
    #[error("{reference} is not a WebAssembly component artifact: {why}")]
    NotAComponent {
        /// The reference.
        reference: String,
        /// What is missing.
        why: String,
    },
    /// A digest did not match.
    #[error("{reference}: {what}")]
    Digest {
        /// The reference.
        reference: String,
        /// Which digest, and what it was.
        what: String,
    },
    /// The async runtime could not start.
    #[error("failed to start the async runtime: {0}")]
    Runtime(String),
}

/// A pushed guest.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Lowercase hex sha256 of its manifest: what a step pins.
    pub manifest_digest: String,
}

/// A manifest read without its layer.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// Lowercase hex sha256 of the manifest.
    pub manifest_digest: String,
    /// Its config's media type.
    pub config_media_type: String,
    /// Its layers' media types and sizes.
    pub layers: Vec<(String, i64)>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Pulls the component at `reference` (no digest in it), whose manifest
/// must have sha256 `pin` when given.
pub fn pull(reference: &str, pin: Option<&str>, auth: &RegistryAuth) -> Result<Pulled, OciError> {
    let target = parse(reference, pin)?;
    let registry = target.resolve_registry().to_owned();
    block_on(async {
        let client = client_for(&target);
        let (bytes, _) = client
            .pull_manifest_raw(&target, auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|e| registry_error(&registry, e))?;
        let manifest_digest = sha256_hex(&bytes);
        if let Some(pin) = pin
            && pin != manifest_digest
        {
            return Err(OciError::Digest {
                reference: reference.to_owned(),
                what: format!(
                    "the registry sent a manifest with sha256:{manifest_digest}, not the pinned sha256:{pin}"
                ),
            });
        }
        let manifest: OciImageManifest = serde_json::from_slice(&bytes)
            .map_err(|e| not_a_component(reference, e.to_string()))?;
        let layer = component_layer(reference, &manifest)?;
        let mut wasm = Bounded::default();
        client
            .pull_blob(&target, &layer, &mut wasm)
            .await
            .map_err(|e| registry_error(&registry, e))?;
        let wasm = wasm.0;
        let expected = layer.digest.trim_start_matches("sha256:");
        if sha256_hex(&wasm) != expected {
            return Err(OciError::Digest {
                reference: reference.to_owned(),
                what: format!("the component does not hash to its layer digest sha256:{expected}"),
            });
        }
        Ok(Pulled {
            manifest_digest,
            wasm,
        })
    })
}

/// The sha256 of the manifest `reference` (a tag) names now.
pub fn resolve(reference: &str, auth: &RegistryAuth) -> Result<String, OciError> {
    Ok(inspect(reference, auth)?.manifest_digest)
}

/// Publishes `wasm` at `reference` as a component artifact whose manifest
/// names `world` (the WIT world it was checked against), and the exports
/// and imports `inspect` found in its config.
pub fn push(
    wasm: &[u8],
    reference: &str,
    world: Option<&str>,
    interfaces: (&[String], &[String]),
    auth: &RegistryAuth,
) -> Result<Pushed, OciError> {
    let target = parse(reference, None)?;
    let registry = target.resolve_registry().to_owned();
    let layer = ImageLayer::new(wasm.to_vec(), LAYER_MEDIA_TYPE.to_owned(), None);
    let config = json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [format!("sha256:{}", sha256_hex(wasm))],
        "component": {"exports": interfaces.0, "imports": interfaces.1},
    });
    let config = Config::new(
        config.to_string().into_bytes(),
        CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let mut annotations = BTreeMap::new();
    if let Some(world) = world {
        annotations.insert(WIT_ANNOTATION.to_owned(), world.to_owned());
    }
    let manifest =
        OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
    block_on(async {
        let client = client_for(&target);
        client
            .push(&target, &[layer], config, auth, Some(manifest))
            .await
            .map_err(|e| registry_error(&registry, e))?;
        // The digest a pin must name is the registry's own, of the bytes it keeps.
        let (bytes, _) = client
            .pull_manifest_raw(&target, auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|e| registry_error(&registry, e))?;
        Ok(Pushed {
            manifest_digest: sha256_hex(&bytes),
        })
    })
}

/// Reads the manifest at `reference` (a tag or `@sha256:` digest) without
/// pulling its layer.
pub fn inspect(reference: &str, auth: &RegistryAuth) -> Result<Inspected, OciError> {
    let target: Reference = reference
        .parse()
        .map_err(|_| OciError::Reference(reference.to_owned()))?;
    let registry = target.resolve_registry().to_owned();
    block_on(async {
        let (bytes, _) = client_for(&target)
            .pull_manifest_raw(&target, auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|e| registry_error(&registry, e))?;
        let manifest: OciImageManifest = serde_json::from_slice(&bytes)
            .map_err(|e| not_a_component(reference, e.to_string()))?;
        Ok(Inspected {
            manifest_digest: sha256_hex(&bytes),
            config_media_type: manifest.config.media_type.clone(),
            layers: manifest
                .layers
                .iter()
                .map(|l| (l.media_type.clone(), l.size))
                .collect(),
            annotations: manifest.annotations.unwrap_or_default(),
        })
    })
}

/// `reference` with `pin` as its digest, parsed.
fn parse(reference: &str, pin: Option<&str>) -> Result<Reference, OciError> {
    let text = match pin {
        Some(pin) => format!("{reference}@sha256:{pin}"),
        None => reference.to_owned(),
    };
    text.parse()
        .map_err(|_| OciError::Reference(reference.to_owned()))
}

/// The one layer of a component artifact, of a size mooring reads.
fn component_layer(
    reference: &str,
    manifest: &OciImageManifest,
) -> Result<OciDescriptor, OciError> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_a_component(
            reference,
            format!(
                "its config is {}, not {CONFIG_MEDIA_TYPE}",
                manifest.config.media_type
            ),
        ));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(not_a_component(
            reference,
            format!("it has {} layers, not one", manifest.layers.len()),
        ));
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(not_a_component(
            reference,
            format!("its layer is {}, not {LAYER_MEDIA_TYPE}", layer.media_type),
        ));
    }
    if u64::try_from(layer.size).map_or(true, |size| size > MAX_GUEST_BYTES) {
        return Err(not_a_component(
            reference,
            format!(
                "its layer claims {} bytes; mooring reads at most {MAX_GUEST_BYTES}",
                layer.size
            ),
        ));
    }
    Ok(layer.clone())
}

fn not_a_component(reference: &str, why: String) -> OciError {
    OciError::NotAComponent {
        reference: reference.to_owned(),
        why,
    }
}

fn registry_error(registry: &str, error: oci_client::errors::OciDistributionError) -> OciError {
    // The client's own text names the URL and the registry's error code;
    // its source chain says why a connection failed.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    OciError::Registry {
        registry: registry.to_owned(),
        message,
    }
}

/// A client for `target`'s registry: HTTPS, except plain HTTP to one on
/// the loopback interface (a registry a test or a developer runs), as
/// docker does for `localhost`.
fn client_for(target: &Reference) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = target.resolve_registry();
    let host = registry.rsplit_once(':').map_or(registry, |(host, _)| host);
    let protocol = if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    })
}

fn block_on<T>(work: impl Future<Output = Result<T, OciError>>) -> Result<T, OciError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OciError::Runtime(e.to_string()))?
        .block_on(work)
}

/// A buffer that refuses to grow past the largest guest: a registry that
/// sends more than a layer's stated size cannot fill memory.
#[derive(Default)]
struct Bounded(Vec<u8>);

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if (this.0.len() + buf.len()) as u64 > MAX_GUEST_BYTES {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the layer is larger than {MAX_GUEST_BYTES} bytes"
            ))));
        }
        this.0.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
