//! Real Airship sites are kustomize overlays: `site/<site>/…` pulls
//! `type/…` and `function/…` and patches what it pulls. These tests run on
//! airshipctl's own files (`fixtures/airshipctl`, unmodified, Apache-2.0),
//! built by the real `kubectl kustomize`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{
    Ran, assert_untouched, copy_tree, kustomize_build, mooring, repo, run, run_with_stdin, says,
    snapshot, tool, write_pipeline,
};

/// A private copy of the airshipctl fixture tree, and its `manifests/`.
fn airshipctl() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/e2e/fixtures/airshipctl"), dir.path());
    let manifests = dir.path().join("manifests");
    (dir, manifests)
}

/// A pipeline labelling the documents of `kind`, in a scratch directory.
fn label(kind: &str) -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        &format!(
            "- guest: set-metadata\n  selector: {{kind: {kind}}}\n  config: {{labels: {{site: docker}}}}\n"
        ),
    );
    (scratch, pipeline)
}

/// airshipctl's base ClusterMap (unmodified) in `base/`, and in `site/` a
/// kustomization that pulls it and applies `patch` (an unmodified site or
/// type patch): the way a site's map is made. Returns the scratch tree and
/// the site directory.
fn patched_map(manifests: &Path, patch: &Path) -> (tempfile::TempDir, PathBuf) {
    let tree = tempfile::tempdir().unwrap();
    let (base, site) = (tree.path().join("base"), tree.path().join("site"));
    fs::create_dir_all(&base).unwrap();
    fs::create_dir_all(&site).unwrap();
    fs::copy(
        manifests.join("phases/cluster-map.yaml"),
        base.join("cluster-map.yaml"),
    )
    .unwrap();
    fs::write(
        base.join("kustomization.yaml"),
        "resources:\n  - cluster-map.yaml\n",
    )
    .unwrap();
    fs::copy(patch, site.join("cluster_map_patch.yaml")).unwrap();
    fs::write(
        site.join("kustomization.yaml"),
        "resources:\n  - ../base\npatchesStrategicMerge:\n  - cluster_map_patch.yaml\n",
    )
    .unwrap();
    (tree, site)
}

/// `HOME/.airship/kubeconfig` with a context per cluster, each on a server
/// nothing answers (reading it needs no network).
pub(crate) fn airship_kubeconfig(home: &Path, clusters: &[&str]) {
    let each = |f: &dyn Fn(&str) -> String| clusters.iter().map(|c| f(c)).collect::<String>();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{}contexts:\n{}users:\n{}",
        each(&|c| format!("- name: {c}\n  cluster: {{server: 'https://127.0.0.1:1'}}\n")),
        each(&|c| format!("- name: {c}\n  context: {{cluster: {c}, user: {c}}}\n")),
        each(&|c| format!("- name: {c}\n  user: {{token: t}}\n")),
    );
    fs::create_dir_all(home.join(".airship")).unwrap();
    fs::write(home.join(".airship/kubeconfig"), text).unwrap();
}

fn kinds(stream: &str) -> Vec<&str> {
    stream
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect()
}

