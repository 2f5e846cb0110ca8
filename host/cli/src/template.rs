//! `mooring new-guest`: a guest crate that builds, tests and runs as it is.
//!
//! The files live in `host/cli/template/`, readable as what they become;
//! only `{{name}}`, `{{crate}}` and `{{sdk}}` are filled in. The guest SDK
//! the crate depends on is written beside it from the copy this binary
//! carries (see `build.rs`), unless `--sdk` names a checkout's.

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

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Where in a new crate the SDK it carries is written.
const SDK_DIR: &str = "mooring-sdk";

/// Creates the guest crate `name` in `dir`, depending on the SDK at `sdk`,
/// or on the SDK this binary carries, written into the crate, when `None`.
/// Returns the files written.
pub(crate) fn new_guest(
    name: &str,
    dir: &Path,
    sdk: Option<&Path>,
) -> Result<Vec<PathBuf>, TemplateError> {
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
    let sdk = match sdk {
        Some(sdk) => sdk
            .canonicalize()
            .ok()
            .filter(|p| p.join("Cargo.toml").is_file())
            .ok_or_else(|| TemplateError::NoSdk(sdk.to_owned()))?
            .to_string_lossy()
            .into_owned(),
        None => format!("{SDK_DIR}/guest/sdk"),
    };
    // A TOML basic string: escape what would end or break it.
    let sdk = sdk.replace('\\', "\\\\").replace('"', "\\\"");
    let mut written = Vec::new();
    for (path, text) in FILES {
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{sdk}}", &sdk);
        written.push(write(&dir.join(path), &text)?);
    }
    if sdk.starts_with(SDK_DIR) {
        for (path, text) in SDK_FILES {
            written.push(write(&dir.join(SDK_DIR).join(path), text)?);
        }
    }
    Ok(written)
}

fn write(target: &Path, text: &str) -> Result<PathBuf, TemplateError> {
    let write = || -> std::io::Result<()> {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(target, text)
    };
    write().map_err(|source| TemplateError::Write {
        path: target.to_owned(),
        source,
    })?;
    Ok(target.to_owned())
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
                    new_guest(bad, dir.path(), None),
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
        let files = new_guest("check-plans", &crate_dir, None).unwrap();
        assert_eq!(files.len(), FILES.len() + SDK_FILES.len());
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
        assert!(manifest.contains("mooring-guest = { path = \"mooring-sdk/guest/sdk\" }"));
        // The SDK's own manifests stand alone: nothing inherited is left.
        for sdk_crate in ["guest/sdk", "model"] {
            let text =
                fs::read_to_string(crate_dir.join(SDK_DIR).join(sdk_crate).join("Cargo.toml"))
                    .unwrap();
            assert!(!text.contains("workspace"), "{sdk_crate}: {text}");
            assert!(!text.contains("example.invalid"), "{sdk_crate}: {text}");
        }
        assert!(
            crate_dir
                .join(SDK_DIR)
                .join("wit")
                .read_dir()
                .unwrap()
                .next()
                .is_some()
        );
        assert!(matches!(
            new_guest("again", &crate_dir, None),
            Err(TemplateError::NotEmpty(_))
        ));
        assert!(matches!(
            new_guest("x", &dir.path().join("x"), Some(&dir.path().join("no-sdk"))),
            Err(TemplateError::NoSdk(_))
        ));
    }
}
