//! YAML streams, cut into documents that keep their original text.
//!
//! A multi-document file is split at its document markers (`---` at the start
//! of a line). The YAML spec forbids a line starting with `---` or `...`
//! inside any scalar, so a marker at column 0 always begins a new document;
//! cutting there is exact, and it gives each document its own bytes, which is
//! what lets an unchanged document be written back untouched, comments and
//! all. Each piece is then parsed on its own by serde-saphyr.
//!
//! Limits on hostile input, stated here because they bound memory and
//! stack: a document may hold at most one node per byte of its text plus
//! [`ALIAS_SLACK`], aliases expanded (a "billion laughs" input is refused),
//! and a whole bundle the same, so many small bombs in many documents are
//! refused too; 50,000 aliases, nesting 64 deep, 64 MiB of scalar text;
//! duplicate mapping keys are an error. The bundle loader adds a 64 MiB cap
//! per file ([`crate::bundle::MAX_FILE_BYTES`]), checked before the file is
//! read.

use serde_json::{Map, Value};
use serde_saphyr::{RenderOptions, SnippetMode};

use crate::readback::reads_as;

/// One piece of a YAML stream: a document or the text between documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The exact text, including its `---` marker line if it had one.
    pub text: String,
    /// 1-based line of the chunk's first line in the file.
    pub first_line: usize,
}

/// A YAML problem, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct YamlError {
    /// The file (bundle-relative) or stream name.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, with a hint where there is one.
    pub message: String,
}

/// Splits a stream into chunks at document-start markers.
pub fn split(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if offset > start && is_document_start(line) {
            chunks.push(Chunk {
                text: text[start..offset].to_owned(),
                first_line: start_line,
            });
            start = offset;
            start_line = index + 1;
        }
        offset += line.len();
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(Chunk {
            text: text[start..].to_owned(),
            first_line: start_line,
        });
    }
    chunks
}

fn is_document_start(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// True when a chunk holds only markers, comments and blank lines.
pub fn is_empty(chunk: &str) -> bool {
    chunk.lines().all(|line| {
        let line = line.trim();
        let line = line
            .strip_prefix("---")
            .map(str::trim_start)
            .unwrap_or(line);
        line.is_empty() || line.starts_with('#') || line == "..."
    })
}

/// Parses one chunk. `Ok(None)` for an empty or `null` document, and for
/// a JSON patch (the operations a kustomization's `patchesJson6902` or
/// `patches` entry names, in YAML): kustomize's input, not an object, kept
/// as it is written.
pub fn parse(path: &str, chunk: &Chunk) -> Result<Option<Map<String, Value>>, YamlError> {
    if is_empty(&chunk.text) {
        return Ok(None);
    }
    match from_chunk::<Value>(path, chunk)? {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        Value::Array(operations) if is_json_patch(&operations) => Ok(None),
        other => Err(YamlError {
            path: path.to_owned(),
            line: first_content_line(chunk),
            column: 1,
            message: format!(
                "this document is {}, not a mapping; every document in a bundle must be a \
                 Kubernetes-style object with apiVersion, kind and metadata",
                describe(&other)
            ),
        }),
    }
}

/// Deserializes one chunk into `T`, with errors positioned in the file.
pub fn from_chunk<T: serde::de::DeserializeOwned>(
    path: &str,
    chunk: &Chunk,
) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(&chunk.text, kubernetes(&chunk.text)).map_err(|error| {
        let (line, column) = error
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let mut options = RenderOptions::default();
        options.line_offset = chunk.first_line as u64 - 1;
        options.source_name = Some(path);
        if may_hold_credentials(&chunk.text) {
            // A snippet would print the very lines that hold a token or key.
            options.snippets = SnippetMode::Off;
        }
        let rendered = error.render_with_options(options);
        YamlError {
            path: path.to_owned(),
            line: chunk.first_line + line.saturating_sub(1),
            column,
            message: with_hint(rendered.trim_end()),
        }
    })
}

/// How mooring reads YAML: scalars as the Kubernetes API machinery reads
/// them, with YAML 1.1 rules (`0644` is 420, `yes` and `on` are true,
/// `0x1F` is 31), so what a guest reads is what `kubectl apply` would send;
/// and budgets that grow with the text, so a large ResourceList of small
/// items reads while an alias bomb (many nodes from little text) does not.
pub(crate) fn kubernetes(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = text.len().saturating_add(ALIAS_SLACK);
    budget.max_events = budget.max_events.max(text.len().saturating_mul(2));
    serde_saphyr::options! { legacy_octal_numbers: true, budget: Some(budget) }
}

