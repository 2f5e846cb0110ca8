//! `mooring fn`: the KRM function mode, alone and under real orchestrators.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::{Ran, binary, cache_dir, fixture_guest, mooring, run_with_stdin, says, tool};

const KPT_INPUT: &str = include_str!("fixtures/kpt-input.yaml");
const KUSTOMIZE_INPUT: &str = include_str!("fixtures/kustomize-input.yaml");

/// The kpt capture with its functionConfig replaced by `config`.
fn kpt_input_with(config: &str) -> String {
    let items = KPT_INPUT.split("functionConfig:").next().unwrap();
    format!("{items}functionConfig:\n{config}")
}

fn label_config(extra: &str) -> String {
    format!(
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: fn}}\n  data:\n    guest: set-metadata\n    config: '{{labels: {{team: infra}}{extra}}}'\n"
    )
}

fn mooring_fn(stdin: &str) -> Ran {
    run_with_stdin(mooring().arg("fn"), stdin)
}

fn internal_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("internal.config.kubernetes.io/"))
        .map(|l| l.replace(['\'', '"'], ""))
        .collect()
}

#[test]
fn fn_runs_the_guest_a_configmap_names_and_keeps_internal_annotations() {
    let input = kpt_input_with(&label_config(""));
    let ran = mooring_fn(&input);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // The answer is the input edited: its header comment is still there.
    assert!(
        ran.stdout.starts_with(input.lines().next().unwrap()),
        "{}",
        ran.stdout
    );
    let labelled = ran
        .stdout
        .lines()
        .filter(|l| l.trim() == "team: infra")
        .count();
    assert_eq!(labelled, 3, "{}", ran.stdout);
    assert_eq!(internal_lines(&ran.stdout), internal_lines(&input));
    assert!(ran.stdout.contains("severity: info"), "{}", ran.stdout);
}

#[test]
fn a_guest_cannot_change_internal_annotations() {
    let input = kpt_input_with(&label_config(
        ", annotations: {internal.config.kubernetes.io/path: evil.yaml}",
    ));
    let ran = mooring_fn(&input);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let items = ran.stdout.split("functionConfig:").next().unwrap();
    assert!(!items.contains("evil.yaml"), "{}", ran.stdout);
    assert_eq!(internal_lines(&ran.stdout), internal_lines(&input));
}

#[test]
fn an_unknown_function_config_fails_but_still_answers_with_every_item() {
    let ran = mooring_fn(KUSTOMIZE_INPUT);
    assert_eq!(ran.code, 1);
    says(&ran, "functionConfig is a \"MyTransformer\"");
    assert!(ran.stdout.contains("kind: ResourceList"));
    assert!(ran.stdout.contains("severity: error"), "{}", ran.stdout);
    for name in ["name: web", "name: cfg"] {
        assert!(ran.stdout.contains(name), "{name} lost:\n{}", ran.stdout);
    }
}

#[test]
fn input_that_is_not_a_resource_list_never_gets_an_empty_answer() {
    for input in ["apiVersion: apps/v1\nkind: Deployment\n", "items: [\n"] {
        let ran = mooring_fn(input);
        assert_eq!(ran.code, 1, "{}", ran.stderr);
        assert_eq!(ran.stdout, input);
        says(&ran, "mooring: error:");
    }
}

#[test]
fn a_failing_step_is_an_error_result_with_the_items_unchanged() {
    let config = format!(
        "  apiVersion: mooring.dev/v1alpha1\n  kind: Pipeline\n  metadata: {{name: p}}\n  steps:\n  - guest: {}\n    config: {{mode: panic}}\n",
        fixture_guest(mooring_test_guests::HOSTILE).display()
    );
    let ran = mooring_fn(&kpt_input_with(&config));
    assert_eq!(ran.code, 1);
    assert!(ran.stdout.contains("severity: error"), "{}", ran.stdout);
    assert!(ran.stdout.contains("boom from guest"), "{}", ran.stdout);
    assert!(ran.stdout.contains("name: web"), "{}", ran.stdout);
    says(&ran, "panicked");
}

/// A small kpt package: two files, three resources.
fn package(dir: &Path) {
    fs::write(
        dir.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: v\n",
    )
    .unwrap();
    fs::write(
        dir.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
    )
    .unwrap();
}

fn exec_line() -> String {
    format!("{} fn", binary().display())
}

fn kpt(args: &[&str]) -> Option<Ran> {
    let kpt = tool("kpt")?;
    let output = Command::new(kpt)
        .args(args)
        .env("MOORING_CACHE_DIR", cache_dir())
        .env("MOORING_POLICY", crate::util::test_policy())
        .output()
        .unwrap();
    Some(output.into())
}

