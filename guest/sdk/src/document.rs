use mooring_model::Object;
use mooring_model::airship::{self, Kind};
use serde_json::{Map, Value};

use crate::Error;
use crate::bindings::mooring::step::types as wit;

/// One Kubernetes-style document: a JSON object plus where it lives.
///
/// Read its identity through [`Object`] (`kind()`, `name()`, `label(..)`,
/// ...), which is in the [`crate::prelude`].
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    id: Option<String>,
    /// Bundle-relative path of the file the document lives in. Change it to
    /// move the document.
    pub path: String,
    /// The document itself.
    pub content: Map<String, Value>,
}

impl Document {
    /// A new document to add to the bundle at `path`.
    pub fn new(path: impl Into<String>, content: Map<String, Value>) -> Self {
        Document {
            id: None,
            path: path.into(),
            content,
        }
    }

    /// A new document at `path` holding a typed value, for example a
    /// [`PhasePlan`](crate::airship::PhasePlan).
    pub fn from_typed<T: Kind>(path: impl Into<String>, value: &T) -> Result<Self, Error> {
        Ok(Document::new(path, airship::to_content(value)?))
    }

    /// The document read as a `T`, or an error naming the document when it
    /// is of another kind or a field does not fit.
    ///
    /// ```no_run
    /// # use mooring_guest::prelude::*;
    /// # fn f(doc: &Document) -> Result<(), Error> {
    /// use mooring_guest::airship::PhasePlan;
    /// let plan: PhasePlan = doc.parse()?;
    /// # Ok(()) }
    /// ```
    pub fn parse<T: Kind>(&self) -> Result<T, Error> {
        airship::parse(self).map_err(|e| Error::msg(format!("{} {e}", self.describe())))
    }

    /// Replace the content with a typed value (its `apiVersion` and `kind`
    /// included), keeping the document's id and path.
    pub fn store<T: Kind>(&mut self, value: &T) -> Result<(), Error> {
        self.content = airship::to_content(value)?;
        Ok(())
    }

    /// True for a kustomize `kustomization.yaml` (or `.yml`), or a document
    /// of kind `Kustomization`.
    pub fn is_kustomization(&self) -> bool {
        let file = self.path.rsplit('/').next().unwrap_or_default();
        self.kind() == "Kustomization" || matches!(file, "kustomization.yaml" | "kustomization.yml")
    }

    /// `Kind/name (path)`, how messages name a document.
    pub fn describe(&self) -> String {
        format!("{}/{} ({})", self.kind(), self.name(), self.path)
    }

    /// The host's id for this document; `None` for one the step added.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// True when the document has this `kind` and `metadata.name`.
    pub fn is(&self, kind: &str, name: &str) -> bool {
        self.kind() == kind && self.name() == name
    }

    /// Set label `key` to `value`, creating `metadata.labels` if needed.
    pub fn set_label(&mut self, key: &str, value: &str) {
        self.metadata_entry("labels")
            .insert(key.to_owned(), Value::from(value));
    }

    /// Set annotation `key` to `value`, creating `metadata.annotations` if needed.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        self.metadata_entry("annotations")
            .insert(key.to_owned(), Value::from(value));
    }

    /// The value at a path of object keys, for example `&["spec", "replicas"]`.
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter()
            .try_fold(self.content.get(*first)?, |value, key| value.get(key))
    }

    /// The value at a path of object keys, for changing it in place.
    pub fn get_mut(&mut self, path: &[&str]) -> Option<&mut Value> {
        let (first, rest) = path.split_first()?;
        rest.iter()
            .try_fold(self.content.get_mut(*first)?, |value, key| {
                value.get_mut(key)
            })
    }

    /// `metadata.<field>` as an object, replacing anything else found there.
    fn metadata_entry(&mut self, field: &str) -> &mut Map<String, Value> {
        let metadata = object_entry(&mut self.content, "metadata");
        object_entry(metadata, field)
    }

    pub(crate) fn from_wit(doc: wit::Document) -> Result<Self, String> {
        match serde_json::from_str(&doc.content) {
            Ok(Value::Object(content)) => Ok(Document {
                id: doc.id,
                path: doc.path,
                content,
            }),
            Ok(_) => Err(format!("document {} is not a JSON object", doc.path)),
            Err(e) => Err(format!("document {} is not valid JSON: {e}", doc.path)),
        }
    }

    pub(crate) fn into_wit(self) -> wit::Document {
        wit::Document {
            id: self.id,
            path: self.path,
            content: Value::Object(self.content).to_string(),
        }
    }
}

