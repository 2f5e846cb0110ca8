//! `mooring:step/documents`: the documents of one step run, kept on the host.
//!
//! A step reads identities in one call, fields by JSON pointer and whole
//! documents only when it asks; it sends edits in batches. Every edit is
//! checked as it arrives (index in range, pointer well formed, value a JSON
//! value, path inside the bundle) and applied to the host's copy at once; a
//! document counts as changed only when a value really changed. A
//! validator's set refuses every change, and the step then fails.
//!
//! The guest can make the host hold no more than its own memory limit in
//! new content, so a step limited to 64 MiB cannot make the host hold
//! gigabytes. What is charged is what the host will keep, not what the
//! guest sent: the bytes of every value and pointer, plus [`NODE_COST`] for
//! each node a value parses to (a 30-byte `[[],[],…]` makes ten nodes the
//! host holds and writes out) and [`PATCH_COST`] for each patch, so a guest
//! cannot trade a little text for a lot of host memory.

use std::collections::BTreeSet;

use mooring_model::pointer::{self, Edit as PointerEdit};
use serde_json::{Map, Value};
use wasmtime::component::Resource;

use super::HostState;
use crate::bindings::mooring::step::documents::{Host, HostDocumentSet};
use crate::bindings::mooring::step::types::{Edit, Header, Patch};
use crate::bundle::check_document_path;
use crate::document::{DocId, Document, Object};
use crate::secrets::{Redaction, is_sensitive};

/// What the host is charged for one node of a value (or one patch) beyond
/// its bytes: about what a `serde_json::Value` in a map and its share of
/// the written YAML cost (measured: 10 million empty lists took 830 MB).
pub const NODE_COST: u64 = 64;

/// What the host is charged for one patch beyond its bytes and nodes: the
/// patch as wasmtime hands it over, the edit it becomes and the entry it
/// makes (measured: 400,000 one-label patches took 200 MB at 64 each).
pub const PATCH_COST: u64 = 256;

/// The documents one step run may read and change.
pub struct DocumentSet {
    /// Every document of the run, moved in for the call.
    docs: Vec<Document>,
    /// The step's documents, as indices into `docs`; what it adds follows.
    view: Vec<usize>,
    /// View indices the step removed.
    removed: BTreeSet<usize>,
    /// View indices whose content or path really changed.
    changed: BTreeSet<usize>,
    /// How many of `view` the step added.
    added: usize,
    /// The id the next added document gets.
    next_id: DocId,
    /// Set for a validator: the step's name.
    read_only: Option<String>,
    /// Bytes of new content the step may still send.
    budget: u64,
    /// What it could send at first: its memory limit.
    limit: u64,
    /// Why the step must fail although it returned: a validator that tried
    /// to change something, or a step over its content budget.
    pub(crate) violation: Option<String>,
    /// The secrets the step may not read.
    redaction: Redaction,
}

/// What a step did to its documents, once it returned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    /// Documents it changed (content or path).
    pub changed: usize,
    /// Documents it added.
    pub added: usize,
    /// Documents it removed.
    pub removed: usize,
}

impl DocumentSet {
    /// The documents at `view` of `docs`, for a step that may send
    /// `budget` bytes of new content; `read_only` names a validator.
    pub fn new(
        docs: Vec<Document>,
        view: Vec<usize>,
        next_id: DocId,
        budget: u64,
        read_only: Option<String>,
    ) -> Self {
        DocumentSet {
            docs,
            view,
            removed: BTreeSet::new(),
            changed: BTreeSet::new(),
            added: 0,
            next_id,
            read_only,
            budget,
            limit: budget,
            violation: None,
            redaction: Redaction::default(),
        }
    }

    /// Hides these secrets from the step: it reads markers for them, and a
    /// marker it writes into a credential document is the secret again.
    pub fn hide(&mut self, redaction: Redaction) {
        self.redaction = redaction;
    }

