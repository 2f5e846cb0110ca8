//! Writing a run's result: into the bundle itself, all or nothing, or as a
//! complete new directory.
//!
//! Every path is resolved beneath an open handle on the directory
//! (`cap-std`), never joined to the root as a string, so a directory
//! swapped for a symbolic link during the run cannot send a write, a
//! rename or a read outside it. A file keeps its mode, never widened: a
//! private file (one holding credentials) is at most 0600, a new one 0644.
//!
//! In place, every new file is staged and flushed beside its target first;
//! then each target about to be replaced or removed gets a hard link as a
//! backup; only then are the staged files renamed over their targets. A
//! failure at any point undoes what was done, in reverse, so the bundle is
//! as it was; a crash leaves each file old or new, and the next run sweeps
//! the staged files and backups (all named [`STAGED_PREFIX`]`*`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};

use crate::atomic::STAGED_PREFIX;
use crate::bundle::BundleError;

/// New text for each changed path, `None` for a file to remove.
pub(crate) type Changes = BTreeMap<String, Option<String>>;

/// The mode a written file gets: its source's, narrowed to 0600 when it is
/// private; 0644 (0600 private) when it is new.
fn mode(existing: Option<u32>, private: bool) -> u32 {
    let mode = existing.map_or(0o644, |m| m & 0o7777);
    if private {
        existing.map_or(0o600, |m| m & 0o600)
    } else {
        mode
    }
}

/// The mode of `path` beneath `dir`, if it is there.
fn existing_mode(dir: &Dir, path: &str) -> Option<u32> {
    use cap_std::fs::MetadataExt;
    dir.metadata(path).ok().map(|m| m.mode())
}

/// A fresh name beside `path` that the loader skips and the next run sweeps.
fn beside(path: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{STAGED_PREFIX}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    match path.rsplit_once('/') {
        Some((parent, _)) => format!("{parent}/{name}"),
        None => name,
    }
}

/// Creates `path`'s missing parent directories beneath `dir`, returning
/// those it created, outermost first.
fn create_parents(dir: &Dir, path: &str) -> io::Result<Vec<String>> {
    let mut created = Vec::new();
    let mut at = String::new();
    let segments: Vec<&str> = path.split('/').collect();
    for segment in &segments[..segments.len() - 1] {
        if !at.is_empty() {
            at.push('/');
        }
        at.push_str(segment);
        if !dir.exists(&at) {
            dir.create_dir(&at)?;
            created.push(at.clone());
        }
    }
    Ok(created)
}

/// Writes `bytes` to the new file `path` beneath `dir` with `mode`, flushed.
fn write_new(dir: &Dir, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut options = OpenOptions::new();
    // Created 0600 and opened to others only once written.
    options.write(true).create_new(true).mode(0o600);
    let mut file = dir.open_with(path, &options)?;
    file.write_all(bytes)?;
    file.set_permissions(Permissions::from_mode(mode))?;
    file.sync_all()
}

/// One thing done to the bundle, remembered so it can be undone.
enum Done {
    /// Directories created for new files (outermost first).
    Created(Vec<String>),
    /// A staged file, not yet renamed.
    Staged(String),
    /// A hard link keeping a target's old bytes.
    Backup(String),
    /// `staged` renamed over `target`, whose old bytes are in `backup`.
    Replaced {
        target: String,
        backup: Option<String>,
    },
    /// `target` renamed to `backup`.
    Removed { target: String, backup: String },
}

/// How a file is put in place; the one seam tests use to make a rename
/// fail halfway.
pub(crate) type Rename<'a> = dyn FnMut(&Dir, &str, &str) -> io::Result<()> + 'a;

/// Applies `changes` to the bundle beneath `dir`, all or nothing. Paths in
/// `private` are written 0600 at most; `stale` staged files of a killed
/// run are removed once the write succeeded.
pub(crate) fn in_place(
    dir: &Dir,
    changes: &Changes,
    private: &BTreeSet<String>,
    stale: &[String],
    rename: &mut Rename<'_>,
) -> Result<(), BundleError> {
    let mut done = Vec::new();
    match apply(dir, changes, private, rename, &mut done) {
        Ok(()) => {
            for step in done {
                if let Done::Backup(backup) | Done::Removed { backup, .. } = step {
                    let _ = dir.remove_file(backup);
                }
            }
            for leftover in stale {
                let _ = dir.remove_file(leftover);
            }
            Ok(())
        }
        Err(error) => {
            undo(dir, done);
            Err(error)
        }
    }
}

