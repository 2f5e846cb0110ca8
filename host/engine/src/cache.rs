//! Compiled guests on disk, so that only the first run of a guest pays for
//! Cranelift (about 90 ms for a small guest in a release build, seconds in
//! a debug build) and later runs load it in well under a millisecond.
//!
//! An entry is named by the sha256 of the component and a fingerprint of the
//! engine's settings and wasmtime version, so a changed guest or a different
//! mooring build never loads a stale entry. Loading compiled code is only
//! sound for bytes wasmtime itself produced: the directory is created
//! private to the user (0700) and entries are written atomically; treat it
//! as trusted as the `mooring` binary itself.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;

use crate::atomic::{self, Mode};
use wasmtime::component::Component;

/// A directory of serialized, compiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        CompileCache { dir }
    }

    /// The compiled component for `digest`, if cached and loadable.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.entry(engine, digest);
        if !path.is_file() {
            return None;
        }
        // SAFETY: entries are written only by `store` below, from
        // `Component::serialize` of an engine with the same fingerprint, into
        // a directory only this user can write. wasmtime still checks the
        // header and refuses an artifact from an incompatible engine.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, &path) };
        component.ok()
    }

    /// Saves a compiled component. A cache that cannot be written is not an
    /// error: the next run compiles again.
    pub(crate) fn store(&self, engine: &Engine, digest: &str, component: &Component) {
        let Ok(bytes) = component.serialize() else {
            return;
        };
        let path = self.entry(engine, digest);
        let _ = create_private_dir(&self.dir)
            .and_then(|()| atomic::write(&path, &bytes, Mode::Private));
    }

    /// `digest` is the component's hex sha256.
    fn entry(&self, engine: &Engine, digest: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{digest}-{:016x}.cwasm", hasher.finish()))
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}
