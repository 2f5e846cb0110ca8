//! Sites that are kustomize overlays.
//!
//! An Airship site is rarely self-contained: `site/<site>/phases` pulls
//! `../../../type/<type>/phases`, which pulls `function/…`, and the site's
//! own files are patches on what they pull. The documents such a site is
//! made of exist only in its kustomize build, so a directory whose
//! kustomization reaches outside it is worked on as its build, made by the
//! real kustomize (`kubectl kustomize` unless the operator names another),
//! never by re-implementing it. A build has no files of its own, so it can
//! go to stdout or a new directory but cannot be rewritten in place.
//!
//! A site that is a kustomization of its own is checked the other way:
//! before a run writes changes that could break its build, the result is
//! built in a scratch copy ([`verify_result`]), and a result that would
//! no longer build is not written.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mooring_model::kustomize;
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::yaml;

/// The names kustomize reads a kustomization from, in its order.
pub(crate) const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// How much of a failed build's stderr an error quotes.
const STDERR_TAIL: usize = 2048;

/// The kustomize a site is built with: a program and the arguments that
/// come before the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kustomize {
    /// The command words, program first (`kubectl kustomize`); never empty.
    command: Vec<String>,
}

impl Default for Kustomize {
    fn default() -> Self {
        Kustomize {
            command: vec!["kubectl".to_owned(), "kustomize".to_owned()],
        }
    }
}

impl Kustomize {
    /// A command line such as `kustomize build` or
    /// `kubectl kustomize --enable-helm`, split at spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let command: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        if command.is_empty() {
            return Err("name a kustomize command, such as `kustomize build`".to_owned());
        }
        Ok(Kustomize { command })
    }

    /// The command line, as the operator would type it.
    pub fn display(&self) -> String {
        self.command.join(" ")
    }
}

/// Where a site's kustomization first reaches outside the site directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside {
    /// The kustomization file, relative to the site directory.
    pub file: String,
    /// The field naming it (`resources`, `patchesStrategicMerge`, ...).
    pub field: &'static str,
    /// The entry as written.
    pub entry: String,
}

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.file, self.field, self.entry)
    }
}

/// Why a site could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// The kustomize program is not there.
    #[error(
        "{site} is a kustomize overlay ({outside}), so mooring works on its build, but `{command}` could not be started: {source}; \
         install it, or name another with --kustomize (for example `--kustomize \"kustomize build\"`)"
    )]
    NotStarted {
        /// The site directory.
        site: PathBuf,
        /// Where it reaches outside.
        outside: Outside,
        /// The command.
        command: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The build needs one of airshipctl's KRM plugins.
    #[error(
        "{site} is a kustomize overlay ({outside}) whose build needs the KRM plugin `{plugin}` (airshipctl's), which `{command}` does not run. \
         Render the site with what runs it and pipe the result in, for example \
         `airshipctl phase render PHASE | mooring run - --pipeline PIPELINE` or \
         `kustomize build --enable-alpha-plugins {site} | mooring run - --pipeline PIPELINE` \
         (the kubeconfig commands take it as `--bundle -`)"
    )]
    Plugin {
        /// The site directory.
        site: PathBuf,
        /// Where it reaches outside.
        outside: Outside,
        /// The command.
        command: String,
        /// The plugin's kind.
        plugin: String,
    },
    /// The build failed for another reason.
    #[error(
        "{site} is a kustomize overlay ({outside}), and `{command} {site}` failed ({status}): {stderr}"
    )]
    Failed {
        /// The site directory.
        site: PathBuf,
        /// Where it reaches outside.
        outside: Outside,
        /// The command.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// The build printed more than mooring reads of a stream.
    #[error(
        "`{command} {}` printed more than {} MiB, the most mooring reads of a stream; it was stopped (split the site)",
        .site.display(),
        crate::bundle::MAX_FILE_BYTES >> 20
    )]
    TooLarge {
        /// The site directory.
        site: PathBuf,
        /// The command.
        command: String,
    },
    /// The build printed something that is not UTF-8.
    #[error("`{command} {}` printed text that is not UTF-8", .site.display())]
    NotUtf8 {
        /// The site directory.
        site: PathBuf,
        /// The command.
        command: String,
    },
}

