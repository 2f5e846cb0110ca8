//! Exit codes: what each failure means for the operator's script.

use mooring_engine::session;
use mooring_kube::lifecycle::LifecycleError;

/// What `mooring run`'s help says about its exit status.
pub(crate) const RUN_EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the run failed: a step failed (trap, timeout, memory, invalid output),
     a step reported an error result (or, with --strict, a warning), or the
     result could not be written; the bundle is left untouched
  2  usage or input error: bad flags, an unreadable bundle or pipeline, an
     invalid step config, an unknown, unapproved or mismatched guest
  3  with --diff: the run succeeded and would change files (shown on stdout)";

/// What `mooring fn`'s help says about its exit status.
pub(crate) const FN_EXIT_CODES: &str = "\
Exit codes:
  0  success: the ResourceList on stdout carries the results
  1  a step failed or reported an error result, or the input is not a
     ResourceList mooring can answer; stdout still carries the results (or
     the input, unchanged), so kpt and kustomize show why
  2  usage error: bad flags, an unreadable policy or cache";

/// What `mooring kubeconfig`'s help says about its exit status.
pub(crate) const KUBECONFIG_EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the work failed: the API server could not be reached or refused, the
     Secret never appeared before the timeout, or a file could not be
     written (nothing is half-written)
  2  usage or input error: bad flags, an unknown cluster, an invalid
     ClusterMap, bundle or kubeconfig
  4  `get` of a whole site: some clusters could not be resolved; the others
     are written, and stderr names each one left out and why";

/// The exit code of a site-wide `kubeconfig get` that left clusters out.
pub(crate) const PARTIAL: u8 = 4;

/// Exit 4: a site-wide `get` wrote what it could and left `clusters` out.
pub(crate) fn partial(clusters: usize) -> Failure {
    Failure {
        code: PARTIAL,
        error: anyhow::anyhow!(
            "{clusters} cluster(s) left out (named above); the others were written"
        ),
    }
}

/// What `mooring inspect`'s help says about its exit status.
pub(crate) const INSPECT_EXIT_CODES: &str = "\
Exit codes:
  0  mooring runs the component
  2  the file is not a component mooring runs (the reason is printed),
     or it cannot be read";

/// The exit code of a `--diff` run that would change files: not a failure.
pub(crate) const WOULD_CHANGE: u8 = 3;

/// An error and the exit code it maps to.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

/// Exit 2: the operator's input is wrong.
pub(crate) fn input(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

/// Exit 3: a `--diff` run found `files` file(s) it would change.
pub(crate) fn would_change(files: usize) -> Failure {
    Failure {
        code: WOULD_CHANGE,
        error: anyhow::anyhow!("{files} file(s) would change (shown above); nothing was written"),
    }
}

/// Exit 1: the work failed.
pub(crate) fn failed(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 1,
        error: error.into(),
    }
}

impl From<session::RunError> for Failure {
    fn from(error: session::RunError) -> Self {
        if error.is_input_error() {
            input(error)
        } else {
            failed(error)
        }
    }
}

impl From<LifecycleError> for Failure {
    fn from(error: LifecycleError) -> Self {
        if error.is_input_error() {
            input(error)
        } else {
            failed(error)
        }
    }
}
