//! Where a step's guest comes from: a standard guest built into the binary
//! (`mooring-guests`), or a `.wasm` file named by a pipeline, checked
//! against its sha256 pin.

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
}

impl GuestRef {
    /// How the guest is named in messages.
    pub fn display_name(&self) -> String {
        match self {
            GuestRef::Builtin(name) => name.clone(),
            GuestRef::File { path, .. } => path.display().to_string(),
        }
    }
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

/// The component bytes for a guest reference, pin checked.
pub fn fetch(guest: &GuestRef) -> Result<Cow<'static, [u8]>, GuestError> {
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
    }
}
