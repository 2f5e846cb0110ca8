//! A document bundle: a directory tree of YAML files, loaded so that it can
//! be written back byte for byte where nothing changed.
//!
//! Every `.yaml`/`.yml` file below the root is read (hidden entries such as
//! `.git` are skipped) and cut into documents ([`crate::yaml`]). Other files
//! are carried along untouched. Writing back re-serializes only documents a
//! step changed or added; every other byte of every file stays as it was,
//! comments included. Each file is replaced atomically (temporary file in the
//! same directory, then rename), and nothing is written until the caller has
//! a complete, successful result.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::atomic::STAGED_PREFIX;
use crate::document::{DocId, Document, Object, Origin};
use crate::writeback::{self, Source};
use crate::yaml::{self, YamlError};

/// Why a bundle could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle root is missing or not a directory.
    #[error("bundle directory {0} does not exist or is not a directory")]
    NotADirectory(PathBuf),
    /// An I/O error on a named file.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done (`read`, `write`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file that is not UTF-8.
    #[error(
        "{path}:{line}:{column}: the file is not valid UTF-8; YAML files must be UTF-8 encoded"
    )]
    NotUtf8 {
        /// Bundle-relative path.
        path: String,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in bytes) of the first invalid byte.
        column: usize,
    },
    /// A YAML syntax or shape error.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A symbolic link pointing outside the bundle.
    #[error(
        "{path} is a symbolic link to {target}, outside the bundle; mooring refuses links that leave the bundle directory"
    )]
    SymlinkEscapes {
        /// Bundle-relative path of the link.
        path: String,
        /// Where it points.
        target: PathBuf,
    },
    /// A YAML file over [`MAX_FILE_BYTES`].
    #[error(
        "{path}: the file is {} MiB; mooring reads YAML files of at most {} MiB (split it into several files)",
        format!("{:.1}", *.size as f64 / 1048576.0),
        MAX_FILE_BYTES >> 20
    )]
    TooLarge {
        /// Bundle-relative path.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// Aliases expand to far more than the text holds, across documents.
    #[error(
        "{path}: by this file the bundle expands to {nodes} YAML nodes from {bytes} bytes; \
         mooring refuses more than one node per byte plus {} (aliases expanding across documents: an alias bomb?)",
        yaml::ALIAS_SLACK
    )]
    Expansion {
        /// The file where the budget ran out.
        path: String,
        /// Nodes so far.
        nodes: usize,
        /// Bytes of YAML so far.
        bytes: usize,
    },
    /// A FIFO, socket or device in the bundle.
    #[error(
        "{0} is not a regular file, directory or link (a FIFO, socket or device); a bundle may not hold one"
    )]
    NotAFile(String),
    /// An in-place write of a stream, which has no files to rewrite.
    #[error(
        "{0} is a stream of documents, not files; it can go to stdout or --output-dir, not be rewritten in place"
    )]
    NotFiles(PathBuf),
    /// `--output-dir` names a directory that already has files in it.
    #[error("output directory {0} is not empty; name a new or empty directory")]
    OutputNotEmpty(PathBuf),
    /// `--output-dir` names a directory inside the bundle, which the next
    /// run would read as part of it.
    #[error(
        "output directory {} is inside the bundle {}; the next run would read the copy as part of the bundle, so name a directory outside it",
        .output.display(),
        .bundle.display()
    )]
    OutputInBundle {
        /// The output directory.
        output: PathBuf,
        /// The bundle.
        bundle: PathBuf,
    },
}

/// From this many changed documents on, they are edited on every core:
/// below it, starting threads costs more than it saves.
const PARALLEL_EDITS: usize = 64;

/// From this many YAML files on, a bundle's files are parsed on every core.
const PARALLEL_FILES: usize = 16;

/// The largest YAML file a bundle may hold. With the parser's own budget
/// (see [`crate::yaml`]) it bounds the memory a hostile bundle can cost.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A loaded bundle.
#[derive(Debug)]
pub struct Bundle {
    root: PathBuf,
    /// The root, opened: every later read and write resolves beneath it.
    /// `None` for a stream (a kustomize build, stdin), which has no files
    /// of its own.
    dir: Option<Dir>,
    files: Vec<SourceFile>,
    /// Bundle-relative paths of the non-YAML files.
    other_files: Vec<String>,
    /// Symbolic links inside the bundle: the link, and what it points at,
    /// both bundle-relative.
    links: Vec<(String, String)>,
    /// Staged files and backups left by a killed in-place run.
    stale: Vec<String>,
    documents: Vec<Document>,
    /// Each document's original chunk: its text and where it starts.
    raw: HashMap<DocId, yaml::Chunk>,
}

