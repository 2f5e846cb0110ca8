//! A Kubernetes-style document as the host sees it while a pipeline runs.

use std::fmt;

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
}

/// The position a document was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Bundle-relative path of the file.
    pub path: String,
    /// 1-based line where the document starts.
    pub line: usize,
    /// 0-based index of the document within its file.
    pub index: usize,
}

impl Document {
    /// `apiVersion`, or `""`.
    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"])
    }

    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }

    /// `metadata.namespace`, or `""`.
    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"])
    }

    /// `metadata.labels` or `metadata.annotations`, as a map.
    pub fn metadata_map(&self, field: &str) -> Option<&Map<String, Value>> {
        self.content.get("metadata")?.get(field)?.as_object()
    }

    /// The string at a path of keys; `path` is never empty (callers pass literals).
    fn str_at(&self, path: &[&str]) -> &str {
        let mut value = self.content.get(path[0]);
        for key in &path[1..] {
            value = value.and_then(|v| v.get(key));
        }
        value.and_then(Value::as_str).unwrap_or("")
    }
}

/// `Kind/name (path:line)`: how a document is named in messages.
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.kind().is_empty() {
            "document"
        } else {
            self.kind()
        };
        let name = if self.name().is_empty() {
            "<unnamed>"
        } else {
            self.name()
        };
        match &self.origin {
            Some(origin) => write!(f, "{kind}/{name} ({}:{})", origin.path, origin.line),
            None => write!(f, "{kind}/{name} ({}, added)", self.path),
        }
    }
}