/// kpt sends the package's Kptfile among the items: a step without a
/// selector changes it like any other item, and a selector leaves it out
/// (the README's promise).
#[test]
fn kpt_fn_eval_runs_mooring_as_an_exec_function() {
    let _warm = mooring();
    let dir = tempfile::tempdir().unwrap();
    package(dir.path());
    fs::write(
        dir.path().join("Kptfile"),
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n",
    )
    .unwrap();
    let pkg = dir.path().to_str().unwrap();
    let Some(ran) = kpt(&[
        "fn",
        "eval",
        pkg,
        "--exec",
        &exec_line(),
        "--",
        "guest=set-metadata",
        "config=labels: {team: infra}",
    ]) else {
        return;
    };
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let deploy = fs::read_to_string(dir.path().join("deploy.yaml")).unwrap();
    assert_eq!(deploy.matches("team: infra").count(), 2, "{deploy}");
    assert!(
        fs::read_to_string(dir.path().join("svc.yaml"))
            .unwrap()
            .contains("team: infra")
    );
    let kptfile = || fs::read_to_string(dir.path().join("Kptfile")).unwrap();
    assert!(kptfile().contains("team: infra"), "{}", kptfile());

    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("fn-config.yaml");
    fs::write(
        &config,
        "apiVersion: mooring.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: services\nsteps:\n  - guest: set-metadata\n    selector: {kind: Service}\n    config: {labels: {only: services}}\n",
    )
    .unwrap();
    let Some(ran) = kpt(&[
        "fn",
        "eval",
        pkg,
        "--exec",
        &exec_line(),
        "--fn-config",
        config.to_str().unwrap(),
    ]) else {
        return;
    };
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(!kptfile().contains("only: services"), "{}", kptfile());
    let svc = fs::read_to_string(dir.path().join("svc.yaml")).unwrap();
    assert!(svc.contains("only: services"), "{svc}");
}

fn kptfile(dir: &Path, guest: &str, config: &str) {
    fs::write(
        dir.join("Kptfile"),
        format!(
            "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\npipeline:\n  mutators:\n  - exec: \"{}\"\n    configMap:\n      guest: {guest}\n      config: \"{config}\"\n",
            exec_line()
        ),
    )
    .unwrap();
}

#[test]
fn kpt_fn_render_runs_a_kptfile_pipeline_through_mooring() {
    let _warm = mooring();
    let dir = tempfile::tempdir().unwrap();
    package(dir.path());
    kptfile(dir.path(), "set-metadata", "labels: {team: infra}");
    let Some(ran) = kpt(&["fn", "render", dir.path().to_str().unwrap(), "--allow-exec"]) else {
        return;
    };
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let deploy = fs::read_to_string(dir.path().join("deploy.yaml")).unwrap();
    assert_eq!(deploy.matches("team: infra").count(), 2, "{deploy}");
}

#[test]
fn kpt_fn_render_stops_on_an_error_result_and_leaves_files_alone() {
    let _warm = mooring();
    let dir = tempfile::tempdir().unwrap();
    package(dir.path());
    kptfile(
        dir.path(),
        &fixture_guest(mooring_test_guests::HOSTILE)
            .display()
            .to_string(),
        "mode: error-result",
    );
    let before = fs::read_to_string(dir.path().join("deploy.yaml")).unwrap();
    let Some(ran) = kpt(&["fn", "render", dir.path().to_str().unwrap(), "--allow-exec"]) else {
        return;
    };
    assert_ne!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        format!("{}{}", ran.stdout, ran.stderr).contains("policy violated"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("deploy.yaml")).unwrap(),
        before
    );
}

/// A kustomization whose transformer is mooring "in a container", and a
/// `docker` on PATH that runs the mooring binary on the same stdin.
fn kustomize(config: &str) -> Option<Ran> {
    let kubectl = tool("kubectl")?;
    let (dir, path) = crate::util::docker_shim();
    let kust = dir.path().join("k");
    fs::create_dir(&kust).unwrap();
    fs::write(
        kust.join("kustomization.yaml"),
        "resources:\n- cm.yaml\ntransformers:\n- mooring.yaml\n",
    )
    .unwrap();
    fs::write(
        kust.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: v\n",
    )
    .unwrap();
    fs::write(
        kust.join("mooring.yaml"),
        format!(
            "apiVersion: mooring.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: label\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: mooring.dev/mooring:test\nsteps:\n{config}"
        ),
    )
    .unwrap();
    let output = Command::new(kubectl)
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(&kust)
        .env("PATH", path)
        .output()
        .unwrap();
    Some(output.into())
}

#[test]
fn kubectl_kustomize_runs_mooring_as_a_container_transformer() {
    let _warm = mooring();
    let Some(ran) = kustomize("- guest: set-metadata\n  config: {labels: {team: infra}}\n") else {
        return;
    };
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("team: infra"), "{}", ran.stdout);
    assert!(ran.stdout.contains("name: cfg"), "{}", ran.stdout);
}

#[test]
fn kubectl_kustomize_fails_when_a_step_reports_an_error() {
    let _warm = mooring();
    let config = format!(
        "- guest: {}\n  config: {{mode: error-result}}\n",
        fixture_guest(mooring_test_guests::HOSTILE).display()
    );
    let Some(ran) = kustomize(&config) else {
        return;
    };
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    says(&ran, "policy violated");
}
