//! The command line, as clap definitions: doc comments are the help.

use std::path::{Path, PathBuf};

use clap::{ArgAction, Args, Parser, Subcommand};

use mooring_engine::execute::{CredentialSource, NoCredentials};
use mooring_engine::overlay::Kustomize;
use mooring_engine::policy::Policy;
use mooring_engine::runtime::{Runtime, RuntimeOptions, StartError};
use mooring_kube::store::FileStore;
use mooring_oci::OciRegistry;

use crate::author::NewGuestArgs;
use crate::exit::{
    FN_EXIT_CODES, Failure, INSPECT_EXIT_CODES, KUBECONFIG_EXIT_CODES, RUN_EXIT_CODES, failed,
    input,
};
use crate::kubeconfig::KubeconfigCommand;
use crate::run::RunArgs;

/// Runs sandboxed WebAssembly steps over Airship-style document bundles.
#[derive(Debug, Parser)]
#[command(
    name = "mooring",
    version,
    after_help = "Each command's --help gives its exit codes."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Where captured kubeconfigs are kept [default: $XDG_STATE_HOME/mooring/kubeconfigs, else ~/.local/state/mooring/kubeconfigs]
    #[arg(
        long,
        global = true,
        env = "MOORING_KUBECONFIG_STORE",
        value_name = "DIR"
    )]
    pub(crate) kubeconfig_store: Option<PathBuf>,
    /// Keep compiled guests in DIR [default: $XDG_CACHE_HOME/mooring, else ~/.cache/mooring]
    #[arg(long, global = true, env = "MOORING_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Compile guests on every run instead of caching them
    #[arg(long, global = true)]
    pub(crate) no_cache: bool,
    /// Pull no OCI guest: use only those stored by earlier runs (in the
    /// cache directory's oci/ store)
    #[arg(long, global = true, env = "MOORING_OFFLINE")]
    pub(crate) offline: bool,
    /// The operator's policy: what pipelines may be given beyond the defaults [default: $XDG_CONFIG_HOME/mooring/policy.yaml, else ~/.config/mooring/policy.yaml]
    #[arg(long, global = true, env = "MOORING_POLICY", value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Say more on stderr: -v for mooring's detail, -vv for every library's (MOORING_LOG takes an env-filter)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Say less on stderr: no per-step summary, no notices, warnings and errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