#[derive(Debug)]
struct SourceFile {
    path: String,
    text: String,
    pieces: Vec<Piece>,
}

/// A file is a sequence of documents and the text between them.
#[derive(Debug)]
enum Piece {
    Document(DocId),
    Text(String),
}

impl Bundle {
    /// Reads every YAML file below `root`.
    pub fn load(root: &Path) -> Result<Bundle, BundleError> {
        if !root.is_dir() {
            return Err(BundleError::NotADirectory(root.to_owned()));
        }
        let canonical_root = fs::canonicalize(root).map_err(io_error("resolve", root))?;
        let dir =
            Dir::open_ambient_dir(root, ambient_authority()).map_err(io_error("open", root))?;
        let mut listing = Listing::default();
        walk(&canonical_root, root, "", &mut listing)?;
        let yaml_paths = listing.yaml;

        let mut bundle = Bundle {
            root: root.to_owned(),
            files: Vec::new(),
            other_files: listing.other,
            links: listing.links,
            stale: listing.stale,
            documents: Vec::new(),
            raw: HashMap::new(),
            dir: None,
        };
        // Files are read and parsed on every core; the first error in file
        // order is the one reported, as it would be reading them in order.
        // A handful of files is read on this thread: starting the workers
        // costs more than it saves.
        let parsed: Vec<Result<ParsedFile, BundleError>> = if yaml_paths.len() < PARALLEL_FILES {
            yaml_paths
                .into_iter()
                .map(|path| parse_file(&dir, path))
                .collect()
        } else {
            yaml_paths
                .into_par_iter()
                .map(|path| parse_file(&dir, path))
                .collect()
        };
        bundle.dir = Some(dir);
        let (mut text, mut nodes) = (0usize, 0usize);
        for file in parsed {
            let file = file?;
            text += file.text.len();
            nodes += file.nodes;
            if nodes > text + yaml::ALIAS_SLACK {
                return Err(BundleError::Expansion {
                    path: file.path,
                    nodes,
                    bytes: text,
                });
            }
            bundle.add_file(file);
        }
        Ok(bundle)
    }

