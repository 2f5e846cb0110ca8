//! `kubeconfig-rewrite`: the bundle's `KubeConfig` document takes the names
//! its `ClusterMap` uses.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::kubeconfig::shape;
use crate::util::{example_bundle, says};

#[test]
fn kubeconfig_rewrite_gives_the_bundle_document_the_cluster_map_names() {
    let bundle = example_bundle("metal3-site");
    let path = bundle.path().join("kubeconfig/kubeconfig.yaml");
    // As Cluster API would have named the target's entries.
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("name: target-cluster-admin", "name: tc-admin")
        .replace("user: target-cluster-admin", "user: tc-admin")
        .replace("  - context:\n      cluster: target-cluster\n      user: tc-admin\n    name: target-cluster", "  - context:\n      cluster: target-cluster\n      user: tc-admin\n    name: tc-admin@tc");
    assert!(text.contains("name: tc-admin@tc"), "fixture edit failed");
    fs::write(&path, text).unwrap();
    let map = bundle.path().join("phases/cluster-map.yaml");
    let text = fs::read_to_string(&map).unwrap().replacen(
        "bundle:\n          contextName: target-cluster",
        "bundle:\n          contextName: tc-admin@tc",
        1,
    );
    fs::write(&map, text).unwrap();

    let ran = crate::util::run(bundle.path(), &["--in-place"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "context tc-admin@tc is now target-cluster, for cluster `target-cluster`",
    );
    let metal3 = crate::util::repo().join("bundles/metal3-site");
    assert_eq!(
        shape(bundle.path(), "kubeconfig/kubeconfig.yaml"),
        shape(&metal3, "kubeconfig/kubeconfig.yaml")
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
