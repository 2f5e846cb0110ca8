//! Kubeconfigs: the `KubeConfig` document, picking one context out of a
//! kubeconfig under the name a site gives it, and merging many into one.
//!
//! Typed here rather than borrowed from a client library so that guests
//! (compiled to wasm, without a Kubernetes client) and the host read and
//! merge kubeconfigs the same way, and so that every field a kubeconfig
//! carries, known or not, survives.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::airship::{AIRSHIP_API_VERSION, Kind, Metadata};

/// The `KubeConfig` document: a full kubeconfig under `config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeConfigDocument {
    /// `metadata`.
    pub metadata: Metadata,
    /// The kubeconfig.
    #[serde(default)]
    pub config: Kubeconfig,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Kind for KubeConfigDocument {
    const API_VERSION: &'static str = AIRSHIP_API_VERSION;
    const KIND: &'static str = "KubeConfig";
}

/// A kubeconfig (`apiVersion: v1`, `kind: Config`). Its `Debug` names the
/// entries and never shows a user's credentials.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// `apiVersion`, `v1`.
    #[serde(rename = "apiVersion", default = "v1")]
    pub api_version: String,
    /// `kind`, `Config`.
    #[serde(default = "config_kind")]
    pub kind: String,
    /// `clusters`: API servers and how to trust them.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub clusters: Vec<Named>,
    /// `contexts`: a cluster, a user, a namespace.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contexts: Vec<Named>,
    /// `users`: credentials.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub users: Vec<Named>,
    /// `current-context`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub current_context: String,
    /// `preferences`, `extensions`, and anything else.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |list: &[Named]| list.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        f.debug_struct("Kubeconfig")
            .field("clusters", &self.clusters)
            .field("contexts", &self.contexts)
            .field("users", &names(&self.users))
            .field("current_context", &self.current_context)
            .finish_non_exhaustive()
    }
}

/// kubectl writes `contexts: null` and `current-context: ""` in an empty
/// kubeconfig; both mean "none".
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn v1() -> String {
    "v1".to_owned()
}

fn config_kind() -> String {
    "Config".to_owned()
}

impl Default for Kubeconfig {
    fn default() -> Self {
        Kubeconfig {
            api_version: v1(),
            kind: config_kind(),
            clusters: Vec::new(),
            contexts: Vec::new(),
            users: Vec::new(),
            current_context: String::new(),
            rest: Map::new(),
        }
    }
}

/// A named entry of `clusters`, `contexts` or `users`: `name` plus one
/// field (`cluster`, `context` or `user`) holding the entry itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named {
    /// The entry's name.
    pub name: String,
    /// `cluster:`/`context:`/`user:` and anything else.
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

impl Named {
    fn new(name: &str, field: &str, value: Value) -> Self {
        let mut body = Map::new();
        body.insert(field.to_owned(), value);
        Named {
            name: name.to_owned(),
            body,
        }
    }

    /// A string field of the inner object (`context.cluster`, `cluster.server`).
    pub fn inner_str(&self, field: &str, key: &str) -> Option<&str> {
        self.body.get(field)?.get(key)?.as_str()
    }
}

/// Why a kubeconfig cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigError {
    /// Not a kubeconfig at all.
    NotAKubeconfig(String),
    /// The context asked for is not there.
    NoSuchContext {
        /// The context asked for.
        wanted: String,
        /// The contexts there are.
        present: Vec<String>,
    },
    /// Several contexts and none named.
    Ambiguous(Vec<String>),
    /// A context names a cluster or user that is not there.
    Dangling {
        /// The context.
        context: String,
        /// `cluster` or `user`.
        field: &'static str,
        /// The missing name.
        name: String,
    },
}

impl std::fmt::Display for KubeconfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KubeconfigError::NotAKubeconfig(why) => write!(f, "not a kubeconfig: {why}"),
            KubeconfigError::NoSuchContext { wanted, present } => {
                write!(f, "has no context `{wanted}` (it has: {})", list(present))
            }
            KubeconfigError::Ambiguous(present) => write!(
                f,
                "has several contexts ({}) and the ClusterMap names none; set contextName",
                list(present)
            ),
            KubeconfigError::Dangling {
                context,
                field,
                name,
            } => write!(
                f,
                "context `{context}` names {field} `{name}`, which it does not define"
            ),
        }
    }
}

/// serde quotes the value it could not use (`invalid type: string "..."`);
/// in a kubeconfig that value may be a token, so it never reaches a message.
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('"').enumerate() {
        out.push_str(if i % 2 == 1 { "\"<redacted>\"" } else { part });
    }
    out
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl std::error::Error for KubeconfigError {}

