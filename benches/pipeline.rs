//! In-process benchmarks: the sandbox's price per document, and what a
//! guest costs to compile versus to load from the cache.
//!
//! `cargo bench --bench pipeline`; `benches/compare.sh` measures whole
//! `mooring run` invocations against kpt and prints the README's table.

// A benchmark whose setup fails has nothing to measure: panicking is right.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use divan::Bencher;
use mooring_engine::bundle::Bundle;
use mooring_engine::document::Document;
use mooring_engine::execute::{self, NoCredentials};
use mooring_engine::guests;
use mooring_engine::pipeline::{GuestRef, Pipeline};
use mooring_engine::runtime::{Runtime, RuntimeOptions};
use mooring_model::pointer::{self, Edit};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[10, 1_000, 10_000];

/// `count` ConfigMaps in files of 100, loaded once as a bundle.
fn documents(count: usize) -> Vec<Document> {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), count);
    Bundle::load(dir.path()).unwrap().documents().to_vec()
}

fn write_bundle(dir: &Path, count: usize) {
    for file in 0..count.div_ceil(100) {
        let text: String = (file * 100..((file + 1) * 100).min(count))
            .map(|i| {
                format!(
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: site\ndata:\n  index: \"{i}\"\n  note: a document of a generated bundle\n"
                )
            })
            .collect();
        std::fs::write(dir.join(format!("docs-{file:03}.yaml")), text).unwrap();
    }
}

fn pipeline(steps: usize) -> Pipeline {
    let steps: Vec<Value> = (0..steps)
        .map(|i| json!({"name": format!("label-{i}"), "guest": "set-metadata", "config": {"labels": {format!("step-{i}"): "done"}}}))
        .collect();
    let value = json!({"apiVersion": "mooring.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": "bench"}, "steps": steps});
    Pipeline::from_value("bench", value, Path::new(".")).unwrap()
}

fn runtime() -> Runtime {
    let cache = std::env::temp_dir().join("mooring-bench-cache");
    Runtime::new(RuntimeOptions {
        cache: Some(cache),
        registry: None,
    })
    .unwrap()
}

/// The `set-metadata` transform written in the host, through the same
/// edit the host applies for the guest: what the sandbox is measured
/// against.
fn label_natively(mut docs: Vec<Document>) -> Vec<Document> {
    let edit = Edit::Set("/metadata/labels/step-0".to_owned(), json!("done"));
    for doc in &mut docs {
        if pointer::apply(&mut doc.content, &edit).unwrap() {
            doc.modified = true;
        }
    }
    docs
}

#[divan::bench(args = SIZES)]
fn transform_native(bencher: Bencher, count: usize) {
    let docs = documents(count);
    bencher.bench_local(|| label_natively(docs.clone()));
}

#[divan::bench(args = SIZES)]
fn transform_wasm(bencher: Bencher, count: usize) {
    let docs = documents(count);
    let runtime = runtime();
    let pipeline = pipeline(1);
    bencher
        .bench_local(|| execute::run(&runtime, &pipeline, docs.clone(), &NoCredentials).unwrap());
}

#[divan::bench(args = SIZES)]
fn three_steps_wasm(bencher: Bencher, count: usize) {
    let docs = documents(count);
    let runtime = runtime();
    let pipeline = pipeline(3);
    bencher
        .bench_local(|| execute::run(&runtime, &pipeline, docs.clone(), &NoCredentials).unwrap());
}

fn set_metadata() -> Vec<u8> {
    guests::fetch(&GuestRef::Builtin("set-metadata".to_owned()), None)
        .unwrap()
        .into_owned()
}

#[divan::bench(sample_count = 10)]
fn guest_compile(bencher: Bencher) {
    let wasm = set_metadata();
    bencher
        .with_inputs(|| {
            Runtime::new(RuntimeOptions {
                cache: None,
                registry: None,
            })
            .unwrap()
        })
        .bench_local_values(|runtime| runtime.load("set-metadata", &wasm).map(drop).unwrap());
}

#[divan::bench]
fn guest_load_from_cache(bencher: Bencher) {
    let wasm = set_metadata();
    drop(runtime().load("set-metadata", &wasm).unwrap());
    bencher
        .with_inputs(runtime)
        .bench_local_values(|runtime| runtime.load("set-metadata", &wasm).map(drop).unwrap());
}

#[divan::bench(args = SIZES)]
fn load_bundle(bencher: Bencher, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), count);
    bencher.bench_local(|| Bundle::load(dir.path()).unwrap());
}

/// Writing a changed document: its original text edited in place.
#[divan::bench(args = SIZES)]
fn render_changed(bencher: Bencher, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), count);
    let bundle = Bundle::load(dir.path()).unwrap();
    let changed = label_natively(bundle.documents().to_vec());
    bencher.bench_local(|| bundle.stream(&changed));
}
