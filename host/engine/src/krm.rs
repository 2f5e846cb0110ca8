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
//!   config (what `kpt fn eval --exec "mooring fn" -- guest=... ` sends);
//! - results go into `results`, in the spec's shape.

mod layout;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use mooring_model::object_entry;

use crate::document::{DocId, Document, Object, Origin};
use crate::execute::{Outcome, StepResult};
use crate::pipeline::{self, Pipeline};
use crate::readback::reads_as;
use crate::yaml::{self, Chunk, YamlError};
use layout::Layout;

/// The `apiVersion` of a ResourceList.
pub const API_VERSION: &str = "config.kubernetes.io/v1";
const INTERNAL_PREFIX: &str = "internal.config.kubernetes.io/";
const PATH: &str = "config.kubernetes.io/path";

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
    /// The list as it came: the answer is this text, edited.
    text: String,
    /// Where the text spells each item, when a line scan can tell.
    layout: Option<Layout>,
    /// The list without its items (`items: []`): what the text outside
    /// the items must still read as.
    skeleton: Map<String, Value>,
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
    let mut skeleton = list.clone();
    skeleton.insert("items".to_owned(), Value::Array(Vec::new()));
    let function_config = match list.remove("functionConfig") {
        None | Some(Value::Null) => None,
        Some(Value::Object(config)) => Some(config),
        Some(_) => return Err(not("`functionConfig` must be a mapping".to_owned())),
    };

    let items_read = items.len();
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
            original: None,
        });
    }
    Ok(ResourceList {
        documents,
        function_config,
        internal,
        text: text.to_owned(),
        layout: Layout::find(text).filter(|l| l.items.len() == items_read),
        skeleton,
    })
}

impl ResourceList {
    /// The pipeline the functionConfig names.
    pub fn pipeline(&self, base: &Path) -> Result<Pipeline, String> {
        let Some(config) = &self.function_config else {
            return Err(
                "the ResourceList has no functionConfig; send a mooring.dev/v1alpha1 Pipeline, \
                 or a ConfigMap with data.guest (kpt: `kpt fn eval DIR --exec \"mooring fn\" -- guest=NAME`)"
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

    /// The response: the list as it came, with its items replaced by
    /// `documents` (internal annotations restored; `None` keeps the items
    /// as sent) and `results` added. It is the input text edited where it
    /// changed: untouched items keep their bytes and comments, and the
    /// functionConfig is never rewritten.
    pub fn write(&self, documents: Option<&[Document]>, results: &[StepResult]) -> String {
        let results: Vec<Value> = results.iter().map(krm_result).collect();
        self.write_by_item(documents, &results)
            .unwrap_or_else(|| self.write_whole(documents, results))
    }

    /// The response written item by item (see [`layout`]): each piece is
    /// checked to read as what it must before it is used; `None` when the
    /// list is not laid out plainly enough, and it is edited whole.
    fn write_by_item(&self, documents: Option<&[Document]>, results: &[Value]) -> Option<String> {
        let layout = self.layout.as_ref()?;
        let mut skeleton = self.skeleton.clone();
        let mut tail = String::new();
        if !results.is_empty() {
            if skeleton.contains_key("results") {
                return None;
            }
            let mut block = Map::new();
            block.insert("results".to_owned(), Value::Array(results.to_vec()));
            tail = yaml::to_yaml(&block);
            skeleton.extend(block);
        }
        let (before, after) = (
            &self.text[..layout.block.start],
            &self.text[layout.block.end..],
        );
        let newline = if after.is_empty() || after.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let outside = format!("{before}items: []\n{after}{newline}{tail}");
        if !reads_as(&outside, &skeleton) {
            return None;
        }
        let items: Vec<Cow<'_, str>> = match documents {
            None => vec![Cow::Borrowed(
                &self.text[layout.header.end..layout.block.end],
            )],
            Some(documents) => documents
                .par_iter()
                .map(|doc| self.item_text(layout, doc))
                .collect::<Option<_>>()?,
        };
        let mut out = String::with_capacity(self.text.len() + tail.len());
        out.push_str(before);
        match items.is_empty() {
            true => out.push_str("items: []\n"),
            false => out.push_str(&self.text[layout.block.start..layout.header.end]),
        }
        for item in items {
            out.push_str(&item);
        }
        out.push_str(after);
        out.push_str(newline);
        out.push_str(&tail);
        Some(out)
    }

    /// One document as an item of the answer: its bytes as sent when it
    /// reads as it must, its sent text edited when it changed, or written
    /// whole when a step added it. `None` when the text sent for it does
    /// not read as the item that was read (the scan was wrong).
    fn item_text<'a>(&'a self, layout: &Layout, doc: &Document) -> Option<Cow<'a, str>> {
        let expected = self.item(doc);
        let Some(span) = layout.items.get(usize::try_from(doc.id).ok()?) else {
            return Some(Cow::Owned(layout.as_item(&yaml::to_yaml(&expected))));
        };
        let sent = layout.item_text(&self.text, span)?;
        if !doc.modified {
            return reads_as(&sent, &expected).then(|| Cow::Borrowed(&self.text[span.clone()]));
        }
        let original = yaml::read_object(&sent)?;
        let mut as_read = original.clone();
        let internal = take_internal_annotations(&mut as_read);
        if as_read != *doc.as_read() || Some(&internal) != self.internal.get(&doc.id) {
            return None;
        }
        let rendered = yaml::render_edit(&sent, &original, &expected);
        Some(Cow::Owned(layout.as_item(&rendered.text)))
    }

