//! `mooring run --diff`: what `--in-place` would write, as a unified diff
//! that `git apply` and `patch -p1` take and a reviewer can read.

use std::io::Write;

use mooring_engine::session::FileChange;
use similar::{ChangeTag, TextDiff};

/// Lines of context around each change, as `diff -u` and `git diff` give.
const CONTEXT: usize = 3;

/// Writes `changes` to `out` as one unified diff, each path after
/// `prefix` (empty for one bundle, the bundle's directory for a fleet), in
/// colour when `colour`.
pub(crate) fn write(
    out: &mut dyn Write,
    changes: &[FileChange],
    prefix: &str,
    colour: bool,
) -> std::io::Result<()> {
    for change in changes {
        let path = format!("{prefix}{}", change.path);
        let (old, new) = (
            change.before.as_deref().unwrap_or(""),
            change.after.as_deref().unwrap_or(""),
        );
        let old_name = match change.before {
            Some(_) => format!("a/{path}"),
            None => "/dev/null".to_owned(),
        };
        let new_name = match change.after {
            Some(_) => format!("b/{path}"),
            None => "/dev/null".to_owned(),
        };
        paint(out, colour, BOLD, &format!("--- {old_name}"))?;
        paint(out, colour, BOLD, &format!("+++ {new_name}"))?;
        let diff = TextDiff::from_lines(old, new);
        for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
            paint(out, colour, CYAN, &hunk.header().to_string())?;
            for change in hunk.iter_changes() {
                let (sign, style) = match change.tag() {
                    ChangeTag::Delete => ('-', RED),
                    ChangeTag::Insert => ('+', GREEN),
                    ChangeTag::Equal => (' ', ""),
                };
                let line = change.as_str().unwrap_or_default();
                let text = line.strip_suffix('\n').unwrap_or(line);
                paint(out, colour, style, &format!("{sign}{text}"))?;
                if change.missing_newline() {
                    writeln!(out, "\\ No newline at end of file")?;
                }
            }
        }
    }
    Ok(())
}

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";

/// One line, in `style` when `colour` and there is a style.
fn paint(out: &mut dyn Write, colour: bool, style: &str, line: &str) -> std::io::Result<()> {
    if colour && !style.is_empty() {
        writeln!(out, "{style}{line}\x1b[0m")
    } else {
        writeln!(out, "{line}")
    }
}

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty
/// (<https://no-color.org>).
pub(crate) fn colour_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, before: Option<&str>, after: Option<&str>) -> FileChange {
        FileChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        }
    }

    fn text(changes: &[FileChange]) -> String {
        let mut out = Vec::new();
        write(&mut out, changes, "", false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_changed_file_is_a_hunk_with_context() {
        let before = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\n";
        let after = before.replace("e: 5", "e: 50");
        let diff = text(&[change("x/f.yaml", Some(before), Some(&after))]);
        assert_eq!(
            diff,
            "--- a/x/f.yaml\n+++ b/x/f.yaml\n\
             @@ -2,7 +2,7 @@\n b: 2\n c: 3\n d: 4\n-e: 5\n+e: 50\n f: 6\n g: 7\n h: 8\n"
        );
    }

    #[test]
    fn new_and_deleted_files_come_from_and_go_to_dev_null() {
        let diff = text(&[
            change("gone.yaml", Some("a: 1\n"), None),
            change("new.yaml", None, Some("b: 2")),
        ]);
        assert!(diff.contains("--- a/gone.yaml\n+++ /dev/null\n@@ -1 +0,0 @@\n-a: 1\n"));
        assert!(diff.contains(
            "--- /dev/null\n+++ b/new.yaml\n@@ -0,0 +1 @@\n+b: 2\n\\ No newline at end of file\n"
        ));
    }

    #[test]
    fn colour_marks_removed_and_added_lines() {
        let mut out = Vec::new();
        write(&mut out, &[change("f", Some("a\n"), Some("b\n"))], "", true).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\x1b[31m-a\x1b[0m\n"));
        assert!(out.contains("\x1b[32m+b\x1b[0m\n"));
    }
}
