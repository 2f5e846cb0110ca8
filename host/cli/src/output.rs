//! What the binary prints: results to stdout, summaries to stderr.

use std::io::{self, IsTerminal, Write};

use anyhow::anyhow;
use clap::CommandFactory;
use mooring_engine::bindings::{WIT_PACKAGE, WIT_VERSION};
use mooring_engine::capabilities::log::LogLevel;
use mooring_engine::execute::Outcome;
use mooring_engine::{guests, limits};

use crate::exit::{Failure, failed, input};

/// Writes `bytes` to stdout; a reader that went away is not an error.
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| failed(anyhow!(e).context("failed to write to stdout"))),
    }
}

/// One line per step, then its log lines and results.
pub(crate) fn summary(outcome: &Outcome, err: &mut dyn Write) {
    for step in &outcome.steps {
        let _ = writeln!(
            err,
            "{} ({}): {} seen, {} changed, {} added, {} removed, {} result(s) [{:.1} ms]",
            step.step,
            step.guest,
            step.seen,
            step.changes.changed,
            step.changes.added,
            step.changes.removed,
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
            let _ = writeln!(err, "  [{}] {level}: {}", step.step, line.text);
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

/// `mooring guests`: the built-ins, the WIT version and the default limits.
pub(crate) fn print_guests() -> Result<(), Failure> {
    let mut text = format!(
        "WIT world: {WIT_PACKAGE}@{WIT_VERSION} (world `step`)\nDefault limits per step: {}\n\nBuilt-in guests:\n",
        limits::Limits::default()
    );
    let width = guests::standard().map(|g| g.name.len()).max().unwrap_or(0);
    for guest in guests::standard() {
        text.push_str(&format!("  {:width$}  {}\n", guest.name, guest.description));
    }
    if io::stdout().is_terminal() {
        text.push_str(
            "\nA pipeline step names one with `guest: <name>`, or a component with `guest: path/to/step.wasm`.\n",
        );
    }
    stdout(text.as_bytes())
}

/// `mooring completions SHELL`: the completion script, from the clap
/// definitions.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut crate::args::Cli::command(),
        "mooring",
        &mut script,
    );
    stdout(&script)
}

/// `mooring man [COMMAND]`: the manual page of mooring, or of one command
/// (`mooring-run(1)`, as git names its commands' pages), from the clap
/// definitions.
pub(crate) fn man_page(command: Option<&str>) -> Result<(), Failure> {
    let mooring = crate::args::Cli::command();
    let page = match command {
        None => mooring,
        Some(name) => {
            let sub = mooring
                .find_subcommand(name)
                .ok_or_else(|| {
                    input(anyhow!(
                        "mooring has no command `{name}`; `mooring --help` lists them"
                    ))
                })?
                .clone();
            sub.name(format!("mooring-{name}"))
                .bin_name(format!("mooring {name}"))
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| failed(anyhow!(e).context("failed to render the manual page")))?;
    stdout(&roff)
}
