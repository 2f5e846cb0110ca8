//! What a guest can reach: nothing the pipeline did not grant.

use crate::util::{example_bundle, fixture_guest, run, write_pipeline};

fn probe() -> String {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &format!(
            "- guest: {}\n  config: {{mode: probe-world}}\n  selector: {{kind: ClusterMap}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
    );
    let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    ran.stderr
}

#[test]
fn a_guest_sees_no_files_environment_clock_network_or_entropy() {
    let first = probe();
    assert!(first.contains("read: Err(NotFound)"), "{first}");
    assert!(first.contains("env: 0"), "{first}");
    assert!(
        first.contains("clock: SystemTime { tv_sec: 0, tv_nsec: 0 }"),
        "{first}"
    );
    assert!(first.contains("connect: Err("), "{first}");
    // std seeds its HashMap from WASI random: the seed is the same every run.
    let hash = |s: &str| s.lines().find(|l| l.contains("hash:")).map(str::to_owned);
    assert!(hash(&first).is_some(), "{first}");
    assert_eq!(hash(&first), hash(&probe()));
}

#[test]
fn floods_of_logs_and_output_are_bounded_and_do_not_fail_the_step() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let steps = ["log-flood", "print-flood"]
        .map(|mode| {
            format!(
                "- guest: {}\n  name: {mode}\n  config: {{mode: {mode}}}\n",
                fixture_guest(mooring_test_guests::HOSTILE).display()
            )
        })
        .concat();
    let pipeline = write_pipeline(scratch.path(), &steps);
    let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("[log-flood] info: line 999"),
        "{}",
        &ran.stderr[..2000.min(ran.stderr.len())]
    );
    assert!(!ran.stderr.contains("line 1000\n"));
    assert!(ran.stderr.contains("(4000 more log lines dropped)"));
    assert!(
        !ran.stderr.contains("stdout line"),
        "guest output is shown only on failure"
    );
}
