//! Running a pipeline over a set of documents.
//!
//! Every guest is fetched, compiled and linked before the first step runs, so
//! a bad pin or a broken component fails before any work is done. Each step
//! then sees only what its selector picks (never a pipeline document), as a
//! document set on the host ([`crate::capabilities::documents`]) that checks
//! every edit as it arrives. A step that selects nothing is not
//! instantiated. A step that reports an error result ends the pipeline, as a
//! failing KRM function does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mooring_model::kubeconfig::Kubeconfig;

use crate::capabilities::credentials::Credentials;
use crate::capabilities::documents::{Changes, DocumentSet};
use crate::capabilities::log::LogBuffer;
use crate::document::{DocId, Document, DocumentRef};
use crate::guests::{self, GuestError};
use crate::pipeline::{GuestRef, Pipeline, Step, StepMode, is_pipeline};
use crate::runtime::{LoadError, LoadedGuest, RunError, Runtime, WitResult};
use crate::secrets::{Secrets, is_sensitive};

/// A pipeline that could not run to the end.
#[derive(Debug, thiserror::Error)]
#[error("step `{step}` (guest `{guest}`) failed")]
pub struct StepError {
    /// The step's name.
    pub step: String,
    /// The guest's name.
    pub guest: String,
    /// Why.
    #[source]
    pub cause: Box<StepFailure>,
    /// The reports and results of the steps that ran before it, so that
    /// what they did is not lost with the run; `None` when none ran.
    pub earlier: Option<Box<Outcome>>,
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
    /// The step's config is not one its guest takes.
    #[error("{at}: invalid config: {message}")]
    Config {
        /// Where the config is written.
        at: String,
        /// What the guest said, with a hint where there is one.
        message: String,
    },
    /// The guest did something it may not: changed documents as a
    /// validator, sent an edit that could not be applied, or more content
    /// than its memory limit.
    #[error("{0}")]
    Refused(String),
}

impl StepFailure {
    /// True when the fault is in the pipeline's inputs (a guest that cannot
    /// be fetched or loaded) rather than in running it.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            StepFailure::Fetch(_) | StepFailure::Load(_) | StepFailure::Config { .. }
        )
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
    /// The document it is about, as the step saw it.
    pub document: Option<Arc<DocumentRef>>,
    /// The field within the document: a JSON pointer or a dotted path.
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
    /// What it changed, added and removed.
    pub changes: Changes,
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
    /// Every secret the run knew: scrubbed from what is shown.
    pub secrets: Arc<Secrets>,
}

impl Outcome {
    /// How many error results the steps reported.
    pub fn error_count(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.severity == Severity::Error)
            .count()
    }

    /// How many warning results the steps reported.
    pub fn warning_count(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.severity == Severity::Warning)
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
    let run = Run::new(runtime, pipeline, &documents, credentials);
    let mut outcome = Outcome {
        documents,
        steps: Vec::new(),
        results: Vec::new(),
        secrets: run.secrets.clone(),
    };
    for step in &pipeline.steps {
        let guest = &guests[&step.guest];
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
            changes: Changes::default(),
            results: 0,
            log: LogBuffer::default(),
            elapsed: Duration::ZERO,
        };
        let before = outcome.results.len();
        if !selected.is_empty() {
            let documents = std::mem::take(&mut outcome.documents);
            let ran = match run.step(step, guest, documents, selected, next_id) {
                Ok(ran) => ran,
                Err(mut failed) => {
                    failed.earlier = (!outcome.steps.is_empty()).then(|| Box::new(outcome));
                    return Err(failed);
                }
            };
            outcome.documents = ran.documents;
            next_id = ran.next_id;
            report.changes = ran.changes;
            report.log = ran.log;
            outcome.results.extend(ran.results);
        } else {
            // A step that saw nothing did nothing: never a silent success.
            outcome.results.push(StepResult {
                step: step.name.clone(),
                severity: Severity::Warning,
                message: nothing_selected(step, outcome.documents.len()),
                document: None,
                field: None,
            });
        }
        report.results = outcome.results.len() - before;
        report.elapsed = started.elapsed();
        let stop = outcome.results[before..]
            .iter()
            .any(|r| r.severity == Severity::Error);
        outcome.steps.push(report);
        if stop {
            break;
        }
    }
    Ok(outcome)
}

