//! docs/fleet.md runs: its kpt package under the real kpt, and the command
//! line of each container (Job, Argo, Tekton) against a copy of the docker
//! site, so the examples cannot drift from the tool.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{Ran, binary, cache_dir, example_bundle, mooring, repo, test_policy, tool};

/// The fenced block of docs/fleet.md whose fence reads "```yaml NAME".
fn block(name: &str) -> String {
    let doc = fs::read_to_string(repo().join("docs/fleet.md")).unwrap();
    let fence = format!("```yaml {name}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/fleet.md has no {fence}"))
        + fence.len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

#[test]
fn the_kpt_package_example_renders_the_site() {
    let Some(kpt) = tool("kpt") else { return };
    let _warm = mooring();
    let site = example_bundle("docker-test-site");
    fs::write(site.path().join("Kptfile"), block("Kptfile")).unwrap();
    // `exec: "mooring fn"` finds mooring on PATH, as on an operator's machine.
    let bin_dir = binary().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ran: Ran = Command::new(kpt)
        .args([
            "fn",
            "render",
            site.path().to_str().unwrap(),
            "--allow-exec",
        ])
        .env("PATH", path)
        .env("MOORING_CACHE_DIR", cache_dir())
        .env("MOORING_POLICY", test_policy())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        !site.path().join("hwcc/profile1.yaml").exists(),
        "metal3's profiles stay"
    );
    let map = fs::read_to_string(site.path().join("phases/cluster-map.yaml")).unwrap();
    assert!(
        map.contains("airshipit.org/site: docker-test-site"),
        "{map}"
    );
}

/// The container's command line in the example `name`, found at `pointer`.
fn container_args(name: &str, kind: &str, pointer: &str) -> Vec<String> {
    let manifest: Value = serde_saphyr::from_str(&block(name)).unwrap();
    assert_eq!(manifest["kind"], kind, "{name}");
    let args = manifest
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{name}: no {pointer}"));
    args.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_container_example_runs_its_command_line() {
    for (name, kind, pointer, site_arg, codes) in [
        (
            "job.yaml",
            "Job",
            "/spec/template/spec/containers/0/command",
            "/site/bundle",
            &[0][..],
        ),
        (
            "argo.yaml",
            "Workflow",
            "/spec/templates/0/container/command",
            "{{inputs.parameters.site}}",
            &[3][..],
        ),
        (
            "tekton.yaml",
            "Task",
            "/spec/steps/0/command",
            "$(workspaces.source.path)/$(params.site)",
            &[0][..],
        ),
    ] {
        let args = container_args(name, kind, pointer);
        assert_eq!(args[0], "mooring", "{name}: the command is mooring");
        let site = example_bundle("docker-test-site");
        let scratch = tempfile::tempdir().unwrap();
        let local = |arg: &str| -> String {
            if arg == site_arg {
                return site.path().display().to_string();
            }
            // Paths in the container become paths in the scratch directory.
            let arg = arg.replace(
                "$(workspaces.source.path)",
                &scratch.path().display().to_string(),
            );
            match arg
                .strip_prefix("/tmp/")
                .or_else(|| arg.strip_prefix("/site/"))
            {
                Some(file) => scratch.path().join(file).display().to_string(),
                None => arg,
            }
        };
        let local_args: Vec<String> = args[1..].iter().map(|a| local(a)).collect();
        let ran: Ran = mooring().args(&local_args).output().unwrap().into();
        assert!(
            codes.contains(&ran.code),
            "{name}: {local_args:?} exited {}: {}",
            ran.code,
            ran.stderr
        );
        if let Some(results) = local_args.iter().position(|a| a == "--results") {
            assert!(
                Path::new(&local_args[results + 1]).is_file(),
                "{name}: no results file"
            );
        }
    }
}

/// The image the examples run is built by the toolchain the repository
/// pins (no container engine runs in CI, so this is what can be checked).
#[test]
fn the_containerfile_builds_with_the_pinned_toolchain_and_runs_mooring() {
    let pinned = fs::read_to_string(repo().join("rust-toolchain.toml")).unwrap();
    let channel = pinned
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');
    let containerfile = fs::read_to_string(repo().join("Containerfile")).unwrap();
    assert!(
        containerfile.contains(&format!("rust:{channel}-")),
        "Containerfile's build image does not use Rust {channel}"
    );
    assert!(containerfile.contains("ENTRYPOINT [\"mooring\"]"));
    for example in ["job.yaml", "argo.yaml", "tekton.yaml"] {
        let block = block(example);
        assert!(
            block.contains("image: localhost/mooring:latest"),
            "{example}"
        );
        // The image runs as root (see below): a pod that insists on a
        // non-root user must name one, or the kubelet refuses to start it.
        assert_eq!(
            block.contains("runAsNonRoot: true"),
            block.contains("runAsUser:"),
            "{example}"
        );
    }
    // The capture phase mounts the operator's ~/.airship and kubeconfig
    // store where mooring in the image looks for them: under its HOME (a
    // mount anywhere else would leave captured kubeconfigs inside the
    // container, lost when it exits).
    let home = containerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENV HOME="))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the Containerfile sets HOME");
    for site in ["metal3-site", "docker-test-site"] {
        let phase = fs::read_to_string(
            repo()
                .join("bundles")
                .join(site)
                .join("phases/capture.yaml"),
        )
        .unwrap();
        let mounts: Vec<&str> = phase
            .lines()
            .filter_map(|l| l.trim().strip_prefix("dst: "))
            .collect();
        assert_eq!(
            mounts,
            [
                format!("{home}/.airship"),
                format!("{home}/.local/state/mooring")
            ],
            "{site}"
        );
        assert!(phase.contains("image: localhost/mooring:latest"), "{site}");
    }
}
