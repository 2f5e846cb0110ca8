//! `mooring run --diff`: exactly what `--in-place` would write, as a patch,
//! and nothing written.

use std::fs;
use std::process::Command;

use crate::util::{example_bundle, run, snapshot, tool, write_pipeline};

const SITE: &str = "docker-test-site";

#[test]
fn the_diff_is_the_patch_in_place_would_make_and_nothing_is_written() {
    let Some(git) = tool("git") else { return };
    let bundle = example_bundle(SITE);
    let before = snapshot(bundle.path());
    let diffed = run(bundle.path(), &["--diff"]);
    assert_eq!(diffed.code, 3, "{}", diffed.stderr);
    assert!(
        diffed.stderr.contains("9 file(s) would change"),
        "{}",
        diffed.stderr
    );
    assert!(
        diffed
            .stdout
            .contains("--- a/hwcc/profile1.yaml\n+++ /dev/null\n")
    );
    assert!(
        diffed
            .stdout
            .contains("--- a/phases/plan.yaml\n+++ b/phases/plan.yaml\n")
    );
    assert!(
        !diffed.stdout.contains("\x1b["),
        "no colour when stdout is a pipe"
    );
    assert_eq!(
        snapshot(bundle.path()),
        before,
        "--diff wrote to the bundle"
    );

    // The diff applied by git to one copy gives what --in-place gives another.
    let patched = example_bundle(SITE);
    let patch = tempfile::NamedTempFile::new().unwrap();
    fs::write(patch.path(), &diffed.stdout).unwrap();
    let applied = Command::new(git)
        .args(["apply", "-p1"])
        .arg(patch.path())
        .current_dir(patched.path())
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let in_place = run(bundle.path(), &["--in-place", "-q"]);
    assert_eq!(in_place.code, 0, "{}", in_place.stderr);
    assert_eq!(snapshot(patched.path()), snapshot(bundle.path()));

    // Nothing left to change: exit 0, an empty diff.
    let again = run(bundle.path(), &["--diff"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "");
}

#[test]
fn a_fleet_diff_names_each_file_under_its_bundle_and_stays_quiet_with_q() {
    let (one, two) = (example_bundle(SITE), example_bundle(SITE));
    let ran = crate::util::mooring()
        .args(["run", "--diff", "-q"])
        .arg(one.path())
        .arg(two.path())
        .output()
        .unwrap();
    let code = ran.status.code();
    let stdout = String::from_utf8(ran.stdout).unwrap();
    assert_eq!(code, Some(3), "{}", String::from_utf8_lossy(&ran.stderr));
    for bundle in [&one, &two] {
        let name = bundle.path().display().to_string();
        let name = name.trim_start_matches('/');
        assert!(
            stdout.contains(&format!("+++ b/{name}/phases/plan.yaml\n")),
            "{stdout}"
        );
    }
    assert!(!String::from_utf8_lossy(&ran.stderr).contains("would change"));
}

#[test]
fn credentials_in_a_diff_are_redacted_unless_shown() {
    let bundle = tempfile::tempdir().unwrap();
    fs::write(
        bundle.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\ndata:\n  token: c2VjcmV0LXRva2VuLXZhbHVl\n",
    )
    .unwrap();
    let pipeline = write_pipeline(
        bundle.path(),
        "  - {name: mark, guest: set-metadata, config: {labels: {site: a}}}\n",
    );
    let pipeline = pipeline.to_str().unwrap();
    let hidden = run(bundle.path(), &["--diff", "-p", pipeline]);
    assert_eq!(hidden.code, 3, "{}", hidden.stderr);
    assert!(
        hidden.stdout.contains("+  labels:\n+    site: a\n"),
        "{}",
        hidden.stdout
    );
    assert!(
        hidden.stdout.contains("token: <redacted>"),
        "{}",
        hidden.stdout
    );
    assert!(!hidden.stdout.contains("c2VjcmV0"), "{}", hidden.stdout);
    let shown = run(bundle.path(), &["--diff", "--show-secrets", "-p", pipeline]);
    assert!(
        shown.stdout.contains("token: c2VjcmV0LXRva2VuLXZhbHVl"),
        "{}",
        shown.stdout
    );
}

#[test]
fn diff_cannot_be_combined_with_a_destination() {
    let bundle = example_bundle(SITE);
    for other in [["--in-place", ""], ["--output-dir", "/tmp/x"]] {
        let args: Vec<&str> = ["--diff"]
            .into_iter()
            .chain(other)
            .filter(|a| !a.is_empty())
            .collect();
        let ran = run(bundle.path(), &args);
        assert_eq!(ran.code, 2, "{}", ran.stderr);
        assert!(ran.stderr.contains("cannot be used with"), "{}", ran.stderr);
    }
}
