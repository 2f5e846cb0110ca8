//! `mooring run` over the example bundles.

use std::fs;

use crate::util::{example_bundle, run, snapshot};

const SITE: &str = "docker-test-site";
const CLUSTER_MAP: &str = "manifests/phases/cluster-map.yaml";
const CAPD_CLUSTER: &str = "manifests/function/k8scontrol-capd/cluster.yaml";

#[test]
fn run_prints_the_result_as_a_stream_and_a_summary_per_step() {
    let bundle = example_bundle(SITE);
    let before = snapshot(bundle.path());
    let ran = run(bundle.path(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "mark-cluster-map (set-metadata): 2 seen, 2 changed, 0 added, 0 removed, 1 result(s)"
        ),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("label-clusters (set-metadata): 1 seen, 1 changed"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stdout.contains("mooring.dev/provider: capd"),
        "{}",
        ran.stdout
    );
    // An unchanged document keeps its exact text, quotes included.
    assert!(
        ran.stdout
            .contains("kind: DockerCluster\nmetadata:\n  name: \"target-cluster\"\n")
    );
    assert_eq!(
        snapshot(bundle.path()),
        before,
        "stdout mode must not touch the bundle"
    );
}

#[test]
fn in_place_rewrites_only_what_changed_and_keeps_other_bytes() {
    let bundle = example_bundle(SITE);
    let before = snapshot(bundle.path());
    let ran = run(bundle.path(), &["--in-place"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let after = snapshot(bundle.path());
    let changed: Vec<String> = before
        .keys()
        .filter(|path| before[*path] != after[*path])
        .map(|path| path.display().to_string())
        .collect();
    assert_eq!(
        changed,
        [
            CAPD_CLUSTER,
            CLUSTER_MAP,
            "manifests/site/docker-test-site/phases/cluster_map_patch.yaml"
        ]
    );
    // Within a changed file, the untouched document is byte-for-byte the same.
    let cluster = fs::read_to_string(bundle.path().join(CAPD_CLUSTER)).unwrap();
    assert!(
        cluster.contains("airshipit.org/site: docker-test-site"),
        "{cluster}"
    );
    assert!(cluster.ends_with("---\napiVersion: infrastructure.cluster.x-k8s.io/v1alpha4\nkind: DockerCluster\nmetadata:\n  name: \"target-cluster\"\n"), "{cluster}");

    // Running again changes nothing: the labels are already there.
    let again = run(bundle.path(), &["--in-place"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("0 file(s) changed"),
        "{}",
        again.stderr
    );
    assert_eq!(snapshot(bundle.path()), after);
}

#[test]
fn output_writes_a_complete_bundle_and_refuses_a_non_empty_directory() {
    let bundle = example_bundle(SITE);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    let ran = run(bundle.path(), &["--output", target.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let written = snapshot(&target);
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        snapshot(bundle.path()).keys().collect::<Vec<_>>()
    );
    assert!(
        String::from_utf8_lossy(&written[std::path::Path::new(CLUSTER_MAP)])
            .contains("mooring.dev/provider: capd")
    );

    let again = run(bundle.path(), &["--output", target.to_str().unwrap()]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
}

#[test]
fn help_and_guests_describe_the_tool() {
    let help = crate::util::mooring().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in ["run", "fn", "guests", "Exit codes:", "--cache-dir"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let guests = crate::util::mooring().arg("guests").output().unwrap();
    let guests = String::from_utf8_lossy(&guests.stdout);
    assert!(guests.contains("mooring:step@0.1.0"), "{guests}");
    assert!(guests.contains("set-metadata"), "{guests}");
    assert!(guests.contains("timeout 10s, memory 256Mi"), "{guests}");
}
