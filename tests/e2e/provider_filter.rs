//! `provider-filter` over the two example sites: one plan for every provider.

use std::collections::BTreeSet;
use std::path::Path;

use mooring_engine::bundle::Bundle;
use mooring_engine::document::Object;

use crate::util::{example_bundle, run, says, write_pipeline};

/// `Kind/name` of every document, or its path when it has neither.
fn identities(dir: &Path) -> BTreeSet<String> {
    Bundle::load(dir)
        .unwrap()
        .documents()
        .iter()
        .map(|d| match (d.kind(), d.name()) {
            ("", "") => d.path.clone(),
            (kind, name) => format!("{kind}/{name}"),
        })
        .collect()
}

fn filtered(site: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let bundle = example_bundle(site);
    let out = bundle.path().with_extension("out");
    let ran = run(bundle.path(), &["--output-dir", out.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    (bundle, out, ran.stderr)
}

#[test]
fn the_metal3_site_keeps_its_hwcc_checks() {
    let (bundle, out, stderr) = filtered("metal3-site");
    assert!(
        stderr
            .contains("provider metal3, from Metal3Cluster/target-cluster in target/cluster.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "drop-other-providers (provider-filter): 102 seen, 0 changed, 0 added, 0 removed"
        ),
        "{stderr}"
    );
    assert_eq!(identities(&out), identities(bundle.path()));
}

#[test]
fn the_docker_site_drops_exactly_what_belongs_to_metal3() {
    let (bundle, out, stderr) = filtered("docker-test-site");
    assert!(
        stderr.contains("provider docker, from DockerCluster/target-cluster"),
        "{stderr}"
    );
    let before = identities(bundle.path());
    let after = identities(&out);
    assert!(after.is_subset(&before));
    let removed: Vec<&str> = before.difference(&after).map(String::as_str).collect();
    assert_eq!(
        removed,
        [
            // BaremetalManager is metal3's by kind, and takes its phases
            // with it, eject-virtual-media-ephemeral included.
            "BaremetalManager/EjectVirtualMediaEphemeral",
            "BaremetalManager/PowerOffEphemeral",
            "BaremetalManager/RemoteDirectEphemeral",
            "GenericContainer/verify-hwcc-profiles",
            "HardwareClassification/hardwareclassification-profile1",
            "HardwareClassification/hardwareclassification-profile2",
            "Phase/eject-virtual-media-ephemeral",
            "Phase/initinfra-ephemeral",
            "Phase/power-off-ephemeral",
            "Phase/remotedirect-ephemeral",
            "Phase/verify-hwcc-profiles",
            "hwcc/kustomization.yaml",
        ]
    );
    // Each removal is a result naming the document and the rule.
    assert!(stderr.contains("Phase/verify-hwcc-profiles (hwcc/verify-phase.yaml:4): removed: rule hwcc: only for metal3, and this site is docker"), "{stderr}");

    // The plan no longer names a removed phase; the root no longer names hwcc/.
    let plan = std::fs::read_to_string(out.join("phases/plan.yaml")).unwrap();
    for phase in [
        "verify-hwcc-profiles",
        "remotedirect-ephemeral",
        "initinfra-ephemeral",
        "power-off-ephemeral",
        "eject-virtual-media-ephemeral",
    ] {
        assert!(!plan.contains(phase), "{phase} still planned:\n{plan}");
    }
    assert!(plan.contains("- name: clusterctl-move"), "{plan}");
    let root = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(!root.contains("hwcc"), "{root}");

    // And kustomize still builds the filtered tree.
    let Some(built) = crate::util::kustomize_build(&out) else {
        return;
    };
    assert!(!built.contains("HardwareClassification") && !built.contains("verify-hwcc-profiles"));
    assert!(built.contains("kind: PhasePlan"));
}

#[test]
fn a_configured_provider_overrides_detection_and_a_wrong_one_is_refused() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    for (provider, code, needle) in [
        ("capm3", 0, "provider metal3, as configured"),
        ("CAPD", 0, "provider docker, as configured"),
        // Checked with the config before anything runs, at its place in
        // the pipeline file.
        (
            "nimbus",
            2,
            "pipeline.yaml:7:11: invalid config: unknown provider \"nimbus\"; known providers: metal3, docker, azure, gcp, openstack, aws, vsphere",
        ),
    ] {
        let pipeline = write_pipeline(
            scratch.path(),
            &format!("- guest: provider-filter\n  config: {{provider: {provider}}}\n"),
        );
        let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
        assert_eq!(ran.code, code, "{}", ran.stderr);
        says(&ran, needle);
    }
}

#[test]
fn a_bundle_that_mixes_providers_must_say_which_it_is() {
    let bundle = example_bundle("docker-test-site");
    std::fs::write(
        bundle.path().join("target/extra.yaml"),
        "apiVersion: infrastructure.cluster.x-k8s.io/v1alpha5\nkind: Metal3Cluster\nmetadata:\n  name: other\n",
    )
    .unwrap();
    let ran = run(bundle.path(), &[]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "the bundle mixes providers");
    says(&ran, "set `provider:`");
}

/// A site patch looks like the document it patches. On a docker site the
/// metal3 host and its patch both go, every kustomization field naming
/// either is pruned (`resources:` and `patchesStrategicMerge:`), a patch of
/// a document that stays is kept, and the result builds with the real
/// kustomize (which the run itself checks before writing, here with a
/// relative link to a shared file inside the site).
#[test]
fn a_site_patch_goes_with_its_target_and_the_site_still_builds() {
    use crate::util::kustomize_build;
    let tree = tempfile::tempdir().unwrap();
    let site = tree.path().join("site");
    std::fs::create_dir_all(site.join("shared")).unwrap();
    std::fs::write(
        site.join("shared/common.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("shared/common.yaml", site.join("shared.yaml")).unwrap();
    let file = |name: &str, text: &str| std::fs::write(site.join(name), text).unwrap();
    file(
        "kustomization.yaml",
        "resources:\n  - cluster.yaml\n  - hosts.yaml\n  - cm.yaml\n  - shared.yaml\npatchesStrategicMerge:\n  - host-patch.yaml\n  - cm-patch.yaml\n",
    );
    file(
        "cluster.yaml",
        "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: DockerCluster\nmetadata:\n  name: target-cluster\n",
    );
    let host = |online: bool| {
        format!(
            "apiVersion: metal3.io/v1alpha1\nkind: BareMetalHost\nmetadata:\n  name: node01\nspec:\n  online: {online}\n"
        )
    };
    file("hosts.yaml", &host(true));
    file("host-patch.yaml", &host(false));
    file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  a: \"1\"\n",
    );
    file(
        "cm-patch.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  b: \"2\"\n",
    );
    if kustomize_build(site.as_path()).is_none() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), "- guest: provider-filter\n");
    let ran = run(
        site.as_path(),
        &["--pipeline", pipeline.to_str().unwrap(), "--in-place"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "dropped patchesStrategicMerge entry host-patch.yaml");
    assert!(!site.as_path().join("hosts.yaml").exists());
    assert!(!site.as_path().join("host-patch.yaml").exists());
    assert!(site.as_path().join("cm-patch.yaml").exists());
    let built = kustomize_build(site.as_path()).unwrap();
    assert!(!built.contains("BareMetalHost"), "{built}");
    assert!(
        built.contains("a: \"1\"") && built.contains("b: \"2\""),
        "{built}"
    );
}
