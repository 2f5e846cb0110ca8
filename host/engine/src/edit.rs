//! Lossless edits of YAML text: a document a step changed is written back
//! as its original text with only the changed fields rewritten, so
//! comments, key order, indentation, quoting, flow or block style and the
//! spelling of every untouched scalar stay as they were.
//!
//! [`rewrite`] compares what the text read as with what it must read as
//! now, and applies the difference to a lossless syntax tree of the text
//! (`yaml-edit`): removed keys and list items are deleted where they stand,
//! new ones are inserted in the style of their neighbours, changed scalars
//! are replaced, and everything else is left alone. New values are written
//! by serde-saphyr's emitter, which quotes every string that YAML 1.1 would
//! read as something else (`"y"`, `"0644"`, `"1.10"`).
//!
//! Editing a syntax tree in place costs about the length of the collection
//! for every entry added, removed or replaced, so a document whose change
//! would cost more than [`EDIT_BUDGET`] (a step adding thousands of keys to
//! one mapping) is not edited but written whole: its comments go, and the
//! run stays linear in what the step sent.
//!
//! The caller checks the result reads back as intended and falls back to
//! writing the document whole when it does not (see
//! [`crate::yaml::render_document`]).

use std::str::FromStr;

use serde_json::{Map, Value};
use yaml_edit::{Mapping, Sequence, YamlFile, YamlNode};

/// Why a text could not be edited in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError(pub String);

/// How much in-place editing one document may cost: every entry added,
/// removed or replaced is charged the length of its collection (the larger
/// of before and after), and every new value its count of nodes.
/// Adding a few hundred keys to a mapping fits; a quarter of a second of
/// syntax-tree work on one document (measured: about 1 µs per unit) does not.
pub const EDIT_BUDGET: usize = 50_000;

/// What is left of [`EDIT_BUDGET`] for the document being edited.
struct Budget(usize);

impl Budget {
    /// Charges one edit of a collection of `len` entries.
    fn charge(&mut self, len: usize) -> Result<(), EditError> {
        self.0 = self.0.checked_sub(len + 1).ok_or_else(|| {
            EditError(format!(
                "the change is larger than {EDIT_BUDGET} units of in-place editing"
            ))
        })?;
        Ok(())
    }
}

/// `text` rewritten to read as `updated`, where it read as `original`.
pub fn rewrite(
    text: &str,
    original: &Map<String, Value>,
    updated: &Map<String, Value>,
) -> Result<String, EditError> {
    let file = YamlFile::from_str(text).map_err(|e| EditError(format!("{e:?}")))?;
    let document = file
        .documents()
        .next()
        .ok_or_else(|| EditError("no document in the text".to_owned()))?;
    let root = document
        .as_mapping()
        .ok_or_else(|| EditError("the document is not a block or flow mapping".to_owned()))?;
    diff_mapping(&root, original, updated, &mut Budget(EDIT_BUDGET))?;
    Ok(file.to_string())
}

fn diff_mapping(
    node: &Mapping,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    budget: &mut Budget,
) -> Result<(), EditError> {
    let len = old.len().max(new.len());
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        budget.charge(len)?;
        node.remove(key.as_str())
            .ok_or_else(|| EditError(format!("key {key:?} is not spelled in the text")))?;
    }
    for (key, value) in new {
        match old.get(key) {
            Some(before) if before == value => {}
            Some(before) => {
                budget.charge(len)?;
                let child = node
                    .get(key.as_str())
                    .ok_or_else(|| EditError(format!("key {key:?} is not spelled in the text")))?;
                if !diff_in_place(&child, before, value, budget)? {
                    node.set(key.as_str(), render(value, Some(&child), budget)?);
                }
            }
            None => {
                budget.charge(len)?;
                node.set(key.as_str(), render(value, None, budget)?);
            }
        }
    }
    Ok(())
}

