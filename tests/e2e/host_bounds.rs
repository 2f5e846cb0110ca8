//! A guest drives the host no further than its own limits: whatever a step
//! returns, logs or asks, the host's memory stays under
//! [`HOST_RSS_BOUND`](crate::util::HOST_RSS_BOUND) and nothing it sends
//! can panic the host. Each test states the bound and reports the time and
//! peak RSS it took (docs/security.md tabulates them).

use std::fs;
use std::path::Path;

use crate::util::{
    HOST_RSS_BOUND, Ran, example_bundle, fixture_guest, measured, mooring, refused, says,
    write_pipeline,
};

/// Runs the hostile guest in `mode` with `extra` config over `bundle`,
/// limited to 1 s and 64 MiB, and checks the host stayed bounded.
fn hostile_run_over(bundle: &Path, mode: &str, extra: &str) -> Ran {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &format!(
            "- name: hostile-{mode}\n  guest: {}\n  config: {{mode: {mode}{extra}}}\n  limits: {{timeout: 1s, memory: 64Mi}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
    );
    let (ran, usage) = measured(
        mooring()
            .arg("run")
            .arg(bundle)
            .arg("--pipeline")
            .arg(&pipeline)
            .arg("--output-dir")
            .arg(scratch.path().join("out")),
    );
    usage.contained(HOST_RSS_BOUND);
    ran
}

/// [`hostile_run_over`] the example bundle.
fn hostile_run(mode: &str, extra: &str) -> Ran {
    hostile_run_over(example_bundle("docker-test-site").path(), mode, extra)
}

#[test]
fn half_a_million_results_naming_a_document_are_capped_without_copies() {
    let ran = hostile_run("many-references", ", count: 500000");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "reported 500000 results; only the first 10000 are kept",
    );
}

#[test]
fn a_document_nested_a_million_deep_is_refused() {
    refused(
        &crate::util::hostile("deep-output"),
        1,
        &["step `hostile-deep-output`", "recursion limit exceeded"],
    );
}

/// Editing a syntax tree in place costs the collection's length per new
/// entry: twenty thousand labels added to a flow mapping took minutes
/// before the edit budget, and are now written with the whole document.
#[test]
fn twenty_thousand_new_labels_in_one_mapping_are_written_in_linear_time() {
    let bundle = tempfile::tempdir().unwrap();
    fs::write(
        bundle.path().join("a.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {x: z}\n",
    )
    .unwrap();
    let ran = hostile_run_over(bundle.path(), "many-edits", ", count: 20000");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "the document is written whole");
}

#[test]
fn edits_that_would_cost_the_host_more_than_the_limit_are_refused() {
    let ran = hostile_run("many-edits", ", count: 400000");
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "the step sent more than 64Mi of new document content");
}

/// Nine megabytes of `[],` parse to three million values: charged by the
/// values, the step is refused before the host parses them.
#[test]
fn a_little_text_that_parses_to_many_values_is_refused_before_parsing() {
    let ran = hostile_run("wide-output", ", count: 3000000");
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "the step sent more than 64Mi of new document content");
}

#[test]
fn log_lines_with_megabytes_of_fields_keep_to_the_log_bound() {
    let ran = hostile_run("fat-log", "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "(100 more log lines dropped)");
    assert!(
        ran.stderr.len() < 2 * 1000 * 4096,
        "{} bytes of log reached stderr",
        ran.stderr.len()
    );
}

#[test]
fn a_guest_that_prints_the_panic_words_and_aborts_is_a_failed_step() {
    refused(
        &crate::util::hostile("panicked-at"),
        1,
        &["step `hostile-panicked-at`", "panicked"],
    );
}

/// Annotations that are a string and labels that are a list are refused,
/// in the answer of `mooring fn` as in a run: the items come back as they
/// were sent, with a result saying which field of which item.
#[test]
fn metadata_of_the_wrong_shape_is_refused_with_the_items_unchanged() {
    let list = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    annotations: {{config.kubernetes.io/index: '0', internal.config.kubernetes.io/path: a.yaml}}\nfunctionConfig:\n  apiVersion: mooring.dev/v1alpha1\n  kind: Pipeline\n  metadata: {{name: p}}\n  steps:\n  - guest: {}\n    config: {{mode: bad-metadata}}\n",
        fixture_guest(mooring_test_guests::HOSTILE).display()
    );
    let ran = crate::util::run_with_stdin(mooring().arg("fn"), &list);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stdout.starts_with(list.trim_end()),
        "the items must come back as sent:\n{}",
        ran.stdout
    );
    for needle in [
        "severity: error",
        "it left ConfigMap/a",
        "metadata.labels a list, not a map of strings",
    ] {
        assert!(
            ran.stdout.contains(needle),
            "{needle:?} in:\n{}",
            ran.stdout
        );
    }
    refused(
        &crate::util::hostile("bad-metadata"),
        1,
        &[
            "step `hostile-bad-metadata`",
            "not a map of strings; Kubernetes and kustomize refuse that",
        ],
    );
}
