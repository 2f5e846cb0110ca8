//! The kubeconfig lifecycle against a real HTTPS API server: capture a
//! cluster's kubeconfig from its Cluster API Secret with the real kube
//! client, persist it, resolve it when the parent is gone, merge it, and
//! read the result with the real kubectl.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apiserver::{ApiServer, Auth};
use crate::util::{Ran, example_bundle, mooring, says, tool};

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
    let ran = site.kubeconfig(&["get"]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "ClusterMap/main-map (phases/cluster-map.yaml:");
    says(
        &ran,
        "field map.target-cluster.parent: parent `nowhere` is not a cluster",
    );
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

    // Merging files: later entries replace earlier ones where they stand.
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
