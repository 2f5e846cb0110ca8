//! The credentials a run knows, and keeping them where they belong.
//!
//! A run knows the captured kubeconfigs its steps are granted and the
//! credential material already in the bundle (the users of a `KubeConfig`
//! document, the data of a `Secret`). Each secret belongs to clusters (the
//! contexts that use a kubeconfig user); a step sees the secrets of the
//! clusters it was granted and no others: where it would read one, it
//! reads a marker instead, and a marker it writes back into a credential
//! document becomes the secret again, so a step that rewrites a KubeConfig
//! document it may not read loses nothing. Everything any step says, and
//! the stream on stdout unless the operator asks, is scrubbed of every
//! secret, raw or base64-decoded, and of terminal control sequences.

use std::collections::BTreeSet;

use base64::Engine as _;
use mooring_model::Object;
use mooring_model::kubeconfig::Kubeconfig;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What replaces a secret in anything shown to the operator.
pub const REDACTED: &str = "<redacted>";

/// Shorter strings are not treated as secrets: scrubbing `abc` from every
/// message would say nothing and protect nothing.
const MIN_SECRET_LEN: usize = 4;

/// True for a document that holds credentials: written readable by its
/// owner only, and the only place a redacted secret is written back.
pub fn is_sensitive(doc: &impl Object) -> bool {
    matches!(doc.kind(), "KubeConfig" | "Secret")
        || (doc.kind() == "Config" && doc.api_version() == "v1")
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Secret {
    text: String,
    /// The clusters it belongs to; empty for a `Secret` document's data.
    clusters: BTreeSet<String>,
}

/// Every secret a run knows, longest first. Its `Debug` shows how many.
#[derive(Default, Clone)]
pub struct Secrets {
    known: Vec<Secret>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} known)", self.known.len())
    }
}

impl Secrets {
    /// The secrets of a kubeconfig: every string under a user (but its
    /// `username`), each belonging to the contexts that use the user, and
    /// to `cluster` when it is the captured kubeconfig of that cluster.
    pub fn add_kubeconfig(&mut self, cluster: Option<&str>, config: &Kubeconfig) {
        for user in &config.users {
            let mut clusters: BTreeSet<String> = config
                .contexts
                .iter()
                .filter(|c| c.inner_str("context", "user") == Some(user.name.as_str()))
                .map(|c| c.name.clone())
                .collect();
            clusters.extend(cluster.map(str::to_owned));
            let mut found = Vec::new();
            collect(user.body.get("user"), &mut found);
            for text in found {
                self.add(text, &clusters);
            }
        }
    }

    /// The secrets a document of the bundle holds: a KubeConfig's users, a
    /// Secret's data.
    pub fn add_document(&mut self, doc: &impl Object) {
        let content = doc.content();
        if doc.kind() == "KubeConfig" {
            if let Some(config) = content.get("config").cloned()
                && let Ok(config) = Kubeconfig::from_value(config)
            {
                self.add_kubeconfig(None, &config);
            }
        } else if doc.kind() == "Config" && doc.api_version() == "v1" {
            if let Ok(config) = Kubeconfig::from_value(Value::Object(content.clone())) {
                self.add_kubeconfig(None, &config);
            }
        } else if doc.kind() == "Secret" {
            let mut found = Vec::new();
            collect(content.get("data"), &mut found);
            collect(content.get("stringData"), &mut found);
            for text in found {
                self.add(text, &BTreeSet::new());
            }
        }
    }

    fn add(&mut self, text: String, clusters: &BTreeSet<String>) {
        match self.known.iter_mut().find(|s| s.text == text) {
            Some(known) => known.clusters.extend(clusters.iter().cloned()),
            None => self.known.push(Secret {
                text,
                clusters: clusters.clone(),
            }),
        }
        self.known.sort_by_key(|s| std::cmp::Reverse(s.text.len()));
    }

