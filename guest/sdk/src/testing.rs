//! Test a guest from a plain `cargo test` in its own crate, two ways.
//!
//! Natively, in-process, with [`Fixture`]: the step runs as an ordinary
//! function over documents kept in memory and edited exactly as the host
//! edits them (the same pointer and patch code), so unit tests are fast and
//! need no wasm toolchain.
//!
//! ```no_run
//! # use mooring_guest::prelude::*;
//! # fn my_step(_: Map<String, Value>, _: &Documents, _: &mut Results) -> Result<(), Error> { Ok(()) }
//! use mooring_guest::testing::Fixture;
//!
//! let run = Fixture::new()
//!     .doc("cm.yaml", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}))
//!     .run(my_step, json!({}))
//!     .unwrap();
//! assert!(run.get("ConfigMap", "a").is_some());
//! ```
//!
//! For real, with [`TestGuest`]: build the crate for `wasm32-wasip2`, run
//! it as the one step of a pipeline over a fixture bundle through the
//! `mooring` binary (`$MOORING_BIN`, else `mooring` on `PATH`), and read
//! what it wrote. Nothing is mocked, so what passes there passes under
//! `mooring run`.
//!
//! ```no_run
//! use mooring_guest::Object;
//! use mooring_guest::testing::TestGuest;
//!
//! let guest = TestGuest::build(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let run = guest.run("tests/fixture", mooring_guest::json!({"team": "a"})).unwrap();
//! assert!(run.succeeded, "{}", run.summary);
//! assert_eq!(run.get("ConfigMap", "a").unwrap().label("team"), Some("a"));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use mooring_model::Object;
use mooring_model::kubeconfig::Kubeconfig;
use serde_json::{Map, Value};

use crate::documents::{Backend, Header};
use crate::{Error, StepFn, StepResult};
use mooring_model::pointer::{self, Edit};

/// A document of a test's result: where it lives and what it holds. Read it
/// through [`Object`] (`kind()`, `name()`, `label(..)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Bundle-relative path of its file.
    pub path: String,
    /// The document.
    pub content: Map<String, Value>,
}

impl Object for Doc {
    fn content(&self) -> &Map<String, Value> {
        &self.content
    }
}

thread_local! {
    /// What `credentials::kubeconfig` answers in a native test.
    pub(crate) static GRANTED: RefCell<BTreeMap<String, Kubeconfig>> = const { RefCell::new(BTreeMap::new()) };
}

/// Documents (and granted credentials) to run a step over natively.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    docs: Vec<(String, Map<String, Value>)>,
    credentials: BTreeMap<String, Kubeconfig>,
}

/// What a native run did.
#[derive(Debug)]
pub struct Outcome {
    /// The documents afterwards: removed ones gone, added ones last.
    pub documents: Vec<Doc>,
    /// What the step reported.
    pub results: Vec<StepResult>,
}

impl Outcome {
    /// The resulting document with this `kind` and `metadata.name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Doc> {
        self.documents
            .iter()
            .find(|d| d.kind() == kind && d.name() == name)
    }

    /// The results' messages, in order.
    pub fn messages(&self) -> Vec<&str> {
        self.results.iter().map(StepResult::message).collect()
    }
}

impl Fixture {
    /// No documents yet.
    pub fn new() -> Self {
        Fixture::default()
    }

    /// Adds a document at `path`; `content` must be a JSON object.
    pub fn doc(mut self, path: &str, content: Value) -> Self {
        let content = match content {
            Value::Object(map) => map,
            other => panic!("a fixture document must be an object, not {other}"),
        };
        self.docs.push((path.to_owned(), content));
        self
    }

    /// Grants the step `cluster`'s kubeconfig.
    pub fn credential(mut self, cluster: &str, kubeconfig: Kubeconfig) -> Self {
        self.credentials.insert(cluster.to_owned(), kubeconfig);
        self
    }

