//! `mooring fn`: a KRM function, ResourceList in and out.

use std::io::{self, Read};
use std::path::Path;

use anyhow::anyhow;

use super::{
    Failure, GlobalArgs, credentials_for, fail_on_error_results, failed, print_summary, runtime,
    write_stdout, write_stdout_bytes,
};
use crate::execute::{self, Severity, StepResult};
use crate::krm;

pub(super) fn krm_function(global: &GlobalArgs) -> Result<(), Failure> {
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
    fail_on_error_results(&outcome, "")?;
    Ok(())
}