fn apply(
    dir: &Dir,
    changes: &Changes,
    private: &BTreeSet<String>,
    rename: &mut Rename<'_>,
    done: &mut Vec<Done>,
) -> Result<(), BundleError> {
    let failed = |action: &'static str, path: &str| {
        let path = Path::new(path).to_owned();
        move |source| BundleError::Io {
            action,
            path,
            source,
        }
    };
    let mut staged = Vec::new();
    for (path, text) in changes {
        if let Some(text) = text {
            done.push(Done::Created(
                create_parents(dir, path).map_err(failed("create the directory of", path))?,
            ));
            let name = beside(path);
            let mode = mode(existing_mode(dir, path), private.contains(path));
            write_new(dir, &name, text.as_bytes(), mode)
                .map_err(failed("stage a new version of", path))?;
            done.push(Done::Staged(name.clone()));
            staged.push((path, name));
        }
    }
    // Backups before any rename: a filesystem that cannot link fails here,
    // while nothing has changed yet.
    let mut backups = BTreeMap::new();
    for path in changes.keys().filter(|p| dir.is_file(p)) {
        let backup = beside(path);
        dir.hard_link(path, dir, &backup)
            .map_err(failed("keep a backup of", path))?;
        done.push(Done::Backup(backup.clone()));
        backups.insert(path, backup);
    }
    for (path, name) in staged {
        rename(dir, &name, path).map_err(failed("replace", path))?;
        done.push(Done::Replaced {
            target: path.clone(),
            backup: backups.get(path).cloned(),
        });
    }
    for path in changes.keys().filter(|p| changes[*p].is_none()) {
        let backup = beside(path);
        rename(dir, path, &backup).map_err(failed("remove", path))?;
        done.push(Done::Removed {
            target: path.clone(),
            backup,
        });
    }
    Ok(())
}

/// Undoes `done` in reverse. Best effort: what cannot be undone is left
/// under a staged name, which the next run sweeps.
fn undo(dir: &Dir, done: Vec<Done>) {
    for step in done.into_iter().rev() {
        let _ = match step {
            Done::Replaced {
                target,
                backup: Some(backup),
            } => dir.rename(&backup, dir, &target),
            Done::Replaced {
                target,
                backup: None,
            } => dir.remove_file(&target),
            Done::Removed { target, backup } => dir.rename(&backup, dir, &target),
            Done::Staged(name) | Done::Backup(name) => dir.remove_file(&name).or(Ok(())),
            Done::Created(dirs) => {
                for created in dirs.iter().rev() {
                    let _ = dir.remove_dir(created);
                }
                Ok(())
            }
        };
    }
}

/// The plain rename, for every run but the tests that make one fail.
pub(crate) fn rename(dir: &Dir, from: &str, to: &str) -> io::Result<()> {
    dir.rename(from, dir, to)
}

