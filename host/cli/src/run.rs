//! `mooring run`: one bundle, or many side by side.

use std::collections::HashSet;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

use mooring_engine::execute::CredentialSource;
use mooring_engine::policy::{Approvals, GuestApproval, Policy};
use mooring_engine::runtime::Runtime;
use mooring_engine::session::{self, BundleRun, Destination, Input, StreamFormat, Written};
use mooring_engine::{krm, limits};
use rayon::prelude::*;

use crate::args::{GlobalArgs, OverlayArgs};
use crate::exit::{Failure, failed, input, would_change};
use crate::{diff, output, results};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The bundle directory, or - for a YAML stream on stdin (a rendered
    /// site). A site whose kustomization reaches outside its directory (an
    /// overlay) is worked on as its kustomize build, and an airshipctl site
    /// directory (`phases`, `target/workers`, ... reaching outside it) as
    /// its entrypoints' builds. Several bundles run side by side, one per
    /// core, and then need --in-place or --output-dir (each bundle goes to
    /// DIR/<its name>)
    #[arg(required = true, value_name = "BUNDLE")]
    pub(crate) bundles: Vec<PathBuf>,
    /// The pipeline file [default: the one mooring.dev/v1alpha1 Pipeline document in the bundle]
    #[arg(short, long, value_name = "FILE")]
    pub(crate) pipeline: Option<PathBuf>,
    /// Write the whole resulting bundle to DIR, which must be new or empty
    /// and outside the bundle (a stream or an overlay's build goes to
    /// DIR/resources.yaml)
    #[arg(long = "output-dir", value_name = "DIR", conflicts_with = "in_place")]
    pub(crate) output: Option<PathBuf>,
    /// Rewrite the bundle's changed files in place, all or nothing
    #[arg(long)]
    pub(crate) in_place: bool,
    /// Write nothing; print what --in-place would write as a unified diff
    /// (for a stream or an overlay: of its YAML stream). Exit 3 when
    /// something would change, 0 when nothing would
    #[arg(long, conflicts_with_all = ["in_place", "output"])]
    pub(crate) diff: bool,
    /// Run at most N bundles at once [default: one per core]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: Option<u16>,
    /// The format of the stream on stdout: yaml (each document as it was
    /// written, edited where it changed) or json (a v1 List of the
    /// documents, as `kubectl get -o json` prints several)
    #[arg(
        short,
        long = "output-format",
        value_name = "FORMAT",
        default_value = "yaml",
        value_parser = PossibleValuesParser::new(["yaml", "json"]).map(|f| match f.as_str() {
            "json" => StreamFormat::Json,
            _ => StreamFormat::Yaml,
        })
    )]
    pub(crate) output_format: StreamFormat,
    /// Also write every step's counts and results to FILE, as KRM-shaped
    /// results (JSON when FILE ends in .json, else YAML), with no timings:
    /// for CI to annotate a change. Written whether or not the run succeeds
    #[arg(long, value_name = "FILE")]
    pub(crate) results: Option<PathBuf>,
    /// Print kustomizations and the pipeline on stdout too, not only
    /// manifests (kubectl and kpt refuse a document without a kind)
    #[arg(long)]
    pub(crate) all_documents: bool,
    /// Print credentials on stdout as they are [default: each is <redacted>]
    #[arg(long)]
    pub(crate) show_secrets: bool,
    /// Treat warnings as errors: write nothing when a step warned (for
    /// example, when its selector matched no document)
    #[arg(long)]
    pub(crate) strict: bool,
    /// Write without first checking that a kustomize site still builds
    /// (checked when the run removes or adds a file or edits a
    /// kustomization; costs a kustomize build of the site, or in a
    /// repository of each site entrypoint the changes reach)
    #[arg(long)]
    pub(crate) no_build_check: bool,
    #[command(flatten)]
    pub(crate) overlay: OverlayArgs,
    #[command(flatten)]
    pub(crate) approve: ApproveArgs,
}

