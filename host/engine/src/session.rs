//! The use cases, as library calls that return reports: run a pipeline over
//! a bundle ([`run_bundle`]) and answer a KRM `ResourceList`
//! ([`answer_resource_list`]). The command line, the benchmarks and the
//! tests call these; none of them sequences loading, running and writing
//! itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::bundle::{self, Bundle, BundleError};
use mooring_model::{OneOf, one_of};

use crate::document::names;
use crate::execute::{self, CredentialSource, Outcome, Severity, StepError, StepResult};
use crate::krm;
use crate::overlay::{self, Kustomize, OverlayError};
use crate::pipeline::{self, Pipeline, PipelineError};
use crate::policy::{Approvals, NotApproved};
use crate::runtime::Runtime;
use crate::yaml;

/// Where the result of a bundle run goes.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// Returned as one stream in the report, in this format.
    Stream(StreamFormat),
    /// A complete copy of the bundle in a new or empty directory.
    Directory(&'a Path),
    /// The bundle's own changed files, each replaced atomically.
    InPlace,
    /// Nothing written: what [`InPlace`](Self::InPlace) would write is
    /// returned in the report, file by file, beside what each held.
    Diff,
}

/// How a stream on stdout is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// A KRM stream: each document's own text, edited where it changed
    /// ([`Bundle::krm_stream`]).
    Yaml,
    /// A JSON v1 `List` of the same documents ([`bundle::json_list`]).
    Json,
}

/// What a run works on.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A bundle directory. One whose kustomization reaches outside it (a
    /// site overlay) is worked on as its kustomize build.
    Directory(&'a Path),
    /// A YAML stream already read (`mooring run -`): a rendered site.
    Stream(&'a str),
}

/// The file a stream's documents are written to under `--output-dir`.
pub const STREAM_FILE: &str = "resources.yaml";

/// One bundle run: the bundle, its pipeline, what the operator approved and
/// where the result goes.
#[derive(Debug, Clone, Copy)]
pub struct BundleRun<'a> {
    /// What the pipeline runs over.
    pub input: Input<'a>,
    /// What builds a site that is an overlay.
    pub kustomize: &'a Kustomize,
    /// A pipeline file; `None` for the one Pipeline document in the bundle.
    pub pipeline: Option<&'a Path>,
    /// What steps may be given beyond the defaults.
    pub approvals: &'a Approvals,
    /// Where the result goes.
    pub destination: Destination<'a>,
    /// Show credentials in the stream instead of `<redacted>`.
    pub show_secrets: bool,
    /// Write nothing when a step reported a warning, as for an error.
    pub strict: bool,
    /// Check, before writing into a kustomize site, that the result still
    /// builds ([`overlay::verify_result`]).
    pub check_build: bool,
    /// A stream shows kustomizations and the pipeline too, not only
    /// manifests.
    pub all_documents: bool,
}

/// What a bundle run did.
#[derive(Debug)]
pub struct BundleReport {
    /// Every step's report and result.
    pub outcome: Outcome,
    /// What was written; [`Written::Nothing`] when a step reported an error.
    pub written: Written,
}

/// What a bundle run wrote.
#[derive(Debug)]
pub enum Written {
    /// Nothing: a step reported an error result (or, with `strict`, a
    /// warning), so the bundle is untouched.
    Nothing,
    /// The resulting bundle as one YAML stream.
    Stream(String),
    /// A complete copy in `path`, of which `changed` files differ.
    Directory {
        /// The output directory.
        path: PathBuf,
        /// Files that differ from the bundle's.
        changed: usize,
    },
    /// `changed` files of the bundle were replaced.
    InPlace {
        /// Files replaced, added or removed.
        changed: usize,
    },
    /// Nothing was written; these files would change.
    Diff(Vec<FileChange>),
}