/// Nodes YAML may hold beyond one per byte of its text: what alias
/// expansion may add to one document, and to a whole bundle together (text
/// without aliases needs at least a byte per node).
pub const ALIAS_SLACK: usize = 250_000;

/// How many nodes (scalars, mappings, sequences) a value holds.
pub fn nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(nodes).sum(),
        Value::Object(map) => map.values().map(nodes).sum(),
        _ => 0,
    }
}

/// Reads `text` (one document) as an object, or `None`.
pub fn read_object(text: &str) -> Option<Map<String, Value>> {
    match serde_saphyr::from_str_with_options(text, kubernetes(text)) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A changed document written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The document's new text.
    pub text: String,
    /// True when it is the original text edited where it changed; false
    /// when it had to be written whole (its comments are lost).
    pub in_place: bool,
}

/// The text of a document that was `original_text` and must now read as
/// `updated`: the original edited in place ([`crate::edit`]) when the
/// result reads back as `updated`, else written whole after the original's
/// `---` line and leading comments. Either way it reads back as `updated`.
pub fn render_document(original_text: &str, updated: &Map<String, Value>) -> Rendered {
    match read_object(original_text) {
        Some(original) => render_edit(original_text, &original, updated),
        None => render_whole(original_text, updated),
    }
}

/// [`render_document`] for a caller that has already read `original_text`
/// as `original`.
pub fn render_edit(
    original_text: &str,
    original: &Map<String, Value>,
    updated: &Map<String, Value>,
) -> Rendered {
    let appended = || crate::edit::append_new_keys(original_text, original, updated);
    let rewritten = || crate::edit::rewrite(original_text, original, updated).ok();
    if let Some(text) = appended()
        .filter(|text| reads_as(text, updated))
        .or_else(|| rewritten().filter(|text| reads_as(text, updated)))
    {
        return Rendered {
            text,
            in_place: true,
        };
    }
    render_whole(original_text, updated)
}

fn render_whole(original_text: &str, updated: &Map<String, Value>) -> Rendered {
    let mut text = leading_lines(original_text);
    text.push_str(&to_yaml(updated));
    Rendered {
        text,
        in_place: false,
    }
}

/// The `---` line and comment lines that open a chunk, kept when the
/// document below them is written whole. A marker that carries a tag or
/// anchor becomes a plain `---`: the tag belonged to the old text, and
/// the marker must stay, or the document would fuse with the one before.
fn leading_lines(raw: &str) -> String {
    let mut kept = String::new();
    for line in raw.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "---"
            || trimmed.starts_with("--- #")
            || trimmed.starts_with('#')
            || trimmed.is_empty()
        {
            kept.push_str(line);
        } else if is_document_start(line) {
            kept.push_str("---\n");
        } else {
            break;
        }
    }
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    kept
}