/// What the operator approves for this run, beyond the policy file: the
/// pipeline only asks.
#[derive(Debug, Args)]
#[command(next_help_heading = "Approvals (the pipeline asks, you approve)")]
pub(crate) struct ApproveArgs {
    /// Let steps that ask be given the captured kubeconfig of CLUSTER
    #[arg(long, value_name = "CLUSTER", value_delimiter = ',')]
    pub(crate) allow_credentials: Vec<String>,
    /// Let steps run .wasm guests below DIR (or this file), or with digest sha256:HEX
    #[arg(long, value_name = "DIR|sha256:HEX", value_parser = GuestApproval::parse)]
    pub(crate) allow_guests: Vec<GuestApproval>,
    /// Let a step ask for a timeout up to DURATION [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    pub(crate) max_timeout: Option<Duration>,
    /// Let a step ask for memory up to QUANTITY [default: 256Mi]
    #[arg(long, value_name = "QUANTITY", value_parser = limits::parse_memory)]
    pub(crate) max_memory: Option<u64>,
}

impl ApproveArgs {
    /// These flags' approvals, added to what `policy` approves for `site`.
    pub(crate) fn approvals(&self, policy: &Policy, site: &std::path::Path) -> Approvals {
        let mut approvals = policy.approvals_for(site);
        approvals
            .credentials
            .extend(self.allow_credentials.iter().cloned());
        approvals.guests.extend(self.allow_guests.iter().cloned());
        if let Some(timeout) = self.max_timeout {
            approvals.max_timeout = approvals.max_timeout.max(timeout);
        }
        if let Some(memory) = self.max_memory {
            approvals.max_memory = approvals.max_memory.max(memory);
        }
        approvals
    }
}

pub(crate) fn run(global: &GlobalArgs, args: &RunArgs) -> Result<(), Failure> {
    let runtime = global.runtime()?;
    let credentials = global.credentials();
    let policy = global.policy()?;
    let context = Context {
        runtime: &runtime,
        policy: &policy,
        credentials: credentials.as_ref(),
        global,
        args,
    };
    let (changed, results) = if let [bundle] = args.bundles.as_slice() {
        let destination = match (&args.output, args.in_place, args.diff) {
            (Some(dir), _, _) => Destination::Directory(dir),
            (None, true, _) => Destination::InPlace,
            (None, false, true) => Destination::Diff,
            (None, false, false) => Destination::Stream(args.output_format),
        };
        let mut said = Said::default();
        let changed = context.one(bundle, destination, &mut said);
        output::stdout(&said.stdout)?;
        let _ = io::stderr().write_all(&said.stderr);
        let items = results::items(bundle, &changed, said.steps);
        (changed, items)
    } else {
        if args.bundles.iter().any(|b| b.as_os_str() == "-") {
            return Err(input(anyhow!(
                "- (a stream on stdin) runs alone; name no other bundle with it"
            )));
        }
        context.fleet()
    };
    if let Some(file) = &args.results {
        results::write(file, results)?;
    }
    if args.bundles.len() == 1 {
        // As with the documents: the process ends now, and unmapping every
        // compiled guest and joining the epoch thread is work for no one.
        std::mem::forget(runtime);
    }
    let changed = changed?;
    if args.diff && changed > 0 {
        return Err(would_change(changed));
    }
    Ok(())
}

/// How one bundle of a fleet ended (files changed, or why it failed) and
/// what it said.
type Done = (Result<usize, Failure>, Said);

/// What one bundle's run leaves for stdout, stderr and the results file,
/// kept until it is its turn to be shown.
#[derive(Default)]
struct Said {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// What each step that ran did, as results-file items.
    steps: Vec<serde_json::Value>,
}

/// What every bundle of a run shares.
struct Context<'a> {
    runtime: &'a Runtime,
    policy: &'a Policy,
    credentials: &'a (dyn CredentialSource + Sync),
    global: &'a GlobalArgs,
    args: &'a RunArgs,
}

