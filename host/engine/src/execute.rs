//! Running a pipeline over a set of documents.
//!
//! Every guest is fetched, compiled and linked before the first step runs, so
//! a bad pin or a broken component fails before any work is done. Each step
//! then sees only what its selector picks (never a pipeline document), and
//! what it hands back is checked before it replaces anything: ids must be
//! ones it was given, each at most once; content must be a JSON object; new
//! or moved documents need a safe bundle-relative path. A step that selects
//! nothing is not instantiated. A step that reports an error result ends the
//! pipeline, as a failing KRM function does.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mooring_model::kubeconfig::Kubeconfig;
use serde_json::Value;

use crate::bundle::check_document_path;
use crate::capabilities::credentials::Credentials;
use crate::capabilities::log::LogBuffer;
use crate::document::{DocId, Document};
use crate::guests::{self, GuestError};
use crate::pipeline::{GuestRef, Pipeline, Step, is_pipeline};
use crate::runtime::{LoadError, LoadedGuest, RunError, Runtime, WitDocument, WitOutput};

/// A pipeline that could not run to the end.
#[derive(Debug, thiserror::Error)]
#[error("step `{step}` (guest `{guest}`) failed: {cause}")]
pub struct StepError {
    /// The step's name.
    pub step: String,
    /// The guest's name.
    pub guest: String,
    /// Why.
    pub cause: StepFailure,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    /// The guest's bytes could not be had.
    #[error(transparent)]
    Fetch(#[from] GuestError),
    /// The guest could not be compiled or linked.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The guest trapped, timed out, ran out of memory or refused.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The guest returned something that is not a valid result.
    #[error("it returned invalid output: {0}")]
    InvalidOutput(String),
}

impl StepFailure {
    /// True when the fault is in the pipeline's inputs (a guest that cannot
    /// be fetched or loaded) rather than in running it.
    pub fn is_input_error(&self) -> bool {
        matches!(self, StepFailure::Fetch(_) | StepFailure::Load(_))
    }
}

/// How serious a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// For information.
    Info,
    /// Worth a look.
    Warning,
    /// The run fails.
    Error,
}

impl Severity {
    /// The KRM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A result a step reported, tied to the document it is about.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// The step that reported it.
    pub step: String,
    /// How serious.
    pub severity: Severity,
    /// What it says.
    pub message: String,
    /// The document, as it was when the step saw it.
    pub document: Option<Document>,
    /// A dotted field path within the document.
    pub field: Option<String>,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The step's name.
    pub step: String,
    /// The guest's name.
    pub guest: String,
    /// Documents selected for it.
    pub seen: usize,
    /// Documents it changed (content or path).
    pub changed: usize,
    /// Documents it added.
    pub added: usize,
    /// Documents it removed.
    pub removed: usize,
    /// Results it reported.
    pub results: usize,
    /// What it logged.
    pub log: LogBuffer,
    /// Wall time of the step, guest call included.
    pub elapsed: Duration,
}

/// What a pipeline produced.
#[derive(Debug)]
pub struct Outcome {
    /// The documents afterwards, in order: survivors in their places,
    /// additions at the end.
    pub documents: Vec<Document>,
    /// One report per step that ran.
    pub steps: Vec<StepReport>,
    /// Every result, in the order reported.
    pub results: Vec<StepResult>,
}

impl Outcome {
    /// How many error results the steps reported.
    pub fn error_count(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.severity == Severity::Error)
            .count()
    }
}

/// Where granted credentials come from: the store of captured kubeconfigs.
pub trait CredentialSource {
    /// `cluster`'s captured kubeconfig, or why there is none.
    fn kubeconfig(&self, cluster: &str) -> Result<Kubeconfig, String>;
}

/// A source with nothing in it, for runs that grant no credentials.
pub struct NoCredentials;

impl CredentialSource for NoCredentials {
    fn kubeconfig(&self, cluster: &str) -> Result<Kubeconfig, String> {
        Err(format!(
            "there is no kubeconfig store (set HOME or pass --kubeconfig-store DIR), so nothing is captured for `{cluster}`"
        ))
    }
}

