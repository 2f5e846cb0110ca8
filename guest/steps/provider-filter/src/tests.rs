//! The filter's decisions on small sites built from the kinds real
//! airshipctl sites hold; the example bundles run through it end to end in
//! `tests/e2e/provider_filter.rs`.

use mooring_guest::testing::{Fixture, Outcome};

use super::*;

fn airship(kind: &str, name: &str, extra: Value) -> Value {
    let mut doc =
        json!({"apiVersion": "airshipit.org/v1alpha1", "kind": kind, "metadata": {"name": name}});
    if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
        doc.extend(extra);
    }
    doc
}

fn phase(name: &str, executor_kind: &str, executor: &str) -> Value {
    airship(
        "Phase",
        name,
        json!({"config": {"executorRef": {"apiVersion": "airshipit.org/v1alpha1", "kind": executor_kind, "name": executor}}}),
    )
}

fn infrastructure(kind: &str) -> Value {
    json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": kind, "metadata": {"name": "target-cluster"}})
}

/// A gating-type site: a bare-metal ephemeral boot, hwcc checks, an ISO
/// plan, and generic phases every provider runs.
fn site(cluster: Value) -> Fixture {
    Fixture::new()
        .doc("kustomization.yaml", json!({"resources": ["target", "phases", "hwcc"], "patchesStrategicMerge": ["hwcc/patch.yaml"]}))
        .doc("target/cluster.yaml", cluster)
        .doc("target/kustomization.yaml", json!({"resources": ["cluster.yaml"]}))
        .doc("phases/phases.yaml", phase("remotedirect-ephemeral", "BaremetalManager", "RemoteDirectEphemeral"))
        .doc("phases/phases.yaml", phase("clusterctl-move", "Clusterctl", "clusterctl_move"))
        .doc("phases/phases.yaml", phase("iso-build-image", "GenericContainer", "iso-build-image"))
        .doc("phases/executors.yaml", airship("BaremetalManager", "RemoteDirectEphemeral", json!({})))
        .doc("phases/executors.yaml", airship("Clusterctl", "clusterctl_move", json!({})))
        .doc("phases/executors.yaml", airship("GenericContainer", "iso-build-image", json!({"configRef": {"kind": "ConfigMap", "name": "iso-script"}})))
        .doc("phases/kustomization.yaml", json!({"resources": ["phases.yaml", "executors.yaml", "plan.yaml"],
            "configMapGenerator": [{"name": "iso-script", "files": ["script=iso.sh"]}, {"name": "other", "files": ["x.sh"]}]}))
        .doc("phases/plan.yaml", airship("PhasePlan", "deploy", json!({"phases": [{"name": "remotedirect-ephemeral"}, {"name": "clusterctl-move"}]})))
        .doc("phases/plan.yaml", airship("PhasePlan", "iso", json!({"phases": [{"name": "iso-build-image"}]})))
        .doc("hwcc/verify.yaml", phase("verify-hwcc-profiles", "GenericContainer", "verify-hwcc"))
        .doc("hwcc/profile.yaml", json!({"apiVersion": "metal3.io/v1alpha1", "kind": "HardwareClassification", "metadata": {"name": "profile1"}}))
        .doc("hwcc/patch.yaml", json!({"apiVersion": "metal3.io/v1alpha1", "kind": "HardwareClassification", "metadata": {"name": "profile1"}, "spec": {"x": 1}}))
        .doc("hwcc/kustomization.yaml", json!({"resources": ["verify.yaml", "profile.yaml"]}))
}

fn names(run: &Outcome) -> BTreeSet<String> {
    run.documents
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d.content.get("kind").and_then(Value::as_str).unwrap_or(""),
                d.path
            )
        })
        .collect()
}

fn kustomization<'r>(run: &'r Outcome, path: &str) -> &'r Map<String, Value> {
    &run.documents
        .iter()
        .find(|d| d.path == path)
        .unwrap()
        .content
}

#[test]
fn metal3_keeps_everything() {
    let fixture = site(infrastructure("Metal3Cluster"));
    let run = fixture.run(provider_filter, json!({})).unwrap();
    assert_eq!(run.documents.len(), 16, "{:?}", run.messages());
    assert_eq!(
        run.messages(),
        ["provider metal3, from Metal3Cluster/target-cluster in target/cluster.yaml"]
    );
}

