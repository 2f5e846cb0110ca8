//! Which files mooring may trust, and reading files that may be hostile.
//!
//! What decides what a run may do (the policy file) or what runs as native
//! code (the compiled-guest cache) is trusted only when it is the
//! operator's: owned by the user running mooring and writable by no one
//! else. Files a bundle names (guests, kubeconfigs) are read only when they
//! are regular files of a bounded size, so a FIFO cannot hang a run and
//! `/dev/zero` cannot fill its memory.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a file or directory is not to be trusted or read.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// An I/O error.
    #[error("failed to {action} {}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Owned by another user.
    #[error(
        "{} belongs to uid {owner}, not to you (uid {uid}); mooring trusts it only when it is yours",
        .path.display()
    )]
    NotOwned {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user running mooring.
        uid: u32,
    },
    /// Others could change it.
    #[error(
        "{} is writable by others (mode {mode:o}); mooring trusts it only when only you can write it: chmod go-w {}",
        .path.display(), .path.display()
    )]
    Writable {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a regular file (a FIFO, a device, a directory, a link).
    #[error("{} is not a regular file; mooring reads only regular files here", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Over the size mooring reads.
    #[error("{} is {size} bytes; mooring reads at most {limit} bytes here", .path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TrustError {
    let path = path.to_owned();
    move |source| TrustError::Io {
        action,
        path,
        source,
    }
}

/// The user running mooring.
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Checks that `metadata` (of `path`) is the user's and writable only by
/// them.
pub fn check_private(path: &Path, metadata: &fs::Metadata) -> Result<(), TrustError> {
    let uid = current_uid();
    if metadata.uid() != uid {
        return Err(TrustError::NotOwned {
            path: path.to_owned(),
            owner: metadata.uid(),
            uid,
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(TrustError::Writable {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The text of the user's own file at `path` (see [`check_private`]), or
/// `None` when there is none.
pub fn read_private_file(path: &Path, limit: u64) -> Result<Option<String>, TrustError> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("inspect", path)(e)),
    };
    if !metadata.is_file() {
        return Err(TrustError::NotAFile {
            path: path.to_owned(),
        });
    }
    check_private(path, &metadata)?;
    let bytes = read_regular_file(path, limit)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| io("read", path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Creates the user's private directory at `dir` (0700) when missing, and
/// checks an existing one is theirs and writable only by them.
pub fn private_dir(dir: &Path) -> Result<(), TrustError> {
    match fs::symlink_metadata(dir) {
        Ok(metadata) if metadata.is_dir() => check_private(dir, &metadata),
        Ok(_) => Err(TrustError::NotAFile {
            path: dir.to_owned(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create", dir)),
        Err(e) => Err(io("inspect", dir)(e)),
    }
}

/// The bytes of `path`, which must be a regular file (links are followed)
/// of at most `limit` bytes: read no further than the limit, whatever the
/// file claims.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, TrustError> {
    let metadata = fs::metadata(path).map_err(io("read", path))?;
    if !metadata.is_file() {
        return Err(TrustError::NotAFile {
            path: path.to_owned(),
        });
    }
    if metadata.len() > limit {
        return Err(TrustError::TooLarge {
            path: path.to_owned(),
            size: metadata.len(),
            limit,
        });
    }
    let file = fs::File::open(path).map_err(io("read", path))?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io("read", path))?;
    if bytes.len() as u64 > limit {
        return Err(TrustError::TooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_users_own_private_files_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_private_file(&file, 10).unwrap().as_deref(), Some("x"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
        assert!(matches!(
            read_private_file(&file, 10),
            Err(TrustError::Writable { .. })
        ));
        assert!(
            read_private_file(&dir.path().join("none"), 10)
                .unwrap()
                .is_none()
        );
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            private_dir(&open),
            Err(TrustError::Writable { .. })
        ));
        let fresh = dir.path().join("a/b");
        private_dir(&fresh).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "12345").unwrap();
        assert!(matches!(
            read_regular_file(&file, 4),
            Err(TrustError::TooLarge { .. })
        ));
        assert_eq!(read_regular_file(&file, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular_file(Path::new("/dev/zero"), 1 << 20),
            Err(TrustError::NotAFile { .. })
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 1 << 20),
            Err(TrustError::NotAFile { .. })
        ));
    }
}
