//! Content digests: the sha256 a pipeline pins a `.wasm` with, and the
//! key compiled guests are memoized and cached under.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256, as pins are written.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
