//! Never lose data, never change meaning: the YAML of `tests/fidelity/`
//! (octal and hex integers, big integers, YAML 1.1 booleans, `1.10`,
//! `!!binary`, anchors and merge keys, a tag on `---`, `...`, block scalars
//! with every chomping indicator, flow collections, quoted and complex keys,
//! comments everywhere, CRLF, both sequence indentations, empty documents)
//! run through `set-metadata` comes out changed only where a label went in:
//! byte for byte `tests/fidelity/labelled/` in place and in `--output-dir`, its
//! documents in the stdout stream, and under `mooring fn`, `kpt fn eval`
//! and `kpt fn render` nothing but the label lines differ.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Ran, mooring, repo, run, run_with_stdin, tool, write_pipeline};

fn corpus() -> PathBuf {
    repo().join("tests/fidelity")
}

/// The corpus files, by name.
fn files() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// A copy of the corpus to run over.
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in files() {
        fs::copy(corpus().join(&name), dir.path().join(&name)).unwrap();
    }
    dir
}

const LABEL: &str = "- guest: set-metadata\n  config: {labels: {fidelity: checked}}\n";

fn expected(name: &str) -> String {
    fs::read_to_string(corpus().join("labelled").join(name)).unwrap()
}

#[test]
fn in_place_output_and_stdout_change_only_the_labels() {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), LABEL);
    let pipeline = pipeline.to_str().unwrap();

    let site = bundle();
    let ran = run(site.path(), &["--in-place", "--pipeline", pipeline]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for name in files() {
        let written = fs::read_to_string(site.path().join(&name)).unwrap();
        assert_eq!(written, expected(&name), "{name} in place");
        assert_eq!(
            strip_label(&written),
            fs::read_to_string(corpus().join(&name)).unwrap(),
            "{name}: more than the label changed"
        );
    }

    let site = bundle();
    let out = scratch.path().join("out");
    let ran = run(
        site.path(),
        &[
            "--output-dir",
            out.to_str().unwrap(),
            "--pipeline",
            pipeline,
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for name in files() {
        assert_eq!(
            fs::read_to_string(out.join(&name)).unwrap(),
            expected(&name),
            "{name} in --output-dir"
        );
    }

    // The stdout stream is the same text, each document annotated with its
    // file and index as `kpt fn source` does.
    let ran = run(site.path(), &["--pipeline", pipeline]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let documents = mooring_engine::yaml::split(&ran.stdout).len();
    assert_eq!(
        ran.stdout.matches("config.kubernetes.io/path: ").count(),
        documents
    );
    let stdout = without_stream_annotations(&ran.stdout);
    for name in files() {
        for chunk in mooring_engine::yaml::split(&expected(&name)) {
            if !mooring_engine::yaml::is_empty(&chunk.text) {
                let body = chunk.text.trim_start_matches("---\n");
                assert!(
                    stdout.contains(body),
                    "{name}: stdout lacks\n{body}\nin\n{stdout}"
                );
            }
        }
    }
}

/// `stream` without the path and index annotations of each document:
/// their lines, an `annotations:` line left holding nothing, or the flow
/// entry.
fn without_stream_annotations(stream: &str) -> String {
    let ours = |line: &str| {
        let line = line.trim_start();
        line.starts_with("config.kubernetes.io/path: ")
            || line.starts_with("config.kubernetes.io/index: ")
    };
    let lines: Vec<String> = stream
        .split_inclusive('\n')
        .filter(|line| !ours(line))
        .map(
            |line| match line.find(", annotations: {config.kubernetes.io/path: ") {
                Some(start) => {
                    let end = start + line[start..].find('}').unwrap() + 1;
                    format!("{}{}", &line[..start], &line[end..])
                }
                None => line.to_owned(),
            },
        )
        .collect();
    let depth = |line: &str| line.len() - line.trim_start().len();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let emptied = line.trim() == "annotations:"
            && lines
                .get(i + 1)
                .is_none_or(|next| depth(next) <= depth(line));
        if !emptied {
            out.push_str(line);
        }
    }
    out
}

/// `text` without what adding the label `fidelity: checked` put in: its
/// line, a `labels:` line that holds nothing else, or the flow entry.
fn strip_label(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut kept = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "fidelity: checked" {
            continue;
        }
        if line.trim() == "labels:" {
            let next = lines[i + 1..]
                .iter()
                .find(|l| l.trim() != "fidelity: checked");
            let holds_more = next.is_some_and(|n| indent(n) > indent(line) && !n.trim().is_empty());
            if !holds_more {
                continue;
            }
        }
        kept.push_str(&line.replace(", labels: {fidelity: checked}", ""));
    }
    kept
}

#[test]
fn mooring_fn_answers_the_resource_list_it_got_with_only_the_labels_added() {
    let Some(kpt) = tool("kpt") else {
        return;
    };
    let site = bundle();
    let source = Command::new(&kpt)
        .args(["fn", "source"])
        .arg(site.path())
        .output()
        .unwrap();
    assert!(
        source.status.success(),
        "{}",
        String::from_utf8_lossy(&source.stderr)
    );
    let mut input = String::from_utf8(source.stdout).unwrap();
    input.push_str(
        "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: label}\n  data:\n    guest: set-metadata\n    config: 'labels: {fidelity: checked}'\n",
    );
    let ran: Ran = run_with_stdin(mooring().arg("fn"), &input);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (answer, results) = ran
        .stdout
        .split_once("\nresults:\n")
        .expect("a results field at the end");
    assert!(results.contains("set 1 label(s)"), "{results}");
    assert_eq!(
        format!("{}\n", strip_label(answer)),
        input,
        "more than the labels changed:\n{}",
        ran.stdout
    );
}

/// Runs kpt over a copy of the corpus, once with `mooring fn` and once with
/// `cat` (what kpt itself does to the files), and compares the two.
fn under_kpt(
    kpt: &Path,
    mooring_args: &[&str],
    baseline_args: &[&str],
    kptfile: Option<(&str, &str)>,
) {
    let (with, without) = (bundle(), bundle());
    if let Some((mooring_kptfile, cat_kptfile)) = kptfile {
        fs::write(with.path().join("Kptfile"), mooring_kptfile).unwrap();
        fs::write(without.path().join("Kptfile"), cat_kptfile).unwrap();
    }
    let _warm = mooring();
    for (dir, args) in [(&with, mooring_args), (&without, baseline_args)] {
        let ran: Ran = Command::new(kpt)
            .args(&args[..2])
            .arg(dir.path())
            .args(&args[2..])
            .env("MOORING_CACHE_DIR", crate::util::cache_dir())
            .env("MOORING_POLICY", crate::util::test_policy())
            .output()
            .unwrap()
            .into();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
    }
    for name in files() {
        let (labelled, baseline) = (
            fs::read_to_string(with.path().join(&name)).unwrap(),
            fs::read_to_string(without.path().join(&name)).unwrap(),
        );
        // kpt itself re-attaches the comment that ends a document once the
        // document's last mapping grew, and writes it twice; what mooring
        // answered keeps it once, where it was (see the `mooring fn` test).
        let comments = |text: &str| -> String {
            text.split_inclusive('\n')
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect()
        };
        let (labelled, baseline) = if name == "markers.yaml" {
            (comments(&labelled), comments(&baseline))
        } else {
            (labelled, baseline)
        };
        assert_eq!(
            strip_label(&labelled),
            baseline,
            "{name}: more than the label changed:\n{labelled}"
        );
    }
}

#[test]
fn kpt_fn_eval_with_mooring_changes_only_the_labels() {
    let Some(kpt) = tool("kpt") else {
        return;
    };
    let exec = format!("{} fn", crate::util::binary().display());
    under_kpt(
        &kpt,
        &[
            "fn",
            "eval",
            "--exec",
            &exec,
            "--",
            "guest=set-metadata",
            "config=labels: {fidelity: checked}",
        ],
        &["fn", "eval", "--exec", "cat"],
        None,
    );
}

#[test]
fn kpt_fn_render_with_mooring_changes_only_the_labels() {
    let Some(kpt) = tool("kpt") else {
        return;
    };
    let head = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: fidelity\npipeline:\n  mutators:\n";
    let with = format!(
        "{head}    - exec: \"{} fn\"\n      configMap:\n        guest: set-metadata\n        config: \"labels: {{fidelity: checked}}\"\n",
        crate::util::binary().display()
    );
    let without = format!("{head}    - exec: \"cat\"\n");
    under_kpt(
        &kpt,
        &["fn", "render", "--allow-exec"],
        &["fn", "render", "--allow-exec"],
        Some((&with, &without)),
    );
}

/// The lines of `after` are those of `before` less `removed` and plus
/// `added`, in order: a diff of exactly those lines.
fn diff_is(before: &str, after: &str, removed: &[&str], added: &[&str]) {
    let mut expected: Vec<&str> = before
        .lines()
        .filter(|l| !removed.contains(&l.trim()))
        .collect();
    let mut got: Vec<&str> = after.lines().collect();
    got.retain(|l| !added.contains(&l.trim()));
    expected.retain(|_| true);
    assert_eq!(got, expected, "after:\n{after}");
    assert_eq!(
        after.lines().count(),
        before.lines().count() - removed.len() + added.len(),
        "after:\n{after}"
    );
}

#[test]
fn a_plan_entry_removed_is_a_one_line_diff_and_every_comment_stays() {
    let site = crate::util::example_bundle("docker-test-site");
    let read = |path: &str| fs::read_to_string(site.path().join(path)).unwrap();
    let (plan, map) = (read("phases/plan.yaml"), read("phases/cluster-map.yaml"));
    let ran = run(site.path(), &["--in-place"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    diff_is(
        &plan,
        &read("phases/plan.yaml"),
        &[
            "- name: remotedirect-ephemeral",
            "- name: initinfra-ephemeral",
            "- name: verify-hwcc-profiles",
            "- name: power-off-ephemeral",
        ],
        &[],
    );
    assert_eq!(
        plan.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count(),
        read("phases/plan.yaml")
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    );
    diff_is(
        &map,
        &read("phases/cluster-map.yaml"),
        &[],
        &["airshipit.org/site: docker-test-site"],
    );
}
