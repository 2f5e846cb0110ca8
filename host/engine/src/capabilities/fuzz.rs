//! Property tests of everything a guest hands the host: random calls on a
//! document set, random results and random log lines, in any order and
//! with malformed arguments. Whatever a guest sends, the host must not
//! panic, must keep to its bounds, and must write exactly what the step
//! left: what it did not change keeps its bytes, and what the host writes
//! reads back as the documents it holds.

use std::fs;

use proptest::prelude::*;
use wasmtime::component::Resource;

use super::HostState;
use super::credentials::Credentials;
use super::documents::DocumentSet;
use super::log::{MAX_LINE_BYTES, MAX_LINES};
use crate::bindings::mooring::step::documents::HostDocumentSet;
use crate::bindings::mooring::step::log::{Host as _, Level};
use crate::bindings::mooring::step::types::{Edit, Patch, Severity, StepResult};
use crate::bundle::Bundle;
use crate::execute::{MAX_MESSAGE_BYTES, MAX_RESULTS, step_results};
use crate::secrets::Secrets;
use crate::yaml;

/// A bundle with what edits in place tend to trip on: comments, flow
/// mappings, anchors, block scalars, several documents per file, a
/// credential document and a file without a final newline.
const FILES: &[(&str, &str)] = &[
    (
        "cluster.yaml",
        "# the site's cluster\napiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: target-cluster # kept\n  labels: {tier: \"1\"}\nspec:\n  mode: 0644\n  list: [a, b]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  script: |\n    echo hi\n  base: &b {x: 1}\n  copy: *b\n",
    ),
    (
        "kubeconfig.yaml",
        "apiVersion: airshipit.org/v1alpha1\nkind: KubeConfig\nmetadata:\n  name: default\nconfig:\n  users:\n  - name: admin\n    user: {token: s3cr3t-t0ken-value}\n",
    ),
    (
        "nested/last.yml",
        "kind: Thing\nmetadata:\n  name: x\nitems: []",
    ),
];

/// A pointer, usually one that names something in [`FILES`].
fn pointer() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("/metadata/labels/app".to_owned()),
        Just("/metadata/name".to_owned()),
        Just("/metadata/annotations".to_owned()),
        Just("/spec/list/0".to_owned()),
        Just("/spec/list/-".to_owned()),
        Just("/spec/list/9".to_owned()),
        Just("/data/base/x".to_owned()),
        Just("/config/users/0/user/token".to_owned()),
        Just("/a~1b/~0c".to_owned()),
        Just("/~2".to_owned()),
        Just("metadata".to_owned()),
        "(/[a-z0-9~-]{0,4}){0,3}",
    ]
}

/// JSON text, usually well formed, sometimes not.
fn json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1e400".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        "\"[a-z0-9 :#'\\\\\n-]{0,8}\"",
        Just("\"<redacted>\"".to_owned()),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{1,4}", inner), 0..4).prop_map(|v| {
                let entries: Vec<String> = v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
    });
    prop_oneof![
        8 => value,
        1 => Just(r#"{"metadata":{"annotations":"not a map"}}"#.to_owned()),
        1 => Just(r#"{"apiVersion":"mooring.dev/v1alpha1","kind":"Pipeline"}"#.to_owned()),
        1 => "[\\[\\]{}\":,a-z0-9 ]{0,16}",
    ]
}

/// A file path, usually one a step may write.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("cluster.yaml".to_owned()),
        Just("nested/last.yml".to_owned()),
        Just("new/added.yaml".to_owned()),
        Just("../escape.yaml".to_owned()),
        Just("/abs.yaml".to_owned()),
        Just("kustomization.txt".to_owned()),
        "[a-z./]{0,10}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (pointer(), json()).prop_map(Edit::Set),
        pointer().prop_map(Edit::Remove),
        (pointer(), json()).prop_map(Edit::Merge),
    ]
}

/// Document indices: the four loaded, the ones a step may add, and far out.
fn doc() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..8, 1 => Just(u32::MAX)]
}

/// One call a guest can make on its document set.
#[derive(Debug, Clone)]
enum Call {
    Headers,
    Get(u32, String),
    Content(u32),
    Apply(Vec<(u32, Edit)>),
    Replace(u32, String),
    Remove(u32),
    MoveTo(u32, String),
    Add(String, String),
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        1 => Just(Call::Headers),
        2 => (doc(), pointer()).prop_map(|(d, p)| Call::Get(d, p)),
        1 => doc().prop_map(Call::Content),
        8 => prop::collection::vec((doc(), edit()), 1..3).prop_map(Call::Apply),
        1 => (doc(), json()).prop_map(|(d, j)| Call::Replace(d, j)),
        1 => doc().prop_map(Call::Remove),
        1 => (doc(), path()).prop_map(|(d, p)| Call::MoveTo(d, p)),
        2 => (path(), json()).prop_map(|(p, j)| Call::Add(p, j)),
    ]
}

fn result() -> impl Strategy<Value = StepResult> {
    (
        prop_oneof![
            Just(Severity::Error),
            Just(Severity::Warning),
            Just(Severity::Info)
        ],
        "[ -~éü😀\\x1b\\n]{0,64}",
        prop::option::of(doc()),
        prop::option::of(pointer()),
    )
        .prop_map(|(severity, message, document, field)| StepResult {
            severity,
            message,
            document,
            field,
        })
}