impl Context<'_> {
    /// Runs one bundle, keeping in `said` what it has to say. Returns how
    /// many files it changed, or with `--diff` would change.
    fn one(
        &self,
        bundle: &std::path::Path,
        destination: Destination<'_>,
        said: &mut Said,
    ) -> Result<usize, Failure> {
        let err = &mut said.stderr;
        let stdin;
        let (input, site) = if bundle.as_os_str() == "-" {
            stdin = read_stdin()?;
            // Approvals for a stream hold for where it is run from.
            (Input::Stream(&stdin), std::path::Path::new("."))
        } else {
            (Input::Directory(bundle), bundle)
        };
        let approvals = self.args.approve.approvals(self.policy, site);
        let run = BundleRun {
            input,
            kustomize: &self.args.overlay.kustomize,
            pipeline: self.args.pipeline.as_deref(),
            approvals: &approvals,
            destination,
            show_secrets: self.args.show_secrets,
            strict: self.args.strict,
            check_build: !self.args.no_build_check,
            all_documents: self.args.all_documents,
        };
        let report = match session::run_bundle(self.runtime, &run, self.credentials) {
            Ok(report) => report,
            Err(session::RunError::Step(failed)) => {
                // What the steps before the failing one did still counts.
                if let Some(earlier) = failed.earlier.as_deref() {
                    said.steps = krm::step_items(earlier);
                    if !self.global.quiet {
                        output::summary(earlier, err);
                    }
                }
                return Err(session::RunError::Step(failed).into());
            }
            Err(e) => return Err(e.into()),
        };
        if !self.global.quiet {
            output::summary(&report.outcome, err);
        }
        said.steps = krm::step_items(&report.outcome);
        let mut report = report;
        if self.args.bundles.len() == 1 {
            // The process ends after this bundle: freeing every document
            // tree one node at a time (7% of a run over 10,000 documents)
            // would give the memory back to no one.
            std::mem::forget(std::mem::take(&mut report.outcome.documents));
        }
        self.written(bundle, report, said)
    }

    /// What a bundle's run wrote, said: files changed (or that would
    /// change), or why nothing was written.
    fn written(
        &self,
        bundle: &std::path::Path,
        report: session::BundleReport,
        said: &mut Said,
    ) -> Result<usize, Failure> {
        let quiet = self.global.quiet;
        let err = &mut said.stderr;
        match report.written {
            Written::Nothing => {
                let errors = report.outcome.error_count();
                let warnings = report.outcome.warning_count();
                Err(failed(match errors {
                    0 => anyhow!(
                        "the pipeline reported {warnings} warning(s) and --strict makes them errors; nothing was written"
                    ),
                    _ => anyhow!(
                        "the pipeline reported {errors} error result(s); nothing was written"
                    ),
                }))
            }
            Written::Stream(text) => {
                said.stdout.extend_from_slice(text.as_bytes());
                Ok(0)
            }
            Written::Directory { path, changed } => {
                if !quiet {
                    let _ = writeln!(
                        err,
                        "mooring: wrote the bundle to {} ({changed} file(s) changed)",
                        path.display()
                    );
                }
                Ok(changed)
            }
            Written::InPlace { changed } => {
                if !quiet {
                    let _ = writeln!(
                        err,
                        "mooring: {changed} file(s) changed in {}",
                        bundle.display()
                    );
                }
                Ok(changed)
            }
            Written::Diff(changes) => {
                // A fleet's diff names each file under its bundle's directory.
                let prefix = match self.args.bundles.len() {
                    1 => String::new(),
                    _ => format!("{}/", bundle.display()),
                };
                let prefix = prefix.trim_start_matches("./").trim_start_matches('/');
                diff::write(&mut said.stdout, &changes, prefix, diff::colour_stdout())
                    .map_err(|e| failed(anyhow!(e).context("failed to write the diff")))?;
                Ok(changes.len())
            }
        }
    }

    /// Several bundles: each is run and written on its own, side by side;
    /// what each says is kept together.
    fn fleet(&self) -> (Result<usize, Failure>, results::Items) {
        let outputs = match fleet_outputs(self.args) {
            Ok(outputs) => outputs,
            Err(failure) => return (Err(failure), results::Items::default()),
        };
        let started = Instant::now();
        let threads = self
            .args
            .jobs
            .map_or_else(rayon::current_num_threads, usize::from);
        let done = match self.run_fleet(&outputs, threads) {
            Ok(done) => done,
            Err(failure) => return (Err(failure), results::Items::default()),
        };
        let mut all = results::Items::default();
        let mut err = io::stderr().lock();
        let (mut code, mut failures, mut changed) = (0, 0, 0);
        let total = self.args.bundles.len();
        for (bundle, (result, said)) in self.args.bundles.iter().zip(done) {
            if let Err(failure) = output::stdout(&said.stdout) {
                return (Err(failure), all);
            }
            let _ = err.write_all(&said.stderr);
            match &result {
                Ok(files) => changed += files,
                Err(failure) => {
                    let _ = writeln!(
                        err,
                        "mooring: error: {}: {:#}",
                        bundle.display(),
                        failure.error
                    );
                    code = code.max(failure.code);
                    failures += 1;
                }
            }
            all.extend(results::items(bundle, &result, said.steps));
        }
        let _ = writeln!(
            err,
            "mooring: {total} bundles in {:.2} s on {threads} threads",
            started.elapsed().as_secs_f64(),
        );
        if failures == 0 {
            return (Ok(changed), all);
        }
        let failure = Failure {
            code,
            error: anyhow!(
                "{failures} of {total} bundles failed, each named above; nothing was written for them"
            ),
        };
        (Err(failure), all)
    }

    /// Runs every bundle of a fleet on `threads` threads; returns what each
    /// did and said, in the bundles' order.
    fn run_fleet(&self, outputs: &[Option<PathBuf>], threads: usize) -> Result<Vec<Done>, Failure> {
        let args = self.args;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| failed(anyhow!(e).context("failed to start the worker threads")))?;
        let progress = progress_bar(args.bundles.len(), self.global.quiet);
        let failures = AtomicUsize::new(0);
        let done = pool.install(|| {
            args.bundles
                .par_iter()
                .zip(outputs)
                .map(|(bundle, out)| {
                    let destination = match out {
                        Some(dir) => Destination::Directory(dir),
                        None if args.diff => Destination::Diff,
                        None => Destination::InPlace,
                    };
                    let mut said = Said::default();
                    let result = self.one(bundle, destination, &mut said);
                    if result.is_err() {
                        let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                        progress.set_message(format!("({failed} failed)"));
                    }
                    progress.inc(1);
                    (result, said)
                })
                .collect()
        });
        progress.finish_and_clear();
        Ok(done)
    }
}