impl Kubeconfig {
    /// Reads a kubeconfig from a JSON value (YAML parsed by the caller),
    /// checking it is one (`kind: Config` if a kind is given), as kubectl
    /// reads it: an empty file is an empty kubeconfig, `null` lists are
    /// empty, and only the context used must be whole (see
    /// [`extract`](Self::extract)), so a context whose cluster does not
    /// exist yet (airshipctl's `start_kind.sh` writes one) spoils nothing.
    pub fn from_value(value: Value) -> Result<Self, KubeconfigError> {
        if value.is_null() {
            return Ok(Kubeconfig::default());
        }
        if !value.is_object() {
            return Err(KubeconfigError::NotAKubeconfig("not a mapping".to_owned()));
        }
        let config: Kubeconfig = serde_json::from_value(value)
            .map_err(|e| KubeconfigError::NotAKubeconfig(redact_values(&e.to_string())))?;
        if config.kind != "Config" {
            return Err(KubeconfigError::NotAKubeconfig(format!(
                "kind is `{}`, not `Config`",
                config.kind
            )));
        }
        Ok(config)
    }

    /// The names of its contexts, in order.
    pub fn context_names(&self) -> Vec<String> {
        self.contexts.iter().map(|c| c.name.clone()).collect()
    }

    /// The API server of context `name`.
    pub fn server(&self, context: &str) -> Option<&str> {
        let cluster = self
            .contexts
            .iter()
            .find(|c| c.name == context)?
            .inner_str("context", "cluster")?;
        self.clusters
            .iter()
            .find(|c| c.name == cluster)?
            .inner_str("cluster", "server")
    }

    /// A kubeconfig holding only one context (`source`, or the only one)
    /// with its cluster and user, renamed the way every mooring site names
    /// them: context `name`, cluster `name`, user `name-admin`. Captured
    /// Cluster API kubeconfigs and static ones then look alike, and merging
    /// several never collides (every CAPI Secret names its user
    /// `<cluster>-admin`, whatever the site calls the cluster).
    pub fn extract(&self, source: Option<&str>, name: &str) -> Result<Self, KubeconfigError> {
        let context = match source {
            Some(wanted) => self
                .contexts
                .iter()
                .find(|c| c.name == wanted)
                .ok_or_else(|| KubeconfigError::NoSuchContext {
                    wanted: wanted.to_owned(),
                    present: self.context_names(),
                })?,
            None => match self.contexts.as_slice() {
                [only] => only,
                _ => return Err(KubeconfigError::Ambiguous(self.context_names())),
            },
        };
        let find = |field: &'static str, entries: &[Named]| -> Result<Value, KubeconfigError> {
            let wanted = context.inner_str("context", field).unwrap_or_default();
            entries
                .iter()
                .find(|e| e.name == wanted)
                .and_then(|e| e.body.get(field).cloned())
                .ok_or_else(|| KubeconfigError::Dangling {
                    context: context.name.clone(),
                    field,
                    name: wanted.to_owned(),
                })
        };
        let cluster = find("cluster", &self.clusters)?;
        let user = find("user", &self.users)?;
        let user_name = format!("{name}-admin");
        let mut inner = context
            .body
            .get("context")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        inner.insert("cluster".to_owned(), name.into());
        inner.insert("user".to_owned(), user_name.as_str().into());
        Ok(Kubeconfig {
            clusters: vec![Named::new(name, "cluster", cluster)],
            contexts: vec![Named::new(name, "context", Value::Object(inner))],
            users: vec![Named::new(&user_name, "user", user)],
            ..Kubeconfig::default()
        })
    }

    /// Merges `other` into this kubeconfig: an entry with a name already
    /// present replaces it where it stands, a new one is appended, nothing
    /// is dropped or reordered, and `current-context` is left alone.
    pub fn merge(&mut self, other: &Kubeconfig) {
        for (mine, theirs) in [
            (&mut self.clusters, &other.clusters),
            (&mut self.contexts, &other.contexts),
            (&mut self.users, &other.users),
        ] {
            for entry in theirs {
                match mine.iter_mut().find(|m| m.name == entry.name) {
                    Some(slot) => *slot = entry.clone(),
                    None => mine.push(entry.clone()),
                }
            }
        }
    }
}

