//! The adversarial suite: hostile guests, hostile input, concurrent runs
//! and crashes. Each case fails within its limit, says what and where, and
//! leaves the bundle byte for byte as it was. `docs/security.md` tabulates
//! the cases; the time each took to stop is printed (`--nocapture`), never
//! asserted.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{
    Ran, binary, example_bundle, fixture_guest, hostile, mooring, refused, refused_in, run, says,
    snapshot, write_pipeline,
};

const LABEL: &str = "- guest: set-metadata\n  config: {labels: {a: b}}\n";

#[test]
fn a_gigabyte_of_added_documents_is_refused_at_the_steps_memory_limit() {
    refused(
        &hostile("huge-output"),
        1,
        &[
            "step `hostile-huge-output`",
            "sent more than 64Mi of new document content (its memory limit)",
        ],
    );
}

#[test]
fn a_corrupted_component_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let mut bytes = fs::read(fixture_guest(mooring_test_guests::HOSTILE)).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0xa5;
    }
    let corrupt = scratch.path().join("corrupt.wasm");
    fs::write(&corrupt, bytes).unwrap();
    crate::util::refused_allowing(
        scratch.path(),
        &format!("- guest: {}\n", corrupt.display()),
        2,
        &["failed to compile guest", "corrupt.wasm"],
    );
}

/// Writes `name` with `text` into a copy of the example bundle and checks
/// the run refuses it with `needles`, touching nothing.
fn hostile_file(name: &str, text: &[u8], needles: &[&str]) -> String {
    let bundle = example_bundle("docker-test-site");
    fs::write(bundle.path().join(name), text).unwrap();
    refused_in(bundle.path(), LABEL, 2, needles)
}

#[test]
fn a_billion_laughs_alias_bomb_is_refused_by_the_node_budget() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..=9 {
        let previous = format!("*a{}", level - 1);
        text.push_str(&format!(
            "a{level}: &a{level} [{}]\n",
            vec![previous; 10].join(", ")
        ));
    }
    hostile_file(
        "bomb.yaml",
        text.as_bytes(),
        &[
            "bomb.yaml:",
            "budget",
            "hint: the document expands to too many nodes",
        ],
    );
}

/// Small bombs, each within a document's budget, add up across files: the
/// whole bundle has the same budget of one node per byte (plus slack).
#[test]
fn many_small_alias_bombs_are_refused_by_the_bundle_budget() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..=4 {
        let previous = format!("*a{}", level - 1);
        text.push_str(&format!(
            "a{level}: &a{level} [{}]\n",
            vec![previous; 10].join(", ")
        ));
    }
    let bundle = example_bundle("docker-test-site");
    for n in 0..4 {
        fs::write(bundle.path().join(format!("bomb-{n}.yaml")), &text).unwrap();
    }
    refused_in(
        bundle.path(),
        LABEL,
        2,
        &[
            "by this file the bundle expands to",
            "YAML nodes from",
            "an alias bomb?",
        ],
    );
}

