//! One Airship-style repository, as operators have them: airshipctl's and
//! treasuremap's files (unmodified) with an operator's sites beside them
//! (`fixtures/airship-sites/README.md` says what is whose): a docker site,
//! a gcp site, a metal3 multi-tenant site with sub-clusters and airshipctl's
//! azure site, made of function, type and site layers (and, for metal3, a
//! composite) with site patches. Every pipeline here runs on that tree, and
//! the real `kubectl kustomize` builds every site before and after it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::apiserver::{ApiServer, Auth};
use crate::util::{
    Ran, copy_tree, kustomize_build, mooring, repo, run, run_with_stdin, says, snapshot,
    write_pipeline,
};

/// A site: its name, its provider, and its kustomize entrypoints (from
/// the repository root).
struct Site {
    name: &'static str,
    provider: &'static str,
    entrypoints: &'static [&'static str],
}

const SITES: &[Site] = &[
    Site {
        name: "docker-test-site",
        provider: "docker",
        entrypoints: &[
            "airship-sites/manifests/site/docker-test-site/phases",
            "airshipctl/manifests/site/docker-test-site/ephemeral/controlplane",
            "airshipctl/manifests/site/docker-test-site/target/workers",
        ],
    },
    Site {
        name: "gcp-test-site",
        provider: "gcp",
        entrypoints: &[
            "airship-sites/manifests/site/gcp-test-site/phases",
            "airship-sites/manifests/site/gcp-test-site/target/controlplane",
            "airship-sites/manifests/site/gcp-test-site/target/workers",
        ],
    },
    Site {
        name: "metal3-multi-tenant",
        provider: "metal3",
        entrypoints: &[
            "airship-sites/manifests/site/metal3-multi-tenant/phases",
            "airship-sites/manifests/site/metal3-multi-tenant/ephemeral/bootstrap",
            "airship-sites/manifests/site/metal3-multi-tenant/target/controlplane",
            "airship-sites/manifests/site/metal3-multi-tenant/target/workers",
            "airship-sites/manifests/site/metal3-multi-tenant/target/initinfra",
            "airship-sites/manifests/site/metal3-multi-tenant/hwcc",
        ],
    },
    Site {
        name: "reference-az-public-cluster",
        provider: "azure",
        entrypoints: &["airshipctl/manifests/site/reference-az-public-cluster/target/initinfra"],
    },
];

/// What else the repository builds: the provider components clusterctl
/// renders (kustomize directories of their own, not overlays), one in a
/// version airshipctl keeps for history with a JSON patch written in YAML.
const COMPONENTS: &[&str] = &[
    "airshipctl/manifests/function/capd/v0.4.2",
    "airshipctl/manifests/function/capd/v0.3.7",
];

fn site(name: &str) -> &'static Site {
    SITES.iter().find(|s| s.name == name).unwrap()
}

/// A private copy of the repository.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tree in ["airshipctl", "treasuremap", "airship-sites"] {
        copy_tree(
            &repo().join("tests/e2e/fixtures").join(tree),
            &dir.path().join(tree),
        );
    }
    dir
}

/// A private copy of the repository and every build in it
/// ([`build_every_site`]); `None` where kubectl is missing and not required.
fn built_repository() -> Option<(tempfile::TempDir, BTreeMap<&'static str, String>)> {
    let root = repository();
    let built = build_every_site(root.path())?;
    Some((root, built))
}

/// Every site's every entrypoint, and the components, built by
/// `kubectl kustomize`, which must succeed; `None` where kubectl is missing
/// and not required.
fn build_every_site(root: &Path) -> Option<BTreeMap<&'static str, String>> {
    let mut built = BTreeMap::new();
    let entrypoints = SITES.iter().flat_map(|s| s.entrypoints);
    for entrypoint in entrypoints.chain(COMPONENTS) {
        built.insert(*entrypoint, kustomize_build(&root.join(entrypoint))?);
    }
    Some(built)
}

