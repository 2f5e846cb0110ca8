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

    /// Why the identifying fields have a shape the Kubernetes API and
    /// kustomize refuse (`apiVersion`, `kind`, `metadata.name` and
    /// `namespace` strings; `labels` and `annotations` maps of strings),
    /// or `None`. Absent fields are not a problem here.
    fn shape_problem(&self) -> Option<String> {
        fn kind_of(value: &Value) -> &'static str {
            match value {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Object(_) => "a map",
            }
        }
        let content = self.content();
        for field in ["apiVersion", "kind"] {
            match content.get(field) {
                Some(value) if !value.is_string() => {
                    return Some(format!("{field} {}, not a string", kind_of(value)));
                }
                _ => {}
            }
        }
        let metadata = match content.get("metadata") {
            None => return None,
            Some(Value::Object(metadata)) => metadata,
            Some(other) => return Some(format!("metadata {}, not a map", kind_of(other))),
        };
        for field in ["name", "namespace"] {
            match metadata.get(field) {
                Some(value) if !value.is_string() => {
                    return Some(format!("metadata.{field} {}, not a string", kind_of(value)));
                }
                _ => {}
            }
        }
        for field in ["labels", "annotations"] {
            match metadata.get(field) {
                // `annotations:` with nothing after it, as Helm charts
                // render: Kubernetes and kustomize read it as absent.
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    if let Some((key, value)) = map.iter().find(|(_, v)| !v.is_string()) {
                        return Some(format!(
                            "metadata.{field}.{key} {}, not a string",
                            kind_of(value)
                        ));
                    }
                }
                Some(other) => {
                    return Some(format!(
                        "metadata.{field} {}, not a map of strings",
                        kind_of(other)
                    ));
                }
            }
        }
        None
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
        // A field the selector does not name is never looked up: most
        // selectors name one or two, and this runs for every document of
        // every step.
        fn field<'a>(want: &Option<String>, have: impl FnOnce() -> &'a str) -> bool {
            want.as_deref().is_none_or(|w| w == have())
        }
        let all = |want: &BTreeMap<String, String>, field: &str| {
            want.iter().all(|(k, v)| {
                doc.metadata_map(field)
                    .and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    == Some(v.as_str())
            })
        };
        field(&self.api_version, || doc.api_version())
            && field(&self.kind, || doc.kind())
            && field(&self.name, || doc.name())
            && field(&self.namespace, || doc.namespace())
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
    fn shape_problem_names_the_field_and_what_it_is() {
        for (doc, problem) in [
            (
                json!({"kind": "A", "metadata": {"name": "a", "labels": {"x": "y"}}}),
                None,
            ),
            (json!({"kind": "A"}), None),
            (
                json!({"kind": "A", "metadata": {"annotations": null}}),
                None,
            ),
            (json!({"kind": 1}), Some("kind a number, not a string")),
            (
                json!({"metadata": "x"}),
                Some("metadata a string, not a map"),
            ),
            (
                json!({"metadata": {"name": ["a"]}}),
                Some("metadata.name a list, not a string"),
            ),
            (
                json!({"metadata": {"annotations": "x"}}),
                Some("metadata.annotations a string, not a map of strings"),
            ),
            (
                json!({"metadata": {"labels": {"a": 1}}}),
                Some("metadata.labels.a a number, not a string"),
            ),
        ] {
            assert_eq!(
                doc.as_object().unwrap().shape_problem().as_deref(),
                problem,
                "{doc}"
            );
        }
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