impl GlobalArgs {
    /// The WebAssembly runtime, with the compiled-guest cache unless it is off.
    pub(crate) fn runtime(&self) -> Result<Runtime, Failure> {
        let base = self.cache_dir.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
            Some(base.join("mooring"))
        });
        // Pulled guests are kept even with --no-cache: that flag is about
        // compiled code, and an offline run needs what was pulled.
        let registry = base.as_ref().map(|dir| {
            Box::new(OciRegistry::new(dir.join("oci"), self.offline))
                as Box<dyn mooring_engine::guests::Registry>
        });
        let cache = base.filter(|_| !self.no_cache);
        Runtime::new(RuntimeOptions { cache, registry }).map_err(|e| match e {
            StartError::Cache(_) => input(e),
            StartError::Engine(_) => failed(e),
        })
    }

    /// The operator's policy file, read when it is theirs (absent: empty).
    pub(crate) fn policy(&self) -> Result<Policy, Failure> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        match self.policy.clone().or_else(Policy::default_path) {
            Some(path) => Policy::load(&path, home.as_deref()).map_err(input),
            None => Ok(Policy::default()),
        }
    }

    /// Where granted steps read captured kubeconfigs from: the store, or
    /// nothing when there is no place for one (a run that grants nothing
    /// does not need one).
    pub(crate) fn credentials(&self) -> Box<dyn CredentialSource + Sync> {
        match self.store() {
            Ok(store) => Box::new(store),
            Err(_) => Box::new(NoCredentials),
        }
    }

    /// The store of captured kubeconfigs; nothing is created until
    /// something is stored.
    pub(crate) fn store(&self) -> Result<FileStore, Failure> {
        self.kubeconfig_store
            .clone()
            .or_else(FileStore::default_dir)
            .map(FileStore::new)
            .ok_or_else(|| {
                input(anyhow::anyhow!(
                    "no place for the kubeconfig store: set HOME or pass --kubeconfig-store DIR"
                ))
            })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a pipeline over a bundle directory
    ///
    /// The result goes to stdout as a YAML stream unless --output-dir or
    /// --in-place is given; a summary of each step goes to stderr. Nothing is
    /// written when any step fails.
    #[command(after_help = RUN_EXIT_CODES)]
    Run(RunArgs),
    /// Act as a KRM function: a ResourceList on stdin, a ResourceList on stdout
    ///
    /// The functionConfig names the work: a mooring.dev/v1alpha1 Pipeline, or
    /// a ConfigMap with data.guest (and optional data.config, YAML text).
    /// Use it with `kpt fn eval --exec "mooring fn"`, a Kptfile `exec:`, or as
    /// a kustomize transformer.
    #[command(after_help = FN_EXIT_CODES)]
    Fn,
    /// List the built-in guests, or show one guest's configuration and an example
    ///
    /// Without NAME: the WIT version guests must be built against, the
    /// default limits and every built-in guest. With NAME (a built-in or a
    /// path to a .wasm component): what the guest says about itself, its
    /// configuration schema and an example step.
    Guests {
        /// A built-in guest's name, or a .wasm file
        name: Option<String>,
    },
    /// Create a guest crate: a step, a fixture bundle and a test that runs it
    ///
    /// The crate builds with `cargo build --target wasm32-wasip2 --release`
    /// and its `cargo test` runs the step through this runtime.
    NewGuest(NewGuestArgs),
    /// Capture, persist, resolve and merge cluster kubeconfigs
    #[command(subcommand, after_help = KUBECONFIG_EXIT_CODES)]
    Kubeconfig(KubeconfigCommand),
    /// Show what a component imports and exports, and whether mooring runs it
    ///
    /// A .wasm file is read and checked; an OCI reference
    /// (registry/repository:tag or @sha256:...) has its manifest read,
    /// without pulling the component.
    #[command(after_help = INSPECT_EXIT_CODES)]
    Inspect {
        /// The component: a .wasm file or an OCI reference
        wasm: PathBuf,
    },
    /// Publish a guest as an OCI artifact (the wasm layout wkg and oras use)
    ///
    /// The component must be one mooring runs; its WIT world goes in the
    /// manifest's annotations. Prints the manifest digest a pipeline pins
    /// (`guest: REF@sha256:...`). Credentials come from the docker config
    /// file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json).
    #[command(after_help = INSPECT_EXIT_CODES)]
    Push {
        /// The component (`.wasm`)
        wasm: PathBuf,
        /// Where: registry/repository:tag
        reference: String,
    },
    /// Print a shell completion script
    ///
    /// bash: `mooring completions bash > ~/.local/share/bash-completion/completions/mooring`;
    /// zsh: `mooring completions zsh > "${fpath[1]}/_mooring"`;
    /// fish: `mooring completions fish > ~/.config/fish/completions/mooring.fish`.
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `mooring man | man -l -`
    ///
    /// Install: `mooring man > mooring.1`, and `mooring man run >
    /// mooring-run.1` for each command, in a directory on MANPATH.
    Man {
        /// A command's page instead (for example run, or kubeconfig)
        command: Option<String>,
    },
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
        assert!(cli.global.quiet);
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.pipeline, Some(PathBuf::from("p.yaml")));
        assert!(args.in_place);
        let cli = Cli::try_parse_from([
            "mooring",
            "--no-cache",
            "run",
            "b",
            "--output-dir",
            "out",
            "-vv",
        ])
        .unwrap();
        assert!(cli.global.no_cache);
        assert_eq!(cli.global.verbose, 2);
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.output, Some(PathBuf::from("out")));
        let cli = Cli::try_parse_from(["mooring", "fn", "--cache-dir", "/c"]).unwrap();
        assert_eq!(cli.global.cache_dir, Some(PathBuf::from("/c")));
        assert!(
            Cli::try_parse_from(["mooring", "run", "b", "--output-dir", "x", "--in-place"])
                .is_err()
        );
        // kubectl users read -o as a format: it must not name a directory.
        assert!(Cli::try_parse_from(["mooring", "run", "b", "-o", "out"]).is_err());
        assert!(Cli::try_parse_from(["mooring", "run", "b", "-o", "json"]).is_ok());
        assert!(Cli::try_parse_from(["mooring", "run"]).is_err());
        assert!(Cli::try_parse_from(["mooring", "-q", "-v", "guests"]).is_err());
    }
}

/// How a site that is a kustomize overlay is built (`run` and the
/// kubeconfig commands read such a site as its build).
#[derive(Debug, Args)]
pub(crate) struct OverlayArgs {
    /// The command that builds a site that is an overlay; the site
    /// directory is added as its last argument
    #[arg(
        long,
        env = "MOORING_KUSTOMIZE",
        value_name = "COMMAND",
        default_value = "kubectl kustomize",
        value_parser = Kustomize::parse
    )]
    pub(crate) kustomize: Kustomize,
}
