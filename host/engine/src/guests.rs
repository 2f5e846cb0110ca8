//! Where a step's guest comes from: a standard guest built into the binary
//! (`mooring-guests`), a `.wasm` file named by a pipeline, checked against
//! its sha256 pin, or an OCI artifact, which a [`Registry`] the binary
//! provides pulls and checks against its digest pin (the engine itself
//! opens no connection).

use std::borrow::Cow;
use std::path::PathBuf;

pub use mooring_guests::StandardGuest;

use crate::digest::sha256_hex;

/// A guest a pipeline step names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GuestRef {
    /// A guest built into the `mooring` binary.
    Builtin(String),
    /// A component file, optionally pinned by its sha256.
    File {
        /// The path, resolved against the pipeline's directory.
        path: PathBuf,
        /// Lowercase hex sha256 the file must have.
        sha256: Option<String>,
    },
    /// A component published as an OCI artifact.
    Oci {
        /// `registry/repository[:tag]`, without any digest.
        reference: String,
        /// Lowercase hex sha256 its manifest must have (`@sha256:` or the
        /// step's `sha256:`).
        digest: Option<String>,
    },
}

impl GuestRef {
    /// How the guest is named in messages.
    pub fn display_name(&self) -> String {
        match self {
            GuestRef::Builtin(name) => name.clone(),
            GuestRef::File { path, .. } => path.display().to_string(),
            GuestRef::Oci { reference, digest } => match digest {
                Some(digest) => format!("{reference}@sha256:{digest}"),
                None => reference.clone(),
            },
        }
    }
}

/// The repository of an OCI reference: without its tag or digest
/// (`r.example:5000/g/x:1.0` is `r.example:5000/g/x`).
pub fn oci_repository(reference: &str) -> &str {
    let name = reference.split('@').next().unwrap_or(reference);
    name.rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(name, |(repository, _)| repository)
}

/// What pulls OCI guests for the engine: the binary's registry client and
/// its store of pulled artifacts.
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// The component at `reference` (no digest in it), whose manifest must
    /// have sha256 `digest` when one is given: the manifest's digest and the
    /// component's bytes, each checked against the digests that name them.
    fn pull(&self, reference: &str, digest: Option<&str>) -> Result<Pulled, String>;
}

/// A component pulled from a registry (or its store).
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Lowercase hex sha256 of its manifest: what a pin names.
    pub manifest_digest: String,
    /// The component.
    pub wasm: Vec<u8>,
}

/// Every standard guest, by name.
pub fn standard() -> impl Iterator<Item = StandardGuest> {
    mooring_guests::ALL.iter().copied()
}

/// Why a guest's bytes could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// No standard guest has that name.
    #[error(
        "there is no built-in guest named `{name}`; the built-ins are: {known} (a path to a component must end in .wasm)"
    )]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// The file could not be read, or is not a regular file of a size a
    /// component can have.
    #[error("failed to read guest file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<crate::trust::TrustError>,
    },
    /// An OCI guest, and no registry client to pull it.
    #[error("guest {reference} is an OCI artifact, and this host has no registry client")]
    NoRegistry {
        /// The reference.
        reference: String,
    },
    /// The registry client could not pull it.
    #[error("failed to pull guest {reference}: {message}")]
    Pull {
        /// The reference.
        reference: String,
        /// Why, as the client says.
        message: String,
    },
    /// The file is not the one the pipeline pinned.
    #[error(
        "guest file {path} has sha256 {actual}, but the pipeline pins {expected}; refusing to run it"
    )]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// The pin.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
}

/// The largest `.wasm` file mooring reads (a standard guest is about 300
/// KiB): a FIFO or `/dev/zero` named as a guest cannot hang or fill memory.
pub const MAX_GUEST_BYTES: u64 = 64 << 20;

/// The component bytes for a guest reference, pin checked; OCI guests come
/// through `registry`.
pub fn fetch(
    guest: &GuestRef,
    registry: Option<&dyn Registry>,
) -> Result<Cow<'static, [u8]>, GuestError> {
    match guest {
        GuestRef::Builtin(name) => standard()
            .find(|g| g.name == name)
            .map(|g| Cow::Borrowed(g.wasm))
            .ok_or_else(|| GuestError::UnknownBuiltin {
                name: name.clone(),
                known: standard().map(|g| g.name).collect::<Vec<_>>().join(", "),
            }),
        GuestRef::File { path, sha256 } => {
            let bytes =
                crate::trust::read_regular_file(path, MAX_GUEST_BYTES).map_err(|source| {
                    GuestError::Read {
                        path: path.clone(),
                        source: Box::new(source),
                    }
                })?;
            if let Some(expected) = sha256 {
                let actual = sha256_hex(&bytes);
                if &actual != expected {
                    return Err(GuestError::PinMismatch {
                        path: path.clone(),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            Ok(Cow::Owned(bytes))
        }
        GuestRef::Oci { reference, digest } => {
            let registry = registry.ok_or_else(|| GuestError::NoRegistry {
                reference: reference.clone(),
            })?;
            let pulled = registry
                .pull(reference, digest.as_deref())
                .map_err(|message| GuestError::Pull {
                    reference: reference.clone(),
                    message,
                })?;
            // Whatever client the host plugs in, a pulled manifest other
            // than the pinned one never runs.
            if let Some(expected) = digest
                && &pulled.manifest_digest != expected
            {
                return Err(GuestError::Pull {
                    reference: reference.clone(),
                    message: format!(
                        "it resolves to manifest sha256:{}, but the pipeline pins sha256:{expected}; refusing to run it",
                        pulled.manifest_digest
                    ),
                });
            }
            Ok(Cow::Owned(pulled.wasm))
        }
    }
}