    /// The response rendered as one document: for lists the line scan
    /// cannot split.
    fn write_whole(&self, documents: Option<&[Document]>, results: Vec<Value>) -> String {
        let Some(original) = yaml::read_object(&self.text) else {
            return self.text.clone();
        };
        let mut updated = original.clone();
        if let Some(documents) = documents {
            let items = documents
                .iter()
                .map(|doc| Value::Object(self.item(doc)))
                .collect();
            updated.insert("items".to_owned(), Value::Array(items));
        }
        if !results.is_empty() {
            updated.insert("results".to_owned(), Value::Array(results));
        }
        yaml::render_edit(&self.text, &original, &updated).text
    }

    /// A document as an item of the answer.
    fn item(&self, doc: &Document) -> Map<String, Value> {
        let mut content = doc.content.clone();
        if doc.modified
            && !doc.path.is_empty()
            && content.annotation(PATH) != Some(doc.path.as_str())
        {
            annotations_mut(&mut content).insert(PATH.to_owned(), Value::from(doc.path.clone()));
        }
        // Whatever a guest wrote under the orchestrator's prefix is dropped;
        // what the orchestrator sent is put back as it was.
        take_internal_annotations(&mut content);
        if let Some(internal) = self.internal.get(&doc.id).filter(|m| !m.is_empty()) {
            annotations_mut(&mut content).extend(internal.clone());
        }
        content
    }
}

/// What each step of `outcome` did, as items of a results file: the step,
/// its guest, its counts and its results in the KRM shape. Nothing in it
/// depends on the clock, so two runs over the same input give the same
/// file.
pub fn step_items(outcome: &Outcome) -> Vec<Value> {
    outcome
        .steps
        .iter()
        .map(|step| {
            let results: Vec<Value> = outcome
                .results
                .iter()
                .filter(|r| r.step == step.step)
                .map(krm_result)
                .collect();
            json!({
                "step": step.step,
                "guest": step.guest,
                "selected": step.seen,
                "changed": step.changes.changed,
                "added": step.changes.added,
                "removed": step.changes.removed,
                "results": results,
            })
        })
        .collect()
}

