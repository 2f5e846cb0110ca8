//! The `mooring` command line: argument parsing and what is printed where.
//! All the work is done by the library modules; one file per command
//! family (`run`, `krm_fn`, `kubeconfig`, `author`), and here what
//! they share: global options, exit codes, the summary of a run.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Parser, Subcommand};

mod author;
mod krm_fn;
mod kubeconfig;
mod run;

use author::NewGuestArgs;
use kubeconfig::KubeconfigCommand;
use run::RunArgs;

use crate::bindings::{WIT_PACKAGE, WIT_VERSION};
use crate::capabilities::log::LogLevel;
use crate::execute::{self, Outcome};
use crate::pipeline::Pipeline;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::{guests, limits};

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
        Command::Run(args) => run::run(&cli.global, args),
        Command::Fn => krm_fn::krm_function(&cli.global),
        Command::Guests => {
            print_guests();
            Ok(())
        }
        Command::NewGuest(args) => author::new_guest(args),
        Command::Inspect { wasm } => author::inspect(&cli.global, wasm),
        Command::Kubeconfig(command) => kubeconfig::kubeconfig_command(&cli.global, command),
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

/// Fails the command when a step reported an error result; `consequence`
/// says what that meant for the output.
fn fail_on_error_results(outcome: &Outcome, consequence: &str) -> Result<(), Failure> {
    match outcome.error_count() {
        0 => Ok(()),
        errors => Err(failed(anyhow!(
            "the pipeline reported {errors} error result(s){consequence}"
        ))),
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
