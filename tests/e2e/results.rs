//! `mooring run --results FILE`: every step's counts and results for CI,
//! written whether the run succeeds or not, the same on every run.

use std::fs;

use serde_json::Value;

use crate::util::{example_bundle, fixture_guest, hostile, mooring, run, write_pipeline};

const SITE: &str = "docker-test-site";

fn read_yaml(path: &std::path::Path) -> Value {
    serde_saphyr::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn results_name_each_step_its_counts_and_its_results_and_carry_no_timings() {
    let bundle = example_bundle(SITE);
    let out = tempfile::tempdir().unwrap();
    let (first, second) = (out.path().join("one.yaml"), out.path().join("two.json"));
    let ran = run(bundle.path(), &["-q", "--results", first.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let again = run(
        bundle.path(),
        &["-q", "--results", second.to_str().unwrap()],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);

    let list = read_yaml(&first);
    assert_eq!(list["kind"], "RunResultList");
    assert_eq!(list["exitCode"], 0);
    let filter = &list["items"][0];
    assert_eq!(filter["step"], "drop-other-providers");
    assert_eq!(filter["guest"], "provider-filter");
    assert_eq!(filter["selected"], 102);
    assert_eq!(filter["removed"], 12);
    assert_eq!(filter["bundle"], bundle.path().display().to_string());
    // A result about a document names it, its file and its place there.
    let removed = filter["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resourceRef"]["name"] == "hardwareclassification-profile1")
        .expect("a result about the removed profile");
    assert_eq!(removed["file"]["path"], "hwcc/profile1.yaml");
    assert_eq!(removed["file"]["index"], 0);
    assert!(!fs::read_to_string(&first).unwrap().contains(" ms"));

    // JSON for a .json file, and the same content: no clock in it.
    let json: Value = serde_json::from_str(&fs::read_to_string(&second).unwrap()).unwrap();
    assert_eq!(json, list);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&first).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "results are the operator's own");
}

#[test]
fn a_failed_run_still_writes_what_the_steps_before_it_did_and_why_it_failed() {
    let bundle = example_bundle(SITE);
    let steps = format!(
        "  - {{name: mark, guest: set-metadata, config: {{labels: {{a: b}}}}}}\n{}",
        hostile("panic")
            .replace("- ", "  - ")
            .replace("\n  ", "\n    ")
    );
    let pipeline = write_pipeline(bundle.path(), &steps);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("results.yaml");
    let guests = fixture_guest(mooring_test_guests::HOSTILE);
    let ran = run(
        bundle.path(),
        &[
            "-p",
            pipeline.to_str().unwrap(),
            "--results",
            file.to_str().unwrap(),
            "--allow-guests",
            guests.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let list = read_yaml(&file);
    assert_eq!(list["exitCode"], 1);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["step"], "mark");
    assert_eq!(
        items[0]["changed"], 98,
        "every Kubernetes object was labelled (not the 4 kustomizations)"
    );
    assert_eq!(items[1]["exitCode"], 1);
    assert_eq!(items[1]["results"][0]["severity"], "error");
    let message = items[1]["results"][0]["message"].as_str().unwrap();
    assert!(message.contains("hostile-panic"), "{message}");
}

#[test]
fn a_fleet_writes_one_list_with_every_bundle_in_order() {
    let (one, two) = (example_bundle(SITE), example_bundle("metal3-site"));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("fleet.json");
    let ran = mooring()
        .args(["run", "--diff", "-q", "--results", file.to_str().unwrap()])
        .arg(one.path())
        .arg(two.path())
        .output()
        .unwrap();
    assert_eq!(ran.status.code(), Some(3));
    let list: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    let bundles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["bundle"].as_str().unwrap())
        .collect();
    let (one, two) = (
        one.path().display().to_string(),
        two.path().display().to_string(),
    );
    let first_two = bundles.iter().position(|b| *b == two).unwrap();
    assert!(
        bundles[..first_two].iter().all(|b| *b == one),
        "{bundles:?}"
    );
    assert!(
        bundles[first_two..].iter().all(|b| *b == two),
        "{bundles:?}"
    );
    assert_eq!(
        list["exitCode"], 0,
        "a diff that finds changes is not a failure"
    );
}
