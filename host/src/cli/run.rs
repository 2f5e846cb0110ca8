//! `mooring run`: one bundle, or many side by side.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;

use super::{
    Failure, GlobalArgs, credentials_for, fail_on_error_results, failed, input, print_summary,
    runtime, write_stdout,
};
use crate::bundle::{self, Bundle};
use crate::execute;
use crate::pipeline::{self, Pipeline};
use crate::runtime::Runtime;

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The bundle directory; several run side by side, one per core, and
    /// then need --in-place or --output (each bundle goes to DIR/<its name>)
    #[arg(required = true, value_name = "BUNDLE")]
    pub(super) bundles: Vec<PathBuf>,
    /// The pipeline file [default: the one mooring.dev/v1alpha1 Pipeline document in the bundle]
    #[arg(short, long, value_name = "FILE")]
    pub(super) pipeline: Option<PathBuf>,
    /// Write the whole resulting bundle to DIR, which must be new or empty
    #[arg(short, long, value_name = "DIR", conflicts_with = "in_place")]
    pub(super) output: Option<PathBuf>,
    /// Rewrite the bundle's changed files in place, each atomically
    #[arg(long)]
    pub(super) in_place: bool,
    /// Print no per-step summary on stderr
    #[arg(short, long)]
    pub(super) quiet: bool,
    /// Run at most N bundles at once [default: one per core]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(super) jobs: Option<u16>,
}

pub(super) fn run(global: &GlobalArgs, args: &RunArgs) -> Result<(), Failure> {
    let runtime = runtime(global)?;
    let [bundle] = args.bundles.as_slice() else {
        return run_fleet(&runtime, global, args);
    };
    let mut err = io::stderr();
    run_bundle(
        &runtime,
        global,
        args,
        bundle,
        args.output.as_deref(),
        &mut err,
    )
}

/// Several bundles: each is run and written on its own, side by side; what
/// each prints is kept together.
fn run_fleet(runtime: &Runtime, global: &GlobalArgs, args: &RunArgs) -> Result<(), Failure> {
    if args.output.is_none() && !args.in_place {
        return Err(input(anyhow!(
            "several bundles need --in-place, or --output DIR to write each to DIR/<bundle name>"
        )));
    }
    let outputs: Vec<Option<PathBuf>> = args
        .bundles
        .iter()
        .map(|b| {
            let name = b.canonicalize().ok()?.file_name()?.to_owned();
            args.output.as_ref().map(|dir| dir.join(name))
        })
        .collect();
    if args.output.is_some() {
        let mut seen = std::collections::HashSet::new();
        for (bundle, out) in args.bundles.iter().zip(&outputs) {
            let out = out.as_ref().ok_or_else(|| {
                input(anyhow!(
                    "bundle {} has no directory name to write it under",
                    bundle.display()
                ))
            })?;
            if !seen.insert(out) {
                return Err(input(anyhow!(
                    "two bundles would both be written to {}; give them distinct names",
                    out.display()
                )));
            }
        }
    }
    let started = std::time::Instant::now();
    let total = args.bundles.len();
    let show_progress = io::stderr().is_terminal();
    let work: Vec<(&PathBuf, &Option<PathBuf>)> = args.bundles.iter().zip(&outputs).collect();
    let threads = args.jobs.map_or_else(crate::fleet::threads, usize::from);
    let results = crate::fleet::map(
        &work,
        threads,
        |(bundle, out)| {
            let mut log = Vec::new();
            let result = run_bundle(runtime, global, args, bundle, out.as_deref(), &mut log);
            (result, log)
        },
        |done| {
            if show_progress && started.elapsed().as_secs_f64() > 1.0 {
                eprint!("\rmooring: {done}/{total} bundles");
            }
        },
    );
    if show_progress && started.elapsed().as_secs_f64() > 1.0 {
        eprintln!();
    }
    let mut err = io::stderr().lock();
    let (mut code, mut failures) = (0, 0);
    for ((bundle, _), (result, log)) in work.iter().zip(results) {
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
        Ok(())
    } else {
        Err(Failure {
            code,
            error: anyhow!(
                "{failures} of {total} bundles failed, each named above; nothing was written for them"
            ),
        })
    }
}

/// Runs the pipeline over one bundle and writes the result; everything it
/// says goes to `err`.
fn run_bundle(
    runtime: &Runtime,
    global: &GlobalArgs,
    args: &RunArgs,
    bundle_dir: &Path,
    output: Option<&Path>,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    // Held from reading to writing, so a concurrent in-place run can
    // neither interleave with this one nor lose its changes.
    let _lock = if args.in_place {
        let waiting = || {
            eprintln!(
                "mooring: waiting for another `mooring run --in-place` on {} to finish",
                bundle_dir.display()
            );
        };
        Some(Bundle::lock(bundle_dir, waiting).map_err(input)?)
    } else {
        None
    };
    let bundle = Bundle::load(bundle_dir).map_err(input)?;
    let pipeline = match &args.pipeline {
        Some(path) => Pipeline::from_file(path).map_err(input)?,
        None => pipeline_in_bundle(&bundle).map_err(input)?,
    };
    let credentials = credentials_for(global, &pipeline)?;
    let outcome = execute::run(
        runtime,
        &pipeline,
        bundle.documents().to_vec(),
        credentials.as_ref(),
    )?;
    if !args.quiet {
        print_summary(&outcome, err);
    }
    fail_on_error_results(&outcome, "; nothing was written")?;

    let changes = bundle.render(&outcome.documents);
    let private = bundle::private_files(&outcome.documents);
    if let Some(dir) = output {
        bundle.write_to(dir, &changes, &private).map_err(failed)?;
        let _ = writeln!(
            err,
            "mooring: wrote the bundle to {} ({} file(s) changed)",
            dir.display(),
            changes.len()
        );
    } else if args.in_place {
        bundle.write_in_place(&changes, &private).map_err(failed)?;
        let _ = writeln!(
            err,
            "mooring: {} file(s) changed in {}",
            changes.len(),
            bundle_dir.display()
        );
    } else {
        write_stdout(&bundle.stream(&outcome.documents))?;
    }
    Ok(())
}

/// The pipeline document inside the bundle, when there is exactly one.
fn pipeline_in_bundle(bundle: &Bundle) -> anyhow::Result<Pipeline> {
    let found: Vec<_> = bundle
        .documents()
        .iter()
        .filter(|d| pipeline::is_pipeline(d))
        .collect();
    let doc = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(anyhow!(
                "{} holds no {} {} document; add one or pass --pipeline FILE",
                bundle.root().display(),
                pipeline::API_VERSION,
                pipeline::KIND
            ));
        }
        many => {
            let names: Vec<String> = many.iter().map(|d| d.to_string()).collect();
            return Err(anyhow!(
                "{} holds {} pipelines ({}); choose one with --pipeline FILE",
                bundle.root().display(),
                many.len(),
                names.join(", ")
            ));
        }
    };
    let origin = doc
        .origin
        .as_ref()
        .context("a loaded document has an origin")?;
    let chunk = bundle
        .original_chunk(doc.id)
        .context("a loaded document has its text")?;
    let base = bundle.root().join(&origin.path);
    let base = base.parent().unwrap_or(bundle.root());
    Ok(Pipeline::from_chunk(&origin.path, chunk, base)?)
}