/// What a new directory receives, each file by bundle-relative path.
pub(crate) enum Source<'a> {
    /// Text the run produced or kept.
    Text(&'a str),
    /// A file carried along untouched, read from the bundle.
    Copy,
    /// A link inside the bundle, to this bundle-relative target.
    Link(&'a str),
}

/// Writes `files` into the empty, freshly made directory `out`, reading
/// carried-along files beneath `bundle`. Modes follow the bundle's files.
pub(crate) fn to_dir(
    bundle: Option<&Dir>,
    out: &Dir,
    files: &[(&str, Source<'_>)],
    private: &BTreeSet<String>,
) -> Result<(), BundleError> {
    for (path, source) in files {
        let failed = |action: &'static str| {
            let path = Path::new(path).to_owned();
            move |source| BundleError::Io {
                action,
                path,
                source,
            }
        };
        create_parents(out, path).map_err(failed("create the directory of"))?;
        let mode = mode(
            bundle.and_then(|b| existing_mode(b, path)),
            private.contains(*path),
        );
        match source {
            Source::Text(text) => write_new(out, path, text.as_bytes(), mode),
            Source::Copy => bundle
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "a stream has no files"))
                .and_then(|bundle| bundle.read(path))
                .and_then(|bytes| write_new(out, path, &bytes, mode)),
            Source::Link(target) => {
                // Relative, so the copy's link points into the copy.
                let up = "../".repeat(path.matches('/').count());
                out.symlink(format!("{up}{target}"), path)
            }
        }
        .map_err(failed("write"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use cap_std::ambient_authority;

    use super::*;

    fn bundle(files: &[(&str, &str)]) -> (tempfile::TempDir, Dir) {
        let root = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = root.path().join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        let dir = Dir::open_ambient_dir(root.path(), ambient_authority()).unwrap();
        (root, dir)
    }

    fn listing(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
        let mut found = BTreeMap::new();
        let mut stack = vec![root.to_owned()];
        while let Some(at) = stack.pop() {
            for entry in fs::read_dir(at).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(root).unwrap().display().to_string();
                let meta = fs::metadata(&path).unwrap();
                if meta.is_dir() {
                    found.insert(format!("{name}/"), (Vec::new(), 0));
                    stack.push(path);
                } else {
                    let mode = meta.permissions().mode() & 0o777;
                    found.insert(name, (fs::read(&path).unwrap(), mode));
                }
            }
        }
        found
    }

    fn changes(list: &[(&str, Option<&str>)]) -> Changes {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn a_rename_failing_halfway_undoes_everything_done_before_it() {
        let (root, dir) = bundle(&[("a.yaml", "a\n"), ("b.yaml", "b\n"), ("c.yaml", "c\n")]);
        fs::set_permissions(
            root.path().join("b.yaml"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        let before = listing(root.path());
        let all = changes(&[
            ("a.yaml", Some("A\n")),
            ("b.yaml", Some("B\n")),
            ("new/d.yaml", Some("D\n")),
            ("c.yaml", None),
        ]);
        // Every point of failure: after 0, 1, 2 and 3 renames.
        for fail_at in 0..4 {
            let mut renames = 0;
            let mut failing = |dir: &Dir, from: &str, to: &str| {
                renames += 1;
                if renames > fail_at {
                    return Err(io::Error::other("injected"));
                }
                rename(dir, from, to)
            };
            let error = in_place(&dir, &all, &BTreeSet::new(), &[], &mut failing).unwrap_err();
            assert!(error.to_string().starts_with("failed to "), "{error}");
            assert_eq!(listing(root.path()), before, "after {fail_at} renames");
        }
        in_place(&dir, &all, &BTreeSet::new(), &[], &mut rename).unwrap();
        let after = listing(root.path());
        assert_eq!(after["a.yaml"], (b"A\n".to_vec(), 0o644));
        assert_eq!(after["b.yaml"], (b"B\n".to_vec(), 0o640), "mode kept");
        assert_eq!(after["new/d.yaml"].0, b"D\n");
        assert!(!after.contains_key("c.yaml"));
        assert_eq!(after.len(), 4, "no staged file or backup left: {after:?}");
    }

    #[test]
    fn modes_are_kept_and_never_widened() {
        assert_eq!(mode(Some(0o100640), false), 0o640);
        assert_eq!(mode(Some(0o100644), true), 0o600);
        assert_eq!(mode(Some(0o100400), true), 0o400);
        assert_eq!(mode(None, false), 0o644);
        assert_eq!(mode(None, true), 0o600);
    }

    #[test]
    fn a_directory_swapped_for_a_link_out_of_the_bundle_is_not_written_through() {
        let (root, dir) = bundle(&[("sub/a.yaml", "a\n")]);
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("a.yaml"), "outside\n").unwrap();
        fs::remove_dir_all(root.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("sub")).unwrap();
        let error = in_place(
            &dir,
            &changes(&[("sub/a.yaml", Some("A\n"))]),
            &BTreeSet::new(),
            &[],
            &mut rename,
        )
        .unwrap_err();
        assert!(error.to_string().contains("sub/a.yaml"), "{error}");
        assert_eq!(
            fs::read_to_string(outside.path().join("a.yaml")).unwrap(),
            "outside\n"
        );
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    }
}
