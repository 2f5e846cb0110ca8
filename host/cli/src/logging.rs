//! What the library reports through `tracing` reaches stderr here: its
//! notices (waiting for a lock, for a Secret) as `mooring: ...` lines, and
//! with `-v` (or `MOORING_LOG`, an `EnvFilter` such as `kube=debug`) the
//! detail of every crate, the Kubernetes client's requests included.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::ProgressBar;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// mooring's crates, whose events stderr shows by default.
const OURS: &[&str] = &[
    "mooring",
    "mooring_engine",
    "mooring_kube",
    "mooring_oci",
    "mooring_guests",
];

/// Sends events to stderr: `-q` shows mooring's warnings only, the default
/// adds its notices, `-v` its debug detail, `-vv` every crate's. Other
/// crates stay quiet below `-vv`: what goes wrong in them reaches the
/// operator once, as mooring's own error (the Kubernetes client would
/// otherwise log each failed request a second time).
pub(crate) fn init(verbose: u8, quiet: bool) {
    let ours = |level: &str| {
        OURS.iter()
            .map(|krate| format!("{krate}={level}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let default = match (quiet, verbose) {
        (true, _) => format!("off,{}", ours("warn")),
        (false, 0) => format!("off,{}", ours("info")),
        (false, 1) => format!("off,{}", ours("debug")),
        (false, _) => "debug".to_owned(),
    };
    let filter = std::env::var("MOORING_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // A long wait's notices turn a spinner on a terminal: one line that
    // changes, not a line per poll. Piped, they stay plain lines.
    let spinner = std::io::stderr()
        .is_terminal()
        .then(|| SPINNER.get_or_init(Default::default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain { spinner })
        .try_init();
}

/// The spinner of the wait in progress, if any.
static SPINNER: std::sync::OnceLock<Mutex<Option<ProgressBar>>> = std::sync::OnceLock::new();

/// Clears the spinner of a wait, so what follows starts on a clean line.
pub(crate) fn finish() {
    if let Some(spinner) = SPINNER.get()
        && let Some(bar) = spinner.lock().ok().and_then(|mut s| s.take())
    {
        bar.finish_and_clear();
    }
}

/// The `message` of an event.
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// A notice that something is being waited for (a Secret, a lock).
fn is_wait(message: &str) -> bool {
    message.contains("waiting for ")
}

/// Reports at debug level (`-v`, or `MOORING_LOG=mooring::usage=debug`)
/// how long the command took and the most memory it held, which is how
/// the adversarial suite measures what a hostile case cost.
pub(crate) fn usage(started: std::time::Instant) {
    // The kernel's high-water mark of this process's resident memory; a
    // parent's rusage would count the memory of the process that forked us.
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    match peak {
        Some(kib) => tracing::debug!(
            target: "mooring::usage",
            "finished in {elapsed:.0} ms, peak memory {} MiB",
            kib / 1024
        ),
        None => tracing::debug!(target: "mooring::usage", "finished in {elapsed:.0} ms"),
    }
}

/// `mooring: message`, `mooring: warning: ...`, and for debug detail the
/// event's target, so a kube request reads as such; on a terminal, wait
/// notices go to the spinner instead.
struct Plain {
    spinner: Option<&'static Mutex<Option<ProgressBar>>>,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if let Some(spinner) = self.spinner {
            let mut message = Message::default();
            event.record(&mut message);
            if *meta.level() == Level::INFO && is_wait(&message.0) {
                if let Ok(mut spinner) = spinner.lock() {
                    let bar = spinner.get_or_insert_with(|| {
                        let bar = ProgressBar::new_spinner();
                        bar.enable_steady_tick(std::time::Duration::from_millis(120));
                        bar
                    });
                    bar.set_message(format!("mooring: {}", message.0));
                }
                return Ok(());
            }
            finish();
        }
        write!(writer, "mooring: ")?;
        match *meta.level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            Level::DEBUG | Level::TRACE => write!(writer, "{}: ", meta.target())?,
            Level::INFO => {}
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