/// Why a step that selected nothing did nothing, and where to look.
fn nothing_selected(step: &Step, documents: usize) -> String {
    if step.selector == Default::default() {
        return "the bundle holds no documents for it, so it did nothing".to_owned();
    }
    format!(
        "its selector matched none of the {documents} document(s), so it did nothing; \
         check the selector's apiVersion, kind and names (`--strict` makes this an error)"
    )
}

/// What one step left behind.
struct StepRun {
    documents: Vec<Document>,
    next_id: DocId,
    changes: Changes,
    log: LogBuffer,
    results: Vec<StepResult>,
}

/// What every step of a run shares.
struct Run<'r> {
    runtime: &'r Runtime,
    /// Every granted cluster's captured kubeconfig, or why there is none.
    captured: BTreeMap<String, Result<Kubeconfig, String>>,
    secrets: Arc<Secrets>,
}

impl<'r> Run<'r> {
    /// Resolves every grant once, and learns every secret the run will
    /// hold before a step runs: the bundle's credential documents' and the
    /// captured kubeconfigs'.
    fn new(
        runtime: &'r Runtime,
        pipeline: &Pipeline,
        documents: &[Document],
        credentials: &dyn CredentialSource,
    ) -> Self {
        let captured: BTreeMap<String, Result<Kubeconfig, String>> = pipeline
            .steps
            .iter()
            .flat_map(|s| &s.grants.credentials)
            .map(|cluster| (cluster.clone(), credentials.kubeconfig(cluster)))
            .collect();
        let mut secrets = Secrets::default();
        documents
            .iter()
            .filter(|d| is_sensitive(*d))
            .for_each(|d| secrets.add_document(d));
        for (cluster, config) in &captured {
            if let Ok(config) = config {
                secrets.add_kubeconfig(Some(cluster), config);
            }
        }
        Run {
            runtime,
            captured,
            secrets: Arc::new(secrets),
        }
    }

    /// Runs one step over the documents at `selected`.
    fn step(
        &self,
        step: &Step,
        guest: &LoadedGuest,
        documents: Vec<Document>,
        selected: Vec<usize>,
        next_id: DocId,
    ) -> Result<StepRun, StepError> {
        let scrub = |text: &str| self.secrets.scrub(text);
        let fail = |cause: StepFailure| StepError {
            step: step.name.clone(),
            guest: guest.name().to_owned(),
            cause: Box::new(cause),
            earlier: None,
        };
        let grants: BTreeSet<String> = step.grants.credentials.iter().cloned().collect();
        let read_only = (step.mode == StepMode::Validate).then(|| step.name.clone());
        let mut set = DocumentSet::new(documents, selected, next_id, step.limits.memory, read_only);
        set.hide(self.secrets.hidden_from(&grants));
        let granted: BTreeMap<String, Result<Kubeconfig, String>> = self
            .captured
            .iter()
            .filter(|(cluster, _)| grants.contains(*cluster))
            .map(|(cluster, config)| (cluster.clone(), config.clone()))
            .collect();
        let credentials = Credentials::granted(&granted, self.secrets.clone());
        let config = step.config.to_string();
        let ran = self
            .runtime
            .run(guest, set, &config, &step.limits, credentials)
            .map_err(|e| fail(e.into()))?;
        if let Some(violation) = &ran.documents.violation {
            return Err(fail(StepFailure::Refused(scrub(violation))));
        }
        if let Some(problem) = ran.documents.misshapen() {
            return Err(fail(StepFailure::Refused(scrub(&problem))));
        }
        let mut results: Vec<StepResult> = ran
            .denied
            .iter()
            .map(|cluster| StepResult {
                step: step.name.clone(),
                severity: Severity::Warning,
                message: scrub(&format!(
                    "asked for the credentials of cluster `{cluster}` without a grant, and was denied; \
                     if it needs them, add `grants: {{credentials: [{cluster}]}}` to the step"
                )),
                document: None,
                field: None,
            })
            .collect();
        results.extend(step_results(
            &step.name,
            &ran.documents,
            ran.results,
            &self.secrets,
        ));
        let (documents, changes, next_id) = ran.documents.finish();
        Ok(StepRun {
            documents,
            next_id,
            changes,
            log: ran.log,
            results,
        })
    }
}