/// `text` rewritten to read as `updated` when all that changed from
/// `original` is new keys in block mappings the text spells plainly (a
/// label, an annotation, a `labels:` mapping under `metadata:`): the new
/// entries are written by the emitter, indented as their siblings, after
/// the last line of their mapping. `None` for any other change, or text
/// that is not that plain (CRLF, a flow or tagged mapping, a quoted key),
/// which [`rewrite`] then edits through the syntax tree. A line scan costs
/// a few microseconds where building and editing a syntax tree costs about
/// 30 per document, and most edits of a whole site are of this kind. The
/// caller checks the result reads back as `updated`.
pub fn append_new_keys(
    text: &str,
    original: &Map<String, Value>,
    updated: &Map<String, Value>,
) -> Option<String> {
    if text.contains('\r') {
        return None;
    }
    let mut additions = Vec::new();
    new_keys(&mut Vec::new(), original, updated, &mut additions)?;
    if additions.is_empty() {
        return None;
    }
    // Insertions, made from the end of the text back so that each offset
    // still holds when it is used.
    let mut inserts: Vec<(usize, usize, String)> = additions
        .into_iter()
        .map(|(path, entries)| {
            let (end, indent, step) = block_end(text, &path)?;
            let emitted = serde_saphyr::to_string(&entries).ok()?;
            let mut block = String::new();
            for line in emitted.lines() {
                // The emitter indents by two; the document may use more.
                let content = line.trim_start_matches(' ');
                let depth = (line.len() - content.len()) / 2 * step;
                block.push_str(&" ".repeat(indent + depth));
                block.push_str(content);
                block.push('\n');
            }
            Some((end, path.len(), block))
        })
        .collect::<Option<_>>()?;
    // Where a mapping and one inside it end together, the inner one's
    // entries go first: inserted last at that offset.
    inserts.sort_by_key(|(end, depth, _)| (std::cmp::Reverse(*end), *depth));
    let mut out = text.to_owned();
    for (end, _, block) in inserts {
        if !out[..end].ends_with('\n') {
            out.insert(end, '\n');
            out.insert_str(end + 1, &block);
        } else {
            out.insert_str(end, &block);
        }
    }
    Some(out)
}

/// The keys `updated` has that `original` lacks, grouped by the path of
/// the mapping that gets them; `None` when anything else changed.
fn new_keys<'a>(
    path: &mut Vec<&'a str>,
    original: &'a Map<String, Value>,
    updated: &'a Map<String, Value>,
    out: &mut Vec<(Vec<&'a str>, Map<String, Value>)>,
) -> Option<()> {
    if original.keys().any(|k| !updated.contains_key(k)) {
        return None;
    }
    let mut added = Map::new();
    for (key, value) in updated {
        match (original.get(key), value) {
            (None, _) => {
                added.insert(key.clone(), value.clone());
            }
            (Some(before), _) if before == value => {}
            (Some(Value::Object(before)), Value::Object(after)) => {
                path.push(key);
                new_keys(path, before, after, out)?;
                path.pop();
            }
            _ => return None,
        }
    }
    if !added.is_empty() {
        out.push((path.clone(), added));
    }
    Some(())
}

/// Where the block mapping at `path` ends in `text` (just after its last
/// line that is not a comment), the indentation of its entries and how far
/// it is indented from its key (2 at the root); `None` unless every key on
/// the way is spelled plainly, alone on its line.
fn block_end(text: &str, path: &[&str]) -> Option<(usize, usize, usize)> {
    // The root mapping spans the document; its entries are not indented.
    let (mut start, mut end, mut parent) = (0, text.len(), None::<usize>);
    for key in path {
        let children = entries(text, start, end, parent)?;
        let line_end = children.find_key(text, key)?;
        parent = Some(children.indent);
        end = entries(text, line_end, end, parent)?.end;
        start = line_end;
    }
    let block = entries(text, start, end, parent)?;
    let step = parent.map_or(2, |p| block.indent - p);
    Some((block.end, block.indent, step))
}