/// Merges kubeconfigs in order into one; `current_context` is set only when
/// given, and must then be one of the merged contexts.
pub fn merge_all<'a>(
    configs: impl IntoIterator<Item = &'a Kubeconfig>,
    current_context: Option<&str>,
) -> Result<Kubeconfig, KubeconfigError> {
    let mut merged: Option<Kubeconfig> = None;
    for config in configs {
        match &mut merged {
            Some(merged) => merged.merge(config),
            None => merged = Some(config.clone()),
        }
    }
    let mut merged = merged.unwrap_or_default();
    if let Some(context) = current_context {
        if !merged.contexts.iter().any(|c| c.name == context) {
            return Err(KubeconfigError::NoSuchContext {
                wanted: context.to_owned(),
                present: merged.context_names(),
            });
        }
        merged.current_context = context.to_owned();
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a Cluster API `<cluster>-kubeconfig` Secret holds.
    fn capi(cluster: &str, server: &str) -> Kubeconfig {
        Kubeconfig::from_value(json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": "Q0E="}}],
            "contexts": [{"name": format!("{cluster}-admin@{cluster}"), "context": {"cluster": cluster, "user": format!("{cluster}-admin")}}],
            "users": [{"name": format!("{cluster}-admin"), "user": {"client-key-data": "S0VZ"}}],
            "current-context": format!("{cluster}-admin@{cluster}"),
            "preferences": {}
        }))
        .unwrap()
    }

    #[test]
    fn extract_renames_to_the_site_names() {
        let one = capi("tc", "https://10.0.0.1:6443")
            .extract(None, "target-cluster")
            .unwrap();
        assert_eq!(one.context_names(), ["target-cluster"]);
        assert_eq!(one.clusters[0].name, "target-cluster");
        assert_eq!(one.users[0].name, "target-cluster-admin");
        assert_eq!(one.server("target-cluster"), Some("https://10.0.0.1:6443"));
        assert_eq!(one.current_context, "");
        assert_eq!(one.users[0].body["user"]["client-key-data"], "S0VZ");
    }

    #[test]
    fn extract_says_what_it_could_not_find() {
        let mut two = capi("a", "https://a");
        two.merge(&capi("b", "https://b"));
        assert_eq!(
            two.extract(None, "x").unwrap_err().to_string(),
            "has several contexts (a-admin@a, b-admin@b) and the ClusterMap names none; set contextName"
        );
        assert_eq!(
            two.extract(Some("c"), "x").unwrap_err().to_string(),
            "has no context `c` (it has: a-admin@a, b-admin@b)"
        );
    }

    #[test]
    fn merge_replaces_in_place_appends_new_and_keeps_the_rest() {
        let mut base = capi("a", "https://a").extract(None, "a").unwrap();
        base.merge(&capi("b", "https://b").extract(None, "b").unwrap());
        base.rest
            .insert("preferences".into(), json!({"colors": true}));
        let newer_a = capi("a", "https://a2").extract(None, "a").unwrap();
        let merged = merge_all([&base, &newer_a], None).unwrap();
        assert_eq!(merged.context_names(), ["a", "b"]);
        assert_eq!(merged.server("a"), Some("https://a2"));
        assert_eq!(merged.server("b"), Some("https://b"));
        assert_eq!(merged.rest["preferences"], json!({"colors": true}));
        assert_eq!(merged.current_context, "");
        let merged = merge_all([&base, &newer_a], Some("b")).unwrap();
        assert_eq!(merged.current_context, "b");
        assert!(merge_all([&base], Some("zz")).is_err());
        // Deterministic: the same inputs give the same bytes.
        assert_eq!(
            serde_json::to_string(&merge_all([&base, &newer_a], None).unwrap()).unwrap(),
            serde_json::to_string(&merge_all([&base, &newer_a], None).unwrap()).unwrap()
        );
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let config = Kubeconfig::from_value(json!({
            "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c-admin"}}],
            "users": [{"name": "c-admin", "user": {"token": "s3cr3t-t0ken-value", "password": "hunter2"}}]
        }))
        .unwrap();
        let shown = format!(
            "{config:?} {:?}",
            KubeConfigDocument {
                config: config.clone(),
                ..Default::default()
            }
        );
        assert!(
            shown.contains("c-admin") && shown.contains("https://x"),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn what_is_not_a_kubeconfig_is_refused() {
        let err = |v: Value| Kubeconfig::from_value(v).unwrap_err().to_string();
        assert_eq!(err(json!("text")), "not a kubeconfig: not a mapping");
        let leaked = err(json!({"users": "sekret-token-123"}));
        assert!(!leaked.contains("sekret"), "{leaked}");
        assert!(leaked.contains("<redacted>"), "{leaked}");
        assert_eq!(
            err(json!({"kind": "Secret"})),
            "not a kubeconfig: kind is `Secret`, not `Config`"
        );
    }

    /// What kubectl and airshipctl accept: an empty file, `null` lists, no
    /// contexts, and a dangling context beside the one used.
    #[test]
    fn kubeconfigs_kubectl_accepts_are_read() {
        let read = |v: Value| Kubeconfig::from_value(v).unwrap();
        assert_eq!(read(Value::Null), Kubeconfig::default());
        let empty = read(
            json!({"apiVersion": "v1", "kind": "Config", "clusters": null,
            "contexts": null, "users": null, "current-context": null, "preferences": {}}),
        );
        assert!(empty.contexts.is_empty() && empty.users.is_empty());
        let mut config = capi("target-cluster", "https://10.0.0.1:6443");
        config.contexts.push(Named::new(
            "not-yet",
            "context",
            json!({"cluster": "not-yet", "user": "not-yet-admin"}),
        ));
        let config = read(serde_json::to_value(&config).unwrap());
        assert!(
            config
                .extract(Some("target-cluster-admin@target-cluster"), "t")
                .is_ok()
        );
        assert_eq!(
            config
                .extract(Some("not-yet"), "n")
                .unwrap_err()
                .to_string(),
            "context `not-yet` names cluster `not-yet`, which it does not define"
        );
    }
}
