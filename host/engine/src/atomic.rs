//! Replacing a private file so that readers see its old bytes or its new
//! bytes, never a mix: the new bytes go to a flushed temporary file beside
//! it, 0600 from the start, which is then renamed over it. Used for stored
//! kubeconfigs and compiled guests; bundles are written by
//! [`crate::writeback`], which adds rollback across many files.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Temporary files start with this; the bundle loader skips them, and the
/// next in-place run removes any that a killed run left.
pub const STAGED_PREFIX: &str = ".mooring-";

/// Replaces `target` with `bytes` atomically, mode 0600, creating its
/// directory if needed.
pub fn write_private(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    // A temporary file starts 0600, so the file is never readable by
    // others, not even for a moment.
    let mut file = tempfile::Builder::new()
        .prefix(STAGED_PREFIX)
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(target).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn replaces_as_a_private_file_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.yaml");
        write_private(&path, b"one").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"two").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!((fs::read(&path).unwrap(), mode), (b"two".to_vec(), 0o600));
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