    /// A value as the step may read it.
    fn shown(&self, value: &Value) -> String {
        if self.redaction.is_empty() {
            return value.to_string();
        }
        let mut value = value.clone();
        self.redaction.redact(&mut value);
        value.to_string()
    }

    /// A value a step wrote, with its markers restored when it lands in a
    /// credential document (elsewhere a marker stays what it is: text).
    fn restored(&self, doc: usize, mut value: Value) -> Value {
        if !self.redaction.is_empty() && is_sensitive(&self.docs[doc]) {
            self.redaction.restore(&mut value);
        }
        value
    }

    /// The documents afterwards (removed ones gone, added ones last), what
    /// changed, and the next free id.
    pub fn finish(self) -> (Vec<Document>, Changes, DocId) {
        let changes = Changes {
            changed: self.changed.difference(&self.removed).count(),
            added: self.added,
            removed: self.removed.len(),
        };
        let gone: BTreeSet<usize> = self.removed.iter().map(|&v| self.view[v]).collect();
        let docs = self
            .docs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, d)| d)
            .collect();
        (docs, changes, self.next_id)
    }

    /// Why a document the step changed or added has identifying fields of
    /// a shape Kubernetes refuses (annotations that are a string, a label
    /// that is a number), naming the first such document; `None` when all
    /// are well formed. What the step did not touch is not judged.
    pub fn misshapen(&self) -> Option<String> {
        let added = self.view.len() - self.added..self.view.len();
        self.changed
            .iter()
            .copied()
            .chain(added)
            .filter(|v| !self.removed.contains(v))
            .find_map(|v| {
                let doc = &self.docs[self.view[v]];
                let problem = doc.content.shape_problem()?;
                Some(format!(
                    "it left {doc} with {problem}; Kubernetes and kustomize refuse that"
                ))
            })
    }

    /// The document at view index `doc`, removed or not: what a result
    /// about it names.
    pub fn reference(&self, doc: u32) -> Option<&Document> {
        self.view.get(doc as usize).map(|&i| &self.docs[i])
    }

    fn index(&self, doc: u32) -> Result<usize, String> {
        let v = doc as usize;
        if v >= self.view.len() {
            return Err(format!(
                "there is no document {doc}; the step has {}",
                self.view.len()
            ));
        }
        if self.removed.contains(&v) {
            return Err(format!("document {doc} was removed by this step"));
        }
        Ok(v)
    }

    /// Refuses a change for a validator, remembering that it tried.
    fn writable(&mut self, what: &str) -> Result<(), String> {
        let Some(step) = &self.read_only else {
            return Ok(());
        };
        let message = format!(
            "step `{step}` is a validator (mode: validate): it may report results, not {what}"
        );
        self.violation.get_or_insert_with(|| message.clone());
        Err(message)
    }

    /// Charges `bytes` of new content against the budget.
    fn charge(&mut self, bytes: u64) -> Result<(), String> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => {
                let message = format!(
                    "the step sent more than {} of new document content (its memory limit); \
                     it was refused",
                    crate::limits::DisplayBytes(self.limit)
                );
                self.violation.get_or_insert_with(|| message.clone());
                Err(message)
            }
        }
    }

    fn parse_value(&mut self, json: &str) -> Result<Value, String> {
        // Charged before parsing: the parse is what would take the memory.
        self.charge(json.len() as u64 + json_nodes(json) as u64 * NODE_COST)?;
        serde_json::from_str(json).map_err(|e| format!("not a JSON value: {e}"))
    }

    fn parse_object(&mut self, json: &str) -> Result<Map<String, Value>, String> {
        match self.parse_value(json)? {
            Value::Object(map) => self.not_a_pipeline(map),
            _ => Err("a document must be a JSON object".to_owned()),
        }
    }

    /// Refuses content that is a mooring Pipeline: pipelines come from the
    /// operator's bundle or `--pipeline`, never from a step.
    fn not_a_pipeline(
        &mut self,
        content: Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        if content.api_version() == crate::pipeline::API_VERSION
            && content.kind() == crate::pipeline::KIND
        {
            let message = format!(
                "a step may not write a {} {} document: pipelines come from the operator, never from a step",
                crate::pipeline::API_VERSION,
                crate::pipeline::KIND
            );
            self.violation.get_or_insert_with(|| message.clone());
            return Err(message);
        }
        Ok(content)
    }

    fn apply_patches(&mut self, patches: Vec<Patch>) -> Result<(), String> {
        if patches.is_empty() {
            return Ok(());
        }
        self.writable("change documents")?;
        // Indices and values are checked before any patch is applied, so a
        // malformed batch changes nothing.
        let mut edits = Vec::with_capacity(patches.len());
        for (n, patch) in patches.into_iter().enumerate() {
            let at = |e: String| format!("patch {n}: {e}");
            let v = self.index(patch.doc).map_err(at)?;
            let pointer = match &patch.edit {
                Edit::Set((pointer, _)) | Edit::Merge((pointer, _)) | Edit::Remove(pointer) => {
                    pointer.len() as u64
                }
            };
            self.charge(pointer + PATCH_COST).map_err(at)?;
            let doc = self.view[v];
            let edit = match patch.edit {
                Edit::Set((pointer, json)) => {
                    let value = self.parse_value(&json).map_err(at)?;
                    PointerEdit::Set(pointer, self.restored(doc, value))
                }
                Edit::Remove(pointer) => PointerEdit::Remove(pointer),
                Edit::Merge((pointer, json)) => {
                    let value = Value::Object(self.parse_object(&json).map_err(at)?);
                    match self.restored(doc, value) {
                        Value::Object(map) => PointerEdit::Merge(pointer, map),
                        _ => PointerEdit::Merge(pointer, Map::new()),
                    }
                }
            };
            edits.push((n, v, edit));
        }
        for (n, v, edit) in edits {
            let doc = &mut self.docs[self.view[v]];
            let changed = match doc.edit_content(|content| pointer::apply(content, &edit)) {
                Ok(changed) => changed,
                Err(e) => {
                    // Earlier patches of the batch are in: the documents are
                    // no longer what the step meant, so the step fails.
                    let message = format!("patch {n} ({doc}): {e}");
                    self.violation.get_or_insert_with(|| message.clone());
                    return Err(message);
                }
            };
            if changed {
                doc.modified = true;
                self.changed.insert(v);
                if crate::pipeline::is_pipeline(doc) {
                    let content = doc.content.clone();
                    self.not_a_pipeline(content)?;
                }
            }
        }
        Ok(())
    }
}

