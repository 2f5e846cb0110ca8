//! The command line documents itself: each command's own exit codes,
//! completion scripts and manual pages generated from the same definitions.

use std::process::Command;

use crate::util::{mooring, tool};

fn stdout_of(args: &[&str]) -> String {
    let out = mooring().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_command_gives_its_own_exit_codes_and_global_options_apart() {
    let run = stdout_of(&["run", "--help"]);
    assert!(run.contains("3  with --diff"), "{run}");
    let kubeconfig = stdout_of(&["kubeconfig", "get", "--help"]);
    assert!(kubeconfig.contains("an unknown cluster"), "{kubeconfig}");
    assert!(
        !kubeconfig.contains("bundle is left untouched"),
        "{kubeconfig}"
    );
    assert!(!kubeconfig.contains("--diff"), "{kubeconfig}");
    let inspect = stdout_of(&["inspect", "--help"]);
    assert!(
        inspect.contains("0  mooring runs the component"),
        "{inspect}"
    );
    // The options every command shares come after the command's own.
    let global = run
        .find("Global options:")
        .expect("a Global options heading");
    assert!(run.find("--diff").unwrap() < global && run.find("--cache-dir").unwrap() > global);
}

#[test]
fn completion_scripts_cover_every_flag_and_bash_parses_its_own() {
    let bash = stdout_of(&["completions", "bash"]);
    for flag in [
        "--output-format",
        "--diff",
        "--results",
        "--allow-guests",
        "kubeconfig",
    ] {
        assert!(bash.contains(flag), "bash completion lacks {flag}");
    }
    if let Some(shell) = tool("bash") {
        let checked = Command::new(shell)
            .args(["-n", "-c", &bash])
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef mooring"));
    assert!(stdout_of(&["completions", "fish"]).contains("complete -c mooring"));
    let refused = mooring().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn manual_pages_for_mooring_and_each_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH mooring 1"), "{page}");
    for command in ["run", "fn", "kubeconfig", "completions"] {
        assert!(
            page.contains(&format!("mooring\\-{command}(1)")),
            "{command} in {page}"
        );
    }
    let run = stdout_of(&["man", "run"]);
    assert!(run.contains(".TH mooring-run 1"), "{run}");
    assert!(run.contains("\\-\\-diff"), "{run}");
    let unknown = mooring().args(["man", "nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no command `nope`"));
}

/// The README's table of built-in guests names every guest and every
/// top-level key of each one's configuration schema, so it cannot drift.
#[test]
fn the_readme_lists_every_built_in_guest_and_its_configuration() {
    let readme = std::fs::read_to_string(crate::util::repo().join("README.md")).unwrap();
    let rows: Vec<&str> = readme
        .split("### Built-in guests and their configuration")
        .nth(1)
        .expect("the README's built-in guests section")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .collect();
    let mut checked = 0;
    for guest in mooring_guests::ALL {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", guest.name)))
            .unwrap_or_else(|| panic!("the README lists no `{}`", guest.name));
        let described = stdout_of(&["guests", guest.name]);
        let schema = described
            .split("Configuration (JSON Schema):\n")
            .nth(1)
            .map(|rest| &rest[..rest.find("\n}\n").map_or(rest.len(), |i| i + 2)]);
        let keys: Vec<String> = schema
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .and_then(|s| {
                s["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
            })
            .unwrap_or_default();
        for key in keys {
            assert!(
                row.contains(&format!("`{key}`")),
                "README: `{}` lacks `{key}`",
                guest.name
            );
            checked += 1;
        }
    }
    // The schemas were read: set-metadata alone has two keys.
    assert!(
        checked >= 10,
        "only {checked} configuration keys found in the schemas"
    );
}
