//! The `mooring` command line: argument parsing and what is printed where.
//! All the work is done by the library modules.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};

use crate::bindings::{WIT_PACKAGE, WIT_VERSION};
use crate::bundle::{self, Bundle};
use crate::capabilities::log::LogLevel;
use crate::execute::{self, Outcome, Severity, StepResult};
use crate::pipeline::{self, Pipeline};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::{guests, krm, limits, template};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the run failed: a step failed (trap, timeout, memory, invalid output),
     a step reported an error result, or the result could not be written;
     the bundle is left untouched
  2  usage or input error: bad flags, an unreadable bundle or pipeline, an
     unknown or mismatched guest";

/// Runs sandboxed WebAssembly steps over Airship-style document bundles.
#[derive(Debug, Parser)]
#[command(name = "mooring", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes: where compiled guests and captured
/// kubeconfigs live.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Where captured kubeconfigs are kept [default: $XDG_STATE_HOME/mooring/kubeconfigs, else ~/.local/state/mooring/kubeconfigs]
    #[arg(
        long,
        global = true,
        env = "MOORING_KUBECONFIG_STORE",
        value_name = "DIR"
    )]
    kubeconfig_store: Option<PathBuf>,
    /// Keep compiled guests in DIR [default: $XDG_CACHE_HOME/mooring, else ~/.cache/mooring]
    #[arg(long, global = true, env = "MOORING_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile guests on every run instead of caching them
    #[arg(long, global = true)]
    no_cache: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline over a bundle directory
    ///
    /// The result goes to stdout as a YAML stream unless --output or
    /// --in-place is given; a summary of each step goes to stderr. Nothing is
    /// written when any step fails.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Act as a KRM function: a ResourceList on stdin, a ResourceList on stdout
    ///
    /// The functionConfig names the work: a mooring.dev/v1alpha1 Pipeline, or
    /// a ConfigMap with data.guest (and optional data.config, YAML text).
    /// Use it with `kpt fn eval --exec "mooring fn"`, a Kptfile `exec:`, or as
    /// a kustomize transformer.
    #[command(after_help = EXIT_CODES)]
    Fn,
    /// List the built-in guests and the WIT version guests must be built against
    Guests,
    /// Create a guest crate: a step, a fixture bundle and a test that runs it
    ///
    /// The crate builds with `cargo build --target wasm32-wasip2 --release`
    /// and its `cargo test` runs the step through this runtime.
    NewGuest(NewGuestArgs),
    /// Capture, persist, resolve and merge cluster kubeconfigs
    #[command(subcommand, after_help = EXIT_CODES)]
    Kubeconfig(KubeconfigCommand),
    /// Show what a component imports and exports, and whether mooring runs it
    #[command(after_help = EXIT_CODES)]
    Inspect {
        /// The component (`.wasm`)
        wasm: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KubeconfigCommand {
    /// Capture clusters' kubeconfigs and persist them in the store
    ///
    /// A cluster whose ClusterMap entry has a clusterAPI source (or, in the
    /// older schema, dynamicKubeConf) is read from the Secret
    /// <name>-kubeconfig in its parent, waiting for it to appear; any other
    /// from its first working source. Run it for the ephemeral cluster's
    /// children before the ephemeral cluster is deleted.
    #[command(after_help = EXIT_CODES)]
    Capture {
        /// The clusters to capture (keys of the ClusterMap)
        #[arg(required_unless_present = "children_of")]
        clusters: Vec<String>,
        /// Capture every cluster whose parent is CLUSTER
        #[arg(long, value_name = "CLUSTER")]
        children_of: Option<String>,
        /// Also keep them as Secrets mooring-kubeconfig-<cluster> in NAMESPACE of CLUSTER
        #[arg(long, value_name = "CLUSTER/NAMESPACE")]
        persist_to: Option<String>,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Print clusters' kubeconfigs merged into one, like `airshipctl cluster get-kubeconfig`
    ///
    /// Each cluster's sources are tried in ClusterMap order, then the store;
    /// stderr says which source won and why the others failed.
    #[command(after_help = EXIT_CODES)]
    Get {
        /// The clusters [default: every cluster of the ClusterMap]
        clusters: Vec<String>,
        /// Set current-context [default: the cluster, when exactly one is asked for]
        #[arg(long, value_name = "CONTEXT")]
        current_context: Option<String>,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Merge kubeconfig files into one on stdout
    ///
    /// Entries named alike are replaced where they stand by later files, new
    /// ones appended; nothing is dropped or reordered.
    #[command(after_help = EXIT_CODES)]
    Merge {
        /// The kubeconfig files, in order
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Set current-context [default: the first file's]
        #[arg(long, value_name = "CONTEXT")]
        current_context: Option<String>,
    },
}

#[derive(Debug, Args)]
struct SiteArgs {
    /// The bundle holding the site's ClusterMap (and KubeConfig document)
    #[arg(short, long, value_name = "DIR")]
    bundle: PathBuf,
    /// Wait at most this long for a Secret [default: the ClusterMap source's timeout, else 30s]
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    timeout: Option<Duration>,
    /// Look for a Secret this often
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = limits::parse_duration)]
    interval: Duration,
}

#[derive(Debug, Args)]
struct NewGuestArgs {
    /// The guest's crate name (lowercase, `-` and `_` allowed)
    name: String,
    /// Where to create the crate [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The mooring-guest SDK to depend on [default: guest/sdk of the source tree mooring was built from]
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The bundle directory; several run side by side, one per core, and
    /// then need --in-place or --output (each bundle goes to DIR/<its name>)
    #[arg(required = true, value_name = "BUNDLE")]
    bundles: Vec<PathBuf>,
    /// The pipeline file [default: the one mooring.dev/v1alpha1 Pipeline document in the bundle]
    #[arg(short, long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Write the whole resulting bundle to DIR, which must be new or empty
    #[arg(short, long, value_name = "DIR", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Rewrite the bundle's changed files in place, each atomically
    #[arg(long)]
    in_place: bool,
    /// Print no per-step summary on stderr
    #[arg(short, long)]
    quiet: bool,
    /// Run at most N bundles at once [default: one per core]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// An error and the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn input(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

fn failed(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 1,
        error: error.into(),
    }
}

impl From<execute::StepError> for Failure {
    fn from(error: execute::StepError) -> Self {
        let code = if error.cause.is_input_error() { 2 } else { 1 };
        Failure {
            code,
            error: error.into(),
        }
    }
}

/// The entry point of the `mooring` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run(&cli.global, args),
        Command::Fn => krm_function(&cli.global),
        Command::Guests => {
            print_guests();
            Ok(())
        }
        Command::NewGuest(args) => new_guest(args),
        Command::Inspect { wasm } => inspect(&cli.global, wasm),
        Command::Kubeconfig(command) => kubeconfig_command(&cli.global, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mooring: error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

fn runtime(global: &GlobalArgs) -> Result<Runtime, Failure> {
    let dir = if global.no_cache {
        None
    } else {
        global.cache_dir.clone().or_else(default_cache_dir)
    };
    Runtime::new(RuntimeOptions { cache: dir })
        .map_err(|e| failed(anyhow!("{e:#}").context("failed to start the WebAssembly runtime")))
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("mooring"))
}

fn run(global: &GlobalArgs, args: &RunArgs) -> Result<(), Failure> {
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
    let errors = outcome
        .results
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .count();
    if errors > 0 {
        return Err(failed(anyhow!(
            "the pipeline reported {errors} error result(s); nothing was written"
        )));
    }

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

fn krm_function(global: &GlobalArgs) -> Result<(), Failure> {
    // The same bound as a bundle file: a hostile stream cannot take memory.
    let limit = crate::bundle::MAX_FILE_BYTES;
    let mut stdin = Vec::new();
    io::stdin()
        .take(limit + 1)
        .read_to_end(&mut stdin)
        .map_err(|e| failed(anyhow!(e).context("failed to read the ResourceList from stdin")))?;
    if stdin.len() as u64 > limit {
        return Err(failed(anyhow!(
            "the ResourceList on stdin is over {} MiB, the most mooring reads; split the package",
            limit >> 20
        )));
    }
    let text = match String::from_utf8(stdin) {
        Ok(text) => text,
        Err(e) => {
            // Never answer with an empty stdout: kustomize reads that as
            // "delete every resource". Echo the input and fail.
            write_stdout_bytes(e.as_bytes())?;
            return Err(failed(anyhow!(
                "the ResourceList on stdin is not valid UTF-8"
            )));
        }
    };
    let list = match krm::read(&text) {
        Ok(list) => list,
        Err(e) => {
            write_stdout(&text)?;
            return Err(failed(e));
        }
    };
    let fail_with = |message: String| -> Result<(), Failure> {
        let result = StepResult {
            step: "mooring".to_owned(),
            severity: Severity::Error,
            message: message.clone(),
            document: None,
            field: None,
        };
        write_stdout(&list.write(&list.documents, &[result]))?;
        Err(failed(anyhow!(message)))
    };
    let pipeline = match list.pipeline(Path::new(".")) {
        Ok(pipeline) => pipeline,
        Err(message) => return fail_with(message),
    };
    let runtime = runtime(global)?;
    let credentials = match credentials_for(global, &pipeline) {
        Ok(credentials) => credentials,
        Err(failure) => return fail_with(format!("{:#}", failure.error)),
    };
    let outcome = match execute::run(
        &runtime,
        &pipeline,
        list.documents.clone(),
        credentials.as_ref(),
    ) {
        Ok(outcome) => outcome,
        Err(e) => return fail_with(e.to_string()),
    };
    print_summary(&outcome, &mut io::stderr());
    write_stdout(&list.write(&outcome.documents, &outcome.results))?;
    let errors = outcome
        .results
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .count();
    if errors > 0 {
        return Err(failed(anyhow!(
            "the pipeline reported {errors} error result(s)"
        )));
    }
    Ok(())
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    write_stdout_bytes(text.as_bytes())
}

fn write_stdout_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| failed(anyhow!(e).context("failed to write to stdout"))),
    }
}

