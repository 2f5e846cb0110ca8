//! Every kind of bad input: one clear message naming the file or step, a
//! non-zero exit, and a bundle left byte-for-byte untouched.

use std::fs;

use crate::util::{
    example_bundle, fixture_guest, hostile, refused, refused_in, run, write_pipeline,
};

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let bundle = example_bundle("docker-test-site");
    fs::write(
        bundle.path().join("broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\ndata: [1,\n",
    )
    .unwrap();
    let stderr = refused_in(
        bundle.path(),
        "- guest: set-metadata\n  config: {labels: {a: b}}\n",
        2,
        &["broken.yaml:"],
    );
    assert!(
        stderr.contains("broken.yaml:3:") || stderr.contains("broken.yaml:4:"),
        "{stderr}"
    );
}

#[test]
fn a_missing_wasm_file_is_named() {
    crate::util::refused_allowing(
        std::path::Path::new("/nonexistent"),
        "- guest: /nonexistent/step.wasm\n",
        2,
        &[
            "step `step` asks for guest file /nonexistent/step.wasm, which the operator has not approved",
        ],
    );
    let scratch = tempfile::tempdir().unwrap();
    crate::util::refused_allowing(
        scratch.path(),
        &format!("- guest: {}/step.wasm\n", scratch.path().display()),
        2,
        &["failed to read guest file", "step.wasm"],
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    crate::util::refused_allowing(
        dir.path(),
        &format!("- guest: {}\n", core.display()),
        2,
        &[
            "is a core WebAssembly module, not a component",
            "wasm32-wasip2",
        ],
    );
}

#[test]
fn a_file_that_is_not_wasm_or_is_truncated_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.wasm");
    fs::write(&text, "not wasm at all").unwrap();
    crate::util::refused_allowing(
        dir.path(),
        &format!("- guest: {}\n", text.display()),
        2,
        &["is not a WebAssembly file"],
    );

    let component = fs::read(fixture_guest(mooring_test_guests::HOSTILE)).unwrap();
    let truncated = dir.path().join("truncated.wasm");
    fs::write(&truncated, &component[..component.len() / 2]).unwrap();
    crate::util::refused_allowing(
        dir.path(),
        &format!("- guest: {}\n", truncated.display()),
        2,
        &["failed to compile guest", "truncated.wasm"],
    );
}

#[test]
fn a_wrong_sha256_pin_is_refused_before_anything_runs() {
    let wrong = "0".repeat(64);
    let guest = fixture_guest(mooring_test_guests::HOSTILE);
    refused(
        &format!("- guest: {}\n  sha256: {wrong}\n", guest.display()),
        2,
        &["but the pipeline pins", &wrong, "refusing to run it"],
    );
}

#[test]
fn a_matching_sha256_pin_runs() {
    let guest = fixture_guest(mooring_test_guests::HOSTILE);
    let digest = mooring_engine::digest::sha256_hex(&fs::read(&guest).unwrap());
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &format!("- guest: {}\n  sha256: {digest}\n", guest.display()),
    );
    let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn an_unknown_builtin_lists_the_ones_that_exist() {
    refused(
        "- guest: no-such-guest\n",
        2,
        &["no built-in guest named `no-such-guest`", "set-metadata"],
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    refused(
        &hostile("panic"),
        1,
        &["step `hostile-panic`", "panicked:", "boom from guest"],
    );
}

#[test]
fn an_infinite_loop_hits_the_time_limit() {
    refused(
        &hostile("loop"),
        1,
        &["step `hostile-loop`", "exceeded its time limit of 1s"],
    );
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    refused(
        &hostile("alloc"),
        1,
        &["step `hostile-alloc`", "exceeded its memory limit of 64Mi"],
    );
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    refused(
        &hostile("recurse"),
        1,
        &["step `hostile-recurse`", "trapped:"],
    );
}

#[test]
fn a_guest_refusal_is_reported_as_its_own_words() {
    refused(
        &hostile("refuse"),
        1,
        &["the guest reported: refusing on purpose"],
    );
}

#[test]
fn edits_the_host_cannot_apply_are_refused() {
    for (mode, needle) in [
        (
            "bad-index",
            "patch 0: there is no document 999999; the step has 102",
        ),
        (
            "bad-pointer",
            "pointer \"no-slash\" must be empty or start with `/`",
        ),
        ("not-json", "patch 0: not a JSON value"),
        ("not-object", "a document must be a JSON object"),
        ("escape-path", "path \"../outside.yaml\" must be relative"),
        // The first patch of the batch went in: the step fails although
        // the guest ignored the refusal and returned.
        (
            "through-scalar",
            "/through/x is a scalar; /through/x/y cannot go through it",
        ),
    ] {
        refused(&hostile(mode), 1, &["step `hostile-", needle]);
    }
}

#[test]
fn a_refusal_the_guest_ignores_changes_nothing() {
    let bundle = example_bundle("docker-test-site");
    let before = crate::util::snapshot(bundle.path());
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), &hostile("ignore-refusal"));
    let ran = run(
        bundle.path(),
        &["--in-place", "--pipeline", pipeline.to_str().unwrap()],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    crate::util::says(&ran, "0 changed, 0 added, 0 removed");
    crate::util::assert_untouched(&before, &crate::util::snapshot(bundle.path()));
}

#[test]
fn an_error_result_fails_the_run_and_writes_nothing() {
    let stderr = refused(
        &hostile("error-result"),
        1,
        &["policy violated", "1 error result(s); nothing was written"],
    );
    assert!(stderr.contains("(field /metadata/name)"), "{stderr}");
}

#[test]
fn a_typo_in_the_pipeline_names_the_field() {
    refused(
        "- guest: set-metadata\n  confg: {}\n",
        2,
        &["pipeline.yaml:", "confg"],
    );
}

#[test]
fn a_guest_config_its_guest_does_not_take_is_refused_at_its_line_before_anything_runs() {
    let stderr = refused(
        "- guest: set-metadata\n  config:\n    lables: {team: infra}\n",
        2,
        &[
            "pipeline.yaml:8:5: invalid config: unknown field `lables`, expected `labels` or `annotations`",
        ],
    );
    assert!(!stderr.contains("seen"), "no step ran:\n{stderr}");
    refused(
        "- guest: set-metadata\n  config:\n    labels: {enabled: y}\n",
        2,
        &[
            "invalid type: boolean `true`, expected a string",
            "quote the value",
        ],
    );
}