/// A file a run would change: what it holds and what it would hold, in
/// bundle-relative terms (a stream or an overlay's build is the one file
/// [`STREAM_FILE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Bundle-relative path.
    pub path: String,
    /// Its text now; `None` for a file the run would create.
    pub before: Option<String>,
    /// Its text afterwards; `None` for a file the run would delete.
    pub after: Option<String>,
}

/// Why a bundle run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The bundle could not be read.
    #[error(transparent)]
    Bundle(BundleError),
    /// The pipeline could not be read.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The bundle holds no pipeline, or several.
    #[error("{0}")]
    NoPipeline(String),
    /// The pipeline asks for what the operator did not approve.
    #[error(transparent)]
    NotApproved(#[from] NotApproved),
    /// A step could not be run or failed.
    #[error(transparent)]
    Step(#[from] StepError),
    /// The result could not be written; the bundle is as it was.
    #[error(transparent)]
    Write(BundleError),
    /// A site that is an overlay could not be built.
    #[error(transparent)]
    Overlay(#[from] Box<OverlayError>),
    /// The result would not build, so it was not written.
    #[error(transparent)]
    Unbuildable(#[from] Box<overlay::Unbuildable>),
    /// `--in-place` on a site that is an overlay (or made of entrypoints
    /// that are): its documents are made by kustomize builds, not held in
    /// its files.
    #[error("{}", in_place_refusal(.site, .layout, .transformer))]
    InPlaceOverlay {
        /// The site directory.
        site: PathBuf,
        /// How it is laid out: an overlay, or entrypoints.
        layout: Box<overlay::Layout>,
        /// The run's pipeline as a KRM function transformer document.
        transformer: String,
    },
}

/// Why `--in-place` cannot rewrite a site whose documents kustomize makes,
/// and the routes that work: the transformed build elsewhere, or the
/// pipeline inside the build as a transformer (its document follows).
fn in_place_refusal(site: &Path, layout: &overlay::Layout, transformer: &str) -> String {
    let site = site.display();
    let within = match layout {
        overlay::Layout::Entrypoints { .. } => "inside one entrypoint's own build (those named \
             above): save the document below as mooring-pipeline.yaml beside its kustomization, \
             add `transformers: [mooring-pipeline.yaml]` to that kustomization"
            .to_owned(),
        _ => format!(
            "inside the site's own build: save the document below as {site}/mooring-pipeline.yaml, \
             add `transformers: [mooring-pipeline.yaml]` to its kustomization"
        ),
    };
    format!(
        "{site} is {}: its documents are made by kustomize, so there are no files to rewrite \
         in place. Write the transformed build to stdout or --output-dir DIR, or apply the \
         pipeline {within}, and build it with `kustomize build --enable-alpha-plugins` \
         (the image is built by the Containerfile):\n{transformer}",
        layout.describe()
    )
}

impl RunError {
    /// True when the fault is in the run's inputs (the bundle, the pipeline,
    /// a guest that cannot be fetched or loaded) rather than in running it.
    pub fn is_input_error(&self) -> bool {
        match self {
            RunError::Bundle(_)
            | RunError::Pipeline(_)
            | RunError::NoPipeline(_)
            | RunError::NotApproved(_)
            | RunError::Overlay(_)
            | RunError::InPlaceOverlay { .. } => true,
            RunError::Step(step) => step.cause.is_input_error(),
            RunError::Write(_) | RunError::Unbuildable(_) => false,
        }
    }
}

/// Runs the pipeline over one bundle and writes the result where `run`
/// says, unless a step reported an error. Steps read granted credentials
/// from `credentials`.
pub fn run_bundle(
    runtime: &Runtime,
    run: &BundleRun<'_>,
    credentials: &dyn CredentialSource,
) -> Result<BundleReport, RunError> {
    if let Destination::Directory(dir) = run.destination {
        let bundle = match run.input {
            Input::Directory(bundle) => Some(bundle),
            Input::Stream(_) => None,
        };
        bundle::check_output_dir(dir, bundle).map_err(RunError::Bundle)?;
    }
    let Loaded {
        mut bundle,
        _lock,
        site,
    } = load(run)?;
    let pipeline = match (run.pipeline, site) {
        (Some(path), _) => Pipeline::from_file(path)?,
        // A site's pipeline is seldom part of its build: then it is the one
        // among the site's own files.
        (None, Some(site)) if !bundle.documents().iter().any(pipeline::is_pipeline) => {
            pipeline_in_bundle(&Bundle::load(site).map_err(RunError::Bundle)?)?
        }
        (None, _) => pipeline_in_bundle(&bundle)?,
    };
    run.approvals.check(&pipeline)?;
    // The bundle keeps each document's text for writing; the steps get the
    // documents themselves, not a copy.
    let outcome = execute::run(runtime, &pipeline, bundle.take_documents(), credentials)?;
    let refused = outcome.error_count() > 0 || (run.strict && outcome.warning_count() > 0);
    if refused {
        return Ok(BundleReport {
            outcome,
            written: Written::Nothing,
        });
    }
    let mut written = write(&bundle, &outcome, run)?;
    if !run.show_secrets {
        let redact = |text: &mut String| *text = outcome.secrets.redact(text);
        match &mut written {
            Written::Stream(text) => redact(text),
            Written::Diff(changes) => {
                for change in changes {
                    [&mut change.before, &mut change.after]
                        .into_iter()
                        .flatten()
                        .for_each(redact);
                }
            }
            _ => {}
        }
    }
    Ok(BundleReport { outcome, written })
}

/// What a run works on, loaded: the bundle, the in-place lock (held until
/// the result is written), and the site directory of an overlay.
struct Loaded<'a> {
    bundle: Bundle,
    _lock: Option<std::fs::File>,
    site: Option<&'a Path>,
}

/// Reads the run's input: a stream, an overlay's build, or a bundle
/// directory (locked for an in-place run).
fn load<'a>(run: &BundleRun<'a>) -> Result<Loaded<'a>, RunError> {
    let in_place = matches!(run.destination, Destination::InPlace);
    let (bundle, _lock, site) = match run.input {
        Input::Stream(text) => {
            let name = Path::new("<stdin>");
            if in_place {
                return Err(RunError::Bundle(BundleError::NotFiles(name.to_owned())));
            }
            let bundle = Bundle::from_stream(name, STREAM_FILE, text.to_owned())
                .map_err(RunError::Bundle)?;
            (bundle, None, None)
        }
        Input::Directory(dir) => match overlay::Layout::of(dir) {
            layout @ (overlay::Layout::Overlay(_) | overlay::Layout::Entrypoints { .. }) => {
                if in_place {
                    return Err(RunError::InPlaceOverlay {
                        site: dir.to_owned(),
                        layout: Box::new(layout),
                        transformer: as_transformer(run.pipeline),
                    });
                }
                let text = layout.build(dir, run.kustomize)?;
                let bundle =
                    Bundle::from_stream(dir, STREAM_FILE, text).map_err(RunError::Bundle)?;
                tracing::info!(
                    "{} is {}; working on its `{}` build of {} document(s)",
                    dir.display(),
                    layout.describe(),
                    run.kustomize.display(),
                    bundle.documents().len()
                );
                (bundle, None, Some(dir))
            }
            overlay::Layout::Files => {
                // Held from reading to writing, so a concurrent in-place run
                // can neither interleave with this one nor lose its changes.
                let lock = in_place
                    .then(|| {
                        Bundle::lock(dir, || {
                            tracing::info!(
                                "waiting for another `mooring run --in-place` on {} to finish",
                                dir.display()
                            );
                        })
                    })
                    .transpose()
                    .map_err(RunError::Bundle)?;
                (Bundle::load(dir).map_err(RunError::Bundle)?, lock, None)
            }
        },
    };
    Ok(Loaded {
        bundle,
        _lock,
        site,
    })
}

