//! Builds the standard guests (`guest/steps/*`) for `wasm32-wasip2` and
//! embeds them in the `mooring` binary as built-ins. The test fixture guests
//! (`tests/guests/*`) are built in the same run, sharing its compiled
//! dependencies, but not embedded: tests find them through the
//! `MOORING_TEST_GUESTS` directory this script exports.
//!
//! Like wasmtime's `crates/test-programs/artifacts`, this runs a nested
//! `cargo build` with its own target directory under `OUT_DIR`, so it never
//! waits on the outer build's lock. It reruns when anything under `guest/`
//! or `wit/` changes (cargo scans a directory given to `rerun-if-changed`).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ sits in the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    let guests = guest_crates(&workspace.join("guest/steps"));
    let fixtures = guest_crates(&workspace.join("tests/guests"));
    ensure_target_installed();

    let target_dir = out_dir.join("guests");
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
    for guest in guests.iter().chain(&fixtures) {
        cargo.args(["--package", &guest.name]);
    }
    let status = cargo.status().expect("failed to run cargo for the guests");
    assert!(status.success(), "building the standard guests failed");

    let artifacts = target_dir.join(TARGET).join(PROFILE);
    let mut generated = String::from(
        "/// The standard guests: name, description and component bytes.\n\
         pub(crate) const STANDARD_GUESTS: &[(&str, &str, &[u8])] = &[\n",
    );
    for guest in &guests {
        let stem = guest.name.replace('-', "_");
        let wasm = artifacts.join(format!("{stem}.wasm"));
        writeln!(
            generated,
            "    ({:?}, {:?}, include_bytes!({:?})),",
            guest.name, guest.description, wasm
        )
        .expect("writing to a String");
    }
    generated.push_str("];\n");
    fs::write(out_dir.join("standard_guests.rs"), generated)
        .expect("failed to write standard_guests.rs");
    println!(
        "cargo:rustc-env=MOORING_TEST_GUESTS={}",
        artifacts.display()
    );

    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("guest").display()
    );
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("tests/guests").display()
    );
    // The lock file pins the guests' dependencies; the workspace manifest
    // holds the `guest` profile they are built with.
    for file in ["Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
}

struct Guest {
    name: String,
    description: String,
}

/// Every crate in `dir` is a guest named after its directory; for a standard
/// guest, its Cargo.toml `description` is what `mooring guests` shows.
fn guest_crates(dir: &Path) -> Vec<Guest> {
    let mut guests: Vec<Guest> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()))
        .map(|entry| entry.expect("failed to read a guest directory").path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .map(|dir| {
            let manifest = fs::read_to_string(dir.join("Cargo.toml"))
                .expect("failed to read a guest's Cargo.toml");
            let description = manifest
                .lines()
                .find_map(|line| line.trim().strip_prefix("description = \""))
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap_or_default()
                .trim_start_matches("mooring standard guest: ")
                .to_owned();
            let name = dir
                .file_name()
                .expect("a directory")
                .to_string_lossy()
                .into_owned();
            Guest { name, description }
        })
        .collect();
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    guests
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
        "cargo:warning=the {TARGET} target is missing; running `rustup target add {TARGET}` to build the standard guests"
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