    /// True when the run knows no secret.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// `text` with every secret replaced by [`REDACTED`] and terminal
    /// control characters removed: what any step says, before the operator
    /// sees it.
    pub fn scrub(&self, text: &str) -> String {
        self.redact(&strip_controls(text))
    }

    /// `text` with every secret replaced by [`REDACTED`], and nothing else
    /// changed: for a YAML stream shown on stdout.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.known {
            if text.contains(secret.text.as_str()) {
                text = text.replace(secret.text.as_str(), REDACTED);
            }
        }
        text
    }

    /// What a step granted `granted` must not read: every secret of other
    /// clusters, and a Secret document's data unless it was granted some.
    pub fn hidden_from(&self, granted: &BTreeSet<String>) -> Redaction {
        let markers = self
            .known
            .iter()
            .filter(|s| {
                if s.clusters.is_empty() {
                    granted.is_empty()
                } else {
                    s.clusters.is_disjoint(granted)
                }
            })
            .map(|s| (s.text.clone(), marker(&s.text)))
            .collect();
        Redaction { markers }
    }
}

/// A marker that stands for a secret in what a step reads: the same for
/// the same secret, and telling nothing about it.
fn marker(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{REDACTED}:{short}")
}

/// The string values under `value`, and, for base64 data, the decoded text
/// and each of its lines, so that a step that decodes a key before
/// echoing it is scrubbed too.
fn collect(value: Option<&Value>, secrets: &mut Vec<String>) {
    match value {
        Some(Value::String(text)) if text.len() >= MIN_SECRET_LEN => {
            secrets.push(text.clone());
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some(decoded) = decoded.filter(|d| d.len() >= MIN_SECRET_LEN) {
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
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "username")
            .for_each(|(_, v)| collect(Some(v), secrets)),
        Some(Value::Array(items)) => items.iter().for_each(|v| collect(Some(v), secrets)),
        _ => {}
    }
}

/// What a tool printed before mooring knew the run's secrets (a failed
/// kustomize build quoting a Secret): every run of 40 or more base64
/// characters that mixes upper case, lower case and digits (a key, a
/// certificate, a token; paths and names do not look like that) becomes
/// [`REDACTED`], and control sequences are removed.
pub fn scrub_unknown(text: &str) -> String {
    let text = strip_controls(text);
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let mixed = run.chars().any(|c| c.is_ascii_uppercase())
            && run.chars().any(|c| c.is_ascii_lowercase())
            && run.chars().any(|c| c.is_ascii_digit());
        out.push_str(if run.len() >= 40 && mixed {
            REDACTED
        } else {
            run
        });
        run.clear();
    };
    for c in text.chars() {
        if base64(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Removes what a terminal would act on (escape sequences, other C0 and C1
/// controls, DEL), keeping newlines and tabs.
fn strip_controls(text: &str) -> String {
    if !text.chars().any(is_control) {
        return text.to_owned();
    }
    text.chars().filter(|c| !is_control(*c)).collect()
}

fn is_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The secrets one step must not read, each with its marker.
#[derive(Default, Clone)]
pub struct Redaction {
    markers: Vec<(String, String)>,
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redaction({} hidden)", self.markers.len())
    }
}

impl Redaction {
    /// True when the step may read everything.
    pub fn is_empty(&self) -> bool {
        self.markers.is_empty()
    }

    /// `value` with every hidden secret in a string replaced by its marker.
    pub fn redact(&self, value: &mut Value) {
        self.walk(value, |text, (secret, marker)| {
            text.contains(secret.as_str())
                .then(|| text.replace(secret.as_str(), marker))
        });
    }

    /// `value` with every marker replaced by its secret again.
    pub fn restore(&self, value: &mut Value) {
        self.walk(value, |text, (secret, marker)| {
            text.contains(marker.as_str())
                .then(|| text.replace(marker.as_str(), secret))
        });
    }

    fn walk(
        &self,
        value: &mut Value,
        swap: impl Fn(&str, &(String, String)) -> Option<String> + Copy,
    ) {
        if self.markers.is_empty() {
            return;
        }
        match value {
            Value::String(text) => {
                for pair in &self.markers {
                    if let Some(swapped) = swap(text, pair) {
                        *text = swapped;
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, swap)),
            Value::Object(map) => map.values_mut().for_each(|v| self.walk(v, swap)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod unknown_tests {
    use super::*;

    #[test]
    fn what_looks_like_a_key_is_scrubbed_and_paths_and_names_are_not() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 48]);
        let key = format!("{key}Zz9");
        let text = format!(
            "Error: accumulating resources from '../../type/gating/target/workers': \
             invalid Secret data: {key}\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n\x1b[31m"
        );
        let scrubbed = scrub_unknown(&text);
        assert!(
            !scrubbed.contains(&key) && !scrubbed.contains("MIIEowIBAAKCAQEA"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("'../../type/gating/target/workers'"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("-----BEGIN RSA PRIVATE KEY-----"),
            "{scrubbed}"
        );
        assert!(!scrubbed.contains('\x1b'));
        let path = "/work/main/tests/e2e/fixtures/airshipctl/manifests/function/k8scontrol";
        assert_eq!(scrub_unknown(path), path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kubeconfig() -> Kubeconfig {
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbCdEfGhIjKlMnOpQrStUvWxYz\n-----END EC PRIVATE KEY-----\n";
        Kubeconfig::from_value(json!({
            "clusters": [{"name": "target-cluster", "cluster": {"server": "https://x"}}],
            "contexts": [{"name": "target-cluster", "context": {"cluster": "target-cluster", "user": "target-cluster-admin"}}],
            "users": [{"name": "target-cluster-admin", "user": {
                "token": "abcdefghijklmnop",
                "password": "hunter2",
                "client-key-data": base64::engine::general_purpose::STANDARD.encode(key),
                "username": "admin"
            }}]
        }))
        .unwrap()
    }

    #[test]
    fn scrubbing_covers_raw_decoded_and_short_secrets_and_terminal_controls() {
        let mut secrets = Secrets::default();
        secrets.add_kubeconfig(Some("target-cluster"), &kubeconfig());
        let said = "token abcdefghijklmnop, password hunter2, key line MHcCAQEEIAbCdEfGhIjKlMnOpQrStUvWxYz, user admin\x1b]0;title\x07";
        assert_eq!(
            secrets.scrub(said),
            "token <redacted>, password <redacted>, key line <redacted>, user admin]0;title"
        );
        assert_eq!(
            format!("{secrets:?}"),
            format!("Secrets({} known)", secrets.known.len())
        );
    }

    #[test]
    fn a_step_reads_markers_for_what_it_was_not_granted_and_writes_them_back_whole() {
        let mut secrets = Secrets::default();
        secrets.add_kubeconfig(None, &kubeconfig());
        secrets.add_document(
            &json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "c2VjcmV0IHZhbHVl"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let document = json!({"users": [{"user": {"token": "abcdefghijklmnop", "password": "hunter2"}}], "s": "c2VjcmV0IHZhbHVl"});

        let ungranted = secrets.hidden_from(&BTreeSet::new());
        let mut read = document.clone();
        ungranted.redact(&mut read);
        let shown = read.to_string();
        assert!(
            !shown.contains("abcdefghijklmnop")
                && !shown.contains("hunter2")
                && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        ungranted.restore(&mut read);
        assert_eq!(read, document);

        let granted = secrets.hidden_from(&["target-cluster".to_owned()].into());
        let mut read = document.clone();
        granted.redact(&mut read);
        assert_eq!(
            read, document,
            "a step granted the cluster reads its secrets"
        );
        let other = secrets.hidden_from(&["other-cluster".to_owned()].into());
        let mut read = document.clone();
        other.redact(&mut read);
        assert_eq!(
            read["s"], "c2VjcmV0IHZhbHVl",
            "a granted step reads Secret data"
        );
        assert_ne!(read["users"][0]["user"]["token"], "abcdefghijklmnop");
    }
}
