//! The document model shared by the mooring host and its guests.
//!
//! Both sides hold a Kubernetes-style document as a JSON object; this crate
//! reads its identifying fields ([`Object`]) and decides whether a
//! [`Selector`] picks it. It compiles for the host and for `wasm32-wasip2`
//! alike, so a pipeline's `selector:` and a guest's own rules mean exactly
//! the same thing. [`airship`] reads the airshipctl documents steps work
//! with most as typed values that keep every field they do not name.

pub mod airship;
pub mod cluster_map;
pub mod kubeconfig;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// Read access to a document's identifying fields.
pub trait Object {
    /// The document as a JSON object.
    fn content(&self) -> &Map<String, Value>;

    /// `apiVersion`, or `""`.
    fn api_version(&self) -> &str {
        self.content()
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `kind`, or `""`.
    fn kind(&self) -> &str {
        self.content()
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    fn name(&self) -> &str {
        self.metadata_str("name")
    }

    /// `metadata.namespace`, or `""`.
    fn namespace(&self) -> &str {
        self.metadata_str("namespace")
    }

    /// The value of label `key`.
    fn label(&self, key: &str) -> Option<&str> {
        self.metadata_map("labels")?.get(key)?.as_str()
    }

    /// The value of annotation `key`.
    fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata_map("annotations")?.get(key)?.as_str()
    }

    /// `metadata.<field>` when it is a map (`labels`, `annotations`).
    fn metadata_map(&self, field: &str) -> Option<&Map<String, Value>> {
        self.content().get("metadata")?.get(field)?.as_object()
    }

    /// `metadata.<field>` when it is a string, or `""`.
    fn metadata_str(&self, field: &str) -> &str {
        self.content()
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

impl Object for Map<String, Value> {
    fn content(&self) -> &Map<String, Value> {
        self
    }
}

/// Picks documents. Every field given must match; an empty selector picks
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// Exact `apiVersion`.
    pub api_version: Option<String>,
    /// Exact `kind`.
    pub kind: Option<String>,
    /// Exact `metadata.name`.
    pub name: Option<String>,
    /// Exact `metadata.namespace`.
    pub namespace: Option<String>,
    /// Labels that must all be present with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations that must all be present with these values.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Selector {
    /// True when `doc` satisfies every condition.
    pub fn matches(&self, doc: &impl Object) -> bool {
        let field = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let all = |want: &BTreeMap<String, String>, field: &str| {
            want.iter().all(|(k, v)| {
                doc.metadata_map(field)
                    .and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    == Some(v.as_str())
            })
        };
        field(&self.api_version, doc.api_version())
            && field(&self.kind, doc.kind())
            && field(&self.name, doc.name())
            && field(&self.namespace, doc.namespace())
            && all(&self.labels, "labels")
            && all(&self.annotations, "annotations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_every_given_field() {
        let doc = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns", "labels": {"a": "1"}, "annotations": {"x": "y"}}
        });
        let doc = doc.as_object().unwrap();
        let sel = |v: Value| serde_json::from_value::<Selector>(v).unwrap();
        assert!(sel(json!({})).matches(doc));
        assert!(
            sel(json!({"kind": "Secret", "namespace": "ns", "labels": {"a": "1"}})).matches(doc)
        );
        assert!(sel(json!({"annotations": {"x": "y"}, "name": "s"})).matches(doc));
        assert!(!sel(json!({"kind": "Secret", "labels": {"a": "2"}})).matches(doc));
        assert!(!sel(json!({"annotations": {"x": "z"}})).matches(doc));
        assert!(!sel(json!({"apiVersion": "v2"})).matches(doc));
        assert!(serde_json::from_value::<Selector>(json!({"kinds": "x"})).is_err());
    }

    #[test]
    fn accessors_tolerate_missing_and_odd_fields() {
        let doc = json!({"kind": 3, "metadata": {"labels": "not a map"}});
        let doc = doc.as_object().unwrap();
        assert_eq!(doc.kind(), "");
        assert_eq!(doc.name(), "");
        assert_eq!(doc.label("a"), None);
    }
}