/// The docker site's workers are three documents made by kustomize from
/// `function/workers-capd` and the site's patch; the site directory holds
/// only the patch. mooring used to see that and change nothing, exit 0.
#[test]
fn an_overlay_site_is_worked_on_as_its_kustomize_build() {
    let (_repo, manifests) = airshipctl();
    let site = manifests.join("site/docker-test-site/target/workers");
    let Some(built) = kustomize_build(&site) else {
        return;
    };
    let (_scratch, pipeline) = label("KubeadmConfigTemplate");
    let ran = run(&site, &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "is a kustomize overlay (kustomization.yaml resources: ../../../../function/workers-capd)",
    );
    says(
        &ran,
        "working on its `kubectl kustomize` build of 3 document(s)",
    );
    says(&ran, "1 seen, 1 changed");
    assert_eq!(kinds(&ran.stdout), kinds(&built));
    assert!(
        ran.stdout.contains("  labels:\n    site: docker\n"),
        "{}",
        ran.stdout
    );
    // The site's patch is in: the build, not the patch file, was read.
    assert!(ran.stdout.contains("replicas: 2"), "{}", ran.stdout);

    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("workers");
    let written = run(
        &site,
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(written.code, 0, "{}", written.stderr);
    let file = std::fs::read_to_string(out.join("resources.yaml")).unwrap();
    assert_eq!(kinds(&file), kinds(&built));
}

#[test]
fn in_place_on_an_overlay_is_refused_and_changes_nothing() {
    let (repo, manifests) = airshipctl();
    let site = manifests.join("site/docker-test-site/target/workers");
    let (_scratch, pipeline) = label("KubeadmConfigTemplate");
    let before = snapshot(repo.path());
    let ran = run(
        &site,
        &["--pipeline", pipeline.to_str().unwrap(), "--in-place"],
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "is a kustomize overlay");
    says(
        &ran,
        "so there are no files to rewrite in place. Write the transformed build to stdout or --output-dir DIR",
    );
    assert!(ran.stdout.is_empty());
    assert_untouched(&before, &snapshot(repo.path()));

    // The snippet the error gives works: saved beside the kustomization and
    // named as a transformer, the site's own build applies the pipeline.
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let (_, transformer) = ran
        .stderr
        .split_once("(the image is built by the Containerfile):\n")
        .expect("the error carries the transformer");
    assert!(
        transformer.contains("image: localhost/mooring:latest"),
        "{transformer}"
    );
    fs::write(site.join("mooring-pipeline.yaml"), transformer).unwrap();
    let kustomization = site.join("kustomization.yaml");
    let text = fs::read_to_string(&kustomization).unwrap();
    fs::write(
        &kustomization,
        format!("{text}\ntransformers:\n  - mooring-pipeline.yaml\n"),
    )
    .unwrap();
    let (_shim, path) = crate::util::docker_shim();
    let built = std::process::Command::new(kubectl)
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(&site)
        .env("PATH", path)
        .output()
        .unwrap();
    let built: Ran = built.into();
    assert_eq!(built.code, 0, "{}", built.stderr);
    let labelled = built.stdout.matches("site: docker").count();
    assert_eq!(
        labelled,
        kinds(&built.stdout)
            .iter()
            .filter(|k| **k == "KubeadmConfigTemplate")
            .count(),
        "{}",
        built.stdout
    );
    assert!(labelled > 0, "{}", built.stdout);
}

/// airshipctl's phase entrypoints need its Templater and
/// ReplacementTransformer plugins, which plain kustomize refuses.
#[test]
fn a_site_that_needs_an_airshipctl_plugin_names_it_and_the_routes_that_work() {
    let (_repo, manifests) = airshipctl();
    if tool("kubectl").is_none() {
        return;
    }
    let site = manifests.join("site/docker-test-site/phases");
    let (_scratch, pipeline) = label("Phase");
    let ran = run(&site, &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(
        &ran,
        "whose build needs the KRM plugin `Templater` (airshipctl's), which `kubectl kustomize` does not run",
    );
    says(
        &ran,
        "airshipctl phase render PHASE | mooring run - --pipeline PIPELINE",
    );
    // The site directory itself: its own kustomization names only its
    // metadata.yaml, so it is made of its entrypoints, and the one that
    // needs the plugin is named (it used to be read as its few files).
    let whole = run(
        &manifests.join("site/docker-test-site"),
        &["--pipeline", pipeline.to_str().unwrap()],
    );
    assert_eq!(whole.code, 2, "{}", whole.stderr);
    says(
        &whole,
        "site/docker-test-site/phases is a kustomize overlay (kustomization.yaml resources: ../../../type/gating/phases) whose build needs the KRM plugin `Templater`",
    );
}

/// `kubeconfig get --bundle` on an overlay site reads the ClusterMap as
/// airshipctl does: from the site's build, where the site's patch is merged
/// into its type's map (the site directory alone holds only the patch, and
/// mooring used to answer "parent ephemeral-cluster is not a cluster of
/// this map"). airshipctl's own map and docker-test-site patch, unmodified,
/// composed by a plain kustomization; its real phases entrypoint needs
/// airshipctl's plugins, and the error names the route that works, which
/// is then taken.
#[test]
fn kubeconfig_commands_read_an_overlay_sites_cluster_map_from_its_build() {
    let (_repo, manifests) = airshipctl();
    if tool("kubectl").is_none() {
        return;
    }
    let (_tree, site) = patched_map(
        &manifests,
        &manifests.join("site/docker-test-site/phases/cluster_map_patch.yaml"),
    );
    let home = tempfile::tempdir().unwrap();
    airship_kubeconfig(home.path(), &["ephemeral-cluster"]);
    let get = |bundle: &std::path::Path| {
        let mut command = mooring();
        command
            .args(["kubeconfig", "get", "ephemeral-cluster", "--bundle"])
            .arg(bundle)
            .env("HOME", home.path())
            .env("MOORING_KUBECONFIG_STORE", home.path().join("store"));
        command
    };
    let ran: Ran = get(&site).output().unwrap().into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "is a kustomize overlay (kustomization.yaml resources: ../base); reading its `kubectl kustomize` build of 1 document(s)",
    );
    says(
        &ran,
        "ephemeral-cluster: from filesystem ~/.airship/kubeconfig",
    );
    assert!(
        ran.stdout.contains("name: ephemeral-cluster\n"),
        "{}",
        ran.stdout
    );

    let phases: Ran = get(&manifests.join("site/docker-test-site/phases"))
        .output()
        .unwrap()
        .into();
    assert_eq!(phases.code, 2, "{}", phases.stderr);
    says(&phases, "needs the KRM plugin `Templater`");
    says(&phases, "(the kubeconfig commands take it as `--bundle -`)");

    let stream = kustomize_build(&site).unwrap();
    let piped = run_with_stdin(&mut get(std::path::Path::new("-")), &stream);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stdout, ran.stdout);
}

