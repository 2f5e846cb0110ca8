//! The `mooring` binary: parse the command line, call the library, print
//! what it reports, and map failures to exit codes. The work is done by
//! `mooring-engine` (bundles, pipelines, the sandbox) and `mooring-kube`
//! (the kubeconfig lifecycle).

use std::process::ExitCode;

use clap::Parser;

mod args;
mod author;
mod diff;
mod exit;
mod krm_fn;
mod kubeconfig;
mod logging;
mod output;
mod results;
mod run;
mod template;

use args::{Cli, Command};

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let cli = Cli::parse();
    logging::init(cli.global.verbose, cli.global.quiet);
    let result = match &cli.command {
        Command::Run(args) => run::run(&cli.global, args),
        Command::Fn => krm_fn::krm_function(&cli.global),
        Command::Guests { name } => match name {
            None => output::print_guests(),
            Some(name) => author::describe(&cli.global, name),
        },
        Command::NewGuest(args) => author::new_guest(args),
        Command::Inspect { wasm } => author::inspect(&cli.global, wasm),
        Command::Push { wasm, reference } => author::push(&cli.global, wasm, reference),
        Command::Kubeconfig(command) => kubeconfig::kubeconfig(&cli.global, command),
        Command::Completions { shell } => output::completions(*shell),
        Command::Man { command } => output::man_page(command.as_deref()),
    };
    logging::finish();
    logging::usage(started);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A diff that shows changes did its job: it is said, not an error.
        Err(failure) if failure.code == exit::WOULD_CHANGE => {
            if !cli.global.quiet {
                eprintln!("mooring: {:#}", failure.error);
            }
            ExitCode::from(failure.code)
        }
        Err(failure) => {
            eprintln!("mooring: error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}
