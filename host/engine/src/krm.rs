//! KRM function mode: a `ResourceList` in, a `ResourceList` out.
//!
//! Follows the KRM Functions Specification (`config.kubernetes.io/v1`):
//! - `items` become documents; their path is the `config.kubernetes.io/path`
//!   annotation when the orchestrator sends one (kpt does, kustomize does
//!   not);
//! - `internal.config.kubernetes.io/*` annotations belong to the
//!   orchestrator: they are taken off before any guest sees an item and put
//!   back unchanged afterwards, so no guest can alter them;
//! - `functionConfig` names the work: a mooring `Pipeline`, or a `ConfigMap`
//!   whose `data.guest` names one guest and `data.config` holds its YAML
//!   config (what `kpt fn eval --exec mooring -- guest=... ` sends);
//! - results go into `results`, in the spec's shape.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::document::{DocId, Document, Object, Origin};
use crate::execute::StepResult;
use crate::pipeline::{self, Pipeline};
use crate::yaml::{self, Chunk, YamlError};

/// The `apiVersion` of a ResourceList.
pub const API_VERSION: &str = "config.kubernetes.io/v1";
const INTERNAL_PREFIX: &str = "internal.config.kubernetes.io/";
const PATH: &str = "config.kubernetes.io/path";
const INDEX: &str = "config.kubernetes.io/index";

/// Why stdin could not be taken as a ResourceList.
#[derive(Debug, thiserror::Error)]
pub enum KrmError {
    /// Not YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// YAML, but not a ResourceList.
    #[error("<stdin>: {0}")]
    NotAResourceList(String),
}

/// A ResourceList read from an orchestrator.
#[derive(Debug)]
pub struct ResourceList {
    /// The items, as documents, internal annotations removed.
    pub documents: Vec<Document>,
    /// The function's configuration, as sent.
    pub function_config: Option<Map<String, Value>>,
    /// The internal annotations taken off each item.
    internal: HashMap<DocId, Map<String, Value>>,
}

/// Parses a ResourceList.
pub fn read(text: &str) -> Result<ResourceList, KrmError> {
    let not = |why: String| KrmError::NotAResourceList(why);
    let chunk = Chunk {
        text: text.to_owned(),
        first_line: 1,
    };
    let value: Value = yaml::from_chunk("<stdin>", &chunk)?;
    let Value::Object(mut list) = value else {
        return Err(not("expected a ResourceList mapping on stdin".to_owned()));
    };
    let kind = list.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = list
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "ResourceList" || !api_version.starts_with("config.kubernetes.io/") {
        return Err(not(format!(
            "expected apiVersion {API_VERSION} and kind ResourceList, found {api_version:?} {kind:?}"
        )));
    }
    let items = match list.remove("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(not("`items` must be a list".to_owned())),
    };
    let function_config = match list.remove("functionConfig") {
        None | Some(Value::Null) => None,
        Some(Value::Object(config)) => Some(config),
        Some(_) => return Err(not("`functionConfig` must be a mapping".to_owned())),
    };

    let mut documents = Vec::with_capacity(items.len());
    let mut internal = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut content) = item else {
            return Err(not(format!("items[{index}] is not a mapping")));
        };
        let id = index as DocId;
        let taken = take_internal_annotations(&mut content);
        let path = content
            .annotation(PATH)
            .or_else(|| {
                taken
                    .get(&format!("{INTERNAL_PREFIX}path"))
                    .and_then(Value::as_str)
            })
            .unwrap_or_default()
            .to_owned();
        internal.insert(id, taken);
        documents.push(Document {
            id,
            path: path.clone(),
            content,
            origin: Some(Origin {
                path,
                line: 0,
                index,
            }),
            modified: false,
        });
    }
    Ok(ResourceList {
        documents,
        function_config,
        internal,
    })
}

impl ResourceList {
    /// The pipeline the functionConfig names.
    pub fn pipeline(&self, base: &Path) -> Result<Pipeline, String> {
        let Some(config) = &self.function_config else {
            return Err(
                "the ResourceList has no functionConfig; send a mooring.dev/v1alpha1 Pipeline, \
                 or a ConfigMap with data.guest (kpt: `kpt fn eval --exec mooring -- guest=NAME`)"
                    .to_owned(),
            );
        };
        let kind = config
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            pipeline::KIND => {
                Pipeline::from_value("functionConfig", Value::Object(config.clone()), base)
                    .map_err(|e| e.to_string())
            }
            "ConfigMap" => {
                let data = config.get("data").and_then(Value::as_object);
                let field = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_str);
                let guest =
                    field("guest").ok_or("functionConfig: the ConfigMap has no data.guest")?;
                let guest_config = match field("config") {
                    None => Value::Null,
                    Some(text) => {
                        let chunk = Chunk {
                            text: text.to_owned(),
                            first_line: 1,
                        };
                        yaml::from_chunk("functionConfig data.config", &chunk)
                            .map_err(|e| e.to_string())?
                    }
                };
                Pipeline::single(guest, guest_config, base)
                    .map_err(|e| format!("functionConfig: {e}"))
            }
            other => Err(format!(
                "functionConfig is a {other:?}; mooring takes a {} {} or a ConfigMap with data.guest",
                pipeline::API_VERSION,
                pipeline::KIND
            )),
        }
    }

    /// The response: `documents` as items (internal annotations restored),
    /// the functionConfig as sent, and `results`.
    pub fn write(&self, documents: &[Document], results: &[StepResult]) -> String {
        let items: Vec<Value> = documents
            .iter()
            .map(|doc| {
                let mut content = doc.content.clone();
                if doc.modified
                    && !doc.path.is_empty()
                    && content.annotation(PATH) != Some(doc.path.as_str())
                {
                    annotations_mut(&mut content)
                        .insert(PATH.to_owned(), Value::from(doc.path.clone()));
                }
                // Whatever a guest wrote under the orchestrator's prefix is
                // dropped; what the orchestrator sent is put back as it was.
                take_internal_annotations(&mut content);
                if let Some(internal) = self.internal.get(&doc.id).filter(|m| !m.is_empty()) {
                    annotations_mut(&mut content).extend(internal.clone());
                }
                Value::Object(content)
            })
            .collect();
        let mut list = Map::new();
        list.insert("apiVersion".to_owned(), Value::from(API_VERSION));
        list.insert("kind".to_owned(), Value::from("ResourceList"));
        list.insert("items".to_owned(), Value::Array(items));
        if let Some(config) = &self.function_config {
            list.insert("functionConfig".to_owned(), Value::Object(config.clone()));
        }
        if !results.is_empty() {
            list.insert(
                "results".to_owned(),
                results.iter().map(krm_result).collect(),
            );
        }
        yaml::to_yaml(&list)
    }
}

