//! Where guest bytes come from: the standard guests built into the binary
//! (compiled from `guest/steps/*` by `build.rs`), or `.wasm` files named by a
//! pipeline, checked against their sha256 pin.

use std::borrow::Cow;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::pipeline::GuestRef;

include!(concat!(env!("OUT_DIR"), "/standard_guests.rs"));

/// A guest compiled into the `mooring` binary.
#[derive(Debug, Clone, Copy)]
pub struct StandardGuest {
    /// The name a pipeline uses.
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// The component.
    pub wasm: &'static [u8],
}

/// Every standard guest, by name.
pub fn standard() -> impl Iterator<Item = StandardGuest> {
    STANDARD_GUESTS
        .iter()
        .map(|&(name, description, wasm)| StandardGuest {
            name,
            description,
            wasm,
        })
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
    /// The file could not be read.
    #[error("failed to read guest file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
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
            let bytes = std::fs::read(path).map_err(|source| GuestError::Read {
                path: path.clone(),
                source,
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

/// Lowercase hex sha256, as pins are written.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