/// One result in the specification's shape: a `resourceRef` only for a
/// document that has an apiVersion, a kind and a name (the spec requires
/// all three), its file and index, and the field.
pub fn krm_result(result: &StepResult) -> Value {
    let mut out = Map::new();
    out.insert(
        "message".to_owned(),
        Value::from(format!("{}: {}", result.step, result.message)),
    );
    out.insert("severity".to_owned(), Value::from(result.severity.as_str()));
    if let Some(doc) = &result.document {
        if !doc.api_version.is_empty() && !doc.kind.is_empty() && !doc.name.is_empty() {
            let mut reference =
                json!({"apiVersion": doc.api_version, "kind": doc.kind, "name": doc.name});
            if !doc.namespace.is_empty() {
                reference["namespace"] = Value::from(doc.namespace.clone());
            }
            out.insert("resourceRef".to_owned(), reference);
        }
        if !doc.path.is_empty() {
            let mut file = json!({"path": doc.path});
            // Read from the file it names: its place there is its index.
            let read_there = doc
                .origin
                .as_ref()
                .filter(|o| o.path == doc.path)
                .map(|o| o.index as u64);
            if let Some(index) = doc.file_index.or(read_there) {
                file["index"] = Value::from(index);
            }
            out.insert("file".to_owned(), file);
        }
    }
    if let Some(field) = &result.field {
        out.insert("field".to_owned(), json!({ "path": field }));
    }
    Value::Object(out)
}

fn annotations_mut(content: &mut Map<String, Value>) -> &mut Map<String, Value> {
    object_entry(object_entry(content, "metadata"), "annotations")
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
        let out = list.write(Some(&[changed]), &[]);
        // The answer is the input with one line changed: the internal
        // annotations and the functionConfig keep their bytes.
        let changed: Vec<(&str, &str)> = KPT_INPUT
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed, [("    k: v", "    k: w")], "{out}");
        assert_eq!(out.lines().count(), KPT_INPUT.lines().count(), "{out}");
        assert!(out.contains("guest: set-metadata"), "{out}");
    }

    /// Items changed, removed and added, and results: written item by
    /// item, the answer reads exactly as the list edited whole does, and
    /// the untouched item keeps its bytes.
    #[test]
    fn an_answer_written_item_by_item_reads_as_one_written_whole() {
        let input = KPT_INPUT.replace(
            "items:\n",
            "items:\n- kind: Keep # as sent\n  metadata: {name: k}\n- kind: Gone\n  metadata:\n    name: g\n",
        );
        let list = read(&input).unwrap();
        let mut docs = list.documents.clone();
        docs.remove(1);
        docs[1].edit_content(|c| c["data"]["k"] = "w".into());
        docs[1].modified = true;
        let mut added = docs[0].clone();
        added.id = 99;
        added.content["kind"] = "New".into();
        added.modified = true;
        docs.push(added);
        let result = StepResult {
            step: "s".to_owned(),
            severity: crate::execute::Severity::Info,
            message: "m".to_owned(),
            document: None,
            field: None,
        };
        let results = vec![krm_result(&result)];
        let by_item = list
            .write_by_item(Some(&docs), &results)
            .expect("a plain list");
        let whole = list.write_whole(Some(&docs), results);
        assert_eq!(
            yaml::read_object(&by_item),
            yaml::read_object(&whole),
            "{by_item}"
        );
        assert!(by_item.contains("- kind: Keep # as sent\n"), "{by_item}");
        assert!(!by_item.contains("Gone"), "{by_item}");
        assert!(by_item.contains("      internal.config.kubernetes.io/seqindent: 'compact'\n"));
    }

    /// A list the line scan misreads (the item text does not read as the
    /// item) is written whole, never wrong.
    #[test]
    fn a_list_the_scan_cannot_split_is_written_whole() {
        let input = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  s: \"x\nitems:\n- a: 1\n  \"\nitems: [{kind: A}]\n";
        let list = read(input).unwrap();
        let mut docs = list.documents.clone();
        docs[0].edit_content(|c| c["kind"] = "B".into());
        docs[0].modified = true;
        let out = list.write(Some(&docs), &[]);
        assert_eq!(
            yaml::read_object(&out).unwrap()["items"],
            json!([{"kind": "B"}]),
            "{out}"
        );
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
