//! Builds the guest crates of one workspace directory for `wasm32-wasip2`,
//! from a build script, the way wasmtime's `crates/test-programs/artifacts`
//! does:
//!
//! - the guests are the workspace members below that directory, as `cargo
//!   metadata` lists them (no manifest parsing by hand);
//! - they are built by a nested `cargo build` with its own target directory
//!   under `OUT_DIR`, so it never waits on the outer build's lock;
//! - every source file a guest was compiled from, as its dep-info lists
//!   it (its own, the SDK's, the model's, the WIT files), becomes a
//!   `rerun-if-changed`, so an edit anywhere a guest reads rebuilds it.
//!
//! Used by `mooring-guests` (the standard guests, embedded in the binary)
//! and `mooring-test-guests` (the fixtures, built for tests only).

use std::collections::BTreeSet;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are built with (defined in the workspace manifest).
pub const PROFILE: &str = "guest";

/// One built guest.
#[derive(Debug)]
pub struct Guest {
    /// The package name, which is the name a pipeline uses.
    pub name: String,
    /// The package description.
    pub description: String,
    /// The component file.
    pub wasm: PathBuf,
}

impl Guest {
    /// The name as a Rust identifier: `set-metadata` → `set_metadata`.
    pub fn ident(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// What [`build`] produced.
#[derive(Debug)]
pub struct Built {
    /// The guests, sorted by name.
    pub guests: Vec<Guest>,
    /// Every file the guests were built from, sorted.
    pub sources: Vec<PathBuf>,
}

/// Builds every workspace member below `workspace/dir` and tells cargo to
/// rerun the calling build script when any of their sources change.
///
/// # Panics
///
/// When cargo cannot be run or a guest does not build: a build script has
/// no better way to fail.
pub fn build(workspace: &Path, dir: &str) -> Built {
    let workspace = &workspace
        .canonicalize()
        .unwrap_or_else(|e| panic!("failed to resolve {}: {e}", workspace.display()));
    let members = members(workspace, &workspace.join(dir));
    assert!(
        !members.is_empty(),
        "no guest crates below {}",
        workspace.join(dir).display()
    );
    ensure_target_installed();
    let target_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("guests");
    let mut cargo = Command::new(env::var_os("CARGO").expect("set by cargo"));
    cargo
        .current_dir(workspace)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags and wrappers meant for the host build (clippy's driver, for
        // one) must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER");
    for member in &members {
        cargo.args(["--package", &member.name]);
    }
    let status = cargo.status().expect("failed to run cargo for the guests");
    assert!(status.success(), "building the guests below {dir} failed");

    let artifacts = target_dir.join(TARGET).join(PROFILE);
    let mut sources = BTreeSet::new();
    // Dep-info lists sources, not manifests: the lock file pins the guests'
    // dependencies and the workspace manifest holds the profile.
    sources.insert(workspace.join("Cargo.toml"));
    sources.insert(workspace.join("Cargo.lock"));
    let mut guests = Vec::new();
    for member in members {
        let stem = member.name.replace('-', "_");
        sources.insert(member.manifest);
        sources.extend(dep_info(&artifacts.join(format!("{stem}.d"))));
        guests.push(Guest {
            wasm: artifacts.join(format!("{stem}.wasm")),
            name: member.name,
            description: member.description,
        });
    }
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
    }
    Built {
        guests,
        sources: sources.into_iter().collect(),
    }
}

struct Member {
    name: String,
    description: String,
    manifest: PathBuf,
}

/// The workspace members whose manifests sit below `dir`, sorted by name.
fn members(workspace: &Path, dir: &Path) -> Vec<Member> {
    let output = Command::new(env::var_os("CARGO").expect("set by cargo"))
        .current_dir(workspace)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .expect("failed to run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata printed invalid JSON");
    let text = |package: &Value, key: &str| package[key].as_str().unwrap_or_default().to_owned();
    let mut members: Vec<Member> = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages")
        .iter()
        .map(|package| Member {
            name: text(package, "name"),
            description: text(package, "description"),
            manifest: PathBuf::from(text(package, "manifest_path")),
        })
        .filter(|member| member.manifest.starts_with(dir))
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    members
}

/// The files a dep-info file (`target: dep dep ...`, spaces escaped as
/// `\ `) names.
fn dep_info(path: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("failed to read dep-info {}: {e}", path.display()));
    let Some((_, deps)) = text.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => current.push(chars.next().unwrap_or(' ')),
            ' ' => files
                .extend((!current.is_empty()).then(|| PathBuf::from(std::mem::take(&mut current)))),
            c => current.push(c),
        }
    }
    files.extend((!current.is_empty()).then(|| PathBuf::from(current)));
    files
}

/// A fresh machine has only the host target, and with `RUSTUP_AUTO_INSTALL=0`
/// rustup will not fetch the one named in rust-toolchain.toml: add it here.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return;
    }
    println!(
        "cargo:warning=the {TARGET} target is missing; running `rustup target add {TARGET}` to build the guests"
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    let installed = rustup.status().map(|s| s.success()).unwrap_or(false);
    assert!(
        installed,
        "the {TARGET} target is not installed and `rustup target add {TARGET}` failed; \
         install it by hand, then build again"
    );
}
