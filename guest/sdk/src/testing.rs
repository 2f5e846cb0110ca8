//! Test a guest from a plain `cargo test` in its own crate, through the
//! real `mooring` runtime: build the crate for `wasm32-wasip2`, run it as the
//! one step of a pipeline over a fixture bundle, read what it wrote.
//!
//! ```no_run
//! use mooring_guest::prelude::*;
//! use mooring_guest::testing::TestGuest;
//!
//! let guest = TestGuest::build(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let run = guest.run("tests/fixture", mooring_guest::json!({"team": "a"})).unwrap();
//! assert!(run.succeeded, "{}", run.summary);
//! assert_eq!(run.get("ConfigMap", "a").unwrap().label("team"), Some("a"));
//! ```
//!
//! The runtime is the `mooring` binary: `$MOORING_BIN` when set, else
//! `mooring` on `PATH`. Nothing is mocked, so what passes here passes under
//! `mooring run`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::{Document, Error};

const TARGET: &str = "wasm32-wasip2";

/// A guest crate built as a component, ready to run.
#[derive(Debug, Clone)]
pub struct TestGuest {
    wasm: PathBuf,
    work: PathBuf,
}

/// What one run of a guest did.
#[derive(Debug)]
pub struct TestRun {
    /// True when `mooring run` succeeded.
    pub succeeded: bool,
    /// What `mooring run` printed on stderr: the step's summary line, its
    /// log, its results, or the error.
    pub summary: String,
    /// Every document of the resulting bundle (empty when the run failed),
    /// each with its bundle-relative path.
    pub documents: Vec<Document>,
}

impl TestRun {
    /// The resulting document with this `kind` and `metadata.name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Document> {
        self.documents.iter().find(|d| d.is(kind, name))
    }
}

impl TestGuest {
    /// Builds the guest crate at `manifest_dir` (pass
    /// `env!("CARGO_MANIFEST_DIR")`) with `cargo build --target
    /// wasm32-wasip2 --release`, in a directory of its own below the
    /// target directory (`$CARGO_TARGET_DIR` or `target/`) so it never waits
    /// on the `cargo test` that runs it.
    pub fn build(manifest_dir: impl AsRef<Path>) -> Result<Self, Error> {
        let manifest_dir = manifest_dir.as_ref();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir.join("target"));
        let work = target.join("mooring-test");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let output = Command::new(cargo)
            .current_dir(manifest_dir)
            .args(["build", "--release", "--target", TARGET])
            .args(["--message-format", "json-render-diagnostics"])
            .arg("--target-dir")
            .arg(work.join("build"))
            // The test build's flags and wrappers are not for wasm.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("RUSTC_WRAPPER")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| Error::msg(format!("failed to run cargo: {e}")))?;
        if !output.status.success() {
            return Err(Error::msg(format!(
                "`cargo build --target {TARGET} --release` failed in {} (errors above; \
                 if the target is missing, run `rustup target add {TARGET}`)",
                manifest_dir.display()
            )));
        }
        let wasm = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .flat_map(|message| match &message["filenames"] {
                Value::Array(files) => files.clone(),
                _ => Vec::new(),
            })
            .filter_map(|file| file.as_str().map(PathBuf::from))
            .find(|file| file.extension().is_some_and(|e| e == "wasm"))
            .ok_or_else(|| {
                Error::msg(format!(
                    "cargo built no .wasm in {}; is the crate a `cdylib`?",
                    manifest_dir.display()
                ))
            })?;
        Ok(TestGuest { wasm, work })
    }

    /// The built component.
    pub fn wasm(&self) -> &Path {
        &self.wasm
    }

    /// Runs the guest as the one step of a pipeline over a copy of
    /// `bundle`, with `config` as its configuration; the bundle itself is
    /// never changed.
    pub fn run(&self, bundle: impl AsRef<Path>, config: Value) -> Result<TestRun, Error> {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let dir = self.work.join(format!(
            "run-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        // JSON is YAML, and needs no YAML writer here.
        let pipeline = serde_json::json!({
            "apiVersion": "mooring.dev/v1alpha1",
            "kind": "Pipeline",
            "metadata": {"name": "test"},
            "steps": [{"name": "under-test", "guest": self.wasm, "config": config}],
        });
        let pipeline_file = dir.join("pipeline.yaml");
        fs::write(&pipeline_file, pipeline.to_string())?;
        let output_dir = dir.join("out");

        let binary = mooring_binary()?;
        let output = Command::new(&binary)
            .arg("--cache-dir")
            .arg(self.work.join("cache"))
            .arg("run")
            .arg(bundle.as_ref())
            .arg("--pipeline")
            .arg(&pipeline_file)
            .arg("--output")
            .arg(&output_dir)
            .output()
            .map_err(|e| Error::msg(format!("failed to run {}: {e}", binary.display())))?;
        let succeeded = output.status.success();
        let documents = if succeeded {
            read_bundle(&output_dir)?
        } else {
            Vec::new()
        };
        Ok(TestRun {
            succeeded,
            summary: String::from_utf8_lossy(&output.stderr).into_owned(),
            documents,
        })
    }
}

fn mooring_binary() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os("MOORING_BIN") {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("mooring"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::msg(
                "no `mooring` binary: set MOORING_BIN to one, or install it \
                 with `cargo install --path host` from the mooring repository",
            )
        })
}

/// Every document in the YAML files below `root`, in path order.
fn read_bundle(root: &Path) -> Result<Vec<Document>, Error> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&file)?;
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .map_err(|e| Error::msg(format!("{relative}: {e}")))?;
        documents.extend(values.into_iter().filter_map(|value| match value {
            Value::Object(content) => Some(Document::new(relative.clone(), content)),
            _ => None,
        }));
    }
    Ok(documents)
}