/// One line per step, then its log lines and results.
fn print_summary(outcome: &Outcome, err: &mut dyn Write) {
    for step in &outcome.steps {
        let _ = writeln!(
            err,
            "{} ({}): {} seen, {} changed, {} added, {} removed, {} result(s) [{:.1} ms]",
            step.step,
            step.guest,
            step.seen,
            step.changed,
            step.added,
            step.removed,
            step.results,
            step.elapsed.as_secs_f64() * 1e3
        );
        for line in &step.log.lines {
            let level = match line.level {
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            };
            let fields: String = line
                .fields
                .iter()
                .map(|(k, v)| format!(" {k}={v}"))
                .collect();
            let _ = writeln!(err, "  [{}] {level}: {}{fields}", step.step, line.message);
        }
        if step.log.dropped > 0 {
            let _ = writeln!(
                err,
                "  [{}] ({} more log lines dropped)",
                step.step, step.log.dropped
            );
        }
        for result in outcome.results.iter().filter(|r| r.step == step.step) {
            let about = result
                .document
                .as_ref()
                .map(|d| format!("{d}: "))
                .unwrap_or_default();
            let field = result
                .field
                .as_ref()
                .map(|f| format!(" (field {f})"))
                .unwrap_or_default();
            let _ = writeln!(
                err,
                "  {}: {about}{}{field}",
                result.severity.as_str(),
                result.message
            );
        }
    }
}