/// How many values (nodes) the JSON `text` holds, counted without parsing:
/// one, plus one per `:` and per `,` in an array, plus one per non-empty
/// array. Exact for valid JSON; what it says of invalid JSON does not
/// matter, since parsing then fails.
fn json_nodes(text: &str) -> usize {
    // Past serde_json's nesting limit the parse fails at once anyway.
    const DEPTH: usize = 128;
    let mut in_array = Vec::with_capacity(DEPTH);
    let (mut nodes, mut in_string, mut escaped) = (1, false, false);
    let bytes = text.as_bytes();
    for (i, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b':' => nodes += 1,
            b',' if in_array.last() == Some(&true) => nodes += 1,
            b'[' | b'{' => {
                if in_array.len() == DEPTH {
                    break;
                }
                in_array.push(byte == b'[');
                let next = bytes[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if byte == b'[' && next.is_some_and(|&b| b != b']') {
                    nodes += 1;
                }
            }
            b']' | b'}' => {
                in_array.pop();
            }
            _ => {}
        }
    }
    nodes
}

impl Host for HostState {}

impl HostDocumentSet for HostState {
    fn headers(&mut self, set: Resource<DocumentSet>) -> Vec<Header> {
        let Ok(set) = self.table.get(&set) else {
            return Vec::new();
        };
        set.view
            .iter()
            .map(|&i| {
                let doc = &set.docs[i];
                Header {
                    path: doc.path.clone(),
                    api_version: doc.api_version().to_owned(),
                    kind: doc.kind().to_owned(),
                    name: doc.name().to_owned(),
                    namespace: doc.namespace().to_owned(),
                }
            })
            .collect()
    }