/// Given a site directory, the kubeconfig commands read the phases
/// entrypoint its `metadata.yaml` names, as airshipctl does: airshipctl's
/// own docker-test-site (whose entrypoint needs its plugins, so the error
/// names the route) and a site of the same layout that plain kustomize
/// builds.
#[test]
fn a_site_directory_is_read_through_the_phases_entrypoint_its_metadata_names() {
    let (repo, manifests) = airshipctl();
    if tool("kubectl").is_none() {
        return;
    }
    let get = |site: &std::path::Path| -> Ran {
        mooring()
            .args(["kubeconfig", "get", "ephemeral-cluster", "--bundle"])
            .arg(site)
            .env("HOME", repo.path())
            .env("MOORING_KUBECONFIG_STORE", repo.path().join("store"))
            .output()
            .unwrap()
            .into()
    };
    let docker = get(&manifests.join("site/docker-test-site"));
    assert_eq!(docker.code, 2, "{}", docker.stderr);
    says(
        &docker,
        "names its phases entrypoint in metadata.yaml; reading ",
    );
    says(&docker, "manifests/site/docker-test-site/phases");
    says(&docker, "(the kubeconfig commands take it as `--bundle -`)");

    // The same layout, phases that build with plain kustomize.
    let phases = manifests.join("site/plain-site/phases");
    fs::create_dir_all(&phases).unwrap();
    fs::copy(
        manifests.join("phases/cluster-map.yaml"),
        phases.join("cluster-map.yaml"),
    )
    .unwrap();
    fs::write(
        phases.join("kustomization.yaml"),
        "resources:\n  - cluster-map.yaml\n",
    )
    .unwrap();
    let metadata = fs::read_to_string(manifests.join("site/docker-test-site/metadata.yaml"))
        .unwrap()
        .replace("docker-test-site", "plain-site");
    fs::write(manifests.join("site/plain-site/metadata.yaml"), metadata).unwrap();
    airship_kubeconfig(repo.path(), &["ephemeral-cluster"]);
    let plain = get(&manifests.join("site/plain-site"));
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    says(
        &plain,
        "ephemeral-cluster: from filesystem ~/.airship/kubeconfig",
    );
}

/// treasuremap's multi-tenant type adds sub-clusters `wordpress` and `lma`
/// (children of target-cluster, read through Cluster API) by patching
/// airshipctl's ClusterMap; both files unmodified, composed by plain
/// kustomizations. Before the sub-clusters exist, a site-wide get writes
/// the ephemeral and target clusters and names each sub-cluster it left
/// out (exit 4), where it used to fail whole on the first.
#[test]
fn a_multi_tenant_site_wide_get_writes_the_clusters_that_exist_yet() {
    let (_repo, manifests) = airshipctl();
    if tool("kubectl").is_none() {
        return;
    }
    let (_tree, site) = patched_map(
        &manifests,
        &repo().join(
            "tests/e2e/fixtures/treasuremap/manifests/type/multi-tenant/phases/cluster_map_patch.yaml",
        ),
    );
    let home = tempfile::tempdir().unwrap();
    airship_kubeconfig(home.path(), &["ephemeral-cluster", "target-cluster"]);
    let ran: Ran = mooring()
        .args([
            "kubeconfig",
            "get",
            "--timeout",
            "1s",
            "--interval",
            "100ms",
            "--bundle",
        ])
        .arg(&site)
        .env("HOME", home.path())
        .env("MOORING_KUBECONFIG_STORE", home.path().join("store"))
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    let got = mooring_kube::file::parse(&ran.stdout).unwrap();
    // In the build's order: kustomize writes the map's keys sorted.
    assert_eq!(got.context_names(), ["ephemeral-cluster", "target-cluster"]);
    for sub in ["wordpress", "lma"] {
        says(
            &ran,
            &format!("mooring: {sub}: left out: no kubeconfig for cluster `{sub}`"),
        );
        says(&ran, &format!("clusterAPI Secret {sub}/{sub}-kubeconfig"));
    }
    says(&ran, "2 cluster(s) left out");
    // Each failure is said once, by mooring: the Kubernetes client's own
    // error log ("failed with error client error (Connect)") stays out.
    assert!(!ran.stderr.contains("failed with error"), "{}", ran.stderr);
}