/// A bar counting a fleet's bundles on stderr when it is a terminal (and
/// not `-q`); hidden otherwise, so logs and CI output stay plain lines.
fn progress_bar(total: usize, quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "mooring: {bar:30} {pos}/{len} bundles, {elapsed} elapsed, about {eta} left {msg}",
    );
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

/// A YAML stream on stdin, bounded like a bundle file.
pub(crate) fn read_stdin() -> Result<String, Failure> {
    use std::io::Read;
    let limit = mooring_engine::bundle::MAX_FILE_BYTES;
    let mut text = String::new();
    io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| input(anyhow!(e).context("failed to read a YAML stream from stdin")))?;
    if text.len() as u64 > limit {
        return Err(input(anyhow!(
            "the stream on stdin is over {} MiB; mooring reads at most that (split the site)",
            limit >> 20
        )));
    }
    Ok(text)
}

/// Where each bundle of a fleet goes: `--output-dir DIR` gives each its own
/// `DIR/<bundle name>`, `--in-place` its own directory.
fn fleet_outputs(args: &RunArgs) -> Result<Vec<Option<PathBuf>>, Failure> {
    let Some(dir) = &args.output else {
        if !args.in_place && !args.diff {
            return Err(input(anyhow!(
                "several bundles need --in-place, --diff, or --output-dir DIR to write each to DIR/<bundle name>"
            )));
        }
        return Ok(args.bundles.iter().map(|_| None).collect());
    };
    let mut seen = HashSet::new();
    let mut outputs = Vec::new();
    for bundle in &args.bundles {
        let name = bundle
            .canonicalize()
            .ok()
            .and_then(|b| b.file_name().map(ToOwned::to_owned))
            .ok_or_else(|| {
                input(anyhow!(
                    "bundle {} has no directory name to write it under",
                    bundle.display()
                ))
            })?;
        let out = dir.join(name);
        if !seen.insert(out.clone()) {
            return Err(input(anyhow!(
                "two bundles would both be written to {}; give them distinct names",
                out.display()
            )));
        }
        outputs.push(Some(out));
    }
    Ok(outputs)
}
