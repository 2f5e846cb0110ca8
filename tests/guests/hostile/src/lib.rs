//! Test fixture: misbehaves as `config.mode` says, bypassing the SDK's
//! safety nets so the host's own checks are what gets tested.

use mooring_guest::bindings::exports::mooring::step::run::Guest;
use mooring_guest::bindings::mooring::step::credentials::kubeconfig;
use mooring_guest::bindings::mooring::step::log::{Level, log};
use mooring_guest::bindings::mooring::step::types::{Document, Output, Severity, StepResult};

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

impl Guest for Hostile {
    fn run(mut documents: Vec<Document>, config: String) -> Result<Output, String> {
        let config: serde_json::Value = serde_json::from_str(&config).map_err(|e| e.to_string())?;
        let mut results = Vec::new();
        match config["mode"].as_str().unwrap_or("echo") {
            "echo" => {}
            "refuse" => return Err("refusing on purpose".to_owned()),
            "panic" => panic!("boom from guest"),
            "loop" => loop {
                std::hint::black_box(&documents);
            },
            "alloc" => {
                let big = vec![1u8; 1 << 30];
                std::hint::black_box(&big);
            }
            "recurse" => {
                std::hint::black_box(recurse(0));
            }
            "unknown-id" => documents.push(Document {
                id: Some("999999".to_owned()),
                path: "x.yaml".to_owned(),
                content: "{}".to_owned(),
            }),
            "duplicate-id" => {
                let first = documents.first().cloned().ok_or("no documents")?;
                documents.push(first);
            }
            "not-json" => documents[0].content = "{not json".to_owned(),
            "not-object" => documents[0].content = "[1, 2]".to_owned(),
            "escape-path" => documents.push(Document {
                id: None,
                path: "../outside.yaml".to_owned(),
                content: r#"{"kind":"Evil"}"#.to_owned(),
            }),
            "error-result" => results.push(StepResult {
                severity: Severity::Error,
                message: "policy violated".to_owned(),
                document: documents.first().and_then(|d| d.id.clone()),
                field: Some("metadata.name".to_owned()),
            }),
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
                    documents.push(Document {
                        id: None,
                        path: format!("huge/{i}.yaml"),
                        content: format!(r#"{{"kind":"Filler","data":"{filler}"}}"#),
                    });
                }
            }
            // Asks for credentials and repeats them everywhere it can: its
            // log, a result, its stdout, and finally a panic message.
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
                println!("{answer}");
                results.push(info(answer.clone()));
                if config["panic"].as_bool() == Some(true) {
                    panic!("leaking {answer}");
                }
            }
            other => return Err(format!("unknown mode {other:?}")),
        }
        Ok(Output { documents, results })
    }
}

mooring_guest::bindings::__export_world!(Hostile);