/// How a bundle directory's documents are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// From its files: it has no kustomization reaching outside it.
    Files,
    /// From its kustomize build: its kustomization reaches outside it.
    Overlay(Outside),
    /// From the builds of its entrypoints: kustomizations below it that
    /// its own (if it has one) does not name, one of which reaches outside
    /// it, as in airshipctl's `manifests/site/<site>` (`phases`,
    /// `target/workers`, ...; the site's own kustomization names only its
    /// `metadata.yaml`).
    Entrypoints {
        /// The kustomizations below it that no other one there names,
        /// directory-relative.
        entrypoints: Vec<String>,
        /// Where the first reaches outside.
        outside: Outside,
    },
}

impl Layout {
    /// Reads how `dir` is laid out.
    pub fn of(dir: &Path) -> Self {
        if let Some(outside) = reaches_outside(dir) {
            return Layout::Overlay(outside);
        }
        let entrypoints: Vec<String> = entrypoints(dir).into_iter().map(|(e, _)| e).collect();
        if entrypoints.len() < 2 && entrypoints.iter().all(String::is_empty) {
            return Layout::Files;
        }
        // Only a path out of the directory makes it a site: a repository
        // keeps old components that fetch from GitHub, and is files.
        match first_outside(dir, entrypoints.clone(), Remote::Ignored) {
            Some(outside) => Layout::Entrypoints {
                entrypoints,
                outside,
            },
            None => Layout::Files,
        }
    }

    /// What `dir` is, for a message: `a kustomize overlay (...)`.
    pub fn describe(&self) -> String {
        match self {
            Layout::Files => "a directory of files".to_owned(),
            Layout::Overlay(outside) => format!("a kustomize overlay ({outside})"),
            Layout::Entrypoints {
                entrypoints,
                outside,
            } => format!(
                "a site directory whose entrypoints reach outside it ({outside}); its {} entrypoint(s): {}",
                entrypoints.len(),
                entrypoints
                    .iter()
                    .map(|e| if e.is_empty() { "." } else { e.as_str() })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The YAML stream `dir` is made of: its build, or its entrypoints'
    /// builds one after another (nothing for [`Layout::Files`], whose
    /// documents are its files).
    pub fn build(&self, dir: &Path, kustomize: &Kustomize) -> Result<String, Box<OverlayError>> {
        match self {
            Layout::Files => Ok(String::new()),
            Layout::Overlay(outside) => build(dir, outside, kustomize),
            Layout::Entrypoints {
                entrypoints,
                outside,
            } => entrypoints
                .iter()
                .try_fold(String::new(), |mut stream, entry| {
                    let site = dir.join(entry);
                    // Errors name the entrypoint, and where it reaches out.
                    let reaches = reaches_outside(&site).unwrap_or_else(|| outside.clone());
                    let text = build(&site, &reaches, kustomize)?;
                    if !stream.is_empty() {
                        if !stream.ends_with('\n') {
                            stream.push('\n');
                        }
                        stream.push_str("---\n");
                    }
                    stream.push_str(&text);
                    Ok(stream)
                }),
        }
    }
}

/// Where the kustomization of `site` (or of a directory it includes, at
/// any depth) first names something outside `site`; `None` for a site that
/// is self-contained or has no kustomization.
pub fn reaches_outside(site: &Path) -> Option<Outside> {
    first_outside(site, vec![String::new()], Remote::Outside)
}

/// Whether a remote resource (`github.com/...?ref=`) counts as outside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Remote {
    Outside,
    Ignored,
}

/// Where the kustomizations of the `starts` directories below `site` (or
/// of one they include, at any depth) first name something outside `site`.
fn first_outside(site: &Path, starts: Vec<String>, remote: Remote) -> Option<Outside> {
    // A stack: reversed, the first start is looked at first.
    let mut pending: Vec<String> = starts.into_iter().rev().collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(dir) = pending.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Some((file, content)) = kustomization(site, &dir) else {
            continue;
        };
        let fetched = ["resources", "bases", "components"]
            .into_iter()
            .filter(|_| remote == Remote::Outside)
            .find_map(|field| {
                let entries = content.get(field)?.as_array()?;
                let entry = entries
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|e| is_remote(e))?;
                Some((field, entry.to_owned()))
            });
        if let Some((field, entry)) = fetched {
            return Some(Outside { file, field, entry });
        }
        for reference in kustomize::references(&content) {
            match kustomize::join(&dir, &reference.path) {
                None => {
                    return Some(Outside {
                        file,
                        field: reference.field,
                        entry: reference.path,
                    });
                }
                Some(inside) if site.join(&inside).is_dir() => pending.push(inside),
                Some(_) => {}
            }
        }
    }
    None
}