/// A site rendered whole, as `airshipctl phase render` gives it: the
/// builds of its entrypoints as one stream.
fn rendered(built: &BTreeMap<&str, String>, site: &Site) -> String {
    site.entrypoints
        .iter()
        .map(|e| built[e].as_str())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// `Kind/name` of every document in a stream, in order.
fn identities(stream: &str) -> Vec<String> {
    let mut found = Vec::new();
    for doc in stream.split("\n---\n") {
        let field = |key: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let kind = field("kind: ");
        if !kind.is_empty() {
            found.push(format!("{kind}/{}", field("  name: ")));
        }
    }
    found
}

fn count(stream: &str) -> usize {
    identities(stream).len()
}

/// Case 1: a site directory that is an overlay used to be read as the few
/// files in it (7 of 46 Phases), changed nothing and exited 0. Each
/// entrypoint of every site is now worked on as its build, the repository
/// is left as it was, and a selector that matches nothing in a build is
/// said (case 8), and fails the run under `--strict`.
#[test]
fn every_site_is_worked_on_as_its_kustomize_build() {
    let Some((root, before)) = built_repository() else {
        return;
    };
    let files = snapshot(root.path());
    let scratch = tempfile::tempdir().unwrap();
    let label = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  config: {labels: {airshipit.org/site: seen}}\n",
    );
    for entrypoint in SITES.iter().flat_map(|s| s.entrypoints) {
        let ran = run(
            &root.path().join(entrypoint),
            &["--pipeline", label.to_str().unwrap()],
        );
        assert_eq!(ran.code, 0, "{entrypoint}: {}", ran.stderr);
        says(&ran, "kustomize overlay");
        let want = count(&before[entrypoint]);
        assert!(want > 0, "{entrypoint} builds to nothing");
        assert_eq!(count(&ran.stdout), want, "{entrypoint}: {}", ran.stdout);
        assert_eq!(
            ran.stdout.matches("airshipit.org/site: seen").count(),
            want,
            "{entrypoint}"
        );
    }
    // A site directory has no kustomization of its own: it is made of its
    // entrypoints' builds, one after another (case 1 as first reported:
    // "7 documents seen, nothing removed, exit 0").
    for name in ["gcp-test-site", "metal3-multi-tenant"] {
        let dir = root.path().join("airship-sites/manifests/site").join(name);
        let ran = run(&dir, &["--pipeline", label.to_str().unwrap()]);
        assert_eq!(ran.code, 0, "{name}: {}", ran.stderr);
        says(
            &ran,
            "is a site directory whose entrypoints reach outside it",
        );
        let want: usize = site(name)
            .entrypoints
            .iter()
            .map(|e| count(&before[e]))
            .sum();
        assert_eq!(count(&ran.stdout), want, "{name}");
        let in_place = run(&dir, &["--pipeline", label.to_str().unwrap(), "--in-place"]);
        assert_eq!(in_place.code, 2, "{}", in_place.stderr);
        says(&in_place, "so there are no files to rewrite in place");
    }
    // A typo in a kind, in the docker site's phases.
    let typo = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  selector: {kind: PhasePlans}\n  config: {labels: {a: b}}\n",
    );
    let phases = root.path().join(site("docker-test-site").entrypoints[0]);
    let ran = run(&phases, &["--pipeline", typo.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "its selector matched none of the 102 document(s)");
    let strict = run(&phases, &["--pipeline", typo.to_str().unwrap(), "--strict"]);
    assert_ne!(strict.code, 0, "{}", strict.stderr);
    assert!(strict.stdout.is_empty(), "{}", strict.stdout);

    assert_eq!(
        snapshot(root.path()),
        files,
        "a run on an overlay wrote to it"
    );
    assert_eq!(build_every_site(root.path()).unwrap(), before);
}