    /// A bundle of one YAML stream (a kustomize build, or stdin) named
    /// `root` in messages, its documents in the file `file`: what goes to
    /// `--output-dir`.
    pub fn from_stream(root: &Path, file: &str, text: String) -> Result<Bundle, BundleError> {
        let size = text.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(BundleError::TooLarge {
                path: file.to_owned(),
                size,
            });
        }
        let mut bundle = Bundle {
            root: root.to_owned(),
            dir: None,
            files: Vec::new(),
            other_files: Vec::new(),
            links: Vec::new(),
            stale: Vec::new(),
            documents: Vec::new(),
            raw: HashMap::new(),
        };
        bundle.add_file(parse_text(file.to_owned(), text)?);
        Ok(bundle)
    }

    /// The bundle's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True for a bundle read from a directory's files; false for a YAML
    /// stream (stdin, or an overlay's build), which has no files of its own.
    pub fn is_directory(&self) -> bool {
        self.dir.is_some()
    }

    /// Every YAML file's bundle-relative path and the text it was read with.
    pub fn file_texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files
            .iter()
            .map(|f| (f.path.as_str(), f.text.as_str()))
    }

    /// Every document, in file order then position within the file.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// A loaded document's original chunk: its `---` line, leading
    /// comments and body, and the line it starts on.
    pub fn original_chunk(&self, id: DocId) -> Option<&yaml::Chunk> {
        self.raw.get(&id)
    }

    /// Adds a parsed file's documents, numbering them in bundle order.
    fn add_file(&mut self, file: ParsedFile) {
        let ParsedFile {
            path, text, pieces, ..
        } = file;
        let mut kept = Vec::with_capacity(pieces.len());
        let mut index = 0;
        for piece in pieces {
            match piece {
                ParsedPiece::Text(text) => kept.push(Piece::Text(text)),
                ParsedPiece::Document(content, chunk) => {
                    let id = self.documents.len() as DocId;
                    self.documents.push(Document {
                        id,
                        path: path.clone(),
                        content,
                        origin: Some(Origin {
                            path: path.clone(),
                            line: yaml::first_content_line(&chunk),
                            index,
                        }),
                        modified: false,
                        original: None,
                    });
                    self.raw.insert(id, chunk);
                    kept.push(Piece::Document(id));
                    index += 1;
                }
            }
        }
        self.files.push(SourceFile {
            path,
            text,
            pieces: kept,
        });
    }

    /// Moves the documents out, for a pipeline to work on; the bundle
    /// keeps their original text for [`render`](Self::render).
    pub fn take_documents(&mut self) -> Vec<Document> {
        std::mem::take(&mut self.documents)
    }

    /// The files a result changes: new text, or `None` for a file to delete.
    /// Documents are grouped by file once, so this costs one pass over the
    /// documents and one over the files.
    pub fn render(&self, result: &[Document]) -> BTreeMap<String, Option<String>> {
        let mut by_file: HashMap<&str, Vec<&Document>> = HashMap::new();
        for doc in result {
            by_file.entry(doc.path.as_str()).or_default().push(doc);
        }
        let mut edited = self.edit_changed(result);
        let mut changes = BTreeMap::new();
        for file in &self.files {
            let here = by_file.remove(file.path.as_str()).unwrap_or_default();
            let by_id: HashMap<DocId, &Document> = here.iter().map(|d| (d.id, *d)).collect();
            let mut placed: HashSet<DocId> = HashSet::new();
            let mut text = String::with_capacity(file.text.len());
            for piece in &file.pieces {
                match piece {
                    Piece::Text(t) => text.push_str(t),
                    Piece::Document(id) => {
                        if let Some(doc) = by_id.get(id) {
                            text.push_str(&self.text_of(doc, &mut edited));
                            placed.insert(*id);
                        }
                    }
                }
            }
            for doc in here.iter().filter(|d| !placed.contains(&d.id)) {
                append_document(&mut text, &self.text_of(doc, &mut edited));
            }
            let had_documents = file.pieces.iter().any(|p| matches!(p, Piece::Document(_)));
            if had_documents && here.is_empty() {
                changes.insert(file.path.clone(), None);
            } else if text != file.text {
                changes.insert(file.path.clone(), Some(text));
            }
        }
        // Documents for files the bundle did not have, in result order.
        let mut new_files: BTreeMap<&str, String> = BTreeMap::new();
        for doc in result {
            if by_file.contains_key(doc.path.as_str()) {
                let text = self.text_of(doc, &mut edited);
                append_document(new_files.entry(&doc.path).or_default(), &text);
            }
        }
        changes.extend(new_files.into_iter().map(|(p, t)| (p.to_owned(), Some(t))));
        changes
    }

    /// The result as one YAML stream, each document after a `---` line;
    /// unchanged documents keep their original text, changed ones are
    /// edited where they changed.
    pub fn stream(&self, result: &[Document]) -> String {
        let mut edited = self.edit_changed(result);
        let mut out = String::new();
        for doc in result {
            append_document(&mut out, &self.text_of(doc, &mut edited));
        }
        out
    }

    /// The result as a KRM stream, what `kpt fn sink` and `kubectl apply -f -`
    /// take: manifests only (no kustomizations, which have no kind, nor
    /// the pipeline) unless `all_documents`, each annotated with the file
    /// it is written to and its index there, as `kpt fn source` does. The
    /// annotations are added to each document's text, which is otherwise
    /// as [`stream`](Self::stream) gives it.
    pub fn krm_stream(&self, result: &[Document], all_documents: bool) -> String {
        let shown = stream_positions(result, all_documents);
        // One edit per document, from the text it was read with: what the
        // steps changed and its annotations together.
        let annotate = |(doc, index): &(&Document, usize)| match self.raw.get(&doc.id) {
            Some(chunk) => {
                let rendered = annotated(&chunk.text, &doc.as_read(), doc, *index);
                if doc.modified && !rendered.in_place {
                    warn_written_whole(doc);
                }
                rendered.text
            }
            None => annotated(&yaml::to_yaml(&doc.content), &doc.content, doc, *index).text,
        };
        let texts: Vec<String> = if shown.len() < PARALLEL_EDITS {
            shown.iter().map(annotate).collect()
        } else {
            shown.par_iter().map(annotate).collect()
        };
        let mut out = String::new();
        for text in texts {
            append_document(&mut out, &text);
        }
        out
    }

    /// A document's text: its original bytes when unchanged, the original
    /// edited where it changed, or the whole document for one a step added.
    fn text_of<'a>(&'a self, doc: &Document, edited: &mut HashMap<DocId, String>) -> Cow<'a, str> {
        match (self.raw.get(&doc.id), edited.remove(&doc.id)) {
            (_, Some(text)) => Cow::Owned(text),
            (Some(chunk), None) => Cow::Borrowed(&chunk.text),
            (None, None) => Cow::Owned(yaml::to_yaml(&doc.content)),
        }
    }

    /// The new text of every changed document that was read from the
    /// bundle, edited in place; on all cores when there are many.
    fn edit_changed(&self, result: &[Document]) -> HashMap<DocId, String> {
        let changed: Vec<(&Document, &yaml::Chunk)> = result
            .iter()
            .filter(|d| d.modified)
            .filter_map(|d| Some((d, self.raw.get(&d.id)?)))
            .collect();
        let edit = |(doc, chunk): &(&Document, &yaml::Chunk)| {
            let rendered = match &doc.original {
                Some(original) => yaml::render_edit(&chunk.text, &original.content(), &doc.content),
                None => yaml::render_document(&chunk.text, &doc.content),
            };
            if !rendered.in_place {
                warn_written_whole(doc);
            }
            (doc.id, rendered.text)
        };
        if changed.len() < PARALLEL_EDITS {
            changed.iter().map(edit).collect()
        } else {
            changed.par_iter().map(edit).collect()
        }
    }

    /// Applies `changes` to the bundle directory itself, all or nothing
    /// (see [`crate::writeback`]). Files in `private` (see
    /// [`private_files`]) are written 0600 at most.
    pub fn write_in_place(
        &self,
        changes: &BTreeMap<String, Option<String>>,
        private: &BTreeSet<String>,
    ) -> Result<(), BundleError> {
        let Some(dir) = &self.dir else {
            return Err(BundleError::NotFiles(self.root.clone()));
        };
        writeback::in_place(dir, changes, private, &self.stale, &mut writeback::rename)
    }

    /// Takes the bundle's lock for an in-place run: an advisory lock on the
    /// bundle directory itself, so no file is added to the bundle. A second
    /// run waits for the first, after `waiting` is called, so two runs never
    /// interleave their reads and writes. Held until dropped, or until the
    /// process dies.
    pub fn lock(root: &Path, waiting: impl FnOnce()) -> Result<fs::File, BundleError> {
        if !root.is_dir() {
            return Err(BundleError::NotADirectory(root.to_owned()));
        }
        let path = root.to_owned();
        let file = fs::File::open(&path).map_err(io_error("open", &path))?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) => waiting(),
            Err(fs::TryLockError::Error(e)) => return Err(io_error("lock", &path)(e)),
        }
        file.lock().map_err(io_error("lock", &path))?;
        Ok(file)
    }

    /// Writes the whole resulting bundle, YAML and other files, to `dir`,
    /// which must not exist or be empty. The tree is built beside `dir` and
    /// renamed into place, so `dir` appears complete or not at all.
    pub fn write_to(
        &self,
        dir: &Path,
        changes: &BTreeMap<String, Option<String>>,
        private: &BTreeSet<String>,
    ) -> Result<(), BundleError> {
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(io_error("read", dir))?;
            if entries.next().is_some() {
                return Err(BundleError::OutputNotEmpty(dir.to_owned()));
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(io_error("create", &parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".mooring-output-")
            .tempdir_in(&parent)
            .map_err(io_error("create a staging directory in", &parent))?;
        let out = Dir::open_ambient_dir(staging.path(), ambient_authority())
            .map_err(io_error("open", staging.path()))?;

        let mut files: Vec<(&str, Source<'_>)> = Vec::new();
        for file in &self.files {
            match changes.get(&file.path) {
                Some(Some(text)) => files.push((&file.path, Source::Text(text))),
                Some(None) => {}
                None => files.push((&file.path, Source::Text(&file.text))),
            }
        }
        for (path, text) in changes {
            if let Some(text) = text
                .as_ref()
                .filter(|_| !self.files.iter().any(|f| &f.path == path))
            {
                files.push((path, Source::Text(text)));
            }
        }
        files.extend(self.other_files.iter().map(|p| (p.as_str(), Source::Copy)));
        files.extend(
            self.links
                .iter()
                .map(|(link, target)| (link.as_str(), Source::Link(target))),
        );
        writeback::to_dir(self.dir.as_ref(), &out, &files, private)?;
        let staged = staging.keep();
        fs::rename(&staged, dir).map_err(|source| {
            let _ = fs::remove_dir_all(&staged);
            BundleError::Io {
                action: "move the finished output into",
                path: dir.to_owned(),
                source,
            }
        })
    }
}

/// Checks, before anything runs, that `output` can take a copy of the
/// bundle at `bundle` (if it is a directory): new or empty, and not inside
/// the bundle.
pub fn check_output_dir(output: &Path, bundle: Option<&Path>) -> Result<(), BundleError> {
    if output.exists() {
        let mut entries = fs::read_dir(output).map_err(io_error("read", output))?;
        if entries.next().is_some() {
            return Err(BundleError::OutputNotEmpty(output.to_owned()));
        }
    }
    let Some(bundle) = bundle.and_then(|b| fs::canonicalize(b).ok()) else {
        return Ok(());
    };
    // The nearest part of the output path that exists, resolved, with the
    // rest put back.
    let mut existing = output.to_owned();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_owned()
                };
            }
            _ => break,
        }
    }
    let mut resolved = fs::canonicalize(&existing).map_err(io_error("resolve", &existing))?;
    resolved.extend(rest.iter().rev());
    if resolved.starts_with(&bundle) {
        return Err(BundleError::OutputInBundle {
            output: output.to_owned(),
            bundle,
        });
    }
    Ok(())
}