/// True for text that looks like a kubeconfig or a Secret: its parse errors
/// give the position only, never the text around it.
fn may_hold_credentials(text: &str) -> bool {
    [
        "KubeConfig",
        "Secret",
        "kind: Config",
        "token",
        "client-key-data",
        "password",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// Serializes a document as block-style YAML, keys in their original order.
pub fn to_yaml(content: &Map<String, Value>) -> String {
    let mut text = serde_saphyr::to_string(content).unwrap_or_else(|_| {
        // A JSON object always serializes; keep the result valid YAML anyway.
        Value::Object(content.clone()).to_string()
    });
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The 1-based line where a chunk's document starts, after its marker,
/// comments and blank lines.
pub fn first_content_line(chunk: &Chunk) -> usize {
    let skipped = chunk.text.lines().take_while(|line| is_empty(line)).count();
    chunk.first_line + skipped
}

/// True for RFC 6902 operations: mappings, each with a string `op` and
/// `path`.
fn is_json_patch(operations: &[Value]) -> bool {
    !operations.is_empty()
        && operations
            .iter()
            .all(|op| op["op"].is_string() && op["path"].is_string())
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a sequence",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null | Value::Object(_) => "a mapping",
    }
}

/// Adds what to do for the mistakes people make most.
fn with_hint(message: &str) -> String {
    let hint = if message.contains("duplicate mapping key") {
        Some("a key may appear only once in a mapping; remove or rename one of them")
    } else if message.contains("tab") {
        Some("YAML indentation must use spaces, not tabs")
    } else if message.contains("recursion limit") || message.contains("Depth") {
        Some("the document nests deeper than 64 levels; mooring refuses it")
    } else if message.contains("budget") {
        Some("the document expands to too many nodes (an alias bomb?); mooring refuses it")
    } else {
        None
    };
    match hint {
        Some(hint) => format!("{message}\nhint: {hint}"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        split(input).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn split_keeps_every_byte_and_cuts_only_at_markers() {
        let input = "# header\na: 1\n---\nb: |\n  --- not a marker\n--- # c\nc: 3\n---\n";
        let chunks = split(input);
        let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(joined, input);
        assert_eq!(
            texts(input),
            [
                "# header\na: 1\n",
                "---\nb: |\n  --- not a marker\n",
                "--- # c\nc: 3\n",
                "---\n"
            ]
        );
        assert_eq!(
            chunks.iter().map(|c| c.first_line).collect::<Vec<_>>(),
            [1, 3, 6, 8]
        );
        assert_eq!(texts("---x: 1\n"), ["---x: 1\n"]);
        assert_eq!(texts(""), [""]);
    }

    #[test]
    fn parse_reports_positions_in_the_file_not_the_chunk() {
        let chunks = split("a: 1\n---\nb: 2\nc: [1,\n");
        let error = parse("site/x.yaml", &chunks[1]).unwrap_err();
        assert_eq!(error.path, "site/x.yaml");
        assert!(error.line >= 3, "{error}");
        assert!(error.to_string().starts_with("site/x.yaml:"), "{error}");
    }

    #[test]
    fn parse_refuses_non_mappings_and_skips_empty_documents() {
        let chunk = |t: &str| Chunk {
            text: t.to_owned(),
            first_line: 10,
        };
        assert_eq!(parse("f", &chunk("---\n# only a comment\n")).unwrap(), None);
        assert_eq!(parse("f", &chunk("--- ~\n")).unwrap(), None);
        let error = parse("f", &chunk("---\n- a\n- b\n")).unwrap_err();
        assert!(
            error.message.contains("a sequence, not a mapping"),
            "{error}"
        );
        assert_eq!(error.line, 11);
        // A JSON patch in YAML, as kustomize reads one, is no object either,
        // but it is kept as written rather than refused.
        let patch = "- op: replace\n  path: /spec/x\n  value: 1\n";
        assert_eq!(parse("f", &chunk(patch)).unwrap(), None);
        let not_a_patch = "- op: replace\n- path: /x\n";
        assert!(parse("f", &chunk(not_a_patch)).is_err());
    }

    /// What guest/README.md promises a guest reads.
    #[test]
    fn what_a_guest_reads_is_what_kubernetes_reads() {
        let text = "a: 0644\nb: 0400\nc: 0x1F\nd: yes\ne: on\nf: y\ng: 1.10\nh: 1_000\ni: ~\n\
                    j: !!binary aGVsbG8=\nk: 9007199254740993\nl: 12345678901234567890123\n\
                    m: &x {p: 1}\nn: {<<: *x, q: 2}\n";
        let doc = parse("f", &split(text)[0]).unwrap().unwrap();
        let expected = serde_json::json!({
            "a": 420, "b": 256, "c": 31, "d": true, "e": true, "f": true, "g": 1.1, "h": 1000,
            "i": null, "j": "hello", "k": 9007199254740993u64, "l": 1.2345678901234568e22,
            "m": {"p": 1}, "n": {"p": 1, "q": 2}
        });
        assert_eq!(Value::Object(doc), expected);
    }

    /// A value a step set reads back as that value; what it did not set
    /// keeps its spelling.
    #[test]
    fn what_a_step_sets_reads_back_as_set() {
        let text = "mode: 0644\nname: a\n";
        let mut updated = read_object(text).unwrap();
        updated.insert("text".into(), Value::from("0644"));
        updated.insert("number".into(), Value::from(420));
        updated.insert("flag".into(), Value::from("y"));
        let rendered = render_document(text, &updated);
        assert!(rendered.in_place);
        assert_eq!(read_object(&rendered.text), Some(updated));
        assert!(
            rendered.text.starts_with("mode: 0644\nname: a\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered.text.contains("text: \"0644\""),
            "{}",
            rendered.text
        );
        assert!(rendered.text.contains("number: 420\n"), "{}", rendered.text);
        assert!(rendered.text.contains("flag: \"y\""), "{}", rendered.text);
    }

    #[test]
    fn duplicate_keys_are_refused_with_a_hint() {
        let error = parse("f", &split("a: 1\na: 2\n")[0]).unwrap_err();
        assert!(error.message.contains("hint:"), "{error}");
    }
}