/// A kustomize directory that pulls nothing from outside (the CAPD
/// components) is worked on as its files, as `--in-place` edits them; on
/// stdout its patches would read like objects of their own, so the run
/// says how many there are and how to work on the build instead.
#[test]
fn a_self_contained_directorys_stream_says_it_holds_patches() {
    let Some((root, built)) = built_repository() else {
        return;
    };
    let capd = root.path().join(COMPONENTS[0]);
    let scratch = tempfile::tempdir().unwrap();
    let label = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  config: {labels: {a: b}}\n",
    );
    let ran = run(&capd, &["--pipeline", label.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "'s files, not its kustomize build: 9 of its documents (crd/patches/",
    );
    says(
        &ran,
        "are patches a kustomization merges into other documents",
    );
    assert!(
        count(&ran.stdout) > count(&built[COMPONENTS[0]]),
        "{}",
        ran.stdout
    );
    // Its build, piped in, is what kustomize makes: no patch among it.
    let piped = run_with_stdin(
        mooring().args(["run", "-", "--pipeline"]).arg(&label),
        &built[COMPONENTS[0]],
    );
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(!piped.stderr.contains("patches"), "{}", piped.stderr);
    assert_eq!(count(&piped.stdout), count(&built[COMPONENTS[0]]));
}

/// Cases 2 and 3, on each rendered site: the provider is read from the
/// site itself (its infrastructure cluster, or `Cluster.spec.infrastructureRef`),
/// what belongs to metal3 goes from every other site by kind
/// (`BaremetalManager`, `BareMetalHost`, `HardwareClassification`) and by
/// rule (the ISO plan), and the metal3 site keeps it all.
#[test]
fn each_rendered_site_keeps_only_its_own_providers_documents() {
    let Some((root, built)) = built_repository() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    for (name, config, says_provider) in [
        ("docker-test-site", "", "provider docker, from"),
        ("gcp-test-site", "", "provider gcp, from"),
        ("metal3-multi-tenant", "", "provider metal3, from"),
        // Its build holds Cluster API's provider components, no cluster:
        // the operator names the provider, in any case.
        (
            "reference-az-public-cluster",
            "  config: {provider: Azure}\n",
            "provider azure, as configured",
        ),
    ] {
        let site = site(name);
        let mut stream = rendered(&built, site);
        if name == "reference-az-public-cluster" {
            // With the generic phases it would deploy with.
            stream.push_str("---\n");
            stream.push_str(
                &kustomize_build(&root.path().join("airship-sites/manifests/phases")).unwrap(),
            );
        }
        let pipeline = write_pipeline(
            scratch.path(),
            &format!("- guest: provider-filter\n{config}"),
        );
        let ran = run_with_stdin(
            mooring().args(["run", "-", "--pipeline"]).arg(&pipeline),
            &stream,
        );
        assert_eq!(ran.code, 0, "{name}: {}", ran.stderr);
        says(&ran, says_provider);
        let kept = identities(&ran.stdout);
        let metal3_only = [
            "BaremetalManager/RemoteDirectEphemeral",
            "Phase/eject-virtual-media-ephemeral",
            "PhasePlan/iso",
        ];
        let had = identities(&stream);
        for id in metal3_only {
            let had = had.iter().any(|k| k == id);
            // The docker site's own plan patch deletes the ISO plan.
            assert!(had || id == "PhasePlan/iso", "{name}'s build lacks {id}");
            let kept = kept.iter().any(|k| k == id);
            assert_eq!(kept, had && site.provider == "metal3", "{name}: {id}");
        }
        let metal3_kinds = [
            "BareMetalHost/",
            "HardwareClassification/",
            "Metal3Cluster/",
        ];
        let left: Vec<_> = kept
            .iter()
            .filter(|k| metal3_kinds.iter().any(|m| k.starts_with(m)))
            .collect();
        if site.provider == "metal3" {
            assert_eq!(left.len(), 4, "{name}: {left:?}");
        } else {
            assert!(left.is_empty(), "{name} kept {left:?}");
        }
    }
    assert_eq!(build_every_site(root.path()).unwrap(), built);
}

