//! `mooring run`: one bundle, or many side by side.

use std::collections::HashSet;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use mooring_engine::execute::CredentialSource;
use mooring_engine::runtime::Runtime;
use mooring_engine::session::{self, BundleRun, Destination, Written};
use rayon::prelude::*;

use crate::args::GlobalArgs;
use crate::exit::{Failure, failed, input};
use crate::output;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The bundle directory; several run side by side, one per core, and
    /// then need --in-place or --output (each bundle goes to DIR/<its name>)
    #[arg(required = true, value_name = "BUNDLE")]
    pub(crate) bundles: Vec<PathBuf>,
    /// The pipeline file [default: the one mooring.dev/v1alpha1 Pipeline document in the bundle]
    #[arg(short, long, value_name = "FILE")]
    pub(crate) pipeline: Option<PathBuf>,
    /// Write the whole resulting bundle to DIR, which must be new or empty
    #[arg(short, long, value_name = "DIR", conflicts_with = "in_place")]
    pub(crate) output: Option<PathBuf>,
    /// Rewrite the bundle's changed files in place, each atomically
    #[arg(long)]
    pub(crate) in_place: bool,
    /// Run at most N bundles at once [default: one per core]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: Option<u16>,
}

pub(crate) fn run(global: &GlobalArgs, args: &RunArgs) -> Result<(), Failure> {
    let runtime = global.runtime()?;
    let credentials = global.credentials();
    if let [bundle] = args.bundles.as_slice() {
        let destination = match (&args.output, args.in_place) {
            (Some(dir), _) => Destination::Directory(dir),
            (None, true) => Destination::InPlace,
            (None, false) => Destination::Stream,
        };
        let mut err = io::stderr();
        return run_one(
            &runtime,
            credentials.as_ref(),
            global,
            args,
            bundle,
            destination,
            &mut err,
        );
    }
    run_fleet(&runtime, credentials.as_ref(), global, args)
}

/// Runs one bundle and says what happened on `err`.
fn run_one(
    runtime: &Runtime,
    credentials: &(dyn CredentialSource + Sync),
    global: &GlobalArgs,
    args: &RunArgs,
    bundle: &std::path::Path,
    destination: Destination<'_>,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let run = BundleRun {
        bundle,
        pipeline: args.pipeline.as_deref(),
        destination,
    };
    let report = session::run_bundle(runtime, &run, credentials)?;
    if !global.quiet {
        output::summary(&report.outcome, err);
    }
    match report.written {
        Written::Nothing => {
            let errors = report.outcome.error_count();
            return Err(failed(anyhow!(
                "the pipeline reported {errors} error result(s); nothing was written"
            )));
        }
        Written::Stream(text) => output::stdout(text.as_bytes())?,
        Written::Directory { path, changed } => {
            let _ = writeln!(
                err,
                "mooring: wrote the bundle to {} ({changed} file(s) changed)",
                path.display()
            );
        }
        Written::InPlace { changed } => {
            let _ = writeln!(
                err,
                "mooring: {changed} file(s) changed in {}",
                bundle.display()
            );
        }
    }
    Ok(())
}

/// Several bundles: each is run and written on its own, side by side; what
/// each says is kept together.
fn run_fleet(
    runtime: &Runtime,
    credentials: &(dyn CredentialSource + Sync),
    global: &GlobalArgs,
    args: &RunArgs,
) -> Result<(), Failure> {
    let outputs = fleet_outputs(args)?;
    let started = Instant::now();
    let total = args.bundles.len();
    let threads = args
        .jobs
        .map_or_else(rayon::current_num_threads, usize::from);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| failed(anyhow!(e).context("failed to start the worker threads")))?;
    let finished = AtomicUsize::new(0);
    let show_progress = io::stderr().is_terminal();
    let results: Vec<(Result<(), Failure>, Vec<u8>)> = pool.install(|| {
        args.bundles
            .par_iter()
            .zip(&outputs)
            .map(|(bundle, out)| {
                let destination = match out {
                    Some(dir) => Destination::Directory(dir),
                    None => Destination::InPlace,
                };
                let mut log = Vec::new();
                let result = run_one(
                    runtime,
                    credentials,
                    global,
                    args,
                    bundle,
                    destination,
                    &mut log,
                );
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                if show_progress && started.elapsed().as_secs_f64() > 1.0 {
                    eprint!("\rmooring: {done}/{total} bundles");
                }
                (result, log)
            })
            .collect()
    });
    if show_progress && started.elapsed().as_secs_f64() > 1.0 {
        eprintln!();
    }
    let mut err = io::stderr().lock();
    let (mut code, mut failures) = (0, 0);
    for (bundle, (result, log)) in args.bundles.iter().zip(results) {
        let _ = err.write_all(&log);
        if let Err(failure) = result {
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
    let _ = writeln!(
        err,
        "mooring: {total} bundles in {:.2} s on {threads} threads",
        started.elapsed().as_secs_f64(),
    );
    if failures == 0 {
        return Ok(());
    }
    Err(Failure {
        code,
        error: anyhow!(
            "{failures} of {total} bundles failed, each named above; nothing was written for them"
        ),
    })
}

/// Where each bundle of a fleet goes: `--output DIR` gives each its own
/// `DIR/<bundle name>`, `--in-place` its own directory.
fn fleet_outputs(args: &RunArgs) -> Result<Vec<Option<PathBuf>>, Failure> {
    let Some(dir) = &args.output else {
        if !args.in_place {
            return Err(input(anyhow!(
                "several bundles need --in-place, or --output DIR to write each to DIR/<bundle name>"
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
