//! A plugin author's path, as they would walk it: `mooring new-guest`, then
//! the crate's own `cargo test` (which builds the component and runs it
//! through this runtime), then `mooring inspect` and `mooring run` on the
//! component it built.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::{Ran, binary, example_bundle, mooring, repo, run, says, write_pipeline};

/// Persistent across runs of the suite, so only the first run compiles the
/// new crate's dependencies.
fn author_target_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("author-kit")
}

fn cargo(dir: &Path, args: &[&str]) -> Ran {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", author_target_dir())
        .env("MOORING_BIN", binary())
        // Flags for this test build are not the author's.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap()
        .into()
}

#[test]
fn a_new_guest_goes_from_template_to_passing_test_to_a_real_run() {
    let scratch = tempfile::tempdir().unwrap();
    let crate_dir = scratch.path().join("check-plans");
    let created: Ran = mooring()
        .args(["new-guest", "check-plans", "--dir"])
        .arg(&crate_dir)
        .output()
        .unwrap()
        .into();
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(created.stdout.contains("created"), "{}", created.stdout);
    // What a binary-only install writes: the SDK comes with the crate, and
    // nothing points into the tree mooring was built from.
    let tree = repo().canonicalize().unwrap().display().to_string();
    for file in crate::util::snapshot(&crate_dir).keys() {
        let text = fs::read_to_string(crate_dir.join(file)).unwrap();
        assert!(!text.contains(&tree), "{} names {tree}", file.display());
        assert!(
            !text.contains("example.invalid"),
            "{} links a placeholder",
            file.display()
        );
    }
    assert!(crate_dir.join("mooring-sdk/wit/step.wit").is_file());
    // The versions this repository already builds with: no resolution, no
    // downloads.
    fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let tested = cargo(&crate_dir, &["test"]);
    assert_eq!(tested.code, 0, "{}\n{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.contains("test result: ok. 2 passed"),
        "{}",
        tested.stdout
    );

    let built = cargo(
        &crate_dir,
        &["build", "--target", "wasm32-wasip2", "--release"],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let wasm = author_target_dir().join("wasm32-wasip2/release/check_plans.wasm");

    let inspected: Ran = mooring().arg("inspect").arg(&wasm).output().unwrap().into();
    assert_eq!(inspected.code, 0, "{}", inspected.stderr);
    assert!(
        inspected.stdout.contains("mooring:step/run@0.2.0")
            && inspected.stdout.contains("matches mooring:step@0.2.0"),
        "{}",
        inspected.stdout
    );

    // Unchanged, under `mooring run`, over a real site.
    let bundle = example_bundle("metal3-site");
    let pipeline = write_pipeline(
        scratch.path(),
        &format!("- guest: {}\n  config: {{prune: true}}\n", wasm.display()),
    );
    // Not approved, it does not run; approved by the operator, it does.
    let refused = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    says(
        &refused,
        "which the operator has not approved; run with --allow-guests",
    );
    let dir = wasm.parent().unwrap().to_str().unwrap();
    let ran = run(
        bundle.path(),
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--allow-guests",
            dir,
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "check_plans.wasm");
}

#[test]
fn inspect_names_the_versions_of_a_mismatched_guest() {
    let ran: Ran = mooring()
        .arg("inspect")
        .arg(crate::util::fixture_guest(mooring_test_guests::OLD_VERSION))
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("mooring:step/run@0.1.0"),
        "{}",
        ran.stdout
    );
    says(
        &ran,
        "built against mooring:step@0.1.0, but this mooring speaks mooring:step@0.2.0",
    );
}

#[test]
fn new_guest_refuses_a_bad_name_and_an_occupied_directory() {
    let scratch = tempfile::tempdir().unwrap();
    fs::write(scratch.path().join("keep.txt"), "mine").unwrap();
    let ran: Ran = mooring()
        .args(["new-guest", "ok-name", "--dir"])
        .arg(scratch.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    says(&ran, "already exists and is not empty");
    assert_eq!(
        fs::read_to_string(scratch.path().join("keep.txt")).unwrap(),
        "mine"
    );
    let ran: Ran = mooring()
        .args(["new-guest", "Bad Name"])
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    says(&ran, "not a usable guest name");
}