/// At most this many results are kept per step; a step that reports more
/// gets one warning saying how many were dropped.
pub const MAX_RESULTS: usize = 10_000;
/// A longer result message is cut to this many bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A guest's results, tied to the documents they name; each document is
/// described once however many results name it.
pub(crate) fn step_results(
    step: &str,
    set: &DocumentSet,
    reported: Vec<WitResult>,
    secrets: &Secrets,
) -> Vec<StepResult> {
    use crate::bindings::mooring::step::types::Severity as Wit;
    let total = reported.len();
    let mut refs: HashMap<u32, Arc<DocumentRef>> = HashMap::new();
    let mut results: Vec<StepResult> = reported
        .into_iter()
        .take(MAX_RESULTS)
        .map(|result| StepResult {
            step: step.to_owned(),
            severity: match result.severity {
                Wit::Error => Severity::Error,
                Wit::Warning => Severity::Warning,
                Wit::Info => Severity::Info,
            },
            message: truncate(secrets.scrub(&result.message)),
            document: result.document.and_then(|doc| match refs.get(&doc) {
                Some(known) => Some(known.clone()),
                None => {
                    let reference = Arc::new(DocumentRef::from(set.reference(doc)?));
                    refs.insert(doc, reference.clone());
                    Some(reference)
                }
            }),
            field: result.field.map(|f| truncate(secrets.scrub(&f))),
        })
        .collect();
    if total > MAX_RESULTS {
        results.push(StepResult {
            step: step.to_owned(),
            severity: Severity::Warning,
            message: format!("reported {total} results; only the first {MAX_RESULTS} are kept"),
            document: None,
            field: None,
        });
    }
    results
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Fetches and loads each distinct guest once, then checks every step's
/// config with its guest, so a typo fails before anything runs.
fn load_guests(
    runtime: &Runtime,
    pipeline: &Pipeline,
) -> Result<HashMap<GuestRef, LoadedGuest>, StepError> {
    let mut loaded = HashMap::new();
    for step in &pipeline.steps {
        let name = step.guest.display_name();
        let fail = |cause: StepFailure| StepError {
            step: step.name.clone(),
            guest: name.clone(),
            cause: Box::new(cause),
            earlier: None,
        };
        if !loaded.contains_key(&step.guest) {
            let wasm =
                guests::fetch(&step.guest, runtime.registry()).map_err(|e| fail(e.into()))?;
            let guest = runtime.load(&name, &wasm).map_err(|e| fail(e.into()))?;
            loaded.insert(step.guest.clone(), guest);
        }
        let guest = &loaded[&step.guest];
        let verdict = runtime
            .validate_config(guest, &step.config.to_string())
            .map_err(|e| fail(e.into()))?;
        if let Err(message) = verdict {
            return Err(fail(StepFailure::Config {
                at: step.config_at.clone(),
                message: with_config_hint(&Secrets::default().scrub(&message)),
            }));
        }
    }
    Ok(loaded)
}

/// YAML 1.1, which Kubernetes and mooring read, takes `y`, `yes`, `on`,
/// `n`, `no` and `off` as booleans: say so when a guest wanted a string.
fn with_config_hint(message: &str) -> String {
    if message.contains("invalid type: boolean") {
        format!(
            "{message}\nhint: YAML 1.1 reads an unquoted y, yes, on, n, no or off as a boolean; \
             quote the value (\"y\") to give a string"
        )
    } else {
        message.to_owned()
    }
}
