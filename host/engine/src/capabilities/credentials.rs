//! `mooring:step/credentials`: the captured kubeconfigs a step's pipeline
//! grants it, and nothing else.
//!
//! A step asking for a cluster it was not granted gets an error, and the
//! run reports that it asked. Whatever a step is handed is also a list of
//! secrets the host scrubs from everything the step says (log lines,
//! results, refusals, printed output), so even a granted step that echoes
//! its input cannot put a credential in front of the operator.

use std::collections::BTreeMap;

use base64::Engine as _;
use mooring_model::kubeconfig::Kubeconfig;
use serde_json::Value;

use super::HostState;
use crate::bindings::mooring::step::credentials::Host;

/// What replaces a credential in anything a step says.
pub const REDACTED: &str = "<redacted>";

/// Shorter strings are not treated as secrets: scrubbing `admin` or `true`
/// from every message would say less and protect nothing.
const MIN_SECRET_LEN: usize = 12;

/// The credentials one step run may read. Its `Debug` names the granted
/// clusters, never what they hold.
#[derive(Default)]
pub struct Credentials {
    /// Granted cluster → its kubeconfig as JSON, or why there is none.
    granted: BTreeMap<String, Result<String, String>>,
    /// Every secret string handed out, longest first.
    secrets: Vec<String>,
    /// Clusters the step asked for without a grant, in order.
    pub(crate) denied: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("granted", &self.granted.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.len())
            .field("denied", &self.denied)
            .finish()
    }
}

impl Credentials {
    /// Grants exactly `entries`: cluster → its kubeconfig, or why the host
    /// has none.
    pub fn granted(entries: BTreeMap<String, Result<Kubeconfig, String>>) -> Self {
        let mut secrets = Vec::new();
        let granted = entries
            .into_iter()
            .map(|(cluster, config)| {
                let json = config.map(|config| {
                    for user in &config.users {
                        collect_secrets(user.body.get("user"), &mut secrets);
                    }
                    serde_json::to_string(&config).unwrap_or_default()
                });
                (cluster, json)
            })
            .collect();
        secrets.sort_by_key(|s: &String| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Credentials {
            granted,
            secrets,
            denied: Vec::new(),
        }
    }

    /// `text` with every secret this step was handed replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }
}

/// The string values under a kubeconfig `user:` (tokens, keys, passwords),
/// and, for base64 data, the decoded text and each of its lines, so that a
/// step that decodes a key before echoing it is scrubbed too.
fn collect_secrets(value: Option<&Value>, secrets: &mut Vec<String>) {
    match value {
        Some(Value::String(text)) if text.len() >= MIN_SECRET_LEN => {
            secrets.push(text.clone());
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some(decoded) = decoded {
                secrets.extend(
                    decoded
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.len() >= MIN_SECRET_LEN && !l.starts_with("-----"))
                        .map(str::to_owned),
                );
                secrets.push(decoded);
            }
        }
        Some(Value::Object(map)) => map.values().for_each(|v| collect_secrets(Some(v), secrets)),
        Some(Value::Array(items)) => items.iter().for_each(|v| collect_secrets(Some(v), secrets)),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_covers_raw_and_decoded_secrets() {
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbCdEfGhIjKlMnOpQrStUvWxYz\n-----END EC PRIVATE KEY-----\n";
        let config = Kubeconfig::from_value(json!({
            "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c-admin"}}],
            "users": [{"name": "c-admin", "user": {
                "token": "abcdefghijklmnop",
                "client-key-data": base64::engine::general_purpose::STANDARD.encode(key),
                "username": "admin"
            }}]
        }))
        .unwrap();
        let credentials = Credentials::granted([("c".to_owned(), Ok(config))].into());
        let said =
            "token abcdefghijklmnop, key line MHcCAQEEIAbCdEfGhIjKlMnOpQrStUvWxYz, user admin";
        assert_eq!(
            credentials.scrub(said),
            "token <redacted>, key line <redacted>, user admin"
        );
        let shown = format!("{credentials:?}");
        assert!(
            shown.contains("\"c\"") && !shown.contains("abcdefghijklmnop"),
            "{shown}"
        );
    }
}