/// A resource kustomize fetches: outside the site by definition.
fn is_remote(entry: &str) -> bool {
    entry.contains("://") || entry.contains("?ref=") || entry.starts_with("github.com/")
}

/// The kustomization of `site/dir` as its file name (site-relative) and
/// content; `None` when there is none or it does not read as a mapping
/// (kustomize will then say what is wrong with it).
fn kustomization(site: &Path, dir: &str) -> Option<(String, Map<String, Value>)> {
    let base = site.join(dir);
    let name = KUSTOMIZATION_FILES
        .iter()
        .find(|name| base.join(name).is_file())?;
    let bytes =
        crate::trust::read_regular_file(&base.join(name), crate::bundle::MAX_FILE_BYTES).ok()?;
    let content = yaml::read_object(std::str::from_utf8(&bytes).ok()?)?;
    let file = if dir.is_empty() {
        (*name).to_owned()
    } else {
        format!("{dir}/{name}")
    };
    Some((file, content))
}

/// Builds `site` with `kustomize`, returning the YAML stream it printed.
pub fn build(
    site: &Path,
    outside: &Outside,
    kustomize: &Kustomize,
) -> Result<String, Box<OverlayError>> {
    let command = kustomize.display();
    let not_started = |source| {
        Box::new(OverlayError::NotStarted {
            site: site.to_owned(),
            outside: outside.clone(),
            command: command.clone(),
            source,
        })
    };
    let output = run_build(site, kustomize).map_err(not_started)?;
    let Some(stdout) = output.stdout else {
        return Err(Box::new(OverlayError::TooLarge {
            site: site.to_owned(),
            command,
        }));
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(plugin) = missing_plugin(&stderr) {
            return Err(Box::new(OverlayError::Plugin {
                site: site.to_owned(),
                outside: outside.clone(),
                command,
                plugin,
            }));
        }
        return Err(Box::new(OverlayError::Failed {
            site: site.to_owned(),
            outside: outside.clone(),
            command,
            status: output.status,
            // The run's secrets are not known before the build is read.
            stderr: crate::secrets::scrub_unknown(&tail(&stderr)),
        }));
    }
    let mut text = String::new();
    stdout.as_slice().read_to_string(&mut text).map_err(|_| {
        Box::new(OverlayError::NotUtf8 {
            site: site.to_owned(),
            command,
        })
    })?;
    Ok(text)
}

/// Runs `kustomize` on `dir`.
fn run_build(dir: &Path, kustomize: &Kustomize) -> std::io::Result<BuildOutput> {
    let (program, args) = kustomize
        .command
        .split_first()
        .expect("Kustomize::parse refuses an empty command");
    let mut child = Command::new(program)
        .args(args)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    bounded_output(&mut child)
}

/// Why a run's result was not written: the site builds with `kustomize`
/// now and would not once written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the result would not build: `{command}` fails on {} once written ({stderr}); nothing was written. \
     A step left the site inconsistent, for example removed a document that a patch or a \
     kustomization still names; `mooring run --diff` shows what the steps changed",
    .site.display()
)]
pub struct Unbuildable {
    /// The site directory.
    pub site: PathBuf,
    /// The kustomize command.
    pub command: String,
    /// The end of what it printed on stderr, scrubbed.
    pub stderr: String,
}