/// One result in the specification's shape.
fn krm_result(result: &StepResult) -> Value {
    let mut out = Map::new();
    out.insert(
        "message".to_owned(),
        Value::from(format!("{}: {}", result.step, result.message)),
    );
    out.insert("severity".to_owned(), Value::from(result.severity.as_str()));
    if let Some(doc) = &result.document {
        let mut reference = Map::new();
        for (key, value) in [
            ("apiVersion", doc.api_version()),
            ("kind", doc.kind()),
            ("name", doc.name()),
            ("namespace", doc.namespace()),
        ] {
            if !value.is_empty() {
                reference.insert(key.to_owned(), Value::from(value));
            }
        }
        out.insert("resourceRef".to_owned(), Value::Object(reference));
        if !doc.path.is_empty() {
            let index = doc
                .content
                .annotation(INDEX)
                .and_then(|i| i.parse::<u64>().ok());
            out.insert(
                "file".to_owned(),
                json!({ "path": doc.path, "index": index.unwrap_or(0) }),
            );
        }
    }
    if let Some(field) = &result.field {
        out.insert("field".to_owned(), json!({ "path": field }));
    }
    Value::Object(out)
}

fn annotations_mut(content: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let metadata = content
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let annotations = metadata
        .as_object_mut()
        .map(|m| {
            m.entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()))
        })
        .filter(|a| a.is_object());
    match annotations {
        Some(Value::Object(map)) => map,
        _ => unreachable!("metadata.annotations was just made an object"),
    }
}

/// Removes `internal.config.kubernetes.io/*` annotations and returns them;
/// drops `annotations` if nothing else was in it.
fn take_internal_annotations(content: &mut Map<String, Value>) -> Map<String, Value> {
    let Some(Value::Object(metadata)) = content.get_mut("metadata") else {
        return Map::new();
    };
    let Some(Value::Object(annotations)) = metadata.get_mut("annotations") else {
        return Map::new();
    };
    let keys: Vec<String> = annotations
        .keys()
        .filter(|k| k.starts_with(INTERNAL_PREFIX))
        .cloned()
        .collect();
    let taken: Map<String, Value> = keys
        .into_iter()
        .filter_map(|k| annotations.shift_remove(&k).map(|v| (k, v)))
        .collect();
    if annotations.is_empty() {
        metadata.shift_remove("annotations");
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    const KPT_INPUT: &str = "apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: cfg
    annotations:
      config.kubernetes.io/index: '1'
      config.kubernetes.io/path: 'deploy.yaml'
      internal.config.kubernetes.io/index: '1'
      internal.config.kubernetes.io/path: 'deploy.yaml'
      internal.config.kubernetes.io/seqindent: 'compact'
  data:
    k: v
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: fn}
  data:
    guest: set-metadata
    config: 'labels: {team: infra}'
";

    #[test]
    fn internal_annotations_are_hidden_from_guests_and_restored() {
        let list = read(KPT_INPUT).unwrap();
        let doc = &list.documents[0];
        assert_eq!(doc.path, "deploy.yaml");
        let annotations = doc.metadata_map("annotations").unwrap();
        assert!(
            annotations.keys().all(|k| !k.starts_with(INTERNAL_PREFIX)),
            "{annotations:?}"
        );

        let mut changed = doc.clone();
        changed.content["data"]["k"] = "w".into();
        changed.modified = true;
        let out = list.write(&[changed], &[]);
        assert!(
            out.contains("internal.config.kubernetes.io/seqindent: compact"),
            "{out}"
        );
        assert!(out.contains("k: w"), "{out}");
        assert!(out.contains("guest: set-metadata"), "{out}");
    }

    #[test]
    fn a_configmap_function_config_names_one_guest() {
        let list = read(KPT_INPUT).unwrap();
        let pipeline = list.pipeline(Path::new(".")).unwrap();
        assert_eq!(pipeline.steps.len(), 1);
        assert_eq!(
            pipeline.steps[0].config,
            json!({"labels": {"team": "infra"}})
        );
    }

    #[test]
    fn things_that_are_not_resource_lists_are_refused() {
        assert!(
            read("kind: Deployment\napiVersion: apps/v1\n")
                .unwrap_err()
                .to_string()
                .contains("ResourceList")
        );
        assert!(read("- a\n").is_err());
        assert!(
            read("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [1]\n").is_err()
        );
        let no_config =
            read("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n").unwrap();
        assert!(
            no_config
                .pipeline(Path::new("."))
                .unwrap_err()
                .contains("no functionConfig")
        );
    }
}
