//! Replacing a file so that readers see its old bytes or its new bytes,
//! never a mix: the new bytes go to a flushed temporary file beside it,
//! which is then renamed over it. The one way mooring replaces a file,
//! whether a bundle file, a stored kubeconfig or a compiled guest.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Temporary files start with this; the bundle loader skips them, and the
/// next in-place run removes any that a killed run left.
pub const STAGED_PREFIX: &str = ".mooring-";

/// The mode a replaced file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0600: the file holds credentials or compiled code.
    Private,
    /// The mode of the file it replaces, or 0644 for a new file.
    Keep,
}

/// New bytes for `target`, written and flushed, not yet in place.
#[derive(Debug)]
pub struct Staged {
    file: tempfile::NamedTempFile,
    target: PathBuf,
}

impl Staged {
    /// Renames the staged file over its target.
    pub fn commit(self) -> io::Result<()> {
        self.file.persist(&self.target).map_err(|e| e.error)?;
        Ok(())
    }

    /// The file the staged bytes will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

/// Writes `bytes` beside `target`, ready to replace it, creating the
/// target's directory if needed.
pub fn stage(target: &Path, bytes: &[u8], mode: Mode) -> io::Result<Staged> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    // A temporary file starts 0600, so a private file is never readable
    // by others, not even for a moment.
    let mut file = tempfile::Builder::new()
        .prefix(STAGED_PREFIX)
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    let permissions = match (mode, fs::metadata(target)) {
        (Mode::Private, _) => fs::Permissions::from_mode(0o600),
        (Mode::Keep, Ok(existing)) => existing.permissions(),
        (Mode::Keep, Err(_)) => fs::Permissions::from_mode(0o644),
    };
    file.as_file().set_permissions(permissions)?;
    file.as_file().sync_all()?;
    Ok(Staged {
        file,
        target: target.to_owned(),
    })
}

/// Replaces `target` with `bytes` atomically.
pub fn write(target: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    stage(target, bytes, mode)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeping_or_narrowing_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.yaml");
        write(&path, b"one", Mode::Keep).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"two", Mode::Keep).unwrap();
        assert_eq!(mode(&path), 0o640);
        write(&path, b"three", Mode::Private).unwrap();
        assert_eq!(
            (fs::read(&path).unwrap(), mode(&path)),
            (b"three".to_vec(), 0o600)
        );
        let staged = stage(&path, b"four", Mode::Keep).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            b"three",
            "nothing changes before commit"
        );
        staged.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"four");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