#[test]
fn deep_nesting_is_refused_by_the_depth_limit() {
    let depth = 10_000;
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    hostile_file(
        "deep.yaml",
        text.as_bytes(),
        &["deep.yaml:3:", "hint: the document nests deeper than"],
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let mut text = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  big: ".to_vec();
    text.resize(65 * 1024 * 1024, b'x');
    text.push(b'\n');
    hostile_file(
        "big.yaml",
        &text,
        &[
            "big.yaml",
            "is 65.0 MiB; mooring reads YAML files of at most 64 MiB",
        ],
    );
}

#[test]
fn a_long_line_within_the_limits_loads() {
    // One 8 MiB line: within every limit, so it is read, not refused.
    let bundle = example_bundle("docker-test-site");
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: long}}\ndata: {{line: {}}}\n",
        "y".repeat(8 << 20)
    );
    fs::write(bundle.path().join("long.yaml"), text).unwrap();
    let ran = run(bundle.path(), &["-q"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn duplicate_keys_are_refused_with_their_line() {
    hostile_file(
        "dup.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
        &[
            "dup.yaml:5:",
            "duplicate mapping key",
            "hint: a key may appear only once",
        ],
    );
}

#[test]
fn tabs_for_indentation_are_refused_with_a_hint() {
    hostile_file(
        "tabs.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n",
        &[
            "tabs.yaml:4:",
            "hint: YAML indentation must use spaces, not tabs",
        ],
    );
}

#[test]
fn non_utf8_bytes_are_refused_with_their_position() {
    hostile_file(
        "latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
        &["latin1.yaml:3:21: the file is not valid UTF-8"],
    );
}

#[test]
fn a_broken_kubeconfig_is_refused_by_position_without_its_lines() {
    let stderr = hostile_file(
        "kubeconfig.yaml",
        b"apiVersion: airshipit.org/v1alpha1\nkind: KubeConfig\nmetadata: {name: default}\nconfig:\n  users:\n  - name: admin\n    user: {token: planted-secret-4711\n",
        &["kubeconfig.yaml:"],
    );
    assert!(!stderr.contains("planted-secret-4711"), "{stderr}");
}

#[test]
fn a_document_that_is_not_a_mapping_is_refused() {
    hostile_file(
        "list.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n- just\n- a list\n",
        &["list.yaml:5:1: this document is a sequence, not a mapping"],
    );
}

#[test]
fn document_marker_edge_cases_and_empty_files_load() {
    let bundle = example_bundle("docker-test-site");
    let cases: &[(&str, &str)] = &[
        ("empty.yaml", ""),
        ("only-markers.yaml", "---\n---\n...\n"),
        (
            "comment-marker.yaml",
            "--- # first\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: m1}\n...\n",
        ),
        (
            "inline.yaml",
            "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: m2}}\n",
        ),
        (
            "no-newline.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m3}",
        ),
        (
            "crlf.yaml",
            "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: m4}\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: m5}\r\n",
        ),
    ];
    for (name, text) in cases {
        fs::write(bundle.path().join(name), text).unwrap();
    }
    let before = snapshot(bundle.path());
    let ran = run(bundle.path(), &["-q"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for name in ["m1", "m2", "m3", "m4", "m5"] {
        assert!(
            ran.stdout
                .contains(&format!("{{name: {name}, annotations: ")),
            "{name} missing"
        );
    }
    // Unchanged documents keep their bytes, CRLF included.
    let ran = run(bundle.path(), &["--in-place", "-q"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let after = snapshot(bundle.path());
    for (name, _) in cases {
        assert_eq!(
            after[Path::new(name)],
            before[Path::new(name)],
            "{name} was rewritten"
        );
    }
}

#[test]
fn the_default_pipeline_gives_the_same_bytes_every_run() {
    for site in ["metal3-site", "docker-test-site"] {
        let bundle = example_bundle(site);
        let outputs: Vec<_> = (0..2)
            .map(|i| {
                let out = bundle.path().with_extension(format!("out{i}"));
                let ran = run(
                    bundle.path(),
                    &["-q", "--output-dir", out.to_str().unwrap()],
                );
                assert_eq!(ran.code, 0, "{}", ran.stderr);
                let stream = run(bundle.path(), &["-q"]);
                (snapshot(&out), stream.stdout)
            })
            .collect();
        assert_eq!(outputs[0], outputs[1], "{site} differs between runs");
    }
}

#[test]
fn two_in_place_runs_on_one_bundle_take_turns() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    // The first run holds the lock while its guest spins for a while.
    fs::create_dir(scratch.path().join("slow")).unwrap();
    fs::create_dir(scratch.path().join("fast")).unwrap();
    let slow = write_pipeline(
        &scratch.path().join("slow"),
        &format!(
            "- guest: set-metadata\n  selector: {{kind: ClusterMap}}\n  config: {{labels: {{first: one}}}}\n\
             - guest: {}\n  selector: {{kind: ClusterMap}}\n  config: {{mode: loop}}\n  limits: {{timeout: 2s}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
    );
    let fast = write_pipeline(
        &scratch.path().join("fast"),
        "- guest: set-metadata\n  selector: {kind: ClusterMap}\n  config: {labels: {second: two}}\n",
    );
    let spawn = |pipeline: &Path| {
        mooring()
            .arg("run")
            .arg(bundle.path())
            .arg("--in-place")
            .arg("--pipeline")
            .arg(pipeline)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn(&slow);
    std::thread::sleep(Duration::from_millis(500));
    let second = spawn(&fast);
    let first: Ran = first.wait_with_output().unwrap().into();
    let second: Ran = second.wait_with_output().unwrap().into();
    assert_eq!(first.code, 1, "the first times out: {}", first.stderr);
    assert_eq!(second.code, 0, "{}", second.stderr);
    says(&second, "waiting for another `mooring run --in-place`");
    let map = fs::read_to_string(bundle.path().join("phases/cluster-map.yaml")).unwrap();
    assert!(
        map.contains("second: two") && !map.contains("first: one"),
        "{map}"
    );
}

/// A bundle of many files, so that the write phase takes long enough to be
/// interrupted.
fn many_files(dir: &Path, count: usize) {
    for i in 0..count {
        fs::write(
            dir.join(format!("cm-{i:04}.yaml")),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  n: \"{i}\"\n"
            ),
        )
        .unwrap();
    }
}

fn in_place(bundle: &Path, pipeline: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .env("MOORING_CACHE_DIR", crate::util::cache_dir())
        .arg("run")
        .arg(bundle)
        .args(["--in-place", "-q", "--pipeline"])
        .arg(pipeline)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[test]
fn sigkill_during_the_write_leaves_every_file_old_or_new() {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  config: {labels: {rewritten: \"yes\"}}\n",
    );
    // Writing 1,500 files (each flushed) takes most of a run: kills spread
    // over it land while files are staged or renamed.
    let mut staged_when_killed = 0;
    for delay_ms in [100, 200, 300, 400, 500, 600, 800, 1000] {
        let bundle = tempfile::tempdir().unwrap();
        many_files(bundle.path(), 1500);
        let old = snapshot(bundle.path());
        let mut child = in_place(bundle.path(), &pipeline).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        for (path, bytes) in &snapshot(bundle.path()) {
            let name = path.to_string_lossy();
            if name.starts_with(".mooring-") {
                staged_when_killed += 1;
                continue;
            }
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                *bytes == old[path]
                    || (text.contains("rewritten: \"yes\"") && text.ends_with('\n')),
                "{name} is neither old nor new:\n{text}"
            );
        }
        // The next run finishes the job and sweeps what the killed one staged.
        assert!(
            in_place(bundle.path(), &pipeline)
                .status()
                .unwrap()
                .success()
        );
        assert_eq!(
            snapshot(bundle.path()).len(),
            old.len(),
            "staged files were left behind"
        );
    }
    eprintln!("{staged_when_killed} staged files were found after the kills, none half-written");
}

#[test]
fn a_read_only_output_fails_cleanly() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let locked = scratch.path().join("ro");
    fs::create_dir(&locked).unwrap();
    let mut permissions = fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
    fs::set_permissions(&locked, permissions).unwrap();
    // root writes through permissions; sysfs is read-only even for root.
    let parent = if fs::write(locked.join("probe"), "x").is_err() {
        locked
    } else if fs::create_dir(Path::new("/sys/mooring-probe")).is_err() {
        Path::new("/sys").to_owned()
    } else {
        eprintln!("SKIPPED: no read-only directory to write into");
        return;
    };
    let before = snapshot(bundle.path());
    let out = parent.join("mooring-out");
    let ran = run(
        bundle.path(),
        &["-q", "--output-dir", out.to_str().unwrap()],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(
        &ran,
        &format!(
            "failed to create a staging directory in {}",
            parent.display()
        ),
    );
    assert!(!out.exists());
    crate::util::assert_untouched(&before, &snapshot(bundle.path()));
}

#[test]
fn a_resource_list_over_the_size_limit_is_refused_unread() {
    let huge = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n# {}\n",
        "x".repeat(65 << 20)
    );
    let ran = crate::util::run_with_stdin(mooring().arg("fn"), &huge);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "the ResourceList on stdin is over 64 MiB");
}

#[test]
fn a_fifo_in_the_bundle_is_refused_instead_of_read_forever() {
    let bundle = example_bundle("docker-test-site");
    let made = Command::new("mkfifo")
        .arg(bundle.path().join("phases/pipe.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    refused_in(
        bundle.path(),
        LABEL,
        2,
        &["phases/pipe.yaml is not a regular file, directory or link (a FIFO, socket or device)"],
    );
}
