//! airshipctl's `ClusterMap`: which clusters a site has, which manages
//! which, and where each one's kubeconfig comes from.
//!
//! Both real schemas read and write back: the current one, an ordered list
//! of `kubeconfigSources` per cluster, and the older one (before airshipctl
//! 6207e2c2, 2021) with `dynamicKubeConf`, `kubeconfigContext` and
//! `clusterAPIRef`. [`Cluster::sources`] turns either into one ordered list.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::airship::{AIRSHIP_API_VERSION, Kind, Metadata};

/// The namespace airshipctl looks for Cluster API objects in when a
/// `clusterAPI` source names none.
pub const DEFAULT_CAPI_NAMESPACE: &str = "target-infra";
/// How long a `clusterAPI` source waits for the Secret when it gives no
/// `timeout` (airshipctl's default).
pub const DEFAULT_CAPI_TIMEOUT: &str = "30s";
/// Where the older schema, and the default ClusterMap, keep kubeconfigs.
pub const DEFAULT_KUBECONFIG_PATH: &str = "~/.airship/kubeconfig";

/// A `ClusterMap` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMap {
    /// `metadata`.
    pub metadata: Metadata,
    /// The clusters, by name, in document order.
    #[serde(default)]
    pub map: IndexMap<String, Cluster>,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Kind for ClusterMap {
    const API_VERSION: &'static str = AIRSHIP_API_VERSION;
    const KIND: &'static str = "ClusterMap";
}

/// One cluster of the map, in either schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// The management cluster that created this one (a key of the map).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// Current schema: where the kubeconfig comes from, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeconfig_sources: Vec<Source>,
    /// Older schema: fetch the kubeconfig from the parent.
    #[serde(
        default,
        rename = "dynamicKubeConf",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub dynamic_kube_conf: bool,
    /// Older schema: the context name in kubeconfigs (default: the map key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubeconfig_context: String,
    /// Older schema: the Cluster API `Cluster` to fetch the kubeconfig of.
    #[serde(
        default,
        rename = "clusterAPIRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_api_ref: Option<NamespacedName>,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One entry of `kubeconfigSources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// `filesystem`, `bundle` or `clusterAPI`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `type: filesystem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemSource>,
    /// For `type: bundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleSource>,
    /// For `type: clusterAPI`.
    #[serde(
        default,
        rename = "clusterAPI",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_api: Option<ClusterApiSource>,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A kubeconfig file on the machine running mooring.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilesystemSource {
    /// The file (`~` is the home directory).
    #[serde(default)]
    pub path: String,
    /// The context to take from it (default: its only one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_name: String,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The bundle's own `KubeConfig` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSource {
    /// The context to take from it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_name: String,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The Secret `<name>-kubeconfig` that Cluster API keeps in the parent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterApiSource {
    /// The Cluster API `Cluster`.
    #[serde(default)]
    pub cluster_namespaced_name: NamespacedName,
    /// How long to wait for the Secret, as a duration (`30s`, `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A namespaced object name. The older schema's Go type had no JSON tags,
/// so `Name`/`Namespace` are read too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespacedName {
    /// The object's name.
    #[serde(default, alias = "Name")]
    pub name: String,
    /// Its namespace.
    #[serde(default, alias = "Namespace", skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Where a cluster's kubeconfig may come from, whichever schema said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    /// A kubeconfig file.
    Filesystem {
        /// The file, `~` not yet expanded.
        path: String,
        /// The context to take, if named.
        context: Option<String>,
    },
    /// The bundle's `KubeConfig` document.
    Bundle {
        /// The context to take, if named.
        context: Option<String>,
    },
    /// The Cluster API Secret in the parent cluster.
    ClusterApi {
        /// The `Cluster`'s name; the Secret is `<name>-kubeconfig`.
        name: String,
        /// Its namespace.
        namespace: String,
        /// How long to wait for the Secret.
        timeout: String,
    },
}