/// A log line: a level, a message and fields, some long enough to be cut.
fn log_line() -> impl Strategy<Value = (Level, String, Vec<(String, String)>)> {
    (
        prop_oneof![
            Just(Level::Debug),
            Just(Level::Info),
            Just(Level::Warn),
            Just(Level::Error)
        ],
        prop_oneof![3 => "[ -~éü😀\\x1b\\n]{0,32}", 1 => (2000..2100usize).prop_map(|n| "é".repeat(n))],
        prop::collection::vec(
            (
                "[a-z=]{0,6}",
                prop_oneof![
                    "[ -~éü😀\\x1b\\n]{0,16}",
                    (1500..1600usize).prop_map(|n| "ü".repeat(n))
                ],
            ),
            0..4,
        ),
    )
}

fn bundle() -> (tempfile::TempDir, Bundle) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in FILES {
        let file = dir.path().join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, text).unwrap();
    }
    let bundle = Bundle::load(dir.path()).unwrap();
    (dir, bundle)
}

/// Makes each call on the set at `rep`, as a guest would.
fn run_calls(state: &mut HostState, rep: u32, calls: Vec<Call>) {
    let set = || Resource::<DocumentSet>::new_borrow(rep);
    for call in calls {
        // Errors are answers a guest gets; only a panic would be a finding.
        match call {
            Call::Headers => drop(state.headers(set())),
            Call::Get(d, p) => drop(state.get(set(), d, p)),
            Call::Content(d) => drop(state.content(set(), d)),
            Call::Apply(edits) => {
                let patches = edits
                    .into_iter()
                    .map(|(doc, edit)| Patch { doc, edit })
                    .collect();
                drop(state.apply(set(), patches));
            }
            Call::Replace(d, j) => drop(state.replace(set(), d, j)),
            Call::Remove(d) => drop(state.remove(set(), d)),
            Call::MoveTo(d, p) => drop(state.move_to(set(), d, p)),
            Call::Add(p, j) => drop(state.add(set(), p, j)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Any calls: no panic; a step the host accepts is written so that it
    /// reads back as exactly the documents the host holds, and a file none
    /// of whose documents changed is not written at all.
    #[test]
    fn what_the_host_accepts_reads_back_as_what_it_holds(
        calls in prop::collection::vec(call(), 0..8),
        budget in prop_oneof![4 => Just(1u64 << 20), 1 => 0u64..2048],
        read_only in prop::bool::weighted(0.2),
    ) {
        let (_dir, mut bundle) = bundle();
        let docs = bundle.take_documents();
        let view: Vec<usize> = (0..docs.len()).collect();
        let next_id = docs.len() as u64;
        let validator = read_only.then(|| "check".to_owned());
        let set = DocumentSet::new(docs, view, next_id, budget, validator);
        let mut state = HostState::new(1 << 20, Credentials::default());
        let handle = state.table.push(set).unwrap();
        let rep = handle.rep();
        run_calls(&mut state, rep, calls);
        let set = state.table.delete(handle).unwrap();
        let refused = set.violation.is_some() || set.misshapen().is_some();
        let (result, changes, _) = set.finish();
        if refused {
            return Ok(());
        }
        prop_assert!(!read_only || changes == Default::default(), "a validator changed {changes:?}");
        let files = bundle.render(&result);
        if changes == Default::default() {
            prop_assert!(files.is_empty(), "nothing changed, yet {:?} written", files.keys());
        }
        let stream = bundle.stream(&result);
        let read: Vec<_> = yaml::split(&stream)
            .iter()
            .filter_map(|chunk| yaml::parse("stream", chunk).unwrap())
            .collect();
        let held: Vec<_> = result.iter().map(|d| d.content.clone()).collect();
        prop_assert_eq!(read, held, "{}", stream);
        for (path, text) in files.iter().filter_map(|(p, t)| Some((p, t.as_ref()?))) {
            for chunk in yaml::split(text) {
                prop_assert!(yaml::parse(path, &chunk).is_ok(), "{path} does not read back:\n{text}");
            }
        }
    }

}

proptest! {
    // Each case is up to 64 results and 64 log lines.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any results and log lines: no panic, and the host keeps to its
    /// bounds on how many it keeps and how long each is.
    #[test]
    fn results_and_log_lines_keep_to_their_bounds(
        results in prop::collection::vec(result(), 0..64),
        lines in prop::collection::vec(log_line(), 0..64),
    ) {
        let (_dir, mut bundle) = bundle();
        let docs = bundle.take_documents();
        let loaded = docs.len() as u32;
        let view: Vec<usize> = (0..docs.len()).collect();
        let set = DocumentSet::new(docs, view, 100, 1 << 20, None);
        let kept = step_results("step", &set, results.clone(), &Secrets::default());
        prop_assert_eq!(kept.len(), results.len().min(MAX_RESULTS));
        for (kept, sent) in kept.iter().zip(&results) {
            prop_assert!(kept.message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
            let in_range = sent.document.is_some_and(|d| d < loaded);
            prop_assert_eq!(kept.document.is_some(), in_range);
        }
        let mut state = HostState::new(1 << 20, Credentials::default());
        let count = lines.len();
        for (level, message, fields) in lines {
            state.log(level, message, fields);
        }
        prop_assert_eq!(state.log.lines.len(), count.min(MAX_LINES));
        for line in &state.log.lines {
            prop_assert!(line.text.len() <= MAX_LINE_BYTES + '…'.len_utf8(), "{}", line.text.len());
        }
    }
}
