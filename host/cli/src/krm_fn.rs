//! `mooring fn`: a KRM function, ResourceList in and out.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use mooring_engine::bundle::MAX_FILE_BYTES;
use mooring_engine::session;

use crate::args::GlobalArgs;
use crate::exit::{Failure, failed};
use crate::output;

pub(crate) fn krm_function(global: &GlobalArgs) -> Result<(), Failure> {
    // The same bound as a bundle file: a hostile stream cannot take memory.
    let mut stdin = Vec::new();
    io::stdin()
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut stdin)
        .map_err(|e| failed(anyhow!(e).context("failed to read the ResourceList from stdin")))?;
    if stdin.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(anyhow!(
            "the ResourceList on stdin is over {} MiB, the most mooring reads; split the package",
            MAX_FILE_BYTES >> 20
        )));
    }
    let text = match String::from_utf8(stdin) {
        Ok(text) => text,
        Err(e) => {
            // Never answer with an empty stdout: kustomize reads that as
            // "delete every resource". Echo the input and fail.
            output::stdout(e.as_bytes())?;
            return Err(failed(anyhow!(
                "the ResourceList on stdin is not valid UTF-8"
            )));
        }
    };
    let runtime = global.runtime()?;
    let credentials = global.credentials();
    // A Kptfile's exec line is part of the package, so no flag approves
    // anything here: only the operator's policy, for the directory kpt
    // runs in.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let approvals = global.policy()?.approvals_for(&cwd);
    let answer = session::answer_resource_list(
        &runtime,
        &text,
        Path::new("."),
        &approvals,
        credentials.as_ref(),
    );
    if let Some(outcome) = &answer.outcome {
        output::summary(outcome, &mut io::stderr());
    }
    output::stdout(answer.stdout.as_bytes())?;
    match answer.failure {
        Some(why) => Err(failed(anyhow!(why))),
        None => Ok(()),
    }
}