/// Case 2 in place: the whole repository filtered for one provider, as an
/// operator keeps a provider's own copy. Site patches go with what they
/// patch and every kustomization entry naming a removed file goes too, so
/// every site still builds — and the provider's own site builds to what
/// filtering its rendered build gives.
#[test]
fn a_repository_filtered_in_place_still_builds_every_site() {
    let scratch = tempfile::tempdir().unwrap();
    for provider in ["docker", "gcp", "metal3"] {
        let Some((root, before)) = built_repository() else {
            return;
        };
        let pipeline = write_pipeline(
            scratch.path(),
            &format!("- guest: provider-filter\n  config: {{provider: {provider}}}\n"),
        );
        let ran = run(
            root.path(),
            &["--pipeline", pipeline.to_str().unwrap(), "--in-place"],
        );
        assert_eq!(ran.code, 0, "{provider}: {}", ran.stderr);
        let after = build_every_site(root.path()).unwrap();
        let own = SITES.iter().find(|s| s.provider == provider).unwrap();
        let filtered = run_with_stdin(
            mooring().args(["run", "-", "--pipeline"]).arg(&pipeline),
            &rendered(&before, own),
        );
        assert_eq!(filtered.code, 0, "{}", filtered.stderr);
        let mut want = identities(&filtered.stdout);
        let mut have = identities(&rendered(&after, own));
        want.sort();
        have.sort();
        assert_eq!(have, want, "{provider}: {}", ran.stderr);
    }
}

/// A label on everything in the repository, in place: every object gets
/// it, and kustomize's own files (kustomizations, transformer
/// configurations, JSON patches written in YAML, as airshipctl's provider
/// components hold) are left as they are, so every site still builds, each
/// object in it labelled, and the repository's unchanged files are byte for
/// byte what they were.
#[test]
fn a_whole_repository_labelled_in_place_still_builds_every_site() {
    let Some((root, before)) = built_repository() else {
        return;
    };
    let files = snapshot(root.path());
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  config: {labels: {airshipit.org/fleet: lab}}\n",
    );
    let ran = run(
        root.path(),
        &["--pipeline", pipeline.to_str().unwrap(), "--in-place"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "that are not Kubernetes objects (kustomizations, kustomize configurations, documents without apiVersion and kind) as they were",
    );
    let after = build_every_site(root.path()).unwrap();
    for (entrypoint, built) in &after {
        assert_eq!(count(built), count(&before[entrypoint]), "{entrypoint}");
        // kustomize's generators make ConfigMaps and Secrets from no file.
        let unlabelled: Vec<&str> = built
            .split("\n---\n")
            .filter(|doc| !doc.contains("airshipit.org/fleet: lab"))
            .filter(|doc| !doc.contains("\nkind: ConfigMap\n") && !doc.contains("\nkind: Secret\n"))
            .collect();
        assert!(unlabelled.is_empty(), "{entrypoint}: {unlabelled:?}");
    }
    let now = snapshot(root.path());
    for (path, bytes) in &files {
        let name = path.to_string_lossy();
        let kustomize_own = name.ends_with("kustomization.yaml")
            || name.ends_with("kustomizeconfig.yaml")
            || name.ends_with("patch_crd_webhook_namespace.yaml")
            || !(name.ends_with(".yaml") || name.ends_with(".yml"));
        if kustomize_own {
            assert_eq!(&now[path], bytes, "{name} changed");
        }
    }
}