/// Runs `pipeline` over `documents`; steps read granted credentials from
/// `credentials`.
pub fn run(
    runtime: &Runtime,
    pipeline: &Pipeline,
    documents: Vec<Document>,
    credentials: &dyn CredentialSource,
) -> Result<Outcome, StepError> {
    let guests = load_guests(runtime, pipeline)?;
    let mut next_id = documents.iter().map(|d| d.id + 1).max().unwrap_or(0);
    let mut outcome = Outcome {
        documents,
        steps: Vec::new(),
        results: Vec::new(),
    };
    for step in &pipeline.steps {
        let guest = &guests[&step.guest];
        let fail = |cause: StepFailure| StepError {
            step: step.name.clone(),
            guest: guest.name().to_owned(),
            cause,
        };
        let started = Instant::now();
        let selected: Vec<usize> = outcome
            .documents
            .iter()
            .enumerate()
            .filter(|(_, d)| !is_pipeline(d) && step.selector.matches(*d))
            .map(|(i, _)| i)
            .collect();
        let mut report = StepReport {
            step: step.name.clone(),
            guest: guest.name().to_owned(),
            seen: selected.len(),
            changed: 0,
            added: 0,
            removed: 0,
            results: 0,
            log: LogBuffer::default(),
            elapsed: Duration::ZERO,
        };
        if !selected.is_empty() {
            let input: Vec<WitDocument> = selected
                .iter()
                .map(|&i| to_wit(&outcome.documents[i]))
                .collect();
            let config = step.config.to_string();
            let granted = Credentials::granted(
                step.grants
                    .credentials
                    .iter()
                    .map(|cluster| (cluster.clone(), credentials.kubeconfig(cluster)))
                    .collect(),
            );
            let ran = runtime
                .run(guest, &input, &config, &step.limits, granted)
                .map_err(|e| fail(e.into()))?;
            report.log = ran.log;
            for cluster in &ran.denied {
                outcome.results.push(StepResult {
                    step: step.name.clone(),
                    severity: Severity::Warning,
                    message: format!(
                        "asked for the credentials of cluster `{cluster}` without a grant, and was denied; \
                         if it needs them, add `grants: {{credentials: [{cluster}]}}` to the step"
                    ),
                    document: None,
                    field: None,
                });
                report.results += 1;
            }
            apply(
                step,
                &mut outcome,
                &selected,
                &input,
                ran.output,
                &mut next_id,
                &mut report,
            )
            .map_err(|message| fail(StepFailure::InvalidOutput(message)))?;
        }
        report.elapsed = started.elapsed();
        let stop = outcome.results[outcome.results.len() - report.results..]
            .iter()
            .any(|r| r.severity == Severity::Error);
        outcome.steps.push(report);
        if stop {
            break;
        }
    }
    Ok(outcome)
}

/// Fetches and loads each distinct guest once.
fn load_guests(
    runtime: &Runtime,
    pipeline: &Pipeline,
) -> Result<HashMap<GuestRef, LoadedGuest>, StepError> {
    let mut loaded = HashMap::new();
    for step in &pipeline.steps {
        if loaded.contains_key(&step.guest) {
            continue;
        }
        let name = step.guest.display_name();
        let fail = |cause: StepFailure| StepError {
            step: step.name.clone(),
            guest: name.clone(),
            cause,
        };
        let wasm = guests::fetch(&step.guest).map_err(|e| fail(e.into()))?;
        let guest = runtime.load(&name, &wasm).map_err(|e| fail(e.into()))?;
        loaded.insert(step.guest.clone(), guest);
    }
    Ok(loaded)
}

fn to_wit(doc: &Document) -> WitDocument {
    WitDocument {
        id: Some(doc.id.to_string()),
        path: doc.path.clone(),
        content: serde_json::to_string(&doc.content).unwrap_or_default(),
    }
}

