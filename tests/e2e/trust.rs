//! The operator grants, the data only asks: a bundle, a pipeline file or a
//! ResourceList cannot give itself credentials, guests or limits; what a
//! granted step was handed stays with it; nothing a guest says carries a
//! secret or reaches the terminal as a control sequence.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::{
    Ran, example_bundle, fixture_guest, mooring, refused_with, run, run_with_stdin, says,
    write_pipeline,
};

const TOKEN: &str = "t0ken-of-the-target-cluster-0123456789";
const PASSWORD: &str = "hunter2";

/// A store holding a captured kubeconfig of `target-cluster`, with a
/// token and a short password.
fn store() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    let path = store.path().join("target-cluster.yaml");
    fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: target-cluster\n  cluster: {{server: 'https://10.0.0.1:6443'}}\ncontexts:\n- name: target-cluster\n  context: {{cluster: target-cluster, user: target-cluster-admin}}\nusers:\n- name: target-cluster-admin\n  user: {{token: {TOKEN}, password: {PASSWORD}}}\ncurrent-context: target-cluster\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    store
}

fn hostile(mode: &str, extra: &str) -> String {
    format!(
        "- name: hostile-{mode}\n  guest: {}\n  config: {{mode: {mode}}}\n{extra}",
        fixture_guest(mooring_test_guests::HOSTILE).display()
    )
}

fn never_shows(ran: &Ran, secrets: &[&str]) {
    for secret in secrets {
        for (what, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
            assert!(!text.contains(secret), "{secret} reached {what}:\n{text}");
        }
    }
}

/// `mooring run BUNDLE ARGS...` reading captured kubeconfigs from `store`.
fn run_with_store(bundle: &Path, store: &Path, args: &[&str]) -> Ran {
    mooring()
        .arg("run")
        .arg(bundle)
        .args(args)
        .env("MOORING_KUBECONFIG_STORE", store)
        .output()
        .unwrap()
        .into()
}

#[test]
fn a_resource_list_cannot_grant_itself_credentials_guests_or_limits() {
    let store = store();
    let list = |steps: &str| {
        format!(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: a}}\nfunctionConfig:\n  apiVersion: mooring.dev/v1alpha1\n  kind: Pipeline\n  metadata: {{name: evil}}\n  steps:\n{steps}"
        )
    };
    for (steps, needle) in [
        (
            "  - guest: inject-credentials\n    grants: {credentials: [target-cluster]}\n    config: {clusters: [target-cluster]}\n",
            "asks for the credentials of cluster `target-cluster`, which the operator has not approved",
        ),
        (
            "  - guest: x.wasm\n",
            "asks for guest file ./x.wasm, which the operator has not approved",
        ),
        (
            "  - guest: set-metadata\n    config: {labels: {a: b}}\n    limits: {timeout: 1000h, memory: 4Gi}\n",
            "asks for a timeout of 3600000s (the most approved is 10s)",
        ),
    ] {
        let ran = run_with_stdin(
            mooring()
                .arg("fn")
                .env("MOORING_KUBECONFIG_STORE", store.path()),
            &list(steps),
        );
        assert_eq!(ran.code, 1, "{}", ran.stderr);
        assert!(ran.stdout.contains(needle), "{}", ran.stdout);
        assert!(
            ran.stdout.contains("name: a"),
            "the items come back: {}",
            ran.stdout
        );
        never_shows(&ran, &[TOKEN, PASSWORD]);
    }
}