impl KubeconfigSource {
    /// How a message names this source: `filesystem ~/.airship/kubeconfig`.
    pub fn describe(&self) -> String {
        match self {
            KubeconfigSource::Filesystem { path, .. } => format!("filesystem {path}"),
            KubeconfigSource::Bundle { .. } => "bundle KubeConfig".to_owned(),
            KubeconfigSource::ClusterApi {
                name, namespace, ..
            } => format!("clusterAPI Secret {namespace}/{name}-kubeconfig"),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl Cluster {
    /// True when the cluster is written in the older schema.
    pub fn is_legacy(&self) -> bool {
        self.kubeconfig_sources.is_empty()
            && (self.dynamic_kube_conf
                || !self.kubeconfig_context.is_empty()
                || self.cluster_api_ref.is_some())
    }

    /// The context name this cluster has in every kubeconfig mooring writes:
    /// the older schema's `kubeconfigContext`, else the map key.
    pub fn context_name<'a>(&'a self, key: &'a str) -> &'a str {
        if self.kubeconfig_context.is_empty() {
            key
        } else {
            &self.kubeconfig_context
        }
    }

    /// The sources to try, in order. The older schema becomes what its
    /// builder did: the parent's Secret when `dynamicKubeConf`, then the
    /// bundle, then the default kubeconfig file.
    pub fn sources(&self, key: &str) -> Vec<KubeconfigSource> {
        if !self.kubeconfig_sources.is_empty() {
            return self
                .kubeconfig_sources
                .iter()
                .filter_map(|s| s.resolved(key))
                .collect();
        }
        let context = Some(self.context_name(key).to_owned());
        let mut sources = Vec::new();
        if self.dynamic_kube_conf {
            let reference = self.cluster_api_ref.clone().unwrap_or_default();
            sources.push(KubeconfigSource::ClusterApi {
                name: non_empty(&reference.name).unwrap_or_else(|| key.to_owned()),
                namespace: non_empty(&reference.namespace)
                    .unwrap_or_else(|| DEFAULT_CAPI_NAMESPACE.to_owned()),
                timeout: DEFAULT_CAPI_TIMEOUT.to_owned(),
            });
        }
        sources.push(KubeconfigSource::Bundle {
            context: context.clone(),
        });
        sources.push(KubeconfigSource::Filesystem {
            path: DEFAULT_KUBECONFIG_PATH.to_owned(),
            context,
        });
        sources
    }
}

impl Source {
    fn resolved(&self, key: &str) -> Option<KubeconfigSource> {
        match self.kind.as_str() {
            "filesystem" => {
                let fs = self.filesystem.as_ref()?;
                Some(KubeconfigSource::Filesystem {
                    path: fs.path.clone(),
                    context: non_empty(&fs.context_name),
                })
            }
            "bundle" => Some(KubeconfigSource::Bundle {
                context: self
                    .bundle
                    .as_ref()
                    .and_then(|b| non_empty(&b.context_name)),
            }),
            "clusterAPI" => {
                let capi = self.cluster_api.clone().unwrap_or_default();
                let reference = capi.cluster_namespaced_name;
                Some(KubeconfigSource::ClusterApi {
                    name: non_empty(&reference.name).unwrap_or_else(|| key.to_owned()),
                    namespace: non_empty(&reference.namespace)
                        .unwrap_or_else(|| DEFAULT_CAPI_NAMESPACE.to_owned()),
                    timeout: capi
                        .timeout
                        .unwrap_or_else(|| DEFAULT_CAPI_TIMEOUT.to_owned()),
                })
            }
            _ => None,
        }
    }
}

/// Why a `ClusterMap` is unusable, with the field to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    /// The offending field, as a dotted path (`map.target-cluster.parent`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field {}: {}", self.field, self.message)
    }
}

impl std::error::Error for MapError {}

/// What is wrong with one source at `field` of a cluster that has a parent
/// or not.
fn source_problems(source: &Source, field: &str, orphan: bool) -> Vec<MapError> {
    match source.kind.as_str() {
        "filesystem" if source.filesystem.as_ref().is_none_or(|f| f.path.is_empty()) => {
            vec![MapError {
                field: format!("{field}.filesystem.path"),
                message: "a filesystem source needs `filesystem.path`".to_owned(),
            }]
        }
        "filesystem" | "bundle" => Vec::new(),
        "clusterAPI" if orphan => vec![MapError {
            field: field.to_owned(),
            message: "a clusterAPI source needs the cluster's `parent`, whose API server holds the Secret"
                .to_owned(),
        }],
        "clusterAPI" => Vec::new(),
        other => vec![MapError {
            field: format!("{field}.type"),
            message: format!("unknown source type `{other}`; use filesystem, bundle or clusterAPI"),
        }],
    }
}

impl ClusterMap {
    /// Every problem that would make resolving kubeconfigs go wrong: an
    /// unknown parent, a cycle of parents, a context named twice, a source
    /// whose `type` is unknown or whose settings are missing, a
    /// `clusterAPI` source on a cluster without a parent.
    pub fn validate(&self) -> Result<(), Vec<MapError>> {
        let errors: Vec<MapError> = self.map.keys().flat_map(|key| self.problems(key)).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The problems of one cluster's entry (none for a key not in the map).
    pub fn problems(&self, key: &str) -> Vec<MapError> {
        let Some(cluster) = self.map.get(key) else {
            return Vec::new();
        };
        let at = |field: &str| format!("map.{key}{field}");
        let mut errors = Vec::new();
        if !cluster.parent.is_empty() && !self.map.contains_key(&cluster.parent) {
            errors.push(MapError {
                field: at(".parent"),
                message: format!(
                    "parent `{}` is not a cluster of this map (clusters: {})",
                    cluster.parent,
                    self.map.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let context = cluster.context_name(key);
        let first = self
            .map
            .iter()
            .find(|(k, c)| c.context_name(k) == context)
            .map(|(k, _)| k.as_str());
        if let Some(first) = first.filter(|first| *first != key) {
            errors.push(MapError {
                field: at(if cluster.kubeconfig_context.is_empty() {
                    ""
                } else {
                    ".kubeconfigContext"
                }),
                message: format!(
                    "context `{context}` is already the context of cluster `{first}`; \
                     every cluster needs its own"
                ),
            });
        }
        for (i, source) in cluster.kubeconfig_sources.iter().enumerate() {
            errors.extend(source_problems(
                source,
                &at(&format!(".kubeconfigSources[{i}]")),
                cluster.parent.is_empty(),
            ));
        }
        if let Some(cycle) = self.cycle_from(key)
            && cycle.first().map(String::as_str) == Some(key)
        {
            errors.push(MapError {
                field: at(".parent"),
                message: format!("parents form a cycle: {}", cycle.join(" -> ")),
            });
        }
        errors
    }

    /// The chain of parents from `key` when it loops back to a cluster
    /// already seen, ending with the repeated one.
    fn cycle_from(&self, key: &str) -> Option<Vec<String>> {
        let mut chain = vec![key.to_owned()];
        let mut current = key;
        while let Some(parent) = self.map.get(current).map(|c| c.parent.as_str()) {
            if parent.is_empty() || !self.map.contains_key(parent) {
                return None;
            }
            let seen = chain.iter().any(|c| c == parent);
            chain.push(parent.to_owned());
            if seen {
                return Some(chain);
            }
            current = parent;
        }
        None
    }

    /// The parent of `key`, if it has one in the map.
    pub fn parent(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .map(|c| c.parent.as_str())
            .filter(|p| !p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airship::{parse, to_content};
    use serde_json::json;

    fn map(value: Value) -> ClusterMap {
        let mut doc = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "ClusterMap", "metadata": {"name": "m"}});
        doc["map"] = value;
        parse(doc.as_object().unwrap()).unwrap()
    }

    #[test]
    fn the_current_schema_keeps_source_order_and_defaults() {
        let m = map(json!({
            "target-cluster": {"parent": "ephemeral-cluster", "kubeconfigSources": [
                {"type": "filesystem", "filesystem": {"path": "~/.airship/kubeconfig", "contextName": "target-cluster"}},
                {"type": "bundle", "bundle": {"contextName": "target-cluster"}},
                {"type": "clusterAPI", "clusterAPI": {"clusterNamespacedName": {"name": "target-cluster"}}}
            ]},
            "ephemeral-cluster": {"kubeconfigSources": [{"type": "bundle", "bundle": {}}]}
        }));
        m.validate().unwrap();
        let sources = m.map["target-cluster"].sources("target-cluster");
        let described: Vec<String> = sources.iter().map(KubeconfigSource::describe).collect();
        assert_eq!(
            described,
            [
                "filesystem ~/.airship/kubeconfig",
                "bundle KubeConfig",
                "clusterAPI Secret target-infra/target-cluster-kubeconfig"
            ]
        );
        assert!(
            matches!(&sources[2], KubeconfigSource::ClusterApi { timeout, .. } if timeout == "30s")
        );
        assert_eq!(m.parent("target-cluster"), Some("ephemeral-cluster"));
        assert_eq!(m.parent("ephemeral-cluster"), None);
    }

    #[test]
    fn the_older_schema_becomes_the_sources_its_builder_tried() {
        let m = map(json!({
            "target-cluster": {"parent": "ephemeral-cluster", "dynamicKubeConf": true,
                "kubeconfigContext": "target", "clusterAPIRef": {"Name": "tc", "Namespace": "default"}},
            "ephemeral-cluster": {}
        }));
        m.validate().unwrap();
        let target = &m.map["target-cluster"];
        assert!(target.is_legacy());
        assert_eq!(target.context_name("target-cluster"), "target");
        assert_eq!(
            target.sources("target-cluster"),
            [
                KubeconfigSource::ClusterApi {
                    name: "tc".into(),
                    namespace: "default".into(),
                    timeout: "30s".into()
                },
                KubeconfigSource::Bundle {
                    context: Some("target".into())
                },
                KubeconfigSource::Filesystem {
                    path: "~/.airship/kubeconfig".into(),
                    context: Some("target".into())
                },
            ]
        );
    }

    #[test]
    fn unknown_fields_and_order_survive_a_round_trip() {
        let doc = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "ClusterMap",
            "metadata": {"name": "m", "labels": {"x": "y"}},
            "map": {"z": {"future": 1, "kubeconfigSources": [{"type": "bundle", "bundle": {"contextName": "z", "extra": true}, "note": "n"}]},
                    "a": {"parent": "z", "dynamicKubeConf": true, "clusterAPIRef": {"name": "a", "namespace": "ns"}}},
            "status": {}});
        let parsed: ClusterMap = parse(doc.as_object().unwrap()).unwrap();
        assert_eq!(parsed.map.keys().collect::<Vec<_>>(), ["z", "a"]);
        let written = Value::Object(to_content(&parsed).unwrap());
        assert_eq!(written, doc);
    }

    #[test]
    fn invalid_maps_name_the_field() {
        let errors = map(json!({
            "a": {"parent": "nowhere"},
            "b": {"parent": "c", "kubeconfigContext": "shared"},
            "c": {"parent": "b", "kubeconfigContext": "shared"},
            "d": {"kubeconfigSources": [{"type": "s3"}, {"type": "filesystem", "filesystem": {}}, {"type": "clusterAPI"}]}
        }))
        .validate()
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        assert!(
            has("field map.a.parent: parent `nowhere` is not a cluster"),
            "{text:#?}"
        );
        assert!(
            has(
                "field map.c.kubeconfigContext: context `shared` is already the context of cluster `b`"
            ),
            "{text:#?}"
        );
        assert!(
            has("field map.b.parent: parents form a cycle: b -> c -> b"),
            "{text:#?}"
        );
        assert!(
            has("field map.d.kubeconfigSources[0].type: unknown source type `s3`"),
            "{text:#?}"
        );
        assert!(
            has("field map.d.kubeconfigSources[1].filesystem.path"),
            "{text:#?}"
        );
        assert!(
            has(
                "field map.d.kubeconfigSources[2]: a clusterAPI source needs the cluster's `parent`"
            ),
            "{text:#?}"
        );
    }
}
