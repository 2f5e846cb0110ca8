//! Compiled `.wasm` guests on disk, so that only the first run of a guest
//! pays for Cranelift (about 90 ms for a small guest in a release build,
//! seconds in a debug build) and later runs load it in well under a
//! millisecond. (Built-in guests load their native code from the binary.)
//!
//! Loading an entry runs it as native code, so the cache is trusted only
//! when it is the user's: the directory must belong to them and be writable
//! by no one else (mooring creates it 0700), and so must every entry
//! (written 0600, atomically); anything else is refused with a message
//! saying why. An entry is named by the component's sha256 (of the bytes
//! actually read, after a pin was checked), the wasmtime engine's
//! compatibility fingerprint and mooring's version, so a changed guest or
//! another mooring build never loads a stale entry.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::atomic;
use crate::trust::{self, TrustError};

/// A directory of serialized, compiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// The cache in `dir`, created private if missing; refused when the
    /// directory is another user's or others can write it.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, TrustError> {
        trust::private_dir(&dir)?;
        Ok(CompileCache { dir })
    }

    /// The compiled component for `digest`, if cached and loadable; an
    /// entry that is not the user's own is refused.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        digest: &str,
    ) -> Result<Option<Component>, TrustError> {
        let path = self.entry(engine, digest);
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TrustError::Io {
                    action: "inspect",
                    path,
                    source,
                });
            }
        };
        if !metadata.is_file() {
            return Err(TrustError::NotAFile { path });
        }
        trust::check_private(&path, &metadata)?;
        // SAFETY: entries are written only by `store` below, from
        // `Component::serialize` of an engine with the same fingerprint, into
        // a directory and files only this user can write (checked above).
        // wasmtime still checks the header and refuses an artifact from an
        // incompatible engine.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, &path) };
        Ok(component.ok())
    }

    /// Saves a compiled component, 0600. A cache that cannot be written is
    /// not an error: the next run compiles again.
    pub(crate) fn store(&self, engine: &Engine, digest: &str, component: &Component) {
        if let Ok(bytes) = component.serialize() {
            let _ = atomic::write_private(&self.entry(engine, digest), &bytes);
        }
    }

    /// `digest` is the component's hex sha256.
    fn entry(&self, engine: &Engine, digest: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        self.dir
            .join(format!("{digest}-{:016x}.cwasm", hasher.finish()))
    }
}