#[test]
fn a_bundles_own_pipeline_asks_and_the_operator_approves() {
    let store = store();
    let bundle = example_bundle("docker-test-site");
    let steps = "- guest: inject-credentials\n  grants: {credentials: [target-cluster]}\n  config: {clusters: [target-cluster]}\n";
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), steps);
    let ran = |extra: &[&str]| -> Ran {
        let mut args = vec!["--pipeline", pipeline.to_str().unwrap(), "--in-place"];
        args.extend_from_slice(extra);
        run_with_store(bundle.path(), store.path(), &args)
    };
    let refused = ran(&[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    says(
        &refused,
        "run with --allow-credentials target-cluster, or approve it in the policy file (credentials: [target-cluster])",
    );
    let approved = ran(&["--allow-credentials", "target-cluster"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    says(&approved, "merged the kubeconfigs of target-cluster");
    never_shows(&approved, &[TOKEN, PASSWORD]);
    let written = fs::read_to_string(bundle.path().join("kubeconfig/kubeconfig.yaml")).unwrap();
    assert!(
        written.contains(TOKEN),
        "the bundle holds the credential itself"
    );
}

#[test]
fn a_step_cannot_write_a_pipeline_for_the_next_run() {
    crate::util::refused(
        &hostile("write-pipeline", ""),
        1,
        &["a step may not write a mooring.dev/v1alpha1 Pipeline document"],
    );
}

#[test]
fn credentials_in_the_bundle_stay_with_the_steps_granted_them() {
    let store = store();
    let bundle = example_bundle("docker-test-site");
    let steps = format!(
        "- guest: inject-credentials\n  grants: {{credentials: [target-cluster]}}\n  config: {{clusters: [target-cluster]}}\n{}",
        hostile(
            "read-documents",
            "  selector: {apiVersion: airshipit.org/v1alpha1}\n"
        )
    );
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), &steps);
    let ran = run_with_store(
        bundle.path(),
        store.path(),
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--in-place",
            "--allow-credentials",
            "target-cluster",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    never_shows(&ran, &[TOKEN, PASSWORD]);
    // The ungranted step read markers, and the label it wrote with what it
    // read holds a marker too.
    says(&ran, "<redacted>:");
    let all: String = crate::util::snapshot(bundle.path())
        .iter()
        .filter(|(path, _)| !path.ends_with("kubeconfig.yaml"))
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    assert!(
        all.contains("leak: <redacted>:"),
        "the leaked label holds a marker"
    );
    assert!(!all.contains(TOKEN) && !all.contains(PASSWORD));
    let kubeconfig = bundle.path().join("kubeconfig/kubeconfig.yaml");
    assert!(fs::read_to_string(&kubeconfig).unwrap().contains(TOKEN));
    assert_eq!(
        fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn nothing_a_granted_step_says_carries_a_secret() {
    let store = store();
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &hostile(
            "leak-credentials",
            "  grants: {credentials: [target-cluster]}\n  selector: {kind: ClusterMap}\n",
        ),
    );
    let granted = |pipeline: &Path| {
        let pipeline = pipeline.to_str().unwrap();
        let args = [
            "--pipeline",
            pipeline,
            "--allow-credentials",
            "target-cluster",
        ];
        run_with_store(bundle.path(), store.path(), &args)
    };
    let ran = granted(&pipeline);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "[hostile-leak-credentials] info: split");
    says(&ran, "(field <redacted>)");
    never_shows(&ran, &[TOKEN, PASSWORD]);

    // Asking for a cluster named after a secret is denied, and the warning
    // that names the cluster does not repeat it.
    let named = write_pipeline(
        scratch.path(),
        &format!(
            "- name: ask\n  guest: {}\n  config: {{mode: leak-credentials, cluster: {TOKEN}}}\n  selector: {{kind: ClusterMap}}\n- name: granted\n  guest: inject-credentials\n  grants: {{credentials: [target-cluster]}}\n  config: {{clusters: [target-cluster]}}\n",
            fixture_guest(mooring_test_guests::HOSTILE).display()
        ),
    );
    let ran = granted(&named);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "asked for the credentials of cluster `<redacted>` without a grant",
    );
    never_shows(&ran, &[TOKEN, PASSWORD]);
}

#[test]
fn guest_text_cannot_drive_the_terminal() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &hostile("escape-sequences", "  selector: {kind: ClusterMap}\n"),
    );
    let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "]0;pwned");
    assert!(
        !ran.stderr.contains('\u{1b}') && !ran.stderr.contains('\u{7}'),
        "{:?}",
        ran.stderr
    );
}

#[test]
fn stdout_redacts_the_bundles_credentials_unless_asked() {
    let bundle = crate::util::repo().join("bundles/metal3-site");
    let kubeconfig = fs::read_to_string(bundle.join("kubeconfig/kubeconfig.yaml")).unwrap();
    let key = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .unwrap()
        .trim_matches('"');
    let shown = run(&bundle, &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stdout.contains(key), "the key reached stdout");
    assert!(
        shown.stdout.contains("client-key-data: <redacted>"),
        "{}",
        shown.stdout
    );
    let asked = run(&bundle, &["--show-secrets"]);
    assert!(asked.stdout.contains(key));
}

#[test]
fn a_guest_path_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.wasm")).unwrap();
    let approved = dir.path().to_str().unwrap();
    let not_regular = "is not a regular file; mooring reads only regular files here";
    for (name, approve, needle) in [
        ("fifo.wasm", vec![approved], not_regular),
        // A link out of the approved directory is not approved...
        (
            "zero.wasm",
            vec![approved],
            "which the operator has not approved",
        ),
        // ... and where it leads is still no regular file.
        ("zero.wasm", vec![approved, "/dev"], not_regular),
    ] {
        let bundle = example_bundle("docker-test-site");
        let mut args = Vec::new();
        for dir in approve {
            args.extend(["--allow-guests", dir]);
        }
        refused_with(
            bundle.path(),
            &format!("- guest: {}\n", dir.path().join(name).display()),
            &args,
            2,
            &[needle],
        );
    }
    assert!(Path::new(&fifo).exists());
}

/// Loading a compiled guest runs native code, so a cache someone else could
/// have written to is refused before anything is loaded from it.
#[test]
fn a_compile_cache_others_can_write_is_refused() {
    let bundle = example_bundle("docker-test-site");
    let before = crate::util::snapshot(bundle.path());
    let cache = tempfile::tempdir().unwrap();
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let ran: Ran = mooring()
        .env("MOORING_CACHE_DIR", cache.path())
        .arg("run")
        .arg(bundle.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "is writable by others (mode 777)");
    says(&ran, "chmod go-w");

    // A private directory holding an entry others can write is no better.
    // (Built-in guests load from the binary; a .wasm guest goes through
    // the cache.)
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o700)).unwrap();
    for entry in fs::read_dir(crate::util::cache_dir()).unwrap() {
        let entry = entry.unwrap().path();
        let copy = cache.path().join(entry.file_name().unwrap());
        fs::copy(&entry, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o622)).unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), &hostile("read-documents", ""));
    let ran: Ran = mooring()
        .env("MOORING_CACHE_DIR", cache.path())
        .arg("run")
        .arg(bundle.path())
        .arg("--pipeline")
        .arg(&pipeline)
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, ".cwasm is writable by others (mode 622)");
    crate::util::assert_untouched(&before, &crate::util::snapshot(bundle.path()));
}