/// A stream of a directory's documents is its files, not its kustomize
/// build: a patch there reads like an object, and `kubectl apply` would
/// apply it as one. Said, with the route to the build.
fn warn_of_patches(bundle: &Bundle, documents: &[crate::document::Document]) {
    let patches = bundle::patches(documents);
    let Some(first) = patches.first() else {
        return;
    };
    tracing::warn!(
        "the stream holds {}'s files, not its kustomize build: {} of its documents ({}{}) are patches a kustomization merges into other documents, not objects of their own; \
         for the build, run `kubectl kustomize {} | mooring run - ...`",
        bundle.root().display(),
        patches.len(),
        first.path,
        if patches.len() > 1 { ", ..." } else { "" },
        bundle.root().display(),
    );
}

fn write(bundle: &Bundle, outcome: &Outcome, run: &BundleRun<'_>) -> Result<Written, RunError> {
    let (destination, documents) = (run.destination, outcome.documents.as_slice());
    if let Destination::Stream(_) = destination
        && bundle.is_directory()
    {
        warn_of_patches(bundle, documents);
    }
    match destination {
        Destination::Stream(StreamFormat::Yaml) => {
            return Ok(Written::Stream(
                bundle.krm_stream(documents, run.all_documents),
            ));
        }
        Destination::Stream(StreamFormat::Json) => {
            let secrets = (!run.show_secrets).then_some(&*outcome.secrets);
            return Ok(Written::Stream(bundle::json_list(
                documents,
                run.all_documents,
                secrets,
            )));
        }
        _ => {}
    }
    let changes = bundle.render(documents);
    if let Destination::Diff = destination {
        let texts: HashMap<&str, &str> = bundle.file_texts().collect();
        let changes = changes
            .into_iter()
            .map(|(path, after)| FileChange {
                before: texts.get(path.as_str()).map(|t| (*t).to_owned()),
                path,
                after,
            })
            .collect();
        return Ok(Written::Diff(changes));
    }
    let private = bundle::private_files(documents);
    let writes_files = matches!(
        destination,
        Destination::Directory(_) | Destination::InPlace
    );
    if run.check_build && bundle.is_directory() && writes_files {
        overlay::verify_result(bundle.root(), &changes, run.kustomize)?;
    }
    match destination {
        Destination::Directory(dir) => {
            bundle
                .write_to(dir, &changes, &private)
                .map_err(RunError::Write)?;
            Ok(Written::Directory {
                path: dir.to_owned(),
                changed: changes.len(),
            })
        }
        _ => {
            bundle
                .write_in_place(&changes, &private)
                .map_err(RunError::Write)?;
            Ok(Written::InPlace {
                changed: changes.len(),
            })
        }
    }
}