/// Wraps an I/O error with what was being done to which file.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_owned();
    move |source| BundleError::Io {
        action,
        path,
        source,
    }
}

/// Checks a path a step gave a document: relative, inside the bundle, a
/// YAML file, and not hidden.
pub fn check_document_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path is empty".to_owned());
    }
    // Checked on the raw segments: `Path::components` would quietly drop `.`.
    let segments: Vec<&str> = path.split('/').collect();
    if path.contains('\\')
        || segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(format!(
            "path {path:?} must be relative and `/`-separated, without empty, `.` or `..` segments"
        ));
    }
    if segments.iter().any(|s| s.starts_with('.')) {
        return Err(format!("path {path:?} names a hidden file or directory"));
    }
    if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
        return Err(format!("path {path:?} must end in .yaml or .yml"));
    }
    Ok(())
}

/// A YAML file read and parsed, its documents not yet numbered.
struct ParsedFile {
    path: String,
    text: String,
    pieces: Vec<ParsedPiece>,
    /// How many YAML nodes its documents hold, aliases expanded.
    nodes: usize,
}

enum ParsedPiece {
    Document(Map<String, Value>, yaml::Chunk),
    Text(String),
}

/// Reads and parses the YAML file at bundle-relative `path`.
fn parse_file(dir: &Dir, path: String) -> Result<ParsedFile, BundleError> {
    let file = Path::new(&path);
    let mut handle = dir.open(&path).map_err(io_error("read", file))?;
    // The size of the file opened, not of whatever the path names later.
    let size = handle.metadata().map_err(io_error("read", file))?.len();
    if size > MAX_FILE_BYTES {
        return Err(BundleError::TooLarge { path, size });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    io::Read::read_to_end(
        &mut io::Read::take(&mut handle, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(io_error("read", file))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        BundleError::NotUtf8 {
            path: path.clone(),
            line,
            column,
        }
    })?;
    parse_text(path, text)
}

/// Parses the text of the YAML file at bundle-relative `path`.
fn parse_text(path: String, text: String) -> Result<ParsedFile, BundleError> {
    let mut pieces = Vec::new();
    let mut nodes = 0;
    for chunk in yaml::split(&text) {
        match yaml::parse(&path, &chunk)? {
            Some(content) => {
                nodes += content.values().map(yaml::nodes).sum::<usize>();
                pieces.push(ParsedPiece::Document(content, chunk));
            }
            None => pieces.push(ParsedPiece::Text(chunk.text)),
        }
        // One file can be over the budget on its own.
        if nodes > text.len() + yaml::ALIAS_SLACK {
            return Err(BundleError::Expansion {
                path,
                nodes,
                bytes: text.len(),
            });
        }
    }
    Ok(ParsedFile {
        path,
        text,
        pieces,
        nodes,
    })
}

/// What [`walk`] finds.
#[derive(Default)]
struct Listing {
    yaml: Vec<String>,
    other: Vec<String>,
    links: Vec<(String, String)>,
    /// Staged files a killed in-place run left behind, bundle-relative.
    stale: Vec<String>,
}

/// Lists YAML and other files below `dir`, sorted, refusing links that leave
/// the bundle. Links inside the bundle are not followed: their targets are
/// read under their own paths.
fn walk(
    canonical_root: &Path,
    dir: &Path,
    prefix: &str,
    listing: &mut Listing,
) -> Result<(), BundleError> {
    let mut entries = fs::read_dir(dir)
        .map_err(io_error("read directory", dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error("read directory", dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if name.starts_with(STAGED_PREFIX) {
            listing.stale.push(relative);
            continue;
        }
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(io_error("inspect", &path))?;
        if file_type.is_symlink() {
            let target = fs::canonicalize(&path)
                .unwrap_or_else(|_| fs::read_link(&path).unwrap_or_default());
            let Ok(inside) = target.strip_prefix(canonical_root) else {
                return Err(BundleError::SymlinkEscapes {
                    path: relative,
                    target,
                });
            };
            let inside = inside.to_string_lossy().into_owned();
            listing.links.push((relative, inside));
        } else if file_type.is_dir() {
            walk(canonical_root, &path, &relative, listing)?;
        } else if !file_type.is_file() {
            // Reading a FIFO would wait forever, a device without end.
            return Err(BundleError::NotAFile(relative));
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            listing.yaml.push(relative);
        } else {
            listing.other.push(relative);
        }
    }
    Ok(())
}

/// Appends a document's text to a stream or file: on a line of its own,
/// after exactly one `---` marker.
fn append_document(out: &mut String, text: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !yaml::split(text)
        .first()
        .is_some_and(|first| first.text.starts_with("---"))
    {
        out.push_str("---\n");
    }
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

/// The documents of `result` that a kustomization among them names as a
/// patch (`patchesStrategicMerge`, `patches`): partial objects kustomize
/// merges into others, which a stream of the bundle's files shows as if
/// they were objects of their own.
pub fn patches(result: &[Document]) -> Vec<&Document> {
    let mut named = std::collections::HashSet::new();
    for doc in result {
        let file = doc.path.rsplit('/').next().unwrap_or_default();
        if !crate::overlay::KUSTOMIZATION_FILES.contains(&file) {
            continue;
        }
        let dir = doc.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for reference in mooring_model::kustomize::references(&doc.content) {
            if matches!(reference.field, "patchesStrategicMerge" | "patches")
                && let Some(path) = mooring_model::kustomize::join(dir, &reference.path)
            {
                named.insert(path);
            }
        }
    }
    result
        .iter()
        .filter(|doc| is_manifest(doc) && named.contains(&doc.path))
        .collect()
}

/// A Kubernetes object: it has an apiVersion and a kind, and is not the
/// pipeline that ran.
pub fn is_manifest(doc: &Document) -> bool {
    !doc.api_version().is_empty() && !doc.kind().is_empty() && !crate::pipeline::is_pipeline(doc)
}

/// The documents of `result` a KRM stream shows (manifests only unless
/// `all_documents`), each with its index in the file it is written to.
pub fn stream_positions(result: &[Document], all_documents: bool) -> Vec<(&Document, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    result
        .iter()
        .filter_map(|doc| {
            let count = counts.entry(doc.path.as_str()).or_default();
            let index = *count;
            *count += 1;
            (all_documents || is_manifest(doc)).then_some((doc, index))
        })
        .collect()
}

/// The documents a KRM stream of `result` shows, as a JSON v1 `List` (what
/// `kubectl get -o json` prints for several objects, and `kubectl apply -f
/// -` takes), each with the path and index annotations the YAML stream
/// has, and each string with `secrets` redacted when given. Redacting
/// values, not the text, catches a secret that JSON escaping would hide
/// from a search.
pub fn json_list(
    result: &[Document],
    all_documents: bool,
    secrets: Option<&crate::secrets::Secrets>,
) -> String {
    let items = stream_positions(result, all_documents)
        .into_iter()
        .map(|(doc, index)| {
            let mut content = doc.content.clone();
            let annotations = mooring_model::object_entry(
                mooring_model::object_entry(&mut content, "metadata"),
                "annotations",
            );
            annotations.insert(PATH_ANNOTATION.to_owned(), doc.path.clone().into());
            annotations.insert(INDEX_ANNOTATION.to_owned(), index.to_string().into());
            let mut value = Value::Object(content);
            if let Some(secrets) = secrets {
                redact_strings(&mut value, secrets);
            }
            value
        })
        .collect();
    let list =
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": Value::Array(items)});
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}

fn redact_strings(value: &mut Value, secrets: &crate::secrets::Secrets) {
    match value {
        Value::String(text) => *text = secrets.redact(text),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_strings(v, secrets)),
        _ => {}
    }
}

/// The path and index annotations `kpt fn source` gives a document.
pub const PATH_ANNOTATION: &str = "config.kubernetes.io/path";
/// See [`PATH_ANNOTATION`].
pub const INDEX_ANNOTATION: &str = "config.kubernetes.io/index";

/// `text`, which reads as `original`, edited to read as `doc` with
/// [`PATH_ANNOTATION`] and [`INDEX_ANNOTATION`] added.
fn annotated(
    text: &str,
    original: &Map<String, Value>,
    doc: &Document,
    index: usize,
) -> yaml::Rendered {
    let index = index.to_string();
    let entries = [
        (PATH_ANNOTATION, doc.path.as_str()),
        (INDEX_ANNOTATION, index.as_str()),
    ];
    let mut updated = doc.content.clone();
    let annotations = mooring_model::object_entry(
        mooring_model::object_entry(&mut updated, "metadata"),
        "annotations",
    );
    for (key, value) in entries {
        annotations.insert(key.to_owned(), Value::from(value));
    }
    yaml::render_edit(text, original, &updated)
}

/// Says that `doc`'s change could not be made in its own text.
fn warn_written_whole(doc: &Document) {
    tracing::warn!(
        "{doc}: the change could not be made in the original text, so the document \
         is written whole and its comments inside are lost"
    );
}

/// The files of `result` that hold credentials (a `KubeConfig` or a
/// `Secret`): whatever else they hold, they are written readable by their
/// owner only.
pub fn private_files(result: &[Document]) -> BTreeSet<String> {
    result
        .iter()
        .filter(|d| crate::secrets::is_sensitive(*d))
        .map(|d| d.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Bundle) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let target = dir.path().join(path);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(target, text).unwrap();
        }
        let bundle = Bundle::load(dir.path()).unwrap();
        (dir, bundle)
    }

    const SITE: &str = "# site header\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep me\n---\n# about b\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: '1'}\n";

    #[test]
    fn unchanged_result_renders_no_changes_and_streams_original_bytes() {
        let (_dir, bundle) = bundle_with(&[("site/cm.yaml", SITE), ("run.sh", "echo hi\n")]);
        assert_eq!(bundle.documents().len(), 2);
        assert!(bundle.render(bundle.documents()).is_empty());
        let stream = bundle.stream(bundle.documents());
        assert!(stream.contains("name: a # keep me"), "{stream}");
        assert!(stream.contains("metadata: {name: b}"), "{stream}");
    }

    #[test]
    fn only_the_changed_document_is_reserialized() {
        let (_dir, bundle) = bundle_with(&[("cm.yaml", SITE)]);
        let mut result = bundle.documents().to_vec();
        result[1].content["data"]["x"] = "2".into();
        result[1].modified = true;
        let changes = bundle.render(&result);
        let text = changes["cm.yaml"].as_deref().unwrap();
        assert!(text.starts_with("# site header\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep me\n---\n# about b\n"), "{text}");
        assert!(
            text.contains("x: '2'") || text.contains("x: \"2\""),
            "{text}"
        );
    }

    #[test]
    fn deleting_every_document_removes_the_file_and_moves_land_in_new_files() {
        let (_dir, bundle) = bundle_with(&[("cm.yaml", SITE)]);
        let mut moved = bundle.documents()[0].clone();
        moved.path = "moved/a.yaml".to_owned();
        moved.modified = true;
        let changes = bundle.render(&[moved]);
        assert_eq!(changes["cm.yaml"], None);
        assert!(
            changes["moved/a.yaml"]
                .as_deref()
                .unwrap()
                .starts_with("---\n# site header\napiVersion: v1\n"),
            "a moved document takes its comments along"
        );
    }

    #[test]
    fn write_in_place_replaces_files_and_keeps_others() {
        let (dir, bundle) = bundle_with(&[("cm.yaml", SITE), ("other.yaml", "kind: A\n")]);
        let mut result = bundle.documents().to_vec();
        result.remove(0);
        bundle
            .write_in_place(&bundle.render(&result), &BTreeSet::new())
            .unwrap();
        let text = fs::read_to_string(dir.path().join("cm.yaml")).unwrap();
        assert_eq!(
            text,
            "---\n# about b\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: '1'}\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("other.yaml")).unwrap(),
            "kind: A\n"
        );
    }

    #[test]
    fn write_to_creates_a_complete_copy_and_refuses_a_non_empty_target() {
        let (dir, bundle) = bundle_with(&[("cm.yaml", SITE), ("scripts/run.sh", "echo hi\n")]);
        let out = dir.path().join("out");
        bundle
            .write_to(&out, &BTreeMap::new(), &BTreeSet::new())
            .unwrap();
        assert_eq!(fs::read_to_string(out.join("cm.yaml")).unwrap(), SITE);
        assert_eq!(
            fs::read_to_string(out.join("scripts/run.sh")).unwrap(),
            "echo hi\n"
        );
        let error = bundle
            .write_to(&out, &BTreeMap::new(), &BTreeSet::new())
            .unwrap_err();
        assert!(matches!(error, BundleError::OutputNotEmpty(_)), "{error}");
    }

    #[test]
    fn non_utf8_files_are_refused_with_a_position() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("bad.yaml"), b"a: 1\nb: \xff\n").unwrap();
        let error = Bundle::load(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad.yaml:2:4: the file is not valid UTF-8; YAML files must be UTF-8 encoded"
        );
    }

    #[test]
    fn output_copies_links_inside_the_bundle_as_links_into_the_copy() {
        let (dir, _) = bundle_with(&[("v2/a.yaml", "kind: A\n"), ("docs/x.txt", "x\n")]);
        std::os::unix::fs::symlink("v2", dir.path().join("latest")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("docs/x.txt"), dir.path().join("docs/y.txt"))
            .unwrap();
        let bundle = Bundle::load(dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let copy = out.path().join("copy");
        bundle
            .write_to(&copy, &BTreeMap::new(), &BTreeSet::new())
            .unwrap();
        assert_eq!(fs::read_link(copy.join("latest")).unwrap(), Path::new("v2"));
        assert_eq!(
            fs::read_link(copy.join("docs/y.txt")).unwrap(),
            Path::new("../docs/x.txt")
        );
        assert_eq!(fs::read_to_string(copy.join("docs/y.txt")).unwrap(), "x\n");
        assert_eq!(
            fs::read_to_string(copy.join("latest/a.yaml")).unwrap(),
            "kind: A\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_bundle_are_refused() {
        let (dir, _) = bundle_with(&[("a.yaml", "kind: A\n")]);
        std::os::unix::fs::symlink("/etc", dir.path().join("escape")).unwrap();
        let error = Bundle::load(dir.path()).unwrap_err();
        assert!(
            matches!(error, BundleError::SymlinkEscapes { .. }),
            "{error}"
        );
    }

    #[test]
    fn document_paths_from_steps_must_stay_inside() {
        assert!(check_document_path("site/a.yaml").is_ok());
        for bad in [
            "",
            "/etc/x.yaml",
            "../x.yaml",
            "a/./b.yaml",
            ".git/x.yaml",
            "a.txt",
            "a\\b.yaml",
        ] {
            assert!(check_document_path(bad).is_err(), "{bad}");
        }
    }
}
