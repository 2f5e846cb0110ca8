//! A Kubernetes-style document as the host sees it while a pipeline runs.

use std::fmt;

pub use mooring_model::Object;
use serde_json::{Map, Value};

/// Identifies a document within one run. Never reused within a run.
pub type DocId = u64;

/// One document: a JSON object plus where it lives and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Unique within the run.
    pub id: DocId,
    /// Bundle-relative path of its file, `/`-separated.
    pub path: String,
    /// The document.
    pub content: Map<String, Value>,
    /// Where it was read from; `None` for a document a step added.
    pub origin: Option<Origin>,
    /// True once a step changed its content or path.
    pub modified: bool,
    /// The content as it was read, kept from its first change on: what the
    /// original text is edited from when the document is written back.
    pub original: Option<Original>,
}

impl Document {
    /// Changes the content through `edit`, first keeping the content as it
    /// was read (once), so writing it back need not read the text again.
    pub fn edit_content<T>(&mut self, edit: impl FnOnce(&mut Map<String, Value>) -> T) -> T {
        if self.origin.is_some() && self.original.is_none() {
            self.original = Some(Original::of(&self.content));
        }
        edit(&mut self.content)
    }

    /// The content as it was read: its first version if it changed.
    pub fn as_read(&self) -> std::borrow::Cow<'_, Map<String, Value>> {
        match &self.original {
            Some(original) => std::borrow::Cow::Owned(original.content()),
            None => std::borrow::Cow::Borrowed(&self.content),
        }
    }
}

/// A document's content as it was read, held as compact JSON: a tree of
/// maps costs about ten times its text, and every changed document keeps
/// one until it is written (about a third of a large run's memory).
#[derive(Debug, Clone, PartialEq)]
pub struct Original(Box<str>);

impl Original {
    fn of(content: &Map<String, Value>) -> Self {
        // A map with string keys always serializes.
        Original(
            serde_json::to_string(content)
                .expect("a JSON object serializes")
                .into_boxed_str(),
        )
    }

    /// The content, read back from the JSON it was written as (a document
    /// read nests at most 64 levels, well within serde_json's limit).
    pub fn content(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).expect("JSON mooring wrote reads back")
    }
}

/// The position a document was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Bundle-relative path of the file.
    pub path: String,
    /// 1-based line where the document's content starts (after its `---`
    /// marker and leading comments).
    pub line: usize,
    /// 0-based index of the document within its file.
    pub index: usize,
}

impl Object for Document {
    fn content(&self) -> &Map<String, Value> {
        &self.content
    }
}

/// A document as results and messages name it: who it is and where it
/// came from, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Bundle-relative path of its file.
    pub path: String,
    /// Where it was read from; `None` for a document a step added.
    pub origin: Option<Origin>,
    /// Its `config.kubernetes.io/index` annotation, when it has one.
    pub file_index: Option<u64>,
}

impl From<&Document> for DocumentRef {
    fn from(doc: &Document) -> Self {
        DocumentRef {
            api_version: doc.api_version().to_owned(),
            kind: doc.kind().to_owned(),
            name: doc.name().to_owned(),
            namespace: doc.namespace().to_owned(),
            path: doc.path.clone(),
            origin: doc.origin.clone(),
            file_index: doc
                .annotation("config.kubernetes.io/index")
                .and_then(|i| i.parse().ok()),
        }
    }
}

/// `Kind/name (path:line)`, or just the place for a document with no kind
/// or name (a kustomization): how a document is named in messages.
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(
            f,
            self.kind(),
            self.name(),
            &self.path,
            self.origin.as_ref(),
        )
    }
}

impl fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, &self.kind, &self.name, &self.path, self.origin.as_ref())
    }
}

fn describe(
    f: &mut fmt::Formatter<'_>,
    kind: &str,
    name: &str,
    path: &str,
    origin: Option<&Origin>,
) -> fmt::Result {
    let place = match origin {
        Some(origin) => format!("{}:{}", origin.path, origin.line),
        None => format!("{path}, added"),
    };
    match (kind, name) {
        ("", "") => f.write_str(&place),
        (kind, name) => write!(
            f,
            "{}/{} ({place})",
            or(kind, "document"),
            or(name, "<unnamed>")
        ),
    }
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

/// Documents as messages name them, comma-separated.
pub fn names(docs: &[&Document]) -> String {
    docs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod original_tests {
    use super::*;

    /// What a document read holds comes back from its compact form exactly:
    /// key order, every kind of number, strings that look like others.
    #[test]
    fn an_original_reads_back_as_it_was_kept() {
        let content: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "kind": "ConfigMap",
            "metadata": {"name": "ß-ü", "labels": {"z": "1", "a": "0644"}},
            "data": {"big": u64::MAX, "neg": -7, "float": 0.1, "exp": 1e300, "bool": "yes", "null": null},
            "list": [[], {}, [1, [2, [3]]]],
        }))
        .unwrap();
        let kept = Original::of(&content).content();
        assert_eq!(kept, content);
        let keys = |m: &Map<String, Value>| {
            m["metadata"]["labels"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&kept), ["z", "a"], "key order is kept");
    }
}