/// The image the Containerfile builds, which a KRM function transformer
/// names to run mooring inside kustomize.
const IMAGE: &str = "localhost/mooring:latest";

/// The pipeline in `file` (or a skeleton to fill in) as a kustomize
/// transformer: the Pipeline document with the annotation that makes
/// kustomize run it as a containerized KRM function.
fn as_transformer(file: Option<&Path>) -> String {
    let pipeline = file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| {
            yaml::split(&text)
                .iter()
                .filter_map(|chunk| yaml::parse("pipeline", chunk).ok().flatten())
                .find(|doc| doc.get("kind").and_then(Value::as_str) == Some(pipeline::KIND))
        });
    let mut document = pipeline.unwrap_or_else(|| {
        let skeleton = serde_json::json!({
            "apiVersion": pipeline::API_VERSION,
            "kind": pipeline::KIND,
            "metadata": {"name": "site"},
            "steps": [{"guest": "set-metadata", "config": {"labels": {"example": "replace-these-steps"}}}],
        });
        skeleton.as_object().cloned().unwrap_or_default()
    });
    let annotations = mooring_model::object_entry(
        mooring_model::object_entry(&mut document, "metadata"),
        "annotations",
    );
    annotations.insert(
        "config.kubernetes.io/function".to_owned(),
        Value::from(format!("container:\n  image: {IMAGE}\n")),
    );
    yaml::to_yaml(&document)
}

