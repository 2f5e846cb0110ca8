//! `inject-credentials`: captured kubeconfigs merged into the site's
//! `KubeConfig` document, so a cloud site ends where a bare-metal site
//! starts.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::apiserver::{ApiServer, Auth};
use crate::kubeconfig::{SECRET, SECRET_NS, Site, shape};
use crate::util::{Ran, mooring, says};

#[test]
fn a_cloud_site_ends_with_the_kubeconfig_document_a_bare_metal_site_has() {
    let mut server = ApiServer::start();
    let site = Site::new(&server, Auth::Token);
    server.put_secret_after(
        SECRET_NS,
        SECRET,
        &server.capi_kubeconfig("target-cluster", Auth::Token),
        2,
    );
    // Capture both while the ephemeral cluster lives.
    let captured = site.kubeconfig(&[
        "capture",
        "ephemeral-cluster",
        "target-cluster",
        "--interval",
        "100ms",
    ]);
    assert_eq!(captured.code, 0, "{}", captured.stderr);
    says(
        &captured,
        "ephemeral-cluster: captured from filesystem ~/.airship/kubeconfig",
    );

    // Write them into the bundle's KubeConfig document.
    let pipeline = crate::util::repo().join("bundles/kubeconfig-pipeline.yaml");
    let ran: Ran = mooring()
        .arg("run")
        .arg(site.bundle.path())
        .arg("--pipeline")
        .arg(&pipeline)
        .arg("--in-place")
        .args(["--allow-credentials", "target-cluster,ephemeral-cluster"])
        .env("MOORING_KUBECONFIG_STORE", site.store())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(
        &ran,
        "merged the kubeconfigs of target-cluster, ephemeral-cluster",
    );
    assert!(
        !ran.stderr.contains(&server.token),
        "a token reached stderr"
    );
    let written = site.bundle.path().join("kubeconfig/kubeconfig.yaml");
    assert_eq!(
        fs::metadata(&written).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The ephemeral cluster goes away; the bundle still knows the target.
    server.stop();
    let after = site.kubeconfig(&["get", "target-cluster"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    says(&after, "target-cluster: from bundle KubeConfig");

    // The same shape as the static KubeConfig of the bare-metal site.
    let metal3 = crate::util::repo().join("bundles/metal3-site");
    assert_eq!(
        shape(site.bundle.path(), "kubeconfig/kubeconfig.yaml"),
        shape(&metal3, "kubeconfig/kubeconfig.yaml")
    );
}
