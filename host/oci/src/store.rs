//! Pulled guests kept by digest, beside the compiled-guest cache:
//! `blobs/<sha256>` (the component), `manifests/<sha256>` (the digest of the
//! component its manifest names) and `tags/<sha256 of the reference>` (the
//! manifest a tag last named, for offline runs). Every file is written
//! atomically and read back only if its bytes still hash to its name.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use mooring_engine::atomic::write_private;
use mooring_engine::digest::sha256_hex;
use mooring_engine::guests::MAX_GUEST_BYTES;

/// The store in one directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir` (created when something is first stored).
    pub fn new(dir: PathBuf) -> Self {
        Store { dir }
    }

    /// Where it is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component of the manifest with sha256 `manifest`, when stored
    /// and intact.
    pub fn get(&self, manifest: &str) -> Option<Vec<u8>> {
        let layer = read_small(&self.dir.join("manifests").join(manifest))?;
        let layer = String::from_utf8(layer).ok()?;
        let path = self.dir.join("blobs").join(layer.trim());
        let size = fs::metadata(&path).ok()?.len();
        if size > MAX_GUEST_BYTES {
            return None;
        }
        let wasm = fs::read(&path).ok()?;
        (sha256_hex(&wasm) == layer.trim()).then_some(wasm)
    }

    /// The manifest `reference` (a tag) named when it was last pulled.
    pub fn tag(&self, reference: &str) -> Option<String> {
        let digest = read_small(&self.dir.join("tags").join(sha256_hex(reference.as_bytes())))?;
        let digest = String::from_utf8(digest).ok()?.trim().to_owned();
        (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
    }

    /// Keeps `wasm`, pulled as `reference` with manifest sha256 `manifest`.
    pub fn put(&self, reference: &str, manifest: &str, wasm: &[u8]) -> io::Result<()> {
        let layer = sha256_hex(wasm);
        write_private(&self.dir.join("blobs").join(&layer), wasm)?;
        write_private(&self.dir.join("manifests").join(manifest), layer.as_bytes())?;
        write_private(
            &self.dir.join("tags").join(sha256_hex(reference.as_bytes())),
            manifest.as_bytes(),
        )
    }
}

/// A store index file: a digest, never more than a line.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    (fs::metadata(path).ok()?.len() <= 128).then(|| fs::read(path).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_stored_comes_back_by_digest_and_tag_and_a_corrupted_blob_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let manifest = sha256_hex(b"manifest");
        store
            .put("r.example/g:1", &manifest, b"\0asm component")
            .unwrap();
        assert_eq!(
            store.get(&manifest).as_deref(),
            Some(&b"\0asm component"[..])
        );
        assert_eq!(store.tag("r.example/g:1"), Some(manifest.clone()));
        assert_eq!(store.tag("r.example/g:2"), None);
        let blob = dir
            .path()
            .join("blobs")
            .join(sha256_hex(b"\0asm component"));
        fs::write(&blob, b"\0asm tampered").unwrap();
        assert_eq!(store.get(&manifest), None);
    }
}
