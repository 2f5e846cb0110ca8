//! The kubeconfig lifecycle against a real HTTPS API server: capture a
//! cluster's kubeconfig from its Cluster API Secret with the real kube
//! client, persist it, resolve it when the parent is gone, merge it, and
//! read the result with the real kubectl.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apiserver::{ApiServer, Auth};
use crate::util::{
    Ran, example_bundle, kustomize_build, mooring, repo, run_with_stdin, says, tool,
};

pub(crate) const SECRET_NS: &str = "target-infra";
pub(crate) const SECRET: &str = "target-cluster-kubeconfig";

/// The docker site, with a kind-style `~/.airship/kubeconfig` that reaches
/// the ephemeral cluster (our server) and an empty store.
pub(crate) struct Site {
    pub(crate) bundle: tempfile::TempDir,
    pub(crate) home: tempfile::TempDir,
}

impl Site {
    pub(crate) fn new(server: &ApiServer, auth: Auth) -> Self {
        let site = Site {
            bundle: example_bundle("docker-test-site"),
            home: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(site.home.path().join(".airship")).unwrap();
        fs::write(
            site.home.path().join(".airship/kubeconfig"),
            server.kubeconfig("ephemeral-cluster", auth),
        )
        .unwrap();
        site
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.home.path().join("store")
    }

    pub(crate) fn kubeconfig(&self, args: &[&str]) -> Ran {
        self.command(args).output().unwrap().into()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = mooring();
        command
            .arg("kubeconfig")
            .args(args)
            .arg("--bundle")
            .arg(self.bundle.path())
            .env("HOME", self.home.path())
            .env("MOORING_KUBECONFIG_STORE", self.store());
        command
    }
}

/// A server whose target cluster's Cluster API Secret appears only after
/// `polls` looks, and the site whose ephemeral cluster it is.
fn serving_after(polls: u32) -> (ApiServer, Site) {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let kubeconfig = server.capi_kubeconfig("target-cluster", Auth::Token);
    server.put_secret_after(SECRET_NS, SECRET, &kubeconfig, polls);
    (server, site)
}

/// A server holding the target cluster's Cluster API Secret, and the site
/// whose ephemeral cluster it is.
pub(crate) fn serving(auth: Auth) -> (ApiServer, Site) {
    let server = ApiServer::start();
    let site = Site::new(&server, auth);
    let kubeconfig = server.capi_kubeconfig("target-cluster", auth);
    server.put_secret(SECRET_NS, SECRET, &kubeconfig);
    (server, site)
}

pub(crate) fn stored(site: &Site, cluster: &str) -> (String, u32) {
    let path = site.store().join(format!("{cluster}.yaml"));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    (fs::read_to_string(path).unwrap(), mode)
}

#[test]
fn capture_waits_for_the_secret_and_persists_it_renamed_and_private() {
    let (server, site) = serving_after(3);
    let ran = site.kubeconfig(&["capture", "target-cluster", "--interval", "100ms"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(server.gets(SECRET_NS, SECRET), 4);
    says(
        &ran,
        "target-cluster: waiting for Secret target-infra/target-cluster-kubeconfig: not there yet (poll 1,",
    );
    says(&ran, "(poll 3,");
    says(
        &ran,
        "captured from clusterAPI Secret target-infra/target-cluster-kubeconfig",
    );
    assert!(
        !ran.stderr.contains(&server.token),
        "a token reached stderr"
    );
    let (text, mode) = stored(&site, "target-cluster");
    assert_eq!(mode, 0o600);
    // Cluster API's `target-cluster-admin@target-cluster` became the site's names.
    assert!(text.contains("name: target-cluster\n"), "{text}");
    assert!(text.contains("name: target-cluster-admin\n"), "{text}");
    assert!(!text.contains("@target-cluster"), "{text}");
    let store_mode = fs::metadata(site.store()).unwrap().permissions().mode() & 0o777;
    assert_eq!(store_mode, 0o700);
}

#[test]
fn a_secret_that_never_appears_times_out_naming_cluster_server_and_secret() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let ran = site.kubeconfig(&[
        "capture",
        "target-cluster",
        "--timeout",
        "1s",
        "--interval",
        "200ms",
    ]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let expected = format!(
        "Secret target-infra/target-cluster-kubeconfig did not appear on cluster `ephemeral-cluster` ({}) within 1s",
        server.url
    );
    says(&ran, &expected);
    assert!(!site.store().join("target-cluster.yaml").exists());
}

#[test]
fn wrong_credentials_fail_at_once_with_401_and_the_server_named() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::WrongToken);
    server.put_secret(
        SECRET_NS,
        SECRET,
        &server.capi_kubeconfig("target-cluster", Auth::Token),
    );
    let ran = site.kubeconfig(&["capture", "target-cluster", "--timeout", "20s"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let expected = format!(
        "the API server {} of cluster `ephemeral-cluster` rejected its credentials (401 Unauthorized)",
        server.url
    );
    says(&ran, &expected);
    assert_eq!(server.gets(SECRET_NS, SECRET), 0);
    assert!(!ran.stderr.contains("not-the-token"), "{}", ran.stderr);
}

#[test]
fn a_forbidden_namespace_fails_with_403() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::ClientCert);
    server.forbid(SECRET_NS);
    let ran = site.kubeconfig(&["capture", "target-cluster"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(
        &ran,
        "forbids reading Secret target-infra/target-cluster-kubeconfig (403 Forbidden",
    );
}

#[test]
fn a_server_the_kubeconfig_does_not_trust_is_a_tls_error() {
    let server = ApiServer::start();
    let stranger = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    // The right address, another CA.
    let config = stranger
        .kubeconfig("ephemeral-cluster", Auth::Token)
        .replace(&stranger.url, &server.url);
    fs::write(site.home.path().join(".airship/kubeconfig"), config).unwrap();
    let ran = site.kubeconfig(&["capture", "target-cluster"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(
        &ran,
        &format!(
            "TLS with the API server {} of cluster `ephemeral-cluster` failed",
            server.url
        ),
    );
}

#[test]
fn client_certificates_authenticate_too() {
    // Kept alive, unused: the site talks to it.
    let (_server, site) = serving(Auth::ClientCert);
    let ran = site.kubeconfig(&["capture", "target-cluster"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn when_the_ephemeral_cluster_is_gone_the_persisted_copy_is_used_and_said() {
    let (mut server, site) = serving(Auth::Token);
    let captured = site.kubeconfig(&["capture", "--children-of", "ephemeral-cluster"]);
    assert_eq!(captured.code, 0, "{}", captured.stderr);
    let before = site.kubeconfig(&["get", "target-cluster", "--interval", "100ms"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    says(&before, "target-cluster: from clusterAPI Secret");

    server.stop();
    let after = site.kubeconfig(&["get", "target-cluster", "--interval", "100ms"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    says(&after, "target-cluster: from the persisted copy in");
    // ... and why every listed source failed.
    says(
        &after,
        "bundle KubeConfig: the bundle has no KubeConfig document",
    );
    says(
        &after,
        "clusterAPI Secret target-infra/target-cluster-kubeconfig: the API server",
    );
    says(&after, "is unreachable");
    assert_eq!(
        after.stdout, before.stdout,
        "the same kubeconfig, either way"
    );
    assert!(
        after.stdout.contains("current-context: target-cluster"),
        "{}",
        after.stdout
    );
}

/// A site-wide `get` writes every cluster it can resolve and names each one
/// it cannot, as airshipctl's "success cluster-api not reachable" case does
/// (a sub-cluster not created yet must not hide the others); exit 4 says
/// the result is partial. A cluster asked for by name must resolve, and
/// when none resolves every one is named.
#[test]
fn a_site_wide_get_writes_what_it_can_and_exits_4_for_the_rest() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let ran = site.kubeconfig(&["get"]);
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    says(
        &ran,
        "mooring: target-cluster: left out: no kubeconfig for cluster `target-cluster`",
    );
    says(
        &ran,
        "1 cluster(s) left out (named above); the others were written",
    );
    let got = mooring_kube::file::parse(&ran.stdout).unwrap();
    assert_eq!(got.context_names(), ["ephemeral-cluster"]);

    let named = site.kubeconfig(&["get", "target-cluster"]);
    assert_eq!(named.code, 1, "{}", named.stderr);
    assert!(named.stdout.is_empty());

    fs::remove_file(site.home.path().join(".airship/kubeconfig")).unwrap();
    let none = site.kubeconfig(&["get"]);
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(none.stdout.is_empty());
    says(&none, "no cluster could be resolved: target-cluster: ");
    says(&none, "; ephemeral-cluster: ");
}

/// The site's capture phase run the way airshipctl's GenericContainer
/// executor runs it: the command line read from the phase document itself,
/// the phase's documents (its `phases` entrypoint, built by kustomize) on
/// stdin, `KUBECONFIG` and `KCTL_CONTEXT` naming the phase cluster's
/// kubeconfig (here under a context named otherwise, and with no
/// `~/.airship/kubeconfig` to fall back on). `KUBECONFIG` without
/// `KCTL_CONTEXT` is an operator's everyday kubeconfig and stands in for
/// no source.
#[test]
fn the_capture_phase_runs_as_airshipctls_executor_runs_it() {
    let (server, site) = serving(Auth::Token);
    let Some(documents) = kustomize_build(&site.bundle.path().join("phases")) else {
        return;
    };
    fs::remove_file(site.home.path().join(".airship/kubeconfig")).unwrap();
    let executor_kubeconfig = site.home.path().join("executor-kubeconfig");
    let text = server.kubeconfig("ephemeral-cluster", Auth::Token);
    fs::write(
        &executor_kubeconfig,
        text.replace("ephemeral-cluster", "kind-ephemeral"),
    )
    .unwrap();

    let cmd = capture_phase_command();
    let capture = |env: &[(&str, &std::ffi::OsStr)]| -> Ran {
        let mut command = mooring();
        command
            .args(&cmd)
            .env("HOME", site.home.path())
            .env("MOORING_KUBECONFIG_STORE", site.store())
            .env_remove("KUBECONFIG")
            .env_remove("KCTL_CONTEXT");
        for (key, value) in env {
            command.env(key, value);
        }
        run_with_stdin(&mut command, &documents)
    };
    let ran = capture(&[
        ("KUBECONFIG", executor_kubeconfig.as_os_str()),
        ("KCTL_CONTEXT", "kind-ephemeral".as_ref()),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "target-cluster: captured from clusterAPI Secret");
    let (stored, mode) = stored(&site, "target-cluster");
    assert_eq!(mode, 0o600);
    assert!(stored.contains("name: target-cluster\n"), "{stored}");

    fs::remove_dir_all(site.store()).unwrap();
    let everyday = capture(&[("KUBECONFIG", executor_kubeconfig.as_os_str())]);
    assert_eq!(everyday.code, 1, "{}", everyday.stderr);
    assert!(
        !everyday.stderr.contains("$KUBECONFIG"),
        "{}",
        everyday.stderr
    );

    let wrong = capture(&[
        ("KUBECONFIG", executor_kubeconfig.as_os_str()),
        ("KCTL_CONTEXT", "nope".as_ref()),
    ]);
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    says(&wrong, "has no context `nope` (it has: kind-ephemeral)");

    // By hand, without the executor's environment: the same two flags.
    let mut command = mooring();
    command
        .args(&cmd)
        .arg("--kubeconfig")
        .arg(&executor_kubeconfig)
        .args(["--context", "kind-ephemeral"])
        .env("HOME", site.home.path())
        .env("MOORING_KUBECONFIG_STORE", site.store())
        .env_remove("KUBECONFIG")
        .env_remove("KCTL_CONTEXT");
    let by_hand = run_with_stdin(&mut command, &documents);
    assert_eq!(by_hand.code, 0, "{}", by_hand.stderr);
    says(&by_hand, "target-cluster: captured from clusterAPI Secret");
}

/// The arguments the example plans' capture phase gives `mooring` (its
/// `GenericContainer`'s `cmd`, read from the phase document).
pub(crate) fn capture_phase_command() -> Vec<String> {
    let phase = fs::read_to_string(
        crate::util::repo().join("bundles/docker-test-site/phases/capture.yaml"),
    )
    .unwrap();
    let container = phase.split("\n---\n").nth(1).unwrap();
    let container: serde_json::Value = serde_saphyr::from_str(container).unwrap();
    let cmd: Vec<String> = container["spec"]["airship"]["cmd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cmd[0], "mooring");
    cmd[1..].to_vec()
}

#[test]
fn without_any_source_every_attempt_is_listed() {
    let mut server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    server.stop();
    let ran = site.kubeconfig(&["get", "target-cluster", "--interval", "50ms"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    for needle in [
        "no kubeconfig for cluster `target-cluster`: every source failed:",
        "- filesystem ~/.airship/kubeconfig:",
        "has no context `target-cluster` (it has: ephemeral-cluster)",
        "- bundle KubeConfig: the bundle has no KubeConfig document",
        "- clusterAPI Secret target-infra/target-cluster-kubeconfig:",
        "nothing persisted; run `mooring kubeconfig capture`",
    ] {
        says(&ran, needle);
    }
    // Before kind writes airshipctl's kubeconfig, its source is missing,
    // not unapproved: the default path is approved whether or not it exists.
    fs::remove_file(site.home.path().join(".airship/kubeconfig")).unwrap();
    let missing = site.kubeconfig(&["get", "target-cluster", "--interval", "50ms"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    says(&missing, "/.airship/kubeconfig does not exist");
    assert!(
        !missing.stderr.contains("not a path the operator approved"),
        "{}",
        missing.stderr
    );
}

#[test]
fn two_concurrent_captures_leave_one_valid_entry_in_each_store() {
    let (server, site) = serving(Auth::Token);
    let spawn = || {
        site.command(&[
            "capture",
            "target-cluster",
            "--secret-store",
            "ephemeral-cluster/mooring",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let ran: Ran = child.wait_with_output().unwrap().into();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        says(
            &ran,
            "also stored in namespace mooring of cluster `ephemeral-cluster`",
        );
    }
    let (text, mode) = stored(&site, "target-cluster");
    assert_eq!(mode, 0o600);
    let leftovers: Vec<_> = fs::read_dir(site.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".incoming"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let in_cluster = server
        .secret_value("mooring", "mooring-kubeconfig-target-cluster")
        .expect("the Secret store holds it");
    assert_eq!(in_cluster, text);
}

#[test]
fn the_older_cluster_map_schema_captures_the_same_way() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    fs::write(
        site.bundle.path().join("phases/cluster-map.yaml"),
        "apiVersion: airshipit.org/v1alpha1\nkind: ClusterMap\nmetadata:\n  name: main-map\nmap:\n  \
         target-cluster:\n    parent: ephemeral-cluster\n    dynamicKubeConf: true\n    \
         clusterAPIRef:\n      name: target-cluster\n      namespace: target-infra\n  ephemeral-cluster: {}\n",
    )
    .unwrap();
    server.put_secret(
        SECRET_NS,
        SECRET,
        &server.capi_kubeconfig("target-cluster", Auth::Token),
    );
    let ran = site.kubeconfig(&["capture", "target-cluster"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        stored(&site, "target-cluster")
            .0
            .contains("name: target-cluster-admin")
    );

    // A parent found under its own `kubeconfigContext` (airshipctl's
    // start_kind.sh names the kind cluster's context otherwise) still
    // reads its children's Secrets.
    fs::remove_dir_all(site.store()).unwrap();
    let map = fs::read_to_string(site.bundle.path().join("phases/cluster-map.yaml")).unwrap();
    fs::write(
        site.bundle.path().join("phases/cluster-map.yaml"),
        map.replace(
            "ephemeral-cluster: {}",
            "ephemeral-cluster: {kubeconfigContext: kind-ephemeral}",
        ),
    )
    .unwrap();
    let kubeconfig = server
        .kubeconfig("ephemeral-cluster", Auth::Token)
        .replace("ephemeral-cluster", "kind-ephemeral");
    fs::write(site.home.path().join(".airship/kubeconfig"), kubeconfig).unwrap();
    let ran = site.kubeconfig(&["capture", "target-cluster"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        stored(&site, "target-cluster")
            .0
            .contains("name: target-cluster\n")
    );
}

#[test]
fn an_invalid_cluster_map_is_refused_with_document_and_field() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let path = site.bundle.path().join("phases/cluster-map.yaml");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("parent: ephemeral-cluster", "parent: nowhere");
    fs::write(&path, text).unwrap();
    let ran = site.kubeconfig(&["get", "target-cluster"]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "ClusterMap/main-map (phases/cluster-map.yaml:");
    says(
        &ran,
        "field map.target-cluster.parent: parent `nowhere` is not a cluster",
    );
    // As in airshipctl, the broken entry fails only its own cluster: the
    // site-wide get writes the ephemeral cluster and names the other.
    let site_wide = site.kubeconfig(&["get"]);
    assert_eq!(site_wide.code, 4, "{}", site_wide.stderr);
    says(&site_wide, "mooring: target-cluster: left out: ");
    says(&site_wide, "parent `nowhere` is not a cluster");
    let got = mooring_kube::file::parse(&site_wide.stdout).unwrap();
    assert_eq!(got.context_names(), ["ephemeral-cluster"]);
}

/// airshipctl's kubeconfig builder cases (pkg/k8s/kubeconfig/builder_test.go
/// at 6207e2c2) on its own test data (fixtures/airshipctl/pkg, unmodified),
/// with airshipctl's expected contexts. Where mooring differs on purpose the
/// difference is asserted: entries take the site's names (cluster
/// `<cluster>`, user `<cluster>-admin`, where airshipctl keeps the source's
/// `parent_parent_cluster`/`kubernetes-admin`), and a cluster asked for by
/// name must resolve (airshipctl returns the others; mooring does so for a
/// site-wide get, exit 4). The airshipctl case with a mocked clusterctl
/// chain of three clusters is covered against a real API server by the
/// capture tests above.
#[test]
fn airshipctls_kubeconfig_builder_cases() {
    let fixtures = repo().join("tests/e2e/fixtures/airshipctl/pkg");
    let bundle = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(bundle.path().join("testdata")).unwrap();
    fs::copy(
        fixtures.join("k8s/kubeconfig/testdata/kubeconfig.yaml"),
        bundle.path().join("kubeconfig.yaml"),
    )
    .unwrap();
    fs::copy(
        fixtures.join("phase/testdata/kubeconfig.yaml"),
        bundle.path().join("testdata/kubeconfig"),
    )
    .unwrap();
    let get = |map: &str, args: &[&str]| -> Ran {
        fs::write(bundle.path().join("cluster-map.yaml"), map).unwrap();
        mooring()
            .args(["kubeconfig", "get"])
            .args(args)
            .args(["--timeout", "1s", "--interval", "100ms", "--bundle"])
            .arg(bundle.path())
            .env("HOME", home.path())
            .env("MOORING_KUBECONFIG_STORE", home.path().join("store"))
            .output()
            .unwrap()
            .into()
    };
    let names = |ran: &Ran, list: &str| -> BTreeSet<String> {
        let config = mooring_kube::file::parse(&ran.stdout).unwrap();
        let entries = match list {
            "contexts" => config.contexts,
            "clusters" => config.clusters,
            _ => config.users,
        };
        entries.into_iter().map(|e| e.name).collect()
    };
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let map = |entries: &str| {
        format!(
            "apiVersion: airshipit.org/v1alpha1\nkind: ClusterMap\nmetadata:\n  name: builder-test\nmap:\n{entries}"
        )
    };
    let parent_from_bundle = "  parent:\n    kubeconfigSources:\n      - type: bundle\n        bundle: {contextName: parent_parent_context}\n";

    // "success cluster-api not reachable": airshipctl returns [parent].
    let unreachable = map(&format!(
        "  child:\n    parent: parent\n    kubeconfigSources:\n      - type: clusterAPI\n{parent_from_bundle}"
    ));
    let site_wide = get(&unreachable, &[]);
    assert_eq!(site_wide.code, 4, "{}", site_wide.stderr);
    assert_eq!(names(&site_wide, "contexts"), set(&["parent"]));
    says(&site_wide, "mooring: child: left out: ");
    let named = get(&unreachable, &["child"]);
    assert_eq!(named.code, 1, "{}", named.stderr);

    // "success two clusters": airshipctl's contexts; the site's names for
    // clusters and users; each server from its own source.
    // (airshipctl's path is relative to the test's directory; here the
    // file is in the bundle, which a filesystem source may read.)
    let two = map(&format!(
        "  parent-parent:\n    kubeconfigSources:\n      - type: bundle\n        bundle: {{contextName: parent_parent_context}}\n  parent:\n    kubeconfigSources:\n      - type: filesystem\n        filesystem: {{path: {}, contextName: dummy_cluster}}\n",
        bundle.path().join("testdata/kubeconfig").display()
    ));
    let both = get(&two, &[]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert_eq!(names(&both, "contexts"), set(&["parent", "parent-parent"]));
    assert_eq!(names(&both, "clusters"), set(&["parent", "parent-parent"]));
    assert_eq!(
        names(&both, "users"),
        set(&["parent-admin", "parent-parent-admin"])
    );
    let config = mooring_kube::file::parse(&both.stdout).unwrap();
    assert_eq!(config.server("parent"), Some("https://127.0.0.1:6443"));
    assert_eq!(
        config.server("parent-parent"),
        Some("https://10.23.25.101:6443")
    );

    // "error requested cluster doesn't exist".
    let missing = get(&map(parent_from_bundle), &["non-existent-cluster"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    says(
        &missing,
        "cluster `non-existent-cluster` is not in ClusterMap",
    );

    // airshipctl's phase test map names a parent outside the map: only the
    // cluster that needs it fails; the other reads the bundle's one context.
    let phase_map =
        fs::read_to_string(fixtures.join("phase/testdata/phases/cluster-map.yaml")).unwrap();
    let target = get(&phase_map, &["target-cluster"]);
    assert_eq!(target.code, 2, "{}", target.stderr);
    says(&target, "parent `ephemeral` is not a cluster of this map");
    let ephemeral = get(&phase_map, &["ephemeral-cluster"]);
    assert_eq!(ephemeral.code, 0, "{}", ephemeral.stderr);
    assert_eq!(names(&ephemeral, "contexts"), set(&["ephemeral-cluster"]));
}

/// airshipctl's own ClusterMap test (pkg/cluster/clustermap/map_test.go,
/// older schema): a map with a dynamic cluster that has no parent is read,
/// not refused; parents are as airshipctl finds them; the parentless
/// dynamic cluster fails alone, naming why; an unknown cluster is an input
/// error; all four clusters are the map's.
#[test]
fn airshipctls_own_cluster_map_test_case() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let map = "apiVersion: airshipit.org/v1alpha1\nkind: ClusterMap\nmetadata:\n  name: main-map\nmap:\n  target:\n    parent: ephemeral\n    dynamicKubeConf: false\n  ephemeral: {}\n  workload:\n    parent: target\n    dynamicKubeConf: true\n  workload without parent:\n    dynamicKubeConf: true\n";
    fs::write(site.bundle.path().join("phases/cluster-map.yaml"), map).unwrap();
    let kubeconfig = server
        .kubeconfig("ephemeral-cluster", Auth::Token)
        .replace("ephemeral-cluster", "ephemeral");
    fs::write(site.home.path().join(".airship/kubeconfig"), kubeconfig).unwrap();

    let ephemeral = site.kubeconfig(&["get", "ephemeral"]);
    assert_eq!(ephemeral.code, 0, "{}", ephemeral.stderr);
    says(
        &ephemeral,
        "ephemeral: from filesystem ~/.airship/kubeconfig",
    );

    let orphan = site.kubeconfig(&["get", "workload without parent", "--timeout", "1s"]);
    assert_eq!(orphan.code, 1, "{}", orphan.stderr);
    assert!(orphan.stdout.is_empty());
    says(
        &orphan,
        "cluster `workload without parent` has no parent to read its Secret from",
    );

    let unknown = site.kubeconfig(&["get", "does not exist"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    says(
        &unknown,
        "(it has: target, ephemeral, workload, workload without parent)",
    );

    // The workload cluster's kubeconfig is read through its parent
    // `target`, itself not dynamic: the parent chain is airshipctl's.
    let all = site.kubeconfig(&["get", "--timeout", "1s", "--interval", "200ms"]);
    assert_eq!(all.code, 4, "{}", all.stderr);
    let got = mooring_kube::file::parse(&all.stdout).unwrap();
    assert_eq!(got.context_names(), ["ephemeral"]);
    for left_out in ["target", "workload", "workload without parent"] {
        says(&all, &format!("mooring: {left_out}: left out: "));
    }
}

#[test]
fn kubectl_reads_the_merged_kubeconfig() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let (server, site) = serving(Auth::Token);
    assert_eq!(site.kubeconfig(&["capture", "target-cluster"]).code, 0);
    let ran = site.kubeconfig(&["get", "--interval", "100ms"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let file = site.home.path().join("merged.yaml");
    fs::write(&file, &ran.stdout).unwrap();
    // kubectl sorts by name; the file itself keeps the ClusterMap's order.
    let contexts = kubectl_output(&kubectl, &file, &["config", "get-contexts", "-o", "name"]);
    assert_eq!(
        contexts.lines().collect::<Vec<_>>(),
        ["ephemeral-cluster", "target-cluster"]
    );
    let at = |text: &str, name: &str| text.find(&format!("- name: {name}\n")).unwrap();
    assert!(at(&ran.stdout, "target-cluster") < at(&ran.stdout, "ephemeral-cluster"));
    let users = kubectl_output(
        &kubectl,
        &file,
        &["config", "view", "-o", "jsonpath={.users[*].name}"],
    );
    assert_eq!(users, "ephemeral-cluster-admin target-cluster-admin");

    // Merging files: new entries are appended after the first file's.
    let other = site.home.path().join("other.yaml");
    fs::write(&other, server.kubeconfig("extra", Auth::Token)).unwrap();
    let merged: Ran = mooring()
        .args(["kubeconfig", "merge"])
        .arg(&file)
        .arg(&other)
        .args(["--current-context", "extra"])
        .output()
        .unwrap()
        .into();
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    fs::write(&file, &merged.stdout).unwrap();
    let contexts = kubectl_output(&kubectl, &file, &["config", "get-contexts", "-o", "name"]);
    assert_eq!(
        contexts.lines().collect::<Vec<_>>(),
        ["ephemeral-cluster", "extra", "target-cluster"]
    );
    assert!(at(&merged.stdout, "ephemeral-cluster") < at(&merged.stdout, "extra"));
    assert_eq!(
        kubectl_output(&kubectl, &file, &["config", "current-context"]).trim(),
        "extra"
    );
}

/// Certificate and key paths are read from the directory of the kubeconfig
/// that names them and inlined, as `kubectl config view --flatten` does
/// (kubectl is the oracle), so the merged file works wherever it is put.
/// One that cannot be read is an input error naming entry, field and file.
#[test]
fn merge_inlines_the_files_a_kubeconfig_names() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    fs::create_dir(&site).unwrap();
    fs::write(
        site.join("ca.crt"),
        "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    fs::write(site.join("admin.crt"), "CRT").unwrap();
    fs::write(site.join("admin.key"), "KEY").unwrap();
    let config = site.join("config");
    fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://c:6443', certificate-authority: ca.crt}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {client-certificate: admin.crt, client-key: ./admin.key}\ncurrent-context: c\n",
    )
    .unwrap();
    let merge = || -> Ran {
        mooring()
            .current_dir(dir.path())
            .args(["kubeconfig", "merge", "site/config"])
            .output()
            .unwrap()
            .into()
    };
    let merged = merge();
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    assert!(!merged.stdout.contains("admin.key"), "{}", merged.stdout);
    let file = dir.path().join("merged.yaml");
    fs::write(&file, &merged.stdout).unwrap();
    let view = [
        "config",
        "view",
        "--raw",
        "--flatten",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data} {.users[0].user.client-certificate-data} {.users[0].user.client-key-data}",
    ];
    let ours = kubectl_output(&kubectl, &file, &view);
    assert_eq!(ours, kubectl_output(&kubectl, &config, &view));
    assert!(ours.ends_with(" Q1JU S0VZ"), "{ours}");

    fs::remove_file(site.join("admin.key")).unwrap();
    let missing = merge();
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    says(&missing, "site/config: user `u`: client-key ");
    says(&missing, "admin.key");
}

/// A filesystem source's relative certificate path is read from beside
/// the kubeconfig that names it and inlined, so what `get` prints (and what
/// capture stores) works anywhere.
#[test]
fn a_filesystem_sources_certificate_paths_are_inlined() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let airship = site.home.path().join(".airship");
    fs::write(airship.join("ca.crt"), "CA").unwrap();
    fs::write(
        airship.join("kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kind\n  cluster: {server: 'https://127.0.0.1:1', certificate-authority: ca.crt}\ncontexts:\n- name: ephemeral-cluster\n  context: {cluster: kind, user: kind}\nusers:\n- name: kind\n  user: {token: t}\n",
    )
    .unwrap();
    let ran = site.kubeconfig(&["get", "ephemeral-cluster"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("certificate-authority-data: Q0E="),
        "{}",
        ran.stdout
    );
    assert!(
        !ran.stdout.contains("certificate-authority: ca.crt"),
        "{}",
        ran.stdout
    );
}

fn kubectl_output(kubectl: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let output = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The names a KubeConfig document holds, which is what "the same shape"
/// means for two sites: contexts with their cluster and user, clusters,
/// users, and the fields of `config`.
pub(crate) fn shape(bundle: &Path, path: &str) -> Vec<String> {
    let text = fs::read_to_string(bundle.join(path)).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let config = &doc["config"];
    let names = |list: &str| -> Vec<String> {
        let mut names: Vec<String> = config[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match list {
                "contexts" => format!(
                    "context {} -> cluster {}, user {}",
                    e["name"].as_str().unwrap(),
                    e["context"]["cluster"].as_str().unwrap(),
                    e["context"]["user"].as_str().unwrap()
                ),
                _ => format!("{list} {}", e["name"].as_str().unwrap()),
            })
            .collect();
        names.sort();
        names
    };
    let mut keys: Vec<String> = config
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("field {k}"))
        .collect();
    keys.sort();
    [names("contexts"), names("clusters"), names("users"), keys].concat()
}

#[test]
fn a_step_without_a_grant_is_denied_and_named_and_no_credential_is_ever_shown() {
    let (server, site) = serving(Auth::Token);
    assert_eq!(site.kubeconfig(&["capture", "target-cluster"]).code, 0);
    let leak = |grant: &str, panic: bool| -> Ran {
        let pipeline = crate::util::write_pipeline(
            site.home.path(),
            &format!(
                "- name: leaky\n  guest: {}\n  selector: {{kind: ClusterMap}}\n  config: {{mode: leak-credentials, panic: {panic}}}\n{grant}",
                crate::util::fixture_guest(mooring_test_guests::HOSTILE).display()
            ),
        );
        mooring()
            .arg("run")
            .arg(site.bundle.path())
            .arg("--pipeline")
            .arg(&pipeline)
            .args(["--allow-credentials", "target-cluster"])
            .env("MOORING_KUBECONFIG_STORE", site.store())
            .output()
            .unwrap()
            .into()
    };
    let denied = leak("", false);
    assert_eq!(denied.code, 0, "{}", denied.stderr);
    says(
        &denied,
        "warning: asked for the credentials of cluster `target-cluster` without a grant, and was denied",
    );
    says(&denied, "denied: this step has no grant");

    // Granted, it echoes the kubeconfig to its log, a result, stdout and a
    // panic: the token shows nowhere.
    for panic in [false, true] {
        let granted = leak("  grants: {credentials: [target-cluster]}\n", panic);
        assert_eq!(
            granted.code,
            if panic { 1 } else { 0 },
            "{}",
            granted.stderr
        );
        for printed in [&granted.stdout, &granted.stderr] {
            assert!(
                !printed.contains(&server.token),
                "the token leaked:\n{printed}"
            );
        }
        says(&granted, "<redacted>");
    }
}

#[test]
fn get_merges_into_an_existing_file_without_truncating_it() {
    let bundle = example_bundle("metal3-site");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("kubeconfig");
    let mine = "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster: {server: 'https://mine:6443'}\ncontexts:\n- name: mine\n  context: {cluster: mine, user: me}\nusers:\n- name: me\n  user: {token: my-own-token-000}\ncurrent-context: mine\n";
    fs::write(&file, mine).unwrap();
    let ran: Ran = mooring()
        .args(["kubeconfig", "get", "--bundle"])
        .arg(bundle.path())
        .arg("--file")
        .arg(&file)
        .arg("--merge")
        .env("HOME", home.path())
        .env("MOORING_KUBECONFIG_STORE", home.path().join("store"))
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.is_empty());
    let text = fs::read_to_string(&file).unwrap();
    let merged = mooring_kube::file::parse(&text).unwrap();
    assert_eq!(
        merged.context_names(),
        ["mine", "target-cluster", "ephemeral-cluster"]
    );
    assert_eq!(merged.current_context, "mine");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // One cluster merged in: the file's current-context stays unless
    // --current-context names another.
    let get_one = |extra: &[&str]| -> String {
        let ran: Ran = mooring()
            .args(["kubeconfig", "get", "target-cluster", "--bundle"])
            .arg(bundle.path())
            .arg("--file")
            .arg(&file)
            .arg("--merge")
            .args(extra)
            .env("HOME", home.path())
            .env("MOORING_KUBECONFIG_STORE", home.path().join("store"))
            .output()
            .unwrap()
            .into();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let text = fs::read_to_string(&file).unwrap();
        mooring_kube::file::parse(&text).unwrap().current_context
    };
    assert_eq!(get_one(&[]), "mine");
    assert_eq!(
        get_one(&["--current-context", "target-cluster"]),
        "target-cluster"
    );
}

/// `kubeconfig merge` follows kubectl's rule for KUBECONFIG=a:b: the first
/// file to name a cluster, context or user wins. kubectl itself is the
/// oracle: the merged file and the two files on KUBECONFIG read alike.
#[test]
fn merge_lets_the_first_file_win_as_kubectl_does() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = |server: &str, token: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: shared\n  cluster: {{server: '{server}'}}\n{extra}contexts:\n- name: shared\n  context: {{cluster: shared, user: shared}}\nusers:\n- name: shared\n  user: {{token: {token}}}\ncurrent-context: shared\n"
        )
    };
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    fs::write(&a, config("https://first:6443", "first-token", "")).unwrap();
    let only_b = "- name: only-b\n  cluster: {server: 'https://b:6443'}\n";
    fs::write(&b, config("https://second:6443", "second-token", only_b)).unwrap();
    let merged: Ran = mooring()
        .args(["kubeconfig", "merge"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap()
        .into();
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    for kind in ["cluster", "context", "user"] {
        says(&merged, &format!("b.yaml: {kind} shared left out"));
    }
    let file = dir.path().join("merged.yaml");
    fs::write(&file, &merged.stdout).unwrap();
    let view = [
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[*].cluster.server} {.users[*].user.token}",
    ];
    let ours = kubectl_output(&kubectl, &file, &view);
    let theirs = Command::new(&kubectl)
        .env("KUBECONFIG", format!("{}:{}", a.display(), b.display()))
        .args(view)
        .output()
        .unwrap();
    assert!(theirs.status.success());
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
    assert_eq!(ours, "https://b:6443 https://first:6443 first-token");
}

#[test]
fn the_secret_store_is_read_back_when_nothing_else_has_the_kubeconfig() {
    let (server, site) = serving(Auth::Token);
    let store = ["--secret-store", "ephemeral-cluster/mooring"];
    let captured = site.kubeconfig(&[&["capture", "target-cluster"], &store[..]].concat());
    assert_eq!(captured.code, 0, "{}", captured.stderr);
    // The Cluster API Secret and the local copy are both gone.
    server.delete_secret(SECRET_NS, SECRET);
    fs::remove_dir_all(site.store()).unwrap();
    let args = [
        &[
            "get",
            "target-cluster",
            "--timeout",
            "1s",
            "--interval",
            "200ms",
        ],
        &store[..],
    ]
    .concat();
    let ran = site.kubeconfig(&args);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "target-cluster: from Secret mooring/mooring-kubeconfig-target-cluster in cluster `ephemeral-cluster`",
    );
    says(&ran, "nothing persisted");
    assert!(
        ran.stdout.contains("name: target-cluster-admin"),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_cluster_map_cannot_point_mooring_at_the_operators_own_kubeconfig() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    // The operator's kubectl config, which the bundle has no business with.
    fs::create_dir_all(site.home.path().join(".kube")).unwrap();
    fs::copy(
        site.home.path().join(".airship/kubeconfig"),
        site.home.path().join(".kube/config"),
    )
    .unwrap();
    let map = site.bundle.path().join("phases/cluster-map.yaml");
    let text = fs::read_to_string(&map).unwrap();
    fs::write(
        &map,
        text.replace("~/.airship/kubeconfig", "~/.kube/config"),
    )
    .unwrap();

    let refused = site.kubeconfig(&["get", "ephemeral-cluster"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    says(
        &refused,
        "/.kube/config is outside the bundle and not a path the operator approved; approve it with --allow-kubeconfig",
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);

    let kube = site.home.path().join(".kube/config");
    let approved = site.kubeconfig(&[
        "get",
        "ephemeral-cluster",
        "--allow-kubeconfig",
        kube.to_str().unwrap(),
    ]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    says(
        &approved,
        "ephemeral-cluster: from filesystem ~/.kube/config",
    );
}

#[test]
fn a_filesystem_source_must_be_a_small_regular_file() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let map = site.bundle.path().join("phases/cluster-map.yaml");
    let text = fs::read_to_string(&map).unwrap();
    fs::write(&map, text.replace("~/.airship/kubeconfig", "/dev/zero")).unwrap();
    let ran = site.kubeconfig(&["get", "ephemeral-cluster", "--allow-kubeconfig", "/dev"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "/dev/zero is not a regular file");
}

/// airshipctl's `start_kind.sh` writes a `target-cluster` context into
/// `~/.airship/kubeconfig` before that cluster exists; kubectl reads the
/// file, and so must capture of the clusters that do exist.
#[test]
fn a_context_for_a_cluster_not_created_yet_spoils_nothing_else() {
    let server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    let path = site.home.path().join(".airship/kubeconfig");
    let mut config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["contexts"].as_array_mut().unwrap().push(serde_json::json!(
        {"name": "target-cluster", "context": {"cluster": "target-cluster", "user": "target-cluster-admin"}}
    ));
    fs::write(&path, config.to_string()).unwrap();
    let ran = site.kubeconfig(&["get", "ephemeral-cluster"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "ephemeral-cluster: from filesystem ~/.airship/kubeconfig",
    );
}

/// On a terminal a long wait is one spinner line that changes; piped (as
/// in the test above) it is a line per poll.
#[test]
fn on_a_terminal_a_wait_is_a_spinner_not_a_line_per_poll() {
    let Some(script) = tool("script") else { return };
    let (_server, site) = serving_after(3);
    let line = format!(
        "{} kubeconfig capture target-cluster --interval 300ms --bundle {}",
        crate::util::binary().display(),
        site.bundle.path().display()
    );
    let shown = Command::new(script)
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", site.home.path())
        .env("MOORING_KUBECONFIG_STORE", site.store())
        .env("MOORING_CACHE_DIR", crate::util::cache_dir())
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
    // A terminal ends lines with \r\n; a spinner redraws its line with \r
    // and escape sequences.
    let shown = String::from_utf8_lossy(&shown.stdout).replace("\r\n", "\n");
    assert!(
        shown.contains("waiting for Secret target-infra/target-cluster-kubeconfig"),
        "{shown}"
    );
    assert!(shown.contains("captured from clusterAPI Secret"), "{shown}");
    let wait_lines = shown
        .split('\n')
        .filter(|l| l.contains("waiting for Secret") && !l.contains('\r') && !l.contains('\x1b'))
        .count();
    assert_eq!(
        wait_lines, 0,
        "wait notices printed as plain lines on a terminal:\n{shown}"
    );
}