/// `kubeconfig get --bundle` on a site directory reads its ClusterMap as
/// airshipctl does: through the phases entrypoint its `metadata.yaml`
/// names, where the type's and site's patches are merged (case 1: the
/// directory alone holds at most a patch). The multi-tenant site's
/// sub-clusters do not exist yet: the others are written, each missing one
/// named, exit 4 (case 6), and a dangling context in `~/.airship/kubeconfig`
/// fails only the cluster that reads it (case 5). The repository root, where kustomize's inputs
/// hold a base map and its patches, is refused with the sites to choose.
#[test]
fn kubeconfig_get_reads_each_sites_map_through_its_metadata() {
    let Some((root, _)) = built_repository() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    crate::overlays::airship_kubeconfig(home.path(), &["ephemeral-cluster", "target-cluster"]);
    // A context for a cluster that does not exist yet, as airshipctl's
    // start_kind.sh leaves one (case 5): only a cluster that uses it fails.
    let file = home.path().join(".airship/kubeconfig");
    let text = fs::read_to_string(&file).unwrap().replace(
        "users:\n",
        "- name: wordpress\n  context: {cluster: wordpress, user: wordpress}\nusers:\n",
    );
    fs::write(&file, text).unwrap();
    let get = |site: &str, args: &[&str]| -> Ran {
        mooring()
            .args(["kubeconfig", "get"])
            .args(args)
            .arg("--bundle")
            .arg(root.path().join("airship-sites/manifests/site").join(site))
            .env("HOME", home.path())
            .output()
            .unwrap()
            .into()
    };
    let docker = get("docker-test-site", &[]);
    assert_eq!(docker.code, 0, "{}", docker.stderr);
    for cluster in ["ephemeral-cluster", "target-cluster"] {
        assert!(
            docker.stdout.contains(&format!("name: {cluster}")),
            "{}",
            docker.stdout
        );
    }
    let multi = get("metal3-multi-tenant", &[]);
    assert_eq!(multi.code, 4, "{}", multi.stderr);
    says(&multi, "mooring: wordpress: left out:");
    says(&multi, "mooring: lma: left out:");
    assert!(
        multi.stdout.contains("name: target-cluster"),
        "{}",
        multi.stdout
    );
    // The repository itself is not a site: its base map and every patch
    // are all ClusterMaps. The error names the sites to choose from.
    let whole: Ran = mooring()
        .args(["kubeconfig", "get", "--bundle"])
        .arg(root.path())
        .env("HOME", home.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(whole.code, 2, "{}", whole.stderr);
    says(
        &whole,
        "is a repository of sites, not one site: name one with --bundle, such as ",
    );
    says(&whole, "airship-sites/manifests/site/metal3-multi-tenant");
}

/// Case 4: kubeconfig-rewrite gives the metal3 site's KubeConfig the
/// ClusterMap's names and renames the map's `bundle.contextName` with
/// them, so the target cluster is still found in the rewritten build.
#[test]
fn a_rewritten_site_still_finds_its_clusters_in_its_kubeconfig() {
    let Some((root, before)) = built_repository() else {
        return;
    };
    let phases = root.path().join(site("metal3-multi-tenant").entrypoints[0]);
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), "- guest: kubeconfig-rewrite\n");
    let ran = run(&phases, &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "context target-cluster-admin@target-cluster is now target-cluster",
    );
    assert!(
        !ran.stdout.contains("target-cluster-admin@target-cluster"),
        "{}",
        ran.stdout
    );
    let home = tempfile::tempdir().unwrap();
    let got = run_with_stdin(
        mooring()
            .args(["kubeconfig", "get", "target-cluster", "--bundle", "-"])
            .env("HOME", home.path()),
        &ran.stdout,
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(
        got.stdout.contains("current-context: target-cluster"),
        "{}",
        got.stdout
    );
    assert_eq!(build_every_site(root.path()).unwrap(), before);
}

