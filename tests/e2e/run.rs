//! `mooring run` over the example bundles: output modes and byte preservation.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::util::{example_bundle, run, says, snapshot};

const SITE: &str = "docker-test-site";

/// What the default pipeline does to the docker site, file by file.
const CHANGED: &[&str] = &[
    "kustomization.yaml",
    "phases/cluster-map.yaml",
    "phases/executors.yaml",
    "phases/phases.yaml",
    "phases/plan.yaml",
];
const REMOVED: &[&str] = &[
    "hwcc/kustomization.yaml",
    "hwcc/profile1.yaml",
    "hwcc/profile2.yaml",
    "hwcc/verify-phase.yaml",
];

fn paths(list: &[&str]) -> BTreeSet<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn run_prints_the_result_as_a_stream_and_a_summary_per_step() {
    let bundle = example_bundle(SITE);
    let before = snapshot(bundle.path());
    let ran = run(bundle.path(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "drop-other-providers (provider-filter): 102 seen, 2 changed, 0 added, 12 removed, 18 result(s)",
    );
    says(
        &ran,
        "mark-cluster-map (set-metadata): 1 seen, 1 changed, 0 added, 0 removed, 1 result(s)",
    );
    assert!(
        ran.stdout.contains("airshipit.org/site: docker-test-site"),
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

    let removed: BTreeSet<PathBuf> = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .cloned()
        .collect();
    assert_eq!(removed, paths(REMOVED));
    let changed: BTreeSet<PathBuf> = after
        .keys()
        .filter(|p| before[*p] != after[*p])
        .cloned()
        .collect();
    assert_eq!(changed, paths(CHANGED));

    // In a changed file every surviving, unchanged document keeps its bytes:
    // phases.yaml lost four phases, and every chunk left is an original one.
    let text = |files: &std::collections::BTreeMap<PathBuf, Vec<u8>>| {
        String::from_utf8(files[&PathBuf::from("phases/phases.yaml")].clone()).unwrap()
    };
    let original: Vec<String> = mooring_engine::yaml::split(&text(&before))
        .into_iter()
        .map(|c| c.text)
        .collect();
    let rewritten = mooring_engine::yaml::split(&text(&after));
    assert_eq!(rewritten.len(), original.len() - 4);
    assert!(rewritten.iter().all(|c| original.contains(&c.text)));

    // Running again changes nothing.
    let again = run(bundle.path(), &["--in-place"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    says(&again, "0 file(s) changed");
    assert_eq!(snapshot(bundle.path()), after);
}

#[test]
fn output_writes_a_complete_bundle_and_refuses_a_non_empty_directory() {
    let bundle = example_bundle(SITE);
    // A changed private file, a changed group-readable one, and an executable.
    let chmod = |file: &str, mode: u32| {
        fs::set_permissions(bundle.path().join(file), fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod("phases/cluster-map.yaml", 0o600);
    chmod("phases/executors.yaml", 0o640);
    chmod("LICENSE", 0o750);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    let ran = run(bundle.path(), &["--output-dir", target.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let written: BTreeSet<PathBuf> = snapshot(&target).into_keys().collect();
    let expected: BTreeSet<PathBuf> = snapshot(bundle.path())
        .into_keys()
        .filter(|p| !paths(REMOVED).contains(p))
        .collect();
    assert_eq!(
        written, expected,
        "every file but the removed ones, scripts and licence included"
    );
    // Modes follow the sources, changed or not, and are never widened.
    let mode = |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for file in [
        "phases/cluster-map.yaml",
        "phases/executors.yaml",
        "LICENSE",
    ] {
        assert_eq!(
            mode(&target.join(file)),
            mode(&bundle.path().join(file)),
            "{file}"
        );
    }
    let cluster_map = fs::read_to_string(target.join("phases/cluster-map.yaml")).unwrap();
    assert!(
        cluster_map.contains("airshipit.org/site: docker-test-site"),
        "{cluster_map}"
    );

    // Refused before any step runs: no step summary, exit 2.
    let again = run(bundle.path(), &["--output-dir", target.to_str().unwrap()]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    says(&again, "is not empty");
    assert!(!again.stderr.contains(" seen, "), "{}", again.stderr);
}

/// A copy inside the bundle would be read as part of it by the next run
/// (two Pipelines, every document twice); `-o` is a format to kubectl users
/// and names no directory.
#[test]
fn an_output_directory_inside_the_bundle_or_o_for_a_directory_is_refused() {
    let bundle = example_bundle(SITE);
    let before = snapshot(bundle.path());
    let inside = bundle.path().join("phases/../copy");
    let ran = run(bundle.path(), &["--output-dir", inside.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "is inside the bundle");
    assert!(!ran.stderr.contains(" seen, "), "{}", ran.stderr);
    // -o is the stdout format, as in kubectl: a directory name is refused.
    let ran = run(bundle.path(), &["-o", "out"]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "possible values: yaml, json");
    assert!(!bundle.path().join("out").exists() && !std::path::Path::new("out").exists());
    crate::util::assert_untouched(&before, &snapshot(bundle.path()));
}

/// When a step fails, what the steps before it did is still shown.
#[test]
fn when_a_step_fails_the_steps_before_it_are_summarized() {
    let steps = format!(
        "- name: first\n  guest: set-metadata\n  config: {{labels: {{a: b}}}}\n{}",
        crate::util::hostile("panic")
    );
    let out = crate::util::refused(&steps, 1, &["panicked"]);
    assert!(
        out.contains("first (set-metadata): 102 seen, 98 changed"),
        "{out}"
    );
}

#[test]
fn help_and_guests_describe_the_tool() {
    let help = crate::util::mooring().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "run",
        "fn",
        "guests",
        "kubeconfig",
        "new-guest",
        "inspect",
        "exit codes",
        "--cache-dir",
        "--kubeconfig-store",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let guests = crate::util::mooring().arg("guests").output().unwrap();
    let guests = String::from_utf8_lossy(&guests.stdout);
    assert!(guests.contains("mooring:step@0.2.0"), "{guests}");
    for guest in [
        "set-metadata",
        "provider-filter",
        "kubeconfig-rewrite",
        "inject-credentials",
    ] {
        assert!(guests.contains(guest), "{guests}");
    }
    assert!(guests.contains("timeout 10s, memory 256Mi"), "{guests}");
}

#[test]
fn every_built_in_guest_describes_its_configuration() {
    for guest in mooring_guests::ALL {
        let ran: crate::util::Ran = crate::util::mooring()
            .args(["guests", guest.name])
            .output()
            .unwrap()
            .into();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        for needle in [
            "Configuration (JSON Schema):",
            "\"additionalProperties\": false",
            "Example step:",
            &format!("guest: {}", guest.name),
        ] {
            assert!(
                ran.stdout.contains(needle),
                "{}: {needle} missing from:\n{}",
                guest.name,
                ran.stdout
            );
        }
        // The example is a step the guest takes.
        let example = ran.stdout.split("Example step:\n").nth(1).unwrap();
        let bundle = example_bundle(SITE);
        let scratch = tempfile::tempdir().unwrap();
        let pipeline = crate::util::write_pipeline(scratch.path(), example);
        let checked = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
        assert!(
            !checked.stderr.contains("invalid config"),
            "{}: {}",
            guest.name,
            checked.stderr
        );
    }
    let unknown = crate::util::mooring()
        .args(["guests", "no-such-guest"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn several_bundles_run_side_by_side_and_a_broken_one_is_named() {
    let sites: Vec<tempfile::TempDir> =
        (0..5).map(|_| example_bundle("docker-test-site")).collect();
    let broken = example_bundle("metal3-site");
    std::fs::write(broken.path().join("broken.yaml"), "a: [1,\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let ran: crate::util::Ran = crate::util::mooring()
        .arg("run")
        .args(sites.iter().map(|s| s.path()))
        .arg(broken.path())
        .arg("--output-dir")
        .arg(out.path())
        .arg("-q")
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    for site in &sites {
        let written = out.path().join(site.path().file_name().unwrap());
        assert!(
            written.join("phases/plan.yaml").is_file(),
            "{} missing",
            written.display()
        );
    }
    assert!(!out.path().join(broken.path().file_name().unwrap()).exists());
    says(
        &ran,
        &format!("mooring: error: {}: broken.yaml:", broken.path().display()),
    );
    says(&ran, "1 of 6 bundles failed");

    let without: crate::util::Ran = crate::util::mooring()
        .arg("run")
        .args(sites.iter().map(|s| s.path()))
        .output()
        .unwrap()
        .into();
    assert_eq!(without.code, 2);
    says(&without, "several bundles need --in-place");
}

#[test]
fn json_output_is_a_list_of_the_manifests_with_credentials_redacted() {
    let bundle = example_bundle("metal3-site");
    let ran = run(bundle.path(), &["-q", "-o", "json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let list: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    // Kustomizations (no kind) and the pipeline are not manifests.
    assert!(
        items
            .iter()
            .all(|i| i["kind"].is_string() && i["apiVersion"].is_string())
    );
    assert!(items.iter().all(|i| i["kind"] != "Pipeline"));
    let yaml = run(bundle.path(), &["-q"]);
    let manifests =
        yaml.stdout.matches("\nkind: ").count() + usize::from(yaml.stdout.starts_with("kind: "));
    assert_eq!(items.len(), manifests, "the manifests of the YAML stream");
    assert!(items.iter().all(|i| {
        let annotations = &i["metadata"]["annotations"];
        annotations["config.kubernetes.io/path"].is_string()
            && annotations["config.kubernetes.io/index"].is_string()
    }));
    let secret = items
        .iter()
        .find(|i| i["kind"] == "Secret")
        .expect("the site's CA Secret");
    assert!(
        secret["data"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == "<redacted>"),
        "{secret}"
    );
}

/// The stdout stream is what kpt and kubectl take: manifests only, each
/// saying where it lives, so `kpt fn sink` writes the bundle's own files.
#[test]
fn the_stream_on_stdout_is_a_krm_stream_kpt_fn_sink_writes_back() {
    let Some(kpt) = crate::util::tool("kpt") else {
        return;
    };
    let bundle = example_bundle(SITE);
    let ran = run(bundle.path(), &["-q"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        !ran.stdout.contains("\nresources:"),
        "a kustomization in the stream"
    );
    assert!(
        !ran.stdout.contains("kind: Pipeline"),
        "the pipeline in the stream"
    );
    let out = tempfile::tempdir().unwrap();
    let sink = out.path().join("sink");
    let sank = crate::util::run_with_stdin(
        std::process::Command::new(kpt)
            .args(["fn", "sink"])
            .arg(&sink),
        &ran.stdout,
    );
    assert_eq!(sank.code, 0, "{}", sank.stderr);
    // Every file of the --output-dir copy that holds manifests is there,
    // holding the same objects.
    let copy = out.path().join("copy");
    let written = run(
        bundle.path(),
        &["-q", "--output-dir", copy.to_str().unwrap()],
    );
    assert_eq!(written.code, 0, "{}", written.stderr);
    let names = |text: &str| -> Vec<String> {
        mooring_engine::yaml::split(text)
            .iter()
            .filter_map(|c| mooring_engine::yaml::read_object(&c.text))
            .filter(|o| o.get("kind").is_some())
            .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
            .collect()
    };
    let sunk = snapshot(&sink);
    assert!(!sunk.is_empty());
    for (path, bytes) in &sunk {
        let theirs = String::from_utf8(bytes.clone()).unwrap();
        let ours = fs::read_to_string(copy.join(path)).unwrap();
        assert_eq!(names(&theirs), names(&ours), "{}", path.display());
    }
    let with_all = run(bundle.path(), &["-q", "--all-documents"]);
    assert!(with_all.stdout.contains("kind: Pipeline"));
    assert!(
        with_all
            .stdout
            .contains("config.kubernetes.io/path: kustomization.yaml\n")
    );
}

/// On a terminal a fleet run shows a bar counting bundles (and failures);
/// piped, as here and in CI, stderr stays plain lines.
#[test]
fn a_fleet_shows_progress_on_a_terminal_and_plain_lines_otherwise() {
    let Some(script) = crate::util::tool("script") else {
        return;
    };
    let sites: Vec<tempfile::TempDir> = (0..3).map(|_| example_bundle(SITE)).collect();
    let broken = example_bundle(SITE);
    fs::write(broken.path().join("broken.yaml"), "a: [1,\n").unwrap();
    let mut command = vec![
        crate::util::binary().display().to_string(),
        "run".to_owned(),
    ];
    command.extend(
        sites
            .iter()
            .chain([&broken])
            .map(|s| s.path().display().to_string()),
    );
    command.extend(["--diff".to_owned(), "--cache-dir".to_owned()]);
    command.push(crate::util::cache_dir().display().to_string());
    // `script` gives the command a terminal and copies what it shows.
    let shown = std::process::Command::new(script)
        .args(["-qec", &command.join(" "), "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).replace('\r', "\n");
    assert!(shown.contains("4/4 bundles"), "{shown}");
    assert!(shown.contains("(1 failed)"), "{shown}");

    let piped = std::process::Command::new(&command[0])
        .args(&command[1..])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("/4 bundles") && !stderr.contains('\r'),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 4 bundles failed"), "{stderr}");
}

/// Both streams are what `kubectl apply -f -` takes: a client-side dry run
/// against the in-process API server, which lists every kind of the stream
/// in discovery and holds none of the objects, creates each manifest.
#[test]
fn kubectl_applies_the_yaml_and_the_json_stream_in_a_dry_run() {
    use crate::apiserver::{ApiServer, Auth};
    let Some(kubectl) = crate::util::tool("kubectl") else {
        return;
    };
    let bundle = example_bundle("metal3-site");
    let yaml = run(bundle.path(), &["-q"]);
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let server = ApiServer::start();
    let mut manifests = 0;
    for chunk in mooring_engine::yaml::split(&yaml.stdout) {
        if let Some(doc) = mooring_engine::yaml::read_object(&chunk.text) {
            let field = |key: &str| doc[key].as_str().unwrap().to_owned();
            server.serve_kind(&field("apiVersion"), &field("kind"));
            manifests += 1;
        }
    }
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    fs::write(&kubeconfig, server.kubeconfig("test", Auth::Token)).unwrap();
    let json = run(bundle.path(), &["-q", "-o", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    for stream in [&yaml.stdout, &json.stdout] {
        let applied = crate::util::run_with_stdin(
            std::process::Command::new(&kubectl)
                .args([
                    "apply",
                    "--dry-run=client",
                    "--validate=false",
                    "-f",
                    "-",
                    "--kubeconfig",
                ])
                .arg(&kubeconfig),
            stream,
        );
        assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
        assert_eq!(
            applied.stdout.matches("created (dry run)").count(),
            manifests,
            "{}",
            applied.stdout
        );
    }
}

/// A result that would no longer build with kustomize is not written. A
/// step removes the only document of `a.yaml`, which the kustomization
/// still lists (only provider-filter prunes kustomization entries) and a
/// patch still targets. The site built before; after the refused run it is
/// as it was, and the error quotes kustomize. The docker site's in-place
/// runs, whose provider-filter removes files and prunes every entry naming
/// them, pass the same check (`provider_filter.rs`).
#[test]
fn a_result_that_would_not_build_is_not_written() {
    use crate::util::{fixture_guest, kustomize_build, write_pipeline};
    let site = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| fs::write(site.path().join(name), text).unwrap();
    file(
        "kustomization.yaml",
        "resources:\n- a.yaml\n- b.yaml\npatchesStrategicMerge:\n- patch.yaml\n",
    );
    file(
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n",
    );
    file(
        "b.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
    );
    file(
        "patch.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: patched\n",
    );
    if kustomize_build(site.path()).is_none() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &format!(
            "- name: remove-a\n  guest: {}\n  selector: {{kind: ConfigMap, name: a}}\n  config: {{mode: remove-first}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
    );
    let before = snapshot(site.path());
    let ran = run(
        site.path(),
        &["--pipeline", pipeline.to_str().unwrap(), "--in-place"],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(
        &ran,
        &format!(
            "the result would not build: `kubectl kustomize` fails on {} once written",
            site.path().display()
        ),
    );
    says(&ran, "a.yaml");
    says(&ran, "nothing was written");
    assert_eq!(before, snapshot(site.path()));

    // The operator may skip the check: then the broken result is written.
    let ran = run(
        site.path(),
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--in-place",
            "--no-build-check",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!site.path().join("a.yaml").exists());
}