/// A site rendered by whatever builds it (airshipctl, kustomize with
/// plugins) comes in on stdin.
#[test]
fn a_rendered_site_on_stdin_is_a_bundle_and_a_selector_that_matches_nothing_warns() {
    let (_repo, manifests) = airshipctl();
    let Some(built) =
        kustomize_build(&manifests.join("site/reference-az-public-cluster/target/initinfra"))
    else {
        return;
    };
    let total = kinds(&built).len();
    assert_eq!(total, 25);
    let (_scratch, pipeline) = label("Deployment");
    let with = |extra: &[&str]| -> Ran {
        run_with_stdin(
            mooring()
                .args(["run", "-", "--pipeline", pipeline.to_str().unwrap()])
                .args(extra),
            &built,
        )
    };
    let ran = with(&[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(kinds(&ran.stdout).len(), total);
    let deployments = kinds(&built).iter().filter(|k| **k == "Deployment").count();
    says(&ran, &format!("{deployments} seen, {deployments} changed"));

    let (_scratch, typo) = label("Deploymnet");
    let pipeline = typo.to_str().unwrap();
    let ran = run_with_stdin(mooring().args(["run", "-", "--pipeline", pipeline]), &built);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        &format!(
            "warning: its selector matched none of the {total} document(s), so it did nothing"
        ),
    );
    let strict = run_with_stdin(
        mooring().args(["run", "-", "--strict", "--pipeline", pipeline]),
        &built,
    );
    assert_eq!(strict.code, 1, "{}", strict.stderr);
    says(
        &strict,
        "the pipeline reported 1 warning(s) and --strict makes them errors; nothing was written",
    );
    assert!(strict.stdout.is_empty(), "{}", strict.stdout);

    let in_place = run_with_stdin(
        mooring().args(["run", "-", "--in-place", "--pipeline", pipeline]),
        &built,
    );
    assert_eq!(in_place.code, 2, "{}", in_place.stderr);
    says(&in_place, "<stdin> is a stream of documents, not files");
}

#[test]
fn a_kustomize_that_cannot_be_started_is_named_with_the_flag_that_chooses_another() {
    let (_repo, manifests) = airshipctl();
    let site = manifests.join("site/docker-test-site/target/workers");
    let (_scratch, pipeline) = label("KubeadmConfigTemplate");
    let ran = run(
        &site,
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--kustomize",
            "no-such-kustomize build",
        ],
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "but `no-such-kustomize build` could not be started");
    says(&ran, "name another with --kustomize");
}

/// A build is the site's own code running: what it prints is bounded, and
/// what it says on failure may quote a credential mooring has not read yet.
#[test]
fn a_builds_output_is_bounded_and_its_error_scrubbed() {
    use std::os::unix::fs::PermissionsExt;
    let (_repo, manifests) = airshipctl();
    let site = manifests.join("site/docker-test-site/target/workers");
    let (scratch, pipeline) = label("KubeadmConfigTemplate");
    let script = |name: &str, body: &str| {
        let path = scratch.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let endless = script("endless", "yes 'apiVersion: v1'");
    let ran = run(
        &site,
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--kustomize",
            &endless,
        ],
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(
        &ran,
        "printed more than 64 MiB, the most mooring reads of a stream; it was stopped",
    );

    let key = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw";
    let leaky = script(
        "leaky",
        &format!("echo \"Error: invalid Secret data in ../../type/gating: {key}\" >&2; exit 1"),
    );
    let ran = run(
        &site,
        &[
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--kustomize",
            &leaky,
        ],
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    says(&ran, "invalid Secret data in ../../type/gating: <redacted>");
    assert!(!ran.stderr.contains(key), "{}", ran.stderr);
}
