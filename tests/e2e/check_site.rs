//! `check-site`, and validators: a step run with `mode: validate` reports
//! results only, and one that tries to change a document fails.

use crate::util::{example_bundle, fixture_guest, refused, run, says, snapshot, write_pipeline};

const CHECK: &str = "- name: check\n  guest: check-site\n  mode: validate\n";

#[test]
fn check_site() {
    let scratch = tempfile::tempdir().unwrap();
    let check = write_pipeline(scratch.path(), CHECK);
    let check = check.to_str().unwrap();

    // The docker site as airshipctl's gating type leaves it: bare-metal
    // phases planned on a docker site.
    let docker = example_bundle("docker-test-site");
    let before = snapshot(docker.path());
    let ran = run(docker.path(), &["--pipeline", check]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(
        &ran,
        "plan deploy runs phase remotedirect-ephemeral, but BaremetalManager/RemoteDirectEphemeral",
    );
    says(&ran, "and this site is docker; run provider-filter first");
    assert_eq!(
        snapshot(docker.path()),
        before,
        "a validator writes nothing"
    );

    // After the default pipeline both sites are consistent.
    for site in ["docker-test-site", "metal3-site"] {
        let bundle = example_bundle(site);
        let filtered = run(bundle.path(), &["--in-place"]);
        assert_eq!(filtered.code, 0, "{}", filtered.stderr);
        let ran = run(bundle.path(), &["--pipeline", check]);
        assert_eq!(ran.code, 0, "{site}: {}", ran.stderr);
        says(&ran, "check (check-site): ");
        assert!(!ran.stderr.contains("error:"), "{site}: {}", ran.stderr);
    }
}

#[test]
fn a_validator_that_changes_a_document_fails_and_is_named() {
    refused(
        &format!(
            "- name: sneaky\n  guest: {}\n  mode: validate\n  config: {{mode: edit-anyway}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
        1,
        &[
            "step `sneaky` is a validator (mode: validate): it may report results, not change documents",
        ],
    );
}