fn new_guest(args: &NewGuestArgs) -> Result<(), Failure> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let sdk = args.sdk.clone().unwrap_or_else(template::default_sdk);
    let files = template::new_guest(&args.name, &dir, &sdk).map_err(input)?;
    let mut out = io::stdout().lock();
    for file in &files {
        let _ = writeln!(out, "created {}", file.display());
    }
    let _ = writeln!(
        out,
        "\nNext:\n  cd {}\n  cargo build --target wasm32-wasip2 --release\n  MOORING_BIN={} cargo test",
        dir.display(),
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "mooring".to_owned())
    );
    Ok(())
}

fn inspect(global: &GlobalArgs, wasm: &Path) -> Result<(), Failure> {
    let bytes = std::fs::read(wasm)
        .map_err(|e| input(anyhow!(e).context(format!("failed to read {}", wasm.display()))))?;
    let runtime = runtime(global)?;
    let name = wasm.display().to_string();
    let inspection = runtime.inspect(&name, &bytes).map_err(input)?;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{name}: {} bytes, sha256 {}",
        bytes.len(),
        guests::sha256_hex(&bytes)
    );
    let _ = writeln!(out, "exports:");
    for export in &inspection.exports {
        let _ = writeln!(out, "  {export}");
    }
    let _ = writeln!(out, "imports:");
    for import in &inspection.imports {
        let _ = writeln!(out, "  {import}");
    }
    let _ = out.flush();
    match inspection.verdict {
        Ok(()) => {
            let _ = writeln!(out, "matches {WIT_PACKAGE}@{WIT_VERSION}: mooring runs it");
            Ok(())
        }
        Err(e) => Err(input(e)),
    }
}