    fn get(
        &mut self,
        set: Resource<DocumentSet>,
        doc: u32,
        pointer: String,
    ) -> Result<Option<String>, String> {
        let set = self.table.get(&set).map_err(|e| e.to_string())?;
        let document = &set.docs[set.view[set.index(doc)?]];
        let value = pointer::get(&document.content, &pointer).map_err(|e| e.to_string())?;
        Ok(value.map(|v| set.shown(v)))
    }

    fn content(&mut self, set: Resource<DocumentSet>, doc: u32) -> Result<String, String> {
        let set = self.table.get(&set).map_err(|e| e.to_string())?;
        let document = &set.docs[set.view[set.index(doc)?]];
        Ok(set.shown(&Value::Object(document.content.clone())))
    }

    fn apply(&mut self, set: Resource<DocumentSet>, patches: Vec<Patch>) -> Result<(), String> {
        let set = self.table.get_mut(&set).map_err(|e| e.to_string())?;
        set.apply_patches(patches)
    }

    fn replace(
        &mut self,
        set: Resource<DocumentSet>,
        doc: u32,
        content: String,
    ) -> Result<(), String> {
        let set = self.table.get_mut(&set).map_err(|e| e.to_string())?;
        let v = set.index(doc)?;
        set.writable("replace documents")?;
        let content = set.parse_object(&content)?;
        let index = set.view[v];
        let content = match set.restored(index, Value::Object(content)) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let document = &mut set.docs[index];
        if document.content != content {
            document.edit_content(|old| *old = content);
            document.modified = true;
            set.changed.insert(v);
        }
        Ok(())
    }

    fn remove(&mut self, set: Resource<DocumentSet>, doc: u32) -> Result<(), String> {
        let set = self.table.get_mut(&set).map_err(|e| e.to_string())?;
        let v = set.index(doc)?;
        set.writable("remove documents")?;
        set.removed.insert(v);
        Ok(())
    }

    fn move_to(
        &mut self,
        set: Resource<DocumentSet>,
        doc: u32,
        path: String,
    ) -> Result<(), String> {
        let set = self.table.get_mut(&set).map_err(|e| e.to_string())?;
        let v = set.index(doc)?;
        set.writable("move documents")?;
        check_document_path(&path)?;
        let document = &mut set.docs[set.view[v]];
        if document.path != path {
            document.path = path;
            document.modified = true;
            set.changed.insert(v);
        }
        Ok(())
    }

    fn add(
        &mut self,
        set: Resource<DocumentSet>,
        path: String,
        content: String,
    ) -> Result<u32, String> {
        let set = self.table.get_mut(&set).map_err(|e| e.to_string())?;
        set.writable("add documents")?;
        check_document_path(&path)?;
        let content = set.parse_object(&content)?;
        let index = u32::try_from(set.view.len()).map_err(|_| "too many documents".to_owned())?;
        set.docs.push(Document {
            id: set.next_id,
            path,
            content,
            origin: None,
            modified: true,
            original: None,
        });
        set.next_id += 1;
        set.view.push(set.docs.len() - 1);
        set.added += 1;
        Ok(index)
    }

    fn drop(&mut self, _set: Resource<DocumentSet>) -> wasmtime::Result<()> {
        // The host owns the set and takes it back after the call.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::json_nodes;

    #[test]
    fn json_nodes_counts_what_the_parse_makes() {
        for text in [
            "1",
            "\"a,b:[c\"",
            "[]",
            "[ ]",
            "{}",
            "[[],[],[]]",
            "[1, 2, [3, {}], {\"a\": [4], \"b\": {\"c\": null}}]",
            r#"{"k": "x\"],[:", "l": [ "y" , 2 ]}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(json_nodes(text), crate::yaml::nodes(&value), "{text}");
        }
    }
}
