//! Runs the guest through the real mooring runtime over `tests/fixture`.
//! Needs the `mooring` binary: `$MOORING_BIN`, or `mooring` on PATH.

use mooring_guest::airship::{self, PhasePlan};
use mooring_guest::json;
use mooring_guest::testing::TestGuest;

fn guest() -> TestGuest {
    TestGuest::build(env!("CARGO_MANIFEST_DIR")).expect("the guest builds")
}

#[test]
fn a_plan_naming_a_missing_phase_fails_the_run() {
    let run = guest().run("tests/fixture", json!({})).unwrap();
    assert!(!run.succeeded, "{}", run.summary);
    assert!(
        run.summary.contains("phase deploy-workers is not in the bundle"),
        "{}",
        run.summary
    );
}

#[test]
fn prune_removes_the_entry_and_keeps_the_rest() {
    let run = guest().run("tests/fixture", json!({"prune": true})).unwrap();
    assert!(run.succeeded, "{}", run.summary);
    let plan: PhasePlan = airship::parse(run.get("PhasePlan", "deploy").unwrap()).unwrap();
    let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["deploy-controlplane"]);
    assert_eq!(run.documents.len(), 2);
}