/// The store of captured kubeconfigs.
fn open_store(global: &GlobalArgs) -> Result<crate::kubeconfig::store::FileStore, Failure> {
    use crate::kubeconfig::store::FileStore;
    let dir = global
        .kubeconfig_store
        .clone()
        .or_else(FileStore::default_dir)
        .ok_or_else(|| {
            input(anyhow!(
                "no place for the kubeconfig store: set HOME or pass --kubeconfig-store DIR"
            ))
        })?;
    FileStore::open(dir).map_err(failed)
}

/// The store when a step is granted credentials; no directory is created
/// for a pipeline that grants none.
fn credentials_for(
    global: &GlobalArgs,
    pipeline: &Pipeline,
) -> Result<Box<dyn execute::CredentialSource>, Failure> {
    if pipeline
        .steps
        .iter()
        .any(|s| !s.grants.credentials.is_empty())
    {
        Ok(Box::new(open_store(global)?))
    } else {
        Ok(Box::new(execute::NoCredentials))
    }
}

fn kubeconfig_command(global: &GlobalArgs, command: &KubeconfigCommand) -> Result<(), Failure> {
    use crate::kubeconfig::{self, resolve::Site};
    use mooring_model::kubeconfig::merge_all;

    if let KubeconfigCommand::Merge {
        files,
        current_context,
    } = command
    {
        let mut configs = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| {
                input(anyhow!(e).context(format!("failed to read {}", file.display())))
            })?;
            let config =
                kubeconfig::parse(&text).map_err(|e| input(anyhow!("{}: {e}", file.display())))?;
            configs.push(config);
        }
        let first = configs.first().map(|c| c.current_context.clone());
        let wanted = current_context.clone().or(first).filter(|c| !c.is_empty());
        let merged = merge_all(&configs, wanted.as_deref()).map_err(input)?;
        return write_stdout(&kubeconfig::to_yaml(&merged));
    }
    let site_args = match command {
        KubeconfigCommand::Capture { site, .. } | KubeconfigCommand::Get { site, .. } => site,
        KubeconfigCommand::Merge { .. } => unreachable!("handled above"),
    };
    let bundle = Bundle::load(&site_args.bundle).map_err(input)?;
    let site = Site::from_bundle(&bundle).map_err(input)?;
    let store = open_store(global)?;
    let progress = |cluster: &str, p: &kubeconfig::capture::WaitProgress| {
        eprintln!(
            "mooring: {cluster}: waiting for Secret {}: {} (poll {}, {} of {})",
            p.secret,
            p.last,
            p.poll,
            limits::DisplayDuration(p.elapsed),
            limits::DisplayDuration(p.timeout)
        );
    };
    let options = kubeconfig::resolve::ResolverOptions {
        store: Some(&store),
        home: std::env::var_os("HOME").map(PathBuf::from),
        wait: site_args.timeout.map(|timeout| kubeconfig::capture::Wait {
            timeout,
            interval: site_args.interval,
        }),
        request_timeout: Duration::from_secs(10),
        progress: &progress,
    };
    let resolver = kubeconfig::resolve::Resolver::new(&site, options);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(anyhow!(e).context("failed to start the async runtime")))?;
    runtime.block_on(async {
        match command {
            KubeconfigCommand::Capture {
                clusters,
                children_of,
                persist_to,
                ..
            } => {
                let mut wanted = clusters.clone();
                if let Some(parent) = children_of {
                    wanted.extend(
                        site.map
                            .map
                            .iter()
                            .filter(|(_, c)| &c.parent == parent)
                            .map(|(k, _)| k.clone()),
                    );
                    if wanted.is_empty() {
                        return Err(input(anyhow!(
                            "no cluster of {} has parent `{parent}`",
                            site.map_document
                        )));
                    }
                }
                let secret_store = match persist_to {
                    Some(target) => Some(secret_store(&resolver, target).await?),
                    None => None,
                };
                for cluster in &wanted {
                    let (resolved, path) =
                        resolver.capture(cluster, &store).await.map_err(failed)?;
                    eprintln!(
                        "mooring: {cluster}: captured from {}; stored in {}",
                        resolved.source,
                        path.display()
                    );
                    if let Some(secret_store) = &secret_store {
                        secret_store
                            .put(cluster, &resolved.kubeconfig)
                            .await
                            .map_err(failed)?;
                        eprintln!(
                            "mooring: {cluster}: also stored in {}",
                            secret_store.describe()
                        );
                    }
                }
                Ok(())
            }
            KubeconfigCommand::Get {
                clusters,
                current_context,
                ..
            } => {
                let wanted: Vec<String> = if clusters.is_empty() {
                    site.clusters().map(str::to_owned).collect()
                } else {
                    clusters.clone()
                };
                let mut configs = Vec::new();
                for cluster in &wanted {
                    let resolved = resolver.resolve(cluster).await.map_err(failed)?;
                    let tried: Vec<String> = resolved
                        .failed
                        .iter()
                        .map(|a| format!("{}: {}", a.source, a.error))
                        .collect();
                    if tried.is_empty() {
                        eprintln!("mooring: {cluster}: from {}", resolved.source);
                    } else {
                        eprintln!(
                            "mooring: {cluster}: from {} (after {})",
                            resolved.source,
                            tried.join("; ")
                        );
                    }
                    configs.push(resolved.kubeconfig);
                }
                let current = current_context.clone().or_else(|| match wanted.as_slice() {
                    [one] => Some(site.map.map[one].context_name(one).to_owned()),
                    _ => None,
                });
                let merged = merge_all(&configs, current.as_deref()).map_err(input)?;
                write_stdout(&kubeconfig::to_yaml(&merged))
            }
            KubeconfigCommand::Merge { .. } => unreachable!("handled above"),
        }
    })
}

