//! `mooring:step/credentials`: the captured kubeconfigs a step's pipeline
//! grants it, and nothing else.
//!
//! A step asking for a cluster it was not granted gets an error, and the
//! run reports that it asked. Whatever a step is handed is also a list of
//! secrets the host scrubs from everything the step says (log lines,
//! results, refusals, printed output), so even a granted step that echoes
//! its input cannot put a credential in front of the operator.

use std::collections::BTreeMap;
use std::sync::Arc;

use mooring_model::kubeconfig::Kubeconfig;

use super::HostState;
use crate::bindings::mooring::step::credentials::Host;
use crate::secrets::Secrets;

/// The credentials one step run may read, and every secret the run knows
/// (to scrub from what the step says). Its `Debug` names the granted
/// clusters, never what they hold.
#[derive(Default)]
pub struct Credentials {
    /// Granted cluster → its kubeconfig as JSON, or why there is none.
    granted: BTreeMap<String, Result<String, String>>,
    /// Every secret of the run.
    secrets: Arc<Secrets>,
    /// Clusters the step asked for without a grant, in order.
    pub(crate) denied: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("granted", &self.granted.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets)
            .field("denied", &self.denied)
            .finish()
    }
}

impl Credentials {
    /// Grants exactly `entries` (cluster → its kubeconfig, or why the host
    /// has none); `secrets` are the run's, scrubbed from what the step says.
    pub fn granted(
        entries: &BTreeMap<String, Result<Kubeconfig, String>>,
        secrets: Arc<Secrets>,
    ) -> Self {
        let granted = entries
            .iter()
            .map(|(cluster, config)| {
                let json = config
                    .as_ref()
                    .map_err(Clone::clone)
                    .map(|config| serde_json::to_string(config).unwrap_or_default());
                (cluster.clone(), json)
            })
            .collect();
        Credentials {
            granted,
            secrets,
            denied: Vec::new(),
        }
    }

    /// `text` as the operator may see it: every secret of the run
    /// replaced, terminal controls removed.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(text)
    }
}

impl Host for HostState {
    fn kubeconfig(&mut self, cluster: String) -> Result<String, String> {
        match self.credentials.granted.get(&cluster) {
            Some(answer) => answer.clone(),
            None => {
                let message = format!(
                    "denied: this step has no grant for the credentials of cluster `{cluster}`"
                );
                if !self.credentials.denied.contains(&cluster) {
                    self.credentials.denied.push(cluster);
                }
                Err(message)
            }
        }
    }
}