/// Cases 6 and 7 on the multi-tenant site, as its clusters come up. The
/// example plans' capture phase runs as airshipctl's executor runs it (its
/// own command line, the phases build on stdin, `KUBECONFIG` and
/// `KCTL_CONTEXT` naming the ephemeral cluster) and captures the target
/// cluster from its Cluster API Secret; a site-wide `get` is partial (exit
/// 4) while the sub-clusters do not exist; the site's KubeConfig takes the
/// target's captured kubeconfig; once the target cluster holds the
/// sub-clusters' Secrets they are captured through it, and `get` is whole.
#[test]
fn a_multi_tenant_sites_clusters_are_captured_as_they_come_up() {
    let Some((root, before)) = built_repository() else {
        return;
    };
    let documents = before[site("metal3-multi-tenant").entrypoints[0]].clone();
    let server = ApiServer::start();
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("store");
    let executor = home.path().join("executor-kubeconfig");
    fs::write(&executor, server.kubeconfig("kind-ephemeral", Auth::Token)).unwrap();
    server.put_secret(
        "target-infra",
        "target-cluster-kubeconfig",
        &server.capi_kubeconfig("target-cluster", Auth::Token),
    );
    let as_executor = |args: &[&str], stdin: &str, executor_env: bool| -> Ran {
        let mut command = mooring();
        command
            .args(args)
            .env("HOME", home.path())
            .env("MOORING_KUBECONFIG_STORE", &store)
            .env_remove("KUBECONFIG")
            .env_remove("KCTL_CONTEXT");
        if executor_env {
            command
                .env("KUBECONFIG", &executor)
                .env("KCTL_CONTEXT", "kind-ephemeral");
        }
        run_with_stdin(&mut command, stdin)
    };

    let capture = crate::kubeconfig::capture_phase_command();
    let capture: Vec<&str> = capture.iter().map(String::as_str).collect();
    let first = as_executor(&capture, &documents, true);
    assert_eq!(first.code, 0, "{}", first.stderr);
    says(&first, "target-cluster: captured from clusterAPI Secret");

    let partial = as_executor(&["kubeconfig", "get", "--bundle", "-"], &documents, false);
    assert_eq!(partial.code, 4, "{}", partial.stderr);
    says(&partial, "mooring: wordpress: left out:");
    says(&partial, "mooring: lma: left out:");

    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        "- guest: kubeconfig-rewrite\n- guest: inject-credentials\n  grants: {credentials: [target-cluster]}\n  config: {clusters: [target-cluster]}\n",
    );
    let injected = as_executor(
        &[
            "run",
            "-",
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--allow-credentials",
            "target-cluster",
            "--show-secrets",
        ],
        &documents,
        false,
    );
    assert_eq!(injected.code, 0, "{}", injected.stderr);
    assert!(
        !injected.stderr.contains(&server.token),
        "a token reached stderr"
    );

    for sub in ["wordpress", "lma"] {
        server.put_secret(
            sub,
            &format!("{sub}-kubeconfig"),
            &server.capi_kubeconfig(sub, Auth::Token),
        );
    }
    let second = as_executor(
        &[
            "kubeconfig",
            "capture",
            "--children-of",
            "target-cluster",
            "--bundle",
            "-",
        ],
        &injected.stdout,
        false,
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    says(
        &second,
        "wordpress: captured from clusterAPI Secret wordpress/wordpress-kubeconfig",
    );
    says(
        &second,
        "lma: captured from clusterAPI Secret lma/lma-kubeconfig",
    );

    let whole = as_executor(
        &["kubeconfig", "get", "--bundle", "-"],
        &injected.stdout,
        false,
    );
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let got = mooring_kube::file::parse(&whole.stdout).unwrap();
    let mut contexts = got.context_names();
    contexts.sort();
    assert_eq!(
        contexts,
        ["ephemeral-cluster", "lma", "target-cluster", "wordpress"]
    );
    assert_eq!(build_every_site(root.path()).unwrap(), before);
}

/// Case 4, with treasuremap's own `kubeconfig/update-target.yaml` (the
/// ReplacementTransformer that writes generated credentials into a site's
/// KubeConfig by entry name, in its `.config.users.[name=X]` syntax): after
/// `kubeconfig-rewrite` gives the metal3 site's KubeConfig the ClusterMap's
/// names, every entry it writes to is there; an entry that is not is
/// warned about, naming the reference.
#[test]
fn treasuremaps_update_target_finds_its_entries_after_the_rewrite() {
    let Some((root, before)) = built_repository() else {
        return;
    };
    let update_target =
        fs::read_to_string(root.path().join(
            "treasuremap/manifests/site/reference-multi-tenant/kubeconfig/update-target.yaml",
        ))
        .unwrap();
    let site = &before[site("metal3-multi-tenant").entrypoints[0]];
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), "- guest: kubeconfig-rewrite\n");
    let rewrite = |stream: String| {
        run_with_stdin(
            mooring().args(["run", "-", "--pipeline"]).arg(&pipeline),
            &format!("{stream}---\n{update_target}"),
        )
    };
    let ran = rewrite(site.clone());
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "context target-cluster-admin@target-cluster is now target-cluster",
    );
    assert!(!ran.stderr.contains("warning"), "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("[name=ephemeral-cluster-admin].user.client-key-data"),
        "{}",
        ran.stdout
    );

    // Without the ephemeral cluster's user, three references name nothing.
    let without = site.replace("  - name: ephemeral-cluster-admin\n    user: {}\n", "");
    assert_ne!(&without, site, "the build's KubeConfig changed shape");
    let ran = rewrite(without);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "field reference .config.users.[name=ephemeral-cluster-admin].user.client-key-data names users entry `ephemeral-cluster-admin`, which the KubeConfig document does not have",
    );
}