/// The pipeline document inside the bundle, when there is exactly one.
fn pipeline_in_bundle(bundle: &Bundle) -> Result<Pipeline, RunError> {
    let root = bundle.root().display();
    let pipelines = bundle
        .documents()
        .iter()
        .filter(|d| pipeline::is_pipeline(d));
    let doc = match one_of(pipelines) {
        OneOf::One(doc) => doc,
        OneOf::None => {
            return Err(RunError::NoPipeline(format!(
                "{root} holds no {} {} document; add one or pass --pipeline FILE",
                pipeline::API_VERSION,
                pipeline::KIND
            )));
        }
        OneOf::Many(many) => {
            return Err(RunError::NoPipeline(format!(
                "{root} holds {} pipelines ({}); choose one with --pipeline FILE",
                many.len(),
                names(&many)
            )));
        }
    };
    // A loaded document always has its origin and text.
    let (Some(origin), Some(chunk)) = (doc.origin.as_ref(), bundle.original_chunk(doc.id)) else {
        return Err(RunError::NoPipeline(format!(
            "{root}: the pipeline document {doc} has no source text"
        )));
    };
    let base = bundle.root().join(&origin.path);
    let base = base.parent().unwrap_or(bundle.root());
    Ok(Pipeline::from_chunk(&origin.path, chunk, base)?)
}

/// What `mooring fn` answers: always a ResourceList to print (kustomize
/// reads an empty answer as "delete every resource"), and why it failed,
/// if it did.
#[derive(Debug)]
pub struct KrmAnswer {
    /// The ResourceList to print on stdout: the result, or the input echoed
    /// back with an error result when the input could not be used.
    pub stdout: String,
    /// The run's steps and results, when it ran.
    pub outcome: Option<Outcome>,
    /// Why the function failed, if it did.
    pub failure: Option<String>,
}

/// Answers a ResourceList: the pipeline its functionConfig names, run over
/// its items. Paths of `.wasm` guests resolve against `base`.
pub fn answer_resource_list(
    runtime: &Runtime,
    input: &str,
    base: &Path,
    approvals: &Approvals,
    credentials: &dyn CredentialSource,
) -> KrmAnswer {
    let mut list = match krm::read(input) {
        Ok(list) => list,
        Err(e) => {
            return KrmAnswer {
                stdout: input.to_owned(),
                outcome: None,
                failure: Some(chain(&e)),
            };
        }
    };
    let documents = std::mem::take(&mut list.documents);
    let fail = |message: String| {
        let result = StepResult {
            step: "mooring".to_owned(),
            severity: Severity::Error,
            message: message.clone(),
            document: None,
            field: None,
        };
        KrmAnswer {
            stdout: list.write(None, &[result]),
            outcome: None,
            failure: Some(message),
        }
    };
    let pipeline = match list.pipeline(base) {
        Ok(pipeline) => pipeline,
        Err(message) => return fail(message),
    };
    if let Err(refused) = approvals.check(&pipeline) {
        return fail(refused.to_string());
    }
    let outcome = match execute::run(runtime, &pipeline, documents, credentials) {
        Ok(outcome) => outcome,
        Err(e) => return fail(chain(&e)),
    };
    let failure = match outcome.error_count() {
        0 => None,
        errors => Some(format!("the pipeline reported {errors} error result(s)")),
    };
    KrmAnswer {
        stdout: list.write(Some(&outcome.documents), &outcome.results),
        outcome: Some(outcome),
        failure,
    }
}

/// An error and its causes on one line, as `{:#}` prints them: for a
/// message that must say everything (a KRM result).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