/// The entries of a block mapping: where its last one ends, their
/// indentation, and the span they are in.
struct Entries {
    start: usize,
    end: usize,
    indent: usize,
}

impl Entries {
    /// Where the line of `key:` among these entries ends, when it opens a
    /// block (no value on the line but a comment).
    fn find_key(&self, text: &str, key: &str) -> Option<usize> {
        let mut at = self.start;
        for line in text[self.start..self.end].split_inclusive('\n') {
            at += line.len();
            let content = &line[line.len() - line.trim_start_matches(' ').len()..];
            if line.len() - content.len() != self.indent {
                continue;
            }
            if let Some(rest) = content.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
                let rest = rest.trim();
                return (rest.is_empty() || rest.starts_with('#')).then_some(at);
            }
        }
        None
    }
}

/// The entries between `start` and `end` of a mapping whose key is indented
/// `parent` (`None` for the root): lines indented further than the key, up
/// to the first that is not (comments, blank lines and document markers
/// do not count).
fn entries(text: &str, start: usize, end: usize, parent: Option<usize>) -> Option<Entries> {
    let (mut at, mut last, mut indent) = (start, None, None);
    for line in text[start..end].split_inclusive('\n') {
        let line_end = at + line.len();
        at = line_end;
        let content = line.trim_start_matches(' ');
        let depth = line.len() - content.len();
        let trimmed = content.trim_end();
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || (depth == 0 && ["---", "...", "%"].iter().any(|m| trimmed.starts_with(m)))
        {
            continue;
        }
        if parent.is_some_and(|p| depth <= p) {
            break;
        }
        indent.get_or_insert(depth);
        last = Some(line_end);
    }
    Some(Entries {
        start,
        end: last?,
        indent: indent?,
    })
}

/// Where the node at `path` (mapping keys and list indices) starts in
/// `text`: 1-based line and column, for pointing at a field in a file.
pub fn position(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let file = YamlFile::from_str(text).ok()?;
    let document = file.documents().next()?;
    let root = document.as_mapping()?;
    let mut node: Option<YamlNode> = None;
    for segment in path {
        node = Some(match &node {
            None => root.get(*segment)?,
            Some(node) => match (node.as_mapping(), node.as_sequence()) {
                (Some(mapping), _) => mapping.get(*segment)?,
                (_, Some(sequence)) => sequence.get(segment.parse().ok()?)?,
                _ => return None,
            },
        });
    }
    let offset = node?.byte_range().start as usize;
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column))
}

