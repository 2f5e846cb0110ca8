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