/// The one document of kind `T` among `docs`, with its index: `None` when
/// there is none, an error naming both when there are two.
pub fn find_one<T: Kind>(docs: &[Document]) -> Result<Option<(usize, T)>, Error> {
    let mut found = docs.iter().enumerate().filter(|(_, d)| T::describes(*d));
    let Some((index, doc)) = found.next() else {
        return Ok(None);
    };
    if let Some((_, second)) = found.next() {
        return Err(Error::msg(format!(
            "found two {} documents, {} and {}; a site has one",
            T::KIND,
            doc.describe(),
            second.describe()
        )));
    }
    Ok(Some((index, doc.parse()?)))
}

impl Object for Document {
    fn content(&self) -> &Map<String, Value> {
        &self.content
    }
}

fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(map) => map,
        _ => unreachable!("just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airship::{Phase, PhasePlan};
    use serde_json::json;

    fn doc(path: &str, content: Value) -> Document {
        match content {
            Value::Object(map) => Document::new(path, map),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn typed_documents_read_and_store_without_loss() {
        let mut plan = doc(
            "phases/plan.yaml",
            json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "PhasePlan",
                   "metadata": {"name": "deploy"}, "description": "d",
                   "phases": [{"name": "a"}, {"name": "b"}]}),
        );
        let mut typed: PhasePlan = plan.parse().unwrap();
        typed.phases.retain(|p| p.name != "a");
        plan.store(&typed).unwrap();
        assert_eq!(plan.content["phases"], json!([{"name": "b"}]));
        assert_eq!(plan.content["description"], "d");
        let err = plan.parse::<Phase>().unwrap_err().to_string();
        assert!(
            err.starts_with("PhasePlan/deploy (phases/plan.yaml) is a"),
            "{err}"
        );
    }

    #[test]
    fn find_one_refuses_two_and_names_both() {
        let plan = |name: &str| {
            doc(
                &format!("{name}.yaml"),
                json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "PhasePlan", "metadata": {"name": name}}),
            )
        };
        let other = doc("cm.yaml", json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert!(
            find_one::<PhasePlan>(std::slice::from_ref(&other))
                .unwrap()
                .is_none()
        );
        let (index, found) = find_one::<PhasePlan>(&[other, plan("a")]).unwrap().unwrap();
        assert_eq!((index, found.metadata.name.as_str()), (1, "a"));
        let err = find_one::<PhasePlan>(&[plan("a"), plan("b")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PhasePlan/a (a.yaml) and PhasePlan/b (b.yaml)"),
            "{err}"
        );
    }

    #[test]
    fn kustomizations_are_known_by_file_name_or_kind() {
        assert!(doc("site/kustomization.yaml", json!({"resources": []})).is_kustomization());
        assert!(doc("k.yaml", json!({"kind": "Kustomization"})).is_kustomization());
        assert!(!doc("site/cm.yaml", json!({"kind": "ConfigMap"})).is_kustomization());
    }

    #[test]
    fn labels_and_paths_edit_in_place() {
        let mut cm = doc(
            "cm.yaml",
            json!({"kind": "ConfigMap", "metadata": "odd", "data": {"a": {"b": 1}}}),
        );
        cm.set_label("team", "infra");
        assert_eq!(cm.label("team"), Some("infra"));
        *cm.get_mut(&["data", "a", "b"]).unwrap() = json!(2);
        assert_eq!(cm.get(&["data", "a", "b"]), Some(&json!(2)));
        assert_eq!(cm.get(&["data", "missing"]), None);
    }
}