/// Checks, before a run writes `changes` into the bundle at `site`, that
/// what kustomize builds there still builds: the bundle is copied to a
/// scratch directory, changed there, and each entrypoint the changes reach
/// is built (the bundle itself when it has a kustomization; in a repository
/// of sites, every kustomization no other one names). Checked when the
/// changes could break a build (a file removed or added, a kustomization
/// edited); an entrypoint that did not build before the run either, or a
/// kustomize that cannot be started, is said on stderr and does not stop
/// the write.
pub fn verify_result(
    site: &Path,
    changes: &BTreeMap<String, Option<String>>,
    kustomize: &Kustomize,
) -> Result<(), Box<Unbuildable>> {
    let is_kustomization = |path: &str| {
        KUSTOMIZATION_FILES
            .iter()
            .any(|k| path.rsplit('/').next() == Some(*k))
    };
    let at_risk = changes
        .iter()
        .any(|(path, text)| text.is_none() || is_kustomization(path) || !site.join(path).exists());
    if !at_risk {
        return Ok(());
    }
    let reached = entrypoints(site)
        .into_iter()
        .filter(|(_, reaches)| {
            changes
                .keys()
                .any(|path| reaches.iter().any(|dir| is_within(path, dir)))
        })
        .map(|(entrypoint, _)| entrypoint)
        .collect::<Vec<_>>();
    if reached.is_empty() {
        return Ok(());
    }
    let command = kustomize.display();
    let unchecked = |why: String| {
        tracing::warn!(
            "could not check that {} still builds: {why}",
            site.display()
        );
        Ok(())
    };
    let stage = match staged(site, changes) {
        Ok(stage) => stage,
        Err(e) => return unchecked(format!("staging a copy failed: {e}")),
    };
    // Each reached entrypoint is built on its own (a repository has
    // dozens); what they found is then read in order.
    enum Verdict {
        Builds,
        NotStarted(std::io::Error),
        Broke { dir: PathBuf, failure: String },
        BrokenBefore(PathBuf),
    }
    let verdicts: Vec<Verdict> = reached
        .par_iter()
        .map(|entrypoint| {
            let failure = match run_build(&stage.path().join(entrypoint), kustomize) {
                Ok(output) if output.status.success() => return Verdict::Builds,
                Ok(output) => String::from_utf8_lossy(&output.stderr).replace(
                    &stage.path().display().to_string(),
                    &site.display().to_string(),
                ),
                Err(e) => return Verdict::NotStarted(e),
            };
            // `join("")` would add a trailing slash to the name in messages.
            let dir = match entrypoint.as_str() {
                "" => site.to_owned(),
                entrypoint => site.join(entrypoint),
            };
            match run_build(&dir, kustomize) {
                Ok(before) if before.status.success() => Verdict::Broke { dir, failure },
                _ => Verdict::BrokenBefore(dir),
            }
        })
        .collect();
    let mut broken_before = Vec::new();
    for verdict in verdicts {
        match verdict {
            Verdict::Builds => {}
            Verdict::NotStarted(e) => {
                return unchecked(format!("`{command}` could not be started: {e}"));
            }
            Verdict::Broke { dir, failure } => {
                return Err(Box::new(Unbuildable {
                    site: dir,
                    command,
                    stderr: crate::secrets::scrub_unknown(&tail(&failure)),
                }));
            }
            Verdict::BrokenBefore(dir) => broken_before.push(dir.display().to_string()),
        }
    }
    if !broken_before.is_empty() {
        const NAMED: usize = 3;
        let more = broken_before.len().saturating_sub(NAMED);
        broken_before.truncate(NAMED);
        tracing::warn!(
            "{}{} did not build with `{command}` before this run either; written anyway",
            broken_before.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// True when the site-relative `path` is in directory `dir` or below it.
fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// What kustomize builds in `site`, each with the directories its build
/// reads (its own and every one it names, at any depth): every
/// kustomization directory in it that no other one there names, the site
/// itself first when it has one. A self-contained site is one entrypoint;
/// a repository, or an airshipctl site directory whose own kustomization
/// names only its `metadata.yaml`, has several.
fn entrypoints(site: &Path) -> Vec<(String, Vec<String>)> {
    let read = |dir: &str| -> Vec<String> {
        kustomization(site, dir)
            .map(|(_, content)| {
                kustomize::references(&content)
                    .into_iter()
                    .filter_map(|r| kustomize::join(dir, &r.path))
                    .filter(|target| site.join(target).is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Each kustomization is read once: a repository's entrypoints share
    // most of what they reach (types, functions).
    let graph: BTreeMap<String, Vec<String>> = kustomization_dirs(site)
        .into_iter()
        .map(|dir| {
            let named = read(&dir);
            (dir, named)
        })
        .collect();
    let reaches = |entrypoint: &str| {
        let mut seen = std::collections::BTreeSet::new();
        let mut pending = vec![entrypoint.to_owned()];
        while let Some(dir) = pending.pop() {
            if seen.contains(&dir) {
                continue;
            }
            // A directory the walk did not list (reached through a link)
            // is read where it is named.
            match graph.get(&dir) {
                Some(named) => pending.extend(named.iter().cloned()),
                None => pending.extend(read(&dir)),
            }
            seen.insert(dir);
        }
        seen.into_iter().collect::<Vec<_>>()
    };
    let named_by_others: std::collections::BTreeSet<&String> = graph.values().flatten().collect();
    graph
        .keys()
        .filter(|dir| !named_by_others.contains(dir))
        .map(|dir| (dir.clone(), reaches(dir)))
        .collect()
}

/// Every directory below `site` (site-relative) with a kustomization,
/// leaving out hidden directories such as `.git` and not following links.
fn kustomization_dirs(site: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(dir) = pending.pop() {
        if KUSTOMIZATION_FILES
            .iter()
            .any(|k| site.join(&dir).join(k).is_file())
        {
            found.push(dir.clone());
        }
        let Ok(entries) = std::fs::read_dir(site.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
    }
    found.sort();
    found
}

/// A scratch copy of `site` with `changes` made to it.
fn staged(
    site: &Path,
    changes: &BTreeMap<String, Option<String>>,
) -> std::io::Result<tempfile::TempDir> {
    // A link is copied as the same link (kustomize follows links only
    // within the site, where a relative one resolves in the copy as in the
    // site); a `.git` directory is left behind (kustomize never reads it,
    // and a repository's history can be large).
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let target = to.join(entry.file_name());
            if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, target)?;
            } else if kind.is_dir() && entry.file_name() != ".git" {
                copy(&entry.path(), &target)?;
            } else if kind.is_file() {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }
    let stage = tempfile::tempdir()?;
    copy(site, stage.path())?;
    for (path, text) in changes {
        let file = stage.path().join(path);
        match text {
            Some(text) => {
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(file, text)?;
            }
            None => std::fs::remove_file(file)?,
        }
    }
    Ok(stage)
}

/// What a build printed: its stdout unless that is over the largest stream
/// mooring reads (then `None`, and the build is stopped), the end of its
/// stderr, and how it exited.
struct BuildOutput {
    stdout: Option<Vec<u8>>,
    stderr: Vec<u8>,
    status: std::process::ExitStatus,
}

fn bounded_output(child: &mut std::process::Child) -> std::io::Result<BuildOutput> {
    use std::io::Read as _;
    let limit = crate::bundle::MAX_FILE_BYTES;
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    // Read on its own thread, so a build that fills its stderr pipe never
    // waits for us; only its end is ever shown, so only its end is kept.
    let stderr = std::thread::spawn(move || {
        let (mut kept, mut chunk) = (Vec::new(), [0u8; 8192]);
        while let Ok(read) = stderr_pipe.read(&mut chunk) {
            if read == 0 {
                break;
            }
            kept.extend_from_slice(&chunk[..read]);
            if kept.len() > 4 * STDERR_TAIL {
                kept.drain(..kept.len() - 2 * STDERR_TAIL);
            }
        }
        kept
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .take(limit + 1)
        .read_to_end(&mut stdout)?;
    let over = stdout.len() as u64 > limit;
    if over {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let stderr = stderr.join().unwrap_or_default();
    Ok(BuildOutput {
        stdout: (!over).then_some(stdout),
        stderr,
        status,
    })
}

/// The plugin kustomize refused to load, from its error text
/// (`unable to load external plugin 'Templater'`).
fn missing_plugin(stderr: &str) -> Option<String> {
    let (_, rest) = stderr.split_once("unable to load external plugin '")?;
    let (plugin, _) = rest.split_once('\'')?;
    Some(plugin.to_owned())
}

/// The end of a command's stderr: where the reason is, without warnings
/// about deprecated fields that every Airship site triggers.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("# Warning:"))
        .collect();
    let text = lines.join("\n");
    let start = text.len().saturating_sub(STDERR_TAIL);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_site_reaching_outside_is_found_at_any_depth_and_a_self_contained_one_is_not() {
        let repo = tree(&[
            (
                "site/a/kustomization.yaml",
                "resources:\n- phases\n- local.yaml\n",
            ),
            (
                "site/a/phases/kustomization.yaml",
                "resources:\n- ../../../type/gating/phases\npatchesStrategicMerge:\n- plan_patch.yaml\n",
            ),
            ("site/b/kustomization.yaml", "resources:\n- x.yaml\n- sub\n"),
            ("site/b/sub/kustomization.yaml", "resources:\n- y.yaml\n"),
            (
                "site/c/kustomization.yml",
                "resources:\n- https://github.com/airshipit/airshipctl/manifests/site/x?ref=master\n",
            ),
            (
                "site/d/kustomization.yaml",
                "patches:\n- path: ../shared/p.yaml\n",
            ),
        ]);
        let site = |name: &str| repo.path().join("site").join(name);
        assert_eq!(
            reaches_outside(&site("a")).map(|o| o.to_string()),
            Some("phases/kustomization.yaml resources: ../../../type/gating/phases".to_owned())
        );
        assert_eq!(reaches_outside(&site("b")), None);
        assert_eq!(
            reaches_outside(&site("c")).map(|o| o.file),
            Some("kustomization.yml".to_owned())
        );
        assert_eq!(
            reaches_outside(&site("d")).map(|o| o.field),
            Some("patches")
        );
        assert_eq!(reaches_outside(repo.path()), None, "no kustomization");
    }

    /// In a repository, the entrypoints are the kustomizations nothing
    /// names, each with every directory its build reads; a hidden directory
    /// is not looked in.
    #[test]
    fn a_repositorys_entrypoints_are_the_kustomizations_nothing_names() {
        let repo = tree(&[
            (
                "type/t/kustomization.yaml",
                "resources:\n- ../../function/f\n",
            ),
            ("function/f/kustomization.yaml", "resources:\n- f.yaml\n"),
            (
                "site/a/phases/kustomization.yaml",
                "resources:\n- ../../../type/t\n",
            ),
            ("site/b/kustomization.yaml", "resources:\n- b.yaml\n"),
            (".git/x/kustomization.yaml", "resources: []\n"),
        ]);
        let found = entrypoints(repo.path());
        assert_eq!(
            found,
            [
                (
                    "site/a/phases".to_owned(),
                    vec![
                        "function/f".to_owned(),
                        "site/a/phases".to_owned(),
                        "type/t".to_owned()
                    ]
                ),
                ("site/b".to_owned(), vec!["site/b".to_owned()]),
            ]
        );
        assert!(is_within("function/f/f.yaml", "function/f"));
        assert!(!is_within("function/ff/f.yaml", "function/f"));
        // A bundle with a kustomization of its own is one entrypoint.
        let site = repo.path().join("site/a/phases");
        assert_eq!(entrypoints(&site).len(), 1);
    }

    /// A site directory is made of its entrypoints when one reaches outside
    /// it, with or without a kustomization of its own that names only its
    /// metadata (as airshipctl's sites have); a repository, whose
    /// entrypoints reach only inside it, is its files.
    #[test]
    fn a_site_directory_is_its_entrypoints_and_a_repository_its_files() {
        let repo = tree(&[
            ("type/t/kustomization.yaml", "resources:\n- t.yaml\n"),
            (
                "site/s/phases/kustomization.yaml",
                "resources:\n- ../../../type/t\n",
            ),
            ("site/s/target/kustomization.yaml", "resources:\n- w.yaml\n"),
            ("site/o/kustomization.yaml", "resources:\n- ../../type/t\n"),
            ("site/m/kustomization.yaml", "resources:\n- metadata.yaml\n"),
            (
                "site/m/phases/kustomization.yaml",
                "resources:\n- ../../../type/t\n",
            ),
        ]);
        match Layout::of(&repo.path().join("site/m")) {
            Layout::Entrypoints { entrypoints, .. } => assert_eq!(entrypoints, ["", "phases"]),
            other => panic!("{other:?}"),
        }
        let site = repo.path().join("site/s");
        match Layout::of(&site) {
            Layout::Entrypoints {
                entrypoints,
                outside,
            } => {
                assert_eq!(entrypoints, ["phases", "target"]);
                assert_eq!(
                    outside.to_string(),
                    "phases/kustomization.yaml resources: ../../../type/t"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Layout::of(&repo.path().join("site/o")),
            Layout::Overlay(_)
        ));
        assert_eq!(Layout::of(repo.path()), Layout::Files);
        assert_eq!(Layout::of(&repo.path().join("type/t")), Layout::Files);
    }

    #[test]
    fn a_missing_plugin_is_named_from_kustomizes_error() {
        let stderr = "Error: accumulating resources: loading generator plugins: failed to load generator: external plugins disabled; unable to load external plugin 'Templater'\n";
        assert_eq!(missing_plugin(stderr).as_deref(), Some("Templater"));
        assert_eq!(missing_plugin("Error: something else"), None);
        assert_eq!(
            tail("# Warning: 'bases' is deprecated\nError: boom\n"),
            "Error: boom"
        );
    }
}