/// The Secret store `--persist-to CLUSTER/NAMESPACE` names.
async fn secret_store(
    resolver: &crate::kubeconfig::resolve::Resolver<'_>,
    target: &str,
) -> Result<crate::kubeconfig::store::SecretStore, Failure> {
    use crate::kubeconfig::{capture::Connection, store::SecretStore};
    let (cluster, namespace) = target.split_once('/').ok_or_else(|| {
        input(anyhow!(
            "--persist-to wants CLUSTER/NAMESPACE, for example target-cluster/mooring"
        ))
    })?;
    let resolved = resolver.resolve(cluster).await.map_err(failed)?;
    let connection = Connection::new(cluster, &resolved.kubeconfig, Duration::from_secs(10))
        .await
        .map_err(failed)?;
    Ok(SecretStore::new(connection, namespace))
}

fn print_guests() {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "WIT world: {WIT_PACKAGE}@{WIT_VERSION} (world `step`)");
    let _ = writeln!(
        out,
        "Default limits per step: {}",
        limits::Limits::default()
    );
    let _ = writeln!(out, "\nBuilt-in guests:");
    let width = guests::standard().map(|g| g.name.len()).max().unwrap_or(0);
    for guest in guests::standard() {
        let _ = writeln!(out, "  {:width$}  {}", guest.name, guest.description);
    }
    if io::stdout().is_terminal() {
        let _ = writeln!(
            out,
            "\nA pipeline step names one with `guest: <name>`, or a component with `guest: path/to/step.wasm`."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn each_flag_parses() {
        let cli = Cli::try_parse_from([
            "mooring",
            "run",
            "b",
            "--pipeline",
            "p.yaml",
            "--in-place",
            "-q",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.pipeline, Some(PathBuf::from("p.yaml")));
        assert!(args.in_place && args.quiet);
        let cli = Cli::try_parse_from(["mooring", "--no-cache", "run", "b", "-o", "out"]).unwrap();
        assert!(cli.global.no_cache);
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.output, Some(PathBuf::from("out")));
        let cli = Cli::try_parse_from(["mooring", "fn", "--cache-dir", "/c"]).unwrap();
        assert_eq!(cli.global.cache_dir, Some(PathBuf::from("/c")));
        assert!(Cli::try_parse_from(["mooring", "run", "b", "-o", "x", "--in-place"]).is_err());
        assert!(Cli::try_parse_from(["mooring", "run"]).is_err());
    }
}