/// Edits `node` from `old` to `new` where both are collections of the
/// same kind and the node spells one; false when it must be replaced.
fn diff_in_place(
    node: &YamlNode,
    old: &Value,
    new: &Value,
    budget: &mut Budget,
) -> Result<bool, EditError> {
    // A tagged collection (`!!map {...}`) keeps its tag: edit what it tags.
    let tagged = node.as_tagged();
    let mapping = node
        .as_mapping()
        .cloned()
        .or_else(|| tagged.and_then(|t| t.as_mapping()));
    let sequence = node
        .as_sequence()
        .cloned()
        .or_else(|| tagged.and_then(|t| t.as_sequence()));
    match (old, new, mapping, sequence) {
        (Value::Object(old), Value::Object(new), Some(mapping), _) => {
            diff_mapping(&mapping, old, new, budget)?;
            Ok(true)
        }
        (Value::Array(old), Value::Array(new), _, Some(sequence)) => {
            diff_sequence(&sequence, old, new, budget)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// How an old list becomes a new one: items kept (and maybe changed),
/// removed or inserted, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Keep(usize, usize),
    Remove,
    Insert(usize),
}

fn diff_sequence(
    node: &Sequence,
    old: &[Value],
    new: &[Value],
    budget: &mut Budget,
) -> Result<(), EditError> {
    let len = old.len().max(new.len());
    let steps = align(old, new);
    // Items edited where they stand first, through handles taken once: a
    // long list is walked once, not once per item.
    let items: Vec<YamlNode> = node.values().collect();
    let mut replaced = vec![false; new.len()];
    for step in &steps {
        if let Step::Keep(i, j) = *step
            && old[i] != new[j]
        {
            let item = items
                .get(i)
                .ok_or_else(|| EditError(format!("list item {i} is not in the text")))?;
            budget.charge(len)?;
            if !diff_in_place(item, &old[i], &new[j], budget)? {
                replaced[j] = true;
            }
        }
    }
    // Then what is removed, inserted or replaced whole, by position.
    let mut at = 0;
    for step in steps {
        match step {
            Step::Keep(_, j) => {
                if replaced[j] {
                    node.set(at, render(&new[j], node.get(at).as_ref(), budget)?);
                }
                at += 1;
            }
            Step::Remove => {
                budget.charge(len)?;
                node.remove(at)
                    .ok_or_else(|| EditError(format!("list item {at} is not in the text")))?;
            }
            Step::Insert(j) => {
                budget.charge(len)?;
                node.insert(at, render(&new[j], None, budget)?);
                at += 1;
            }
        }
    }
    Ok(())
}

/// Lists longer than this in their differing middle are aligned by
/// position rather than by a longest common subsequence.
const ALIGN_LIMIT: usize = 512;

/// Aligns two lists: a common prefix and suffix, and for the rest the
/// longest common subsequence of item identities (a Kubernetes object's
/// kind and name, a `name:` entry's name, else the whole value), so an
/// entry removed from the middle of a plan removes just that entry, and an
/// entry that changed is edited where it stands.
fn align(old: &[Value], new: &[Value]) -> Vec<Step> {
    let prefix = old
        .iter()
        .zip(new)
        .take_while(|(a, b)| identity(a) == identity(b))
        .count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| identity(a) == identity(b))
        .count();
    let (old_mid, new_mid) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut steps: Vec<Step> = (0..prefix).map(|i| Step::Keep(i, i)).collect();
    if old_mid.len().max(new_mid.len()) > ALIGN_LIMIT {
        let common = old_mid.len().min(new_mid.len());
        steps.extend((0..common).map(|k| Step::Keep(prefix + k, prefix + k)));
        steps.extend((common..old_mid.len()).map(|_| Step::Remove));
        steps.extend((common..new_mid.len()).map(|k| Step::Insert(prefix + k)));
    } else {
        steps.extend(lcs(old_mid, new_mid, prefix));
    }
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    steps.extend((0..suffix).map(|k| Step::Keep(old_end + k, new_end + k)));
    steps
}

fn lcs(old: &[Value], new: &[Value], offset: usize) -> Vec<Step> {
    let (n, m) = (old.len(), new.len());
    let old_ids: Vec<Identity<'_>> = old.iter().map(identity).collect();
    let new_ids: Vec<Identity<'_>> = new.iter().map(identity).collect();
    // table[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut table = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i][j] = if old_ids[i] == new_ids[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut steps) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && old_ids[i] == new_ids[j] {
            steps.push(Step::Keep(offset + i, offset + j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || table[i][j + 1] >= table[i + 1][j]) {
            steps.push(Step::Insert(offset + j));
            j += 1;
        } else {
            steps.push(Step::Remove);
            i += 1;
        }
    }
    steps
}

/// What makes two list items "the same item", changed or not.
#[derive(PartialEq)]
enum Identity<'a> {
    Object(&'a str, &'a str, &'a str),
    Named(&'a str),
    Value(&'a Value),
}

fn identity(value: &Value) -> Identity<'_> {
    fn text(v: Option<&Value>) -> &str {
        v.and_then(Value::as_str).unwrap_or("")
    }
    let name = value.get("metadata").and_then(|m| m.get("name"));
    match (name, value.get("name")) {
        (Some(name), _) if name.is_string() => Identity::Object(
            text(value.get("kind")),
            text(value.get("metadata").and_then(|m| m.get("namespace"))),
            text(Some(name)),
        ),
        (_, Some(name)) if name.is_string() => Identity::Named(text(Some(name))),
        _ => Identity::Value(value),
    }
}

/// A node for `value`, written by serde-saphyr. A string replacing a
/// quoted scalar keeps its quotes.
fn render(
    value: &Value,
    replacing: Option<&YamlNode>,
    budget: &mut Budget,
) -> Result<YamlNode, EditError> {
    // A syntax tree costs far more than the document it holds: a large new
    // value is cheaper written with the whole document.
    budget.charge(crate::yaml::nodes(value))?;
    let quote = replacing
        .and_then(YamlNode::as_scalar)
        .map(|s| s.to_string())
        .and_then(|s| s.trim_start().chars().next())
        .filter(|c| matches!(c, '\'' | '"'));
    let text = match (value, quote) {
        (Value::String(s), Some('"')) => format!("x: {}\n", Value::String(s.clone())),
        (Value::String(s), Some('\''))
            if !s.contains(['\n', '\r']) && s.chars().all(|c| !c.is_control()) =>
        {
            format!("x: '{}'\n", s.replace('\'', "''"))
        }
        _ => {
            let mut wrapper = Map::new();
            wrapper.insert("x".to_owned(), value.clone());
            serde_saphyr::to_string(&wrapper).map_err(|e| EditError(e.to_string()))?
        }
    };
    let file = YamlFile::from_str(&text).map_err(|e| EditError(format!("{e:?}")))?;
    file.documents()
        .next()
        .and_then(|d| d.as_mapping())
        .and_then(|m| m.get("x"))
        .ok_or_else(|| EditError(format!("the emitter wrote {text:?}")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use serde_json::{Map, Value, json};

    use super::append_new_keys;
    use crate::yaml::{read_object, render_document};

    fn appended(text: &str, updated: Value) -> Option<String> {
        let original = read_object(text).unwrap();
        let Value::Object(updated) = updated else {
            panic!()
        };
        let out = append_new_keys(text, &original, &updated)?;
        assert_eq!(read_object(&out).as_ref(), Some(&updated), "{out}");
        Some(out)
    }

    #[test]
    fn new_keys_go_after_the_last_line_of_their_mapping_in_its_indentation() {
        let text = "# about a\nkind: X\nmetadata: # the id\n    name: a\n    labels:\n        x: w\n\n# spec next\nspec: {}\n";
        let out = appended(
            text,
            json!({"kind": "X", "metadata": {"name": "a", "labels": {"x": "w", "z": "0644"},
                   "annotations": {"p": "a/b.yaml"}}, "spec": {}}),
        );
        assert_eq!(
            out.unwrap(),
            "# about a\nkind: X\nmetadata: # the id\n    name: a\n    labels:\n        x: w\n        \
             z: \"0644\"\n    annotations:\n        p: a/b.yaml\n\n# spec next\nspec: {}\n"
        );
        // At the root, and last in a text without a final newline.
        let out = appended(
            "metadata:\n  name: a",
            json!({"metadata": {"name": "a"}, "b": [1]}),
        );
        assert_eq!(out.unwrap(), "metadata:\n  name: a\nb:\n- 1\n");
    }

    #[test]
    fn anything_but_new_keys_in_plain_block_mappings_is_left_to_the_syntax_tree() {
        let label = json!({"metadata": {"name": "a", "labels": {"x": "w"}}});
        for text in [
            "metadata: {name: a}\n",
            "metadata: &m\n  name: a\n",
            "\"metadata\":\n  name: a\n",
            "metadata:\r\n  name: a\r\n",
        ] {
            assert_eq!(appended(text, label.clone()), None, "{text:?}");
        }
        // A value changed or a key removed is not an addition.
        assert_eq!(
            appended("metadata:\n  name: a\n", json!({"metadata": {"name": "b"}})),
            None
        );
        assert_eq!(appended("a: 1\nb: 2\n", json!({"a": 1})), None);
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            "[a-z0-9 .:#'\"-]{0,12}".prop_map(Value::from),
            Just(Value::from("0644")),
            Just(Value::from("yes")),
            Just(Value::Null),
        ]
    }

    fn tree() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A document: top-level keys, each holding a tree, written by the
    /// emitter with a comment on every top-level key.
    fn document() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-z]{1,6}", tree(), 1..6)
            .prop_map(|m| m.into_iter().collect())
    }

    fn text_of(doc: &Map<String, Value>) -> String {
        let mut text = String::new();
        for (key, value) in doc {
            let mut one = Map::new();
            one.insert(key.clone(), value.clone());
            text.push_str(&format!("# about {key}\n"));
            text.push_str(&serde_saphyr::to_string(&one).unwrap());
        }
        text
    }

    /// One edit at a random place: a set, a removal or a new key.
    fn edit(doc: &mut Map<String, Value>, pick: usize, value: Value) -> String {
        let key = doc
            .keys()
            .nth(pick % doc.len())
            .cloned()
            .unwrap_or_default();
        match (pick / doc.len().max(1)) % 3 {
            0 => {
                doc.insert(key.clone(), value);
            }
            1 => {
                doc.shift_remove(&key);
            }
            _ => {
                if let Some(Value::Object(inner)) = doc.get_mut(&key) {
                    inner.insert("added".to_owned(), value);
                } else {
                    doc.insert(key.clone(), json!({"added": value}));
                }
            }
        }
        key
    }

    /// A change too large to edit through the syntax tree in linear time is
    /// written whole, and still reads back as intended; one just under the
    /// budget is edited in place. New keys alone are appended, in linear
    /// time, however many.
    #[test]
    fn a_change_over_the_budget_is_written_whole() {
        let text = "# kept only when edited in place\nmetadata:\n  labels:\n    x: w\n";
        let original = read_object(text).unwrap();
        let with_labels = |count: usize, x: &str| {
            let mut updated = original.clone();
            let labels = updated["metadata"]["labels"].as_object_mut().unwrap();
            labels.insert("x".to_owned(), json!(x));
            for i in 0..count {
                labels.insert(format!("k{i}"), json!("v"));
            }
            updated
        };
        // Each of n new keys is charged the mapping's final length, n + 1.
        for (count, x, in_place) in [
            (200, "changed", true),
            (250, "changed", false),
            (5000, "w", true),
        ] {
            let updated = with_labels(count, x);
            let rendered = render_document(text, &updated);
            assert_eq!(rendered.in_place, in_place, "{count} keys");
            assert_eq!(read_object(&rendered.text), Some(updated));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The written text reads as exactly the edited value, it is the
        /// original edited (not rewritten), and every top-level entry the
        /// edit did not touch keeps its bytes, its comment included.
        #[test]
        fn edits_read_back_exactly_and_leave_the_rest_alone(doc in document(), pick in 0usize..64, value in tree()) {
            let text = text_of(&doc);
            prop_assume!(read_object(&text).as_ref() == Some(&doc));
            let mut updated = doc.clone();
            let touched = edit(&mut updated, pick, value);
            let rendered = render_document(&text, &updated);
            prop_assert_eq!(read_object(&rendered.text), Some(updated.clone()), "{}", rendered.text);
            prop_assert!(rendered.in_place, "written whole:\n{}\n---\n{}", text, rendered.text);
            for key in doc.keys().filter(|k| **k != touched) {
                let mut one = Map::new();
                one.insert(key.clone(), doc[key].clone());
                let block = format!("# about {key}\n{}", serde_saphyr::to_string(&one).unwrap());
                prop_assert!(rendered.text.contains(&block), "{key} changed:\n{}\n---\n{}", text, rendered.text);
            }
        }
    }
}
