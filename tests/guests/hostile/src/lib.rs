//! Test fixture: misbehaves as `config.mode` says, bypassing the SDK's
//! safety nets so the host's own checks are what gets tested.

use mooring_guest::bindings::exports::mooring::step::run::Guest;
use mooring_guest::bindings::mooring::step::credentials::kubeconfig;
use mooring_guest::bindings::mooring::step::documents::DocumentSet;
use mooring_guest::bindings::mooring::step::log::{Level, log};
use mooring_guest::bindings::mooring::step::types::{Edit, Patch, Severity, StepResult};

struct Hostile;

fn info(message: String) -> StepResult {
    StepResult {
        severity: Severity::Info,
        message,
        document: None,
        field: None,
    }
}

/// Recurses until the wasm stack is exhausted; the buffer keeps each frame
/// large and stops the optimizer from turning this into a loop.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    std::hint::black_box(recurse(frame[7] + 1)) + 1
}

/// The values of credential-looking fields in JSON text.
fn secrets_in(json: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        (
                            "token" | "password" | "client-key-data",
                            serde_json::Value::String(s),
                        ) => found.push(s.clone()),
                        _ => walk(value, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(value) = serde_json::from_str(json) {
        walk(&value, &mut found);
    }
    found
}

fn set(doc: u32, pointer: &str, json: &str) -> Patch {
    Patch {
        doc,
        edit: Edit::Set((pointer.to_owned(), json.to_owned())),
    }
}

impl Guest for Hostile {
    fn run(documents: &DocumentSet, config: String) -> Result<Vec<StepResult>, String> {
        let config: serde_json::Value = serde_json::from_str(&config).map_err(|e| e.to_string())?;
        let mut results = Vec::new();
        match config["mode"].as_str().unwrap_or("echo") {
            "echo" => {}
            "refuse" => return Err("refusing on purpose".to_owned()),
            "remove-first" => documents.remove(0)?,
            "panic" => panic!("boom from guest"),
            "loop" => loop {
                std::hint::black_box(documents);
            },
            "alloc" => {
                let big = vec![1u8; 1 << 30];
                std::hint::black_box(&big);
            }
            "recurse" => {
                std::hint::black_box(recurse(0));
            }
            // Edits the host must refuse; the guest passes the refusal on.
            "bad-index" => documents.apply(&[set(999_999, "/kind", "\"X\"")])?,
            "bad-pointer" => documents.apply(&[set(0, "no-slash", "1")])?,
            "not-json" => documents.apply(&[set(0, "/data", "{not json")])?,
            "not-object" => documents.replace(0, "[1, 2]")?,
            "escape-path" => {
                documents.add("../outside.yaml", r#"{"kind":"Evil"}"#)?;
            }
            // A refused edit the guest ignores: still nothing may change.
            "ignore-refusal" => {
                let _ = documents.add("/etc/evil.yaml", r#"{"kind":"Evil"}"#);
                let _ = documents.apply(&[set(999_999, "/kind", "\"X\"")]);
            }
            // A pointer through a scalar, after an edit that went in: the
            // step must fail even though the guest returns.
            "through-scalar" => {
                let _ = documents.apply(&[set(0, "/through/x", "1"), set(0, "/through/x/y", "2")]);
            }
            "edit-anyway" => {
                let _ = documents.apply(&[set(0, "/metadata/labels/validator", "\"wrote\"")]);
            }
            "error-result" => results.push(StepResult {
                severity: Severity::Error,
                message: "policy violated".to_owned(),
                document: Some(0),
                field: Some("/metadata/name".to_owned()),
            }),
            "many-results" => {
                for i in 0..20_000 {
                    results.push(info(format!("result {i}")));
                }
            }
            "log-flood" => {
                for i in 0..5000 {
                    log(Level::Info, &format!("line {i}"), &[]);
                }
            }
            "print-flood" => {
                for i in 0..10_000 {
                    println!("stdout line {i}");
                    eprintln!("stderr line {i}");
                }
            }
            "probe-world" => {
                results.push(info(format!(
                    "read: {:?}",
                    std::fs::read_to_string("/etc/passwd").map_err(|e| e.kind())
                )));
                results.push(info(format!("env: {}", std::env::vars().count())));
                results.push(info(format!("clock: {:?}", std::time::SystemTime::now())));
                let hash = std::hash::BuildHasher::hash_one(
                    &std::collections::hash_map::RandomState::new(),
                    1u8,
                );
                results.push(info(format!("hash: {hash:x}")));
                results.push(info(format!(
                    "connect: {:?}",
                    std::net::TcpStream::connect("127.0.0.1:9").map_err(|e| e.kind())
                )));
            }
            // A gigabyte of documents, one mebibyte at a time.
            "huge-output" => {
                let filler = "x".repeat(1 << 20);
                for i in 0..1024 {
                    documents.add(
                        &format!("huge/{i}.yaml"),
                        &format!(r#"{{"kind":"Filler","data":"{filler}"}}"#),
                    )?;
                }
            }
            // Asks for credentials and repeats them everywhere it can: its
            // log (whole, and split across a key and its value), a result
            // and its field, a path the host will refuse and echo, its
            // stdout, and finally a panic message.
            "leak-credentials" => {
                let cluster = config["cluster"].as_str().unwrap_or("target-cluster");
                let answer = match kubeconfig(cluster) {
                    Ok(json) => json,
                    Err(denied) => denied,
                };
                log(
                    Level::Info,
                    &answer,
                    &[("kubeconfig".to_owned(), answer.clone())],
                );
                for secret in secrets_in(&answer) {
                    let (key, value) = secret.split_at(secret.len() / 2);
                    log(Level::Info, "split", &[(key.to_owned(), value.to_owned())]);
                    results.push(StepResult {
                        severity: Severity::Info,
                        message: "field".to_owned(),
                        document: None,
                        field: Some(secret.clone()),
                    });
                    if let Err(refused) = documents.add(&format!("{secret}.yaml"), "{}") {
                        results.push(info(refused));
                    }
                }
                println!("{answer}");
                results.push(info(answer.clone()));
                if config["panic"].as_bool() == Some(true) {
                    panic!("leaking {answer}");
                }
            }
            // Without a grant, reads every document it was given and
            // repeats any credential-looking value: in its log, a result,
            // and a label on another document.
            "read-documents" => {
                let headers = documents.headers();
                let mut seen = Vec::new();
                for index in 0..headers.len() as u32 {
                    if let Ok(content) = documents.content(index) {
                        seen.extend(secrets_in(&content));
                    }
                }
                for value in &seen {
                    log(Level::Info, value, &[]);
                    results.push(info(value.clone()));
                }
                if let Some(first) = seen.first() {
                    documents.apply(&[set(
                        0,
                        "/metadata/labels/leak",
                        &serde_json::Value::from(first.clone()).to_string(),
                    )])?;
                }
            }
            // Writes a Pipeline that would grant itself credentials next run.
            "write-pipeline" => {
                documents.add(
                    "pipeline-next.yaml",
                    r#"{"apiVersion":"mooring.dev/v1alpha1","kind":"Pipeline","metadata":{"name":"next"},"steps":[{"guest":"inject-credentials","grants":{"credentials":["target-cluster"]}}]}"#,
                )?;
            }
            // Tries to drive the operator's terminal.
            "escape-sequences" => {
                log(Level::Warn, "\u{1b}]0;pwned\u{7}\u{1b}[31mred", &[]);
                results.push(info("\u{1b}[2J cleared".to_owned()));
            }
            // Ends its output with the words the host looks for, then aborts.
            "panicked-at" => {
                eprint!("panicked at");
                std::process::abort();
            }
            // As many results as `count` says, each naming the first document.
            "many-references" => {
                let count = config["count"].as_u64().unwrap_or(500_000) as usize;
                results.reserve_exact(count);
                for _ in 0..count {
                    results.push(StepResult {
                        severity: Severity::Info,
                        message: String::new(),
                        document: Some(0),
                        field: None,
                    });
                }
            }
            // A document nested `depth` arrays deep.
            "deep-output" => {
                let depth = config["depth"].as_u64().unwrap_or(1_000_000) as usize;
                let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                documents.replace(0, &format!(r#"{{"kind":"Deep","data":{nested}}}"#))?;
            }
            // A document of `count` empty lists: little text, many nodes.
            "wide-output" => {
                let count = config["count"].as_u64().unwrap_or(10_000_000) as usize;
                let mut json = String::with_capacity(3 * count + 64);
                json.push_str(r#"{"kind":"Wide","data":["#);
                for i in 0..count {
                    json.push_str(if i == 0 { "[]" } else { ",[]" });
                }
                json.push_str("]}");
                documents.replace(0, &json)?;
            }
            // `count` edits to one document, each adding a label.
            "many-edits" => {
                let count = config["count"].as_u64().unwrap_or(100_000) as usize;
                let patches: Vec<Patch> = (0..count)
                    .map(|i| set(0, &format!("/metadata/labels/k{i}"), "\"v\""))
                    .collect();
                documents.apply(&patches)?;
            }
            // Log lines far over the bound in their fields.
            "fat-log" => {
                let value = "v".repeat(16 << 10);
                let fields: Vec<(String, String)> =
                    (0..32).map(|i| (format!("f{i}"), value.clone())).collect();
                for _ in 0..1100 {
                    log(Level::Info, &value, &fields);
                }
            }
            // Metadata of the wrong shapes, which the host must not trip on.
            "bad-metadata" => documents.apply(&[
                set(0, "/metadata/annotations", "\"not a map\""),
                set(0, "/metadata/labels", "[1, 2]"),
            ])?,
            other => return Err(format!("unknown mode {other:?}")),
        }
        Ok(results)
    }
}

impl mooring_guest::bindings::exports::mooring::step::describe::Guest for Hostile {
    fn describe() -> mooring_guest::bindings::mooring::step::types::Description {
        mooring_guest::bindings::mooring::step::types::Description {
            summary: "misbehaves as config.mode says".to_owned(),
            config_schema: String::new(),
            example: String::new(),
        }
    }

    fn validate_config(_: String) -> Result<(), String> {
        Ok(())
    }
}

mooring_guest::bindings::__export_world!(Hostile);