    /// Runs `step` with `config` over the documents, in this process.
    pub fn run<C: serde::de::DeserializeOwned>(
        &self,
        step: StepFn<C>,
        config: Value,
    ) -> Result<Outcome, Error> {
        let memory = Memory {
            docs: RefCell::new(
                self.docs
                    .iter()
                    .map(|(path, content)| (path.clone(), content.clone(), false))
                    .collect(),
            ),
        };
        GRANTED.with(|granted| *granted.borrow_mut() = self.credentials.clone());
        let results =
            crate::__private::run_over(step, &memory, &config.to_string()).map_err(Error::msg)?;
        let documents: Vec<Doc> = memory
            .docs
            .into_inner()
            .into_iter()
            .filter(|(_, _, removed)| !removed)
            .map(|(path, content, _)| Doc { path, content })
            .collect();
        // The host refuses a step that leaves a document it touched in a
        // shape Kubernetes refuses; so does the fixture.
        for doc in &documents {
            let untouched = self
                .docs
                .iter()
                .any(|(path, content)| *path == doc.path && *content == doc.content);
            if let Some(problem) = doc.content.shape_problem().filter(|_| !untouched) {
                return Err(Error::msg(format!(
                    "the step left {} with {problem}; mooring refuses that",
                    doc.path
                )));
            }
        }
        Ok(Outcome {
            documents,
            results: results.iter().cloned().collect(),
        })
    }
}

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
    pub documents: Vec<Doc>,
}

impl TestRun {
    /// The resulting document with this `kind` and `metadata.name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Doc> {
        self.documents
            .iter()
            .find(|d| d.kind() == kind && d.name() == name)
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
            .arg("--output-dir")
            .arg(&output_dir)
            // The operator here is the test: it approves the guest it built.
            .arg("--allow-guests")
            .arg(&self.wasm)
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
fn read_bundle(root: &Path) -> Result<Vec<Doc>, Error> {
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
            Value::Object(content) => Some(Doc {
                path: relative.clone(),
                content,
            }),
            _ => None,
        }));
    }
    Ok(documents)
}

/// One document in memory: its path, its content, and whether the step
/// removed it.
type MemoryDocument = (String, Map<String, Value>, bool);

/// Documents in memory, edited the way the host edits them: what a guest's
/// native unit tests run against.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub(crate) docs: RefCell<Vec<MemoryDocument>>,
}

impl Memory {
    fn with<T>(
        &self,
        doc: u32,
        f: impl FnOnce(&mut MemoryDocument) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut docs = self.docs.borrow_mut();
        match docs.get_mut(doc as usize) {
            Some(entry) if !entry.2 => f(entry),
            Some(_) => Err(format!("document {doc} was removed by this step")),
            None => Err(format!("there is no document {doc}")),
        }
    }
}

fn object(json: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("a document must be a JSON object".to_owned()),
        Err(e) => Err(format!("not a JSON value: {e}")),
    }
}

impl Backend for Memory {
    fn headers(&self) -> Vec<Header> {
        self.docs
            .borrow()
            .iter()
            .map(|(path, content, _)| Header::of(path, content))
            .collect()
    }

    fn get(&self, doc: u32, pointer: &str) -> Result<Option<String>, String> {
        self.with(doc, |(_, content, _)| {
            let value = pointer::get(content, pointer).map_err(|e| e.to_string())?;
            Ok(value.map(Value::to_string))
        })
    }

    fn content(&self, doc: u32) -> Result<String, String> {
        self.with(doc, |(_, content, _)| {
            Ok(Value::Object(content.clone()).to_string())
        })
    }

    fn apply(&self, patches: &[(u32, Edit)]) -> Result<(), String> {
        for (doc, edit) in patches {
            self.with(*doc, |(_, content, _)| {
                pointer::apply(content, edit)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
        }
        Ok(())
    }

    fn replace(&self, doc: u32, json: &str) -> Result<(), String> {
        let new = object(json)?;
        self.with(doc, |(_, content, _)| {
            *content = new;
            Ok(())
        })
    }

    fn remove(&self, doc: u32) -> Result<(), String> {
        self.with(doc, |entry| {
            entry.2 = true;
            Ok(())
        })
    }

    fn move_to(&self, doc: u32, path: &str) -> Result<(), String> {
        self.with(doc, |entry| {
            entry.0 = path.to_owned();
            Ok(())
        })
    }

    fn add(&self, path: &str, json: &str) -> Result<u32, String> {
        let content = object(json)?;
        let mut docs = self.docs.borrow_mut();
        docs.push((path.to_owned(), content, false));
        Ok(docs.len() as u32 - 1)
    }
}