#[test]
fn docker_drops_bare_metal_kinds_their_phases_and_every_reference() {
    let run = site(infrastructure("DockerCluster"))
        .run(provider_filter, json!({}))
        .unwrap();
    let left = names(&run);
    for gone in [
        "BaremetalManager/phases/executors.yaml",
        "HardwareClassification/hwcc/profile.yaml",
        "/hwcc/kustomization.yaml",
    ] {
        assert!(!left.contains(gone), "{gone} is still there: {left:?}");
    }
    assert!(
        left.contains("Clusterctl/phases/executors.yaml"),
        "{left:?}"
    );
    assert!(run.get("Phase", "remotedirect-ephemeral").is_none());
    assert!(run.get("Phase", "iso-build-image").is_none());
    assert!(
        run.get("PhasePlan", "iso").is_none(),
        "a plan with no phase left goes"
    );
    assert_eq!(
        run.get("PhasePlan", "deploy").unwrap().content["phases"],
        json!([{"name": "clusterctl-move"}])
    );
    let root = kustomization(&run, "kustomization.yaml");
    assert_eq!(root["resources"], json!(["target", "phases"]));
    assert_eq!(
        root["patchesStrategicMerge"],
        json!([]),
        "the patch of a removed document is no longer named"
    );
    let phases = kustomization(&run, "phases/kustomization.yaml");
    assert_eq!(
        phases["configMapGenerator"],
        json!([{"name": "other", "files": ["x.sh"]}])
    );
    let messages = run.messages().join("\n");
    assert!(
        messages.contains("removed: BaremetalManager belongs to metal3, and this site is docker"),
        "{messages}"
    );
    assert!(
        messages
            .contains("removed: its executor BaremetalManager/RemoteDirectEphemeral was removed"),
        "{messages}"
    );
    assert!(
        messages.contains("removed: rule iso: only for metal3, and this site is docker"),
        "{messages}"
    );
    assert!(
        messages.contains("dropped patchesStrategicMerge entry hwcc/patch.yaml"),
        "{messages}"
    );
}

#[test]
fn the_provider_is_found_through_a_clusters_infrastructure_ref_and_templates() {
    let cluster = json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "metadata": {"name": "target-cluster"},
        "spec": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "AWSManagedControlPlane", "name": "x"}}});
    let run = site(cluster).run(provider_filter, json!({})).unwrap();
    assert!(
        run.messages()[0]
            .starts_with("provider aws, from the infrastructureRef AWSManagedControlPlane"),
        "{:?}",
        run.messages()
    );
    let run = site(infrastructure("VSphereClusterTemplate"))
        .run(provider_filter, json!({}))
        .unwrap();
    assert!(
        run.messages()[0].starts_with("provider vsphere"),
        "{:?}",
        run.messages()
    );
    let run = site(infrastructure("GCPManagedCluster"))
        .run(provider_filter, json!({}))
        .unwrap();
    assert!(
        run.messages()[0].starts_with("provider gcp"),
        "{:?}",
        run.messages()
    );
}

#[test]
fn provider_names_are_case_insensitive_and_more_can_be_declared() {
    let run = site(infrastructure("DockerCluster"))
        .run(provider_filter, json!({"provider": "CAPM3"}))
        .unwrap();
    assert_eq!(run.messages()[0], "provider metal3, as configured");
    let config =
        json!({"providers": [{"name": "packet", "aliases": ["capp"], "kindPrefix": "Packet"}]});
    let run = site(infrastructure("PacketCluster"))
        .run(provider_filter, config)
        .unwrap();
    assert!(
        run.messages()[0].starts_with("provider packet"),
        "{:?}",
        run.messages()
    );
    let unknown = site(infrastructure("DockerCluster"))
        .run(provider_filter, json!({"provider": "nimbus"}))
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown provider \"nimbus\"; known providers: metal3, docker"),
        "{unknown}"
    );
}

#[test]
fn a_bundle_of_two_providers_or_none_is_refused_with_what_was_found() {
    let mixed = site(infrastructure("DockerCluster"))
        .doc("other.yaml", infrastructure("AzureCluster"))
        .run(provider_filter, json!({}))
        .unwrap_err()
        .to_string();
    assert!(mixed.contains("the bundle mixes providers"), "{mixed}");
    assert!(
        mixed.contains("docker (from DockerCluster") && mixed.contains("azure (from AzureCluster"),
        "{mixed}"
    );
    let none = Fixture::new()
        .doc(
            "a.yaml",
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
        )
        .run(provider_filter, json!({}))
        .unwrap_err()
        .to_string();
    assert!(none.contains("set `provider:`"), "{none}");
}

/// In a repository, a site's entrypoint that held only metal3 documents
/// keeps its (now empty) kustomization, so it still builds, to nothing; a
/// kustomization another one names goes, and so does that entry.
#[test]
fn an_emptied_entrypoint_keeps_its_kustomization() {
    let run = site(infrastructure("DockerCluster"))
        .doc(
            "sites/hwcc/kustomization.yaml",
            json!({"resources": ["../../hwcc"]}),
        )
        .run(provider_filter, json!({}))
        .unwrap();
    let left = names(&run);
    assert!(!left.contains("/hwcc/kustomization.yaml"), "{left:?}");
    assert_eq!(
        kustomization(&run, "sites/hwcc/kustomization.yaml")["resources"],
        json!([])
    );
}
