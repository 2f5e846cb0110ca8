//! Carries the guest SDK in the binary (the `mooring-guest` and
//! `mooring-model` crates and the WIT world, in their repository layout),
//! so that `mooring new-guest` from a binary-only install writes a crate
//! that builds. Each crate's manifest is made standalone: what it inherits
//! from this workspace (package fields, dependency versions, lints) is
//! written out, and the placeholder repository URL is left out.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The crates of the SDK, by their directory in the repository.
const CRATES: &[&str] = &["guest/sdk", "model"];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace_manifest = root.join("Cargo.toml");
    println!("cargo::rerun-if-changed={}", workspace_manifest.display());
    let workspace = fs::read_to_string(&workspace_manifest).expect("the workspace manifest");
    let package = table(&workspace, "workspace.package");
    let dependencies = table(&workspace, "workspace.dependencies");

    // (path in the SDK, file whose text it is)
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for dir in CRATES {
        let manifest = root.join(dir).join("Cargo.toml");
        println!("cargo::rerun-if-changed={}", manifest.display());
        let text = fs::read_to_string(&manifest).expect("an SDK crate's manifest");
        let standalone = out.join(format!("{}.Cargo.toml", dir.replace('/', "-")));
        fs::write(
            &standalone,
            standalone_manifest(&text, dir, &package, &dependencies),
        )
        .expect("writing a standalone manifest");
        files.push((format!("{dir}/Cargo.toml"), standalone));
        collect(&root, &root.join(dir).join("src"), &mut files);
    }
    collect(&root, &root.join("wit"), &mut files);
    files.sort();

    let mut list = String::from(
        "/// The guest SDK's files: path in the SDK directory, text.\npub(crate) const SDK_FILES: &[(&str, &str)] = &[\n",
    );
    for (path, file) in &files {
        list.push_str(&format!(
            "    ({path:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    list.push_str("];\n");
    fs::write(out.join("sdk_files.rs"), list).expect("writing the SDK file list");
}

/// Every `.rs` and `.wit` file below `dir`, by its path from `root`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    println!("cargo::rerun-if-changed={}", dir.display());
    for entry in fs::read_dir(dir).expect("an SDK directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "wit") {
            println!("cargo::rerun-if-changed={}", path.display());
            let relative = path.strip_prefix(root).expect("below the root");
            files.push((relative.to_string_lossy().replace('\\', "/"), path));
        }
    }
}

/// `key = value` lines of `[name]` in a TOML text whose values are on one
/// line (as this workspace's are).
fn table(text: &str, name: &str) -> BTreeMap<String, String> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// The manifest of the crate in `dir` with what it inherits written out.
fn standalone_manifest(
    text: &str,
    dir: &str,
    package: &BTreeMap<String, String>,
    dependencies: &BTreeMap<String, String>,
) -> String {
    let up = "../".repeat(dir.split('/').count());
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        // Lints are this workspace's policy, not the guest author's.
        if line.trim() == "[lints]" {
            while lines.peek().is_some_and(|l| !l.trim().is_empty()) {
                lines.next();
            }
            continue;
        }
        let Some(key) = line.strip_suffix(".workspace = true") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let value = match (package.get(key), dependencies.get(key)) {
            (Some(value), _) if key == "repository" && value.contains("example.invalid") => {
                continue;
            }
            (Some(value), _) => value.clone(),
            (None, Some(value)) => match value.split_once("path = \"") {
                // A path dependency: the same crate, relative to this one.
                Some((before, rest)) => format!("{before}path = \"{up}{rest}"),
                None => value.clone(),
            },
            (None, None) => {
                panic!("{dir}/Cargo.toml inherits {key}, which the workspace does not define")
            }
        };
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}