/// Checks a step's output and merges it into the document list.
fn apply(
    step: &Step,
    outcome: &mut Outcome,
    selected: &[usize],
    input: &[WitDocument],
    output: WitOutput,
    next_id: &mut DocId,
    report: &mut StepReport,
) -> Result<(), String> {
    let given: HashMap<DocId, usize> = selected
        .iter()
        .map(|&i| (outcome.documents[i].id, i))
        .collect();
    // What each document was sent as: a document returned as the very same
    // text is unchanged, and costs neither a parse nor a comparison.
    let sent: HashMap<DocId, &str> = selected
        .iter()
        .zip(input)
        .map(|(&i, wit)| (outcome.documents[i].id, wit.content.as_str()))
        .collect();
    let mut returned: HashSet<DocId> = HashSet::new();
    let mut added = Vec::new();
    let mut replacements: HashMap<usize, Document> = HashMap::new();
    let mut kept: HashSet<usize> = HashSet::new();

    for (position, doc) in output.documents.into_iter().enumerate() {
        let parse = |text: &str| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!("document #{position} is not a JSON object")),
            Err(e) => Err(format!("document #{position} is not valid JSON: {e}")),
        };
        match doc.id {
            Some(id) => {
                let index = id
                    .parse::<DocId>()
                    .ok()
                    .and_then(|id| given.get(&id).map(|&i| (id, i)));
                let Some((id, index)) = index else {
                    return Err(format!(
                        "document #{position} has id {id:?}, which the step was not given"
                    ));
                };
                if !returned.insert(id) {
                    return Err(format!(
                        "document #{position} repeats id {id:?}; each document may be returned once"
                    ));
                }
                let before = &outcome.documents[index];
                if doc.path == before.path && sent.get(&id) == Some(&doc.content.as_str()) {
                    kept.insert(index);
                    continue;
                }
                if doc.path != before.path {
                    check_document_path(&doc.path)
                        .map_err(|e| format!("document #{position} ({before}): {e}"))?;
                }
                let content = parse(&doc.content)?;
                let modified = doc.path != before.path || content != before.content;
                if !modified {
                    kept.insert(index);
                    continue;
                }
                report.changed += 1;
                replacements.insert(
                    index,
                    Document {
                        id: before.id,
                        path: doc.path,
                        content,
                        origin: before.origin.clone(),
                        modified: true,
                    },
                );
            }
            None => {
                check_document_path(&doc.path)
                    .map_err(|e| format!("added document #{position}: {e}"))?;
                added.push(Document {
                    id: *next_id,
                    path: doc.path,
                    content: parse(&doc.content)?,
                    origin: None,
                    modified: true,
                });
                *next_id += 1;
            }
        }
    }

    // Results refer to documents as the step saw them.
    let by_wire_id: HashMap<String, &Document> = selected
        .iter()
        .map(|&i| (outcome.documents[i].id.to_string(), &outcome.documents[i]))
        .collect();
    for result in output.results {
        use crate::bindings::mooring::step::types::Severity as Wit;
        outcome.results.push(StepResult {
            step: step.name.clone(),
            severity: match result.severity {
                Wit::Error => Severity::Error,
                Wit::Warning => Severity::Warning,
                Wit::Info => Severity::Info,
            },
            message: result.message,
            document: result
                .document
                .and_then(|id| by_wire_id.get(&id).map(|d| (*d).clone())),
            field: result.field,
        });
        report.results += 1;
    }

    report.removed = selected.len() - returned.len();
    report.added = added.len();
    let selected: HashSet<usize> = selected.iter().copied().collect();
    let documents = std::mem::take(&mut outcome.documents);
    outcome.documents = documents
        .into_iter()
        .enumerate()
        .filter_map(|(i, doc)| match replacements.remove(&i) {
            Some(replacement) => Some(replacement),
            None if selected.contains(&i) && !kept.contains(&i) => None,
            None => Some(doc),
        })
        .chain(added)
        .collect();
    Ok(())
}
