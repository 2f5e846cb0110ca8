//! Captured kubeconfigs, for a step whose pipeline grants them:
//!
//! ```yaml
//! - guest: inject-credentials
//!   grants: {credentials: [ephemeral-cluster, target-cluster]}
//! ```
//!
//! Without a grant for the cluster, the host denies the request and the
//! run reports that the step asked. Never log what you get: the host
//! scrubs it from logs and results anyway.

use mooring_model::kubeconfig::Kubeconfig;

use crate::Error;
#[cfg(target_arch = "wasm32")]
use crate::bindings::mooring::step::credentials;

/// The captured kubeconfig of `cluster`: one context named after the
/// cluster, its cluster entry and its user `<cluster>-admin`.
pub fn kubeconfig(cluster: &str) -> Result<Kubeconfig, Error> {
    let json = fetch(cluster).map_err(Error::msg)?;
    let value = serde_json::from_str(&json)?;
    Kubeconfig::from_value(value)
        .map_err(|e| Error::msg(format!("the kubeconfig of `{cluster}` {e}")))
}

#[cfg(target_arch = "wasm32")]
fn fetch(cluster: &str) -> Result<String, String> {
    credentials::kubeconfig(cluster)
}

/// In a native test, what the [`Fixture`](crate::testing::Fixture) grants.
#[cfg(not(target_arch = "wasm32"))]
fn fetch(cluster: &str) -> Result<String, String> {
    crate::testing::GRANTED.with(|granted| match granted.borrow().get(cluster) {
        Some(config) => serde_json::to_string(config).map_err(|e| e.to_string()),
        None => Err(format!(
            "denied: this step has no grant for the credentials of cluster `{cluster}`"
        )),
    })
}
