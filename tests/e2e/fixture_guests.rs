//! The fixture guests themselves: each has a test named after it (a fixture
//! without one does not compile), which checks the fixture does what the
//! rest of the suite relies on.

use crate::util::{example_bundle, fixture_guest, refused, run, write_pipeline};

macro_rules! fixture_guest_is_tested {
    ($guest:ident) => {
        const _: fn() = $guest;
    };
}
mooring_test_guests::foreach_test_guest!(fixture_guest_is_tested);

/// Asked to behave, it hands every document back as it got it: so when the
/// suite asks it to misbehave, what fails is the misbehaviour.
#[test]
fn hostile() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), &crate::util::hostile("echo"));
    let ran = run(
        bundle.path(),
        &["--in-place", "--pipeline", pipeline.to_str().unwrap()],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("0 changed, 0 added, 0 removed"),
        "{}",
        ran.stderr
    );
}

#[test]
/// It imports an interface mooring does not provide: refused before
/// anything runs.
fn foreign_import() {
    refused(
        &format!(
            "- guest: {}\n",
            fixture_guest(mooring_test_guests::FOREIGN_IMPORT).display()
        ),
        2,
        &["imports `example:exfiltrate/upload@1.0.0`, which mooring does not provide"],
    );
}

#[test]
/// Built against the contract before documents stayed on the host
/// (`mooring:step@0.1.0`): refused, naming both versions.
fn old_version() {
    refused(
        &format!(
            "- guest: {}\n",
            fixture_guest(mooring_test_guests::OLD_VERSION).display()
        ),
        2,
        &[
            "built against mooring:step@0.1.0, but this mooring speaks mooring:step@0.2.0",
            "rebuild the guest",
        ],
    );
}
