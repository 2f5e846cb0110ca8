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
pub mod kustomize;
pub mod pointer;
pub mod providers;

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

/// `map[key]` as an object, replacing whatever else is there (`null`, a
/// string): the way to set a field below a path that may not be a mapping.
pub fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert(Value::Null);
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(map) => map,
        _ => unreachable!("the entry was just made an object"),
    }
}

/// How many of something there are, when one is wanted: the answer of
/// [`one_of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOf<T> {
    /// None at all.
    None,
    /// Exactly one.
    One(T),
    /// Two or more, all of them, in order.
    Many(Vec<T>),
}

/// Whether `items` holds none, one or many: a site has one ClusterMap, a
/// bundle one Pipeline, and a message about "many" names every one.
pub fn one_of<T>(items: impl IntoIterator<Item = T>) -> OneOf<T> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        return OneOf::None;
    };
    match items.next() {
        None => OneOf::One(first),
        Some(second) => OneOf::Many([first, second].into_iter().chain(items).collect()),
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
    fn object_entry_replaces_what_is_not_a_mapping() {
        let mut doc = json!({"metadata": {"annotations": null, "labels": "x"}});
        let metadata = object_entry(doc.as_object_mut().unwrap(), "metadata");
        object_entry(metadata, "annotations").insert("a".into(), "1".into());
        object_entry(metadata, "labels").insert("b".into(), "2".into());
        object_entry(metadata, "new").insert("c".into(), "3".into());
        assert_eq!(
            doc,
            json!({"metadata": {"annotations": {"a": "1"}, "labels": {"b": "2"}, "new": {"c": "3"}}})
        );
    }

    #[test]
    fn one_of_tells_none_one_and_many() {
        assert_eq!(one_of(Vec::<u8>::new()), OneOf::None);
        assert_eq!(one_of([1]), OneOf::One(1));
        assert_eq!(one_of([1, 2, 3]), OneOf::Many(vec![1, 2, 3]));
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
