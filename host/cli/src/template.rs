//! `mooring new-guest`: a guest crate that builds, tests and runs as it is.
//!
//! The files live in `host/template/`, readable as what they become; only
//! `{{name}}`, `{{crate}}` and `{{sdk}}` are filled in.

use std::fs;
use std::path::{Path, PathBuf};

/// The template's files: path in the new crate, text.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml.tmpl")),
    (".gitignore", include_str!("../template/gitignore")),
    ("README.md", include_str!("../template/README.md")),
    ("src/lib.rs", include_str!("../template/src/lib.rs")),
    ("tests/step.rs", include_str!("../template/tests/step.rs")),
    (
        "tests/fixture/plan.yaml",
        include_str!("../template/tests/fixture/plan.yaml"),
    ),
];

/// Why a guest crate could not be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TemplateError {
    /// Not a name cargo accepts for a package.
    #[error(
        "`{0}` is not a usable guest name: use lowercase letters, digits, `-` and `_`, \
         starting with a letter (for example `check-plans`)"
    )]
    BadName(String),
    /// The target directory already holds something.
    #[error("{} already exists and is not empty; choose another --dir", .0.display())]
    NotEmpty(PathBuf),
    /// The SDK is not where the crate would point.
    #[error(
        "the mooring-guest SDK is not at {}; pass --sdk with the path of guest/sdk in a mooring checkout",
        .0.display()
    )]
    NoSdk(PathBuf),
    /// Writing a file failed.
    #[error("failed to write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The SDK of the source tree this binary was built from, if it is still there.
pub(crate) fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest/sdk")
}

/// Creates the guest crate `name` in `dir`, depending on the SDK at `sdk`.
/// Returns the files written.
pub(crate) fn new_guest(name: &str, dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(TemplateError::BadName(name.to_owned()));
    }
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(TemplateError::NotEmpty(dir.to_owned()));
    }
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| TemplateError::NoSdk(sdk.to_owned()))?;
    // A TOML basic string: escape what would end or break it.
    let sdk = sdk
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let mut written = Vec::new();
    for (path, text) in FILES {
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{sdk}}", &sdk);
        let target = dir.join(path);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&target, text)
        };
        write().map_err(|source| TemplateError::Write {
            path: target.clone(),
            source,
        })?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_would_refuse_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "Check", "9lives", "has space", "a/b", "é"] {
            assert!(
                matches!(
                    new_guest(bad, dir.path(), &default_sdk()),
                    Err(TemplateError::BadName(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("check-plans");
        let files = new_guest("check-plans", &crate_dir, &default_sdk()).unwrap();
        assert_eq!(files.len(), FILES.len());
        for file in &files {
            let text = fs::read_to_string(file).unwrap();
            assert!(
                !text.contains("{{"),
                "{} keeps a placeholder",
                file.display()
            );
        }
        let manifest = fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"check-plans\""));
        assert!(matches!(
            new_guest("again", &crate_dir, &default_sdk()),
            Err(TemplateError::NotEmpty(_))
        ));
        assert!(matches!(
            new_guest("x", &dir.path().join("x"), &dir.path().join("no-sdk")),
            Err(TemplateError::NoSdk(_))
        ));
    }
}
