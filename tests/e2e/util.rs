//! Helpers shared by every end-to-end test.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `mooring` binary under test.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mooring"))
}

/// A compiled test fixture guest from `tests/guests/`, by its constant in
/// `mooring_test_guests`.
pub(crate) fn fixture_guest(path: &str) -> PathBuf {
    PathBuf::from(path)
}

/// One cache of compiled guests for the whole suite: a debug build takes
/// seconds to compile a guest, so each is compiled once and then loaded.
pub(crate) fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-cache")
}

/// `mooring` with the shared cache, after the cache has been warmed.
pub(crate) fn mooring() -> Command {
    static WARM: Once = Once::new();
    WARM.call_once(|| {
        // Compile every guest the suite uses once, before tests race to.
        let scratch = tempfile::tempdir().unwrap();
        fs::write(
            scratch.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        let pipeline = write_pipeline(
            scratch.path(),
            &format!(
                "- guest: set-metadata\n  config: {{labels: {{a: b}}}}\n- guest: {}\n",
                fixture_guest(mooring_test_guests::HOSTILE).display()
            ),
        );
        let status = bare_command()
            .args(["run", "--pipeline"])
            .arg(&pipeline)
            .arg(scratch.path())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "warming the guest cache failed");
    });
    bare_command()
}

fn bare_command() -> Command {
    let mut command = Command::new(binary());
    command
        .env("MOORING_CACHE_DIR", cache_dir())
        .env("MOORING_POLICY", test_policy());
    command
}

/// The operator's policy for the suite: the fixture guests may run
/// anywhere. Nothing else is approved; a test that grants credentials
/// approves them itself, as an operator would, with `--allow-credentials`.
pub(crate) fn test_policy() -> PathBuf {
    static WRITTEN: Once = Once::new();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-policy.yaml");
    WRITTEN.call_once(|| {
        let guests = Path::new(mooring_test_guests::HOSTILE).parent().unwrap();
        fs::write(
            &path,
            format!(
                "apiVersion: mooring.dev/v1alpha1\nkind: Policy\napprovals:\n- paths: [/]\n  guests: [{}]\n",
                guests.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    });
    path
}

/// What a hostile case may cost the host at most, whatever the guest or
/// input: the guests run with 64 MiB, and the host's own share is small.
pub(crate) const HOST_RSS_BOUND: u64 = 256;

/// What a finished process cost: its wall time and peak resident memory.
pub(crate) struct Usage {
    pub(crate) wall: std::time::Duration,
    pub(crate) peak_rss_mib: u64,
}

impl Usage {
    /// Fails unless the process stayed under `rss_mib` MiB. The time is
    /// reported, never asserted (speed is measured in benchmarks); with
    /// `MOORING_CASES_REPORT=FILE` both figures are appended to FILE under
    /// the test's name, which is how docs/security.md's table is made.
    pub(crate) fn contained(&self, rss_mib: u64) {
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        eprintln!(
            "{test}: stopped after {:.0} ms, peak RSS {} MiB",
            self.wall.as_secs_f64() * 1e3,
            self.peak_rss_mib
        );
        if let Some(report) = std::env::var_os("MOORING_CASES_REPORT") {
            use std::io::Write;
            let mut file = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(report)
                .unwrap();
            writeln!(
                file,
                "{test}\t{:.0}\t{}",
                self.wall.as_secs_f64() * 1e3,
                self.peak_rss_mib
            )
            .unwrap();
        }
        assert!(
            self.peak_rss_mib < rss_mib,
            "{test}: the host grew to {} MiB; the bound is {rss_mib} MiB",
            self.peak_rss_mib
        );
    }
}

/// Runs `command` to the end, measuring it: mooring reports its own peak
/// memory at debug level (the kernel's `VmHWM`), a line taken out of the
/// stderr handed back. A parent's `wait4` cannot measure it: the child's
/// figure starts at the resident size of the test process that forked it.
pub(crate) fn measured(command: &mut Command) -> (Ran, Usage) {
    const REPORT: &str = "mooring: mooring::usage: finished in ";
    let started = std::time::Instant::now();
    let output = command
        .env(
            "MOORING_LOG",
            "warn,mooring=info,mooring_engine=info,mooring_kube=info,mooring::usage=debug",
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let mut ran = Ran::from(output);
    let report = ran
        .stderr
        .lines()
        .find(|l| l.starts_with(REPORT))
        .unwrap_or_else(|| panic!("mooring did not report its usage:\n{}", ran.stderr))
        .to_owned();
    let peak_rss_mib = report
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches(" MiB").parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {report:?}"));
    ran.stderr = ran.stderr.replace(&format!("{report}\n"), "");
    (ran, Usage { wall, peak_rss_mib })
}

/// What a finished command printed, as text.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `command` with `stdin`, capturing everything.
pub(crate) fn run_with_stdin(command: &mut Command, stdin: &str) -> Ran {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output.into()
}

/// What `kubectl kustomize DIR` builds (which must succeed); `None` when
/// kubectl is missing outside CI.
pub(crate) fn kustomize_build(dir: &Path) -> Option<String> {
    let built = Command::new(tool("kubectl")?)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    Some(String::from_utf8(built.stdout).unwrap())
}

/// Runs `mooring run <args>` over `bundle`.
pub(crate) fn run(bundle: &Path, args: &[&str]) -> Ran {
    mooring()
        .arg("run")
        .arg(bundle)
        .args(args)
        .output()
        .unwrap()
        .into()
}

/// A private copy of `bundles/<name>`.
pub(crate) fn example_bundle(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("bundles").join(name), dir.path());
    dir
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes, to prove nothing was touched.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let kind = fs::metadata(&path).unwrap().file_type();
            let name = path.strip_prefix(dir).unwrap().to_owned();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                files.insert(name, fs::read(&path).unwrap());
            } else {
                // A FIFO or socket: reading it would block, so its kind
                // stands for its content.
                files.insert(name, format!("{kind:?}").into_bytes());
            }
        }
    }
    files
}

/// Writes a pipeline with `steps` (YAML list items) to `dir/pipeline.yaml`.
pub(crate) fn write_pipeline(dir: &Path, steps: &str) -> PathBuf {
    let path = dir.join("pipeline.yaml");
    let text = format!(
        "apiVersion: mooring.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: test\nsteps:\n{steps}"
    );
    fs::write(&path, text).unwrap();
    path
}

/// A tool from PATH. Outside CI a missing tool skips the test, saying so;
/// with `MOORING_REQUIRE_TOOLS=1` (which `.ci/run` sets) it fails it, so a
/// CI machine without kpt or kubectl can never pass by skipping.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("MOORING_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
            "`{name}` is not on PATH, and MOORING_REQUIRE_TOOLS=1 says this run must use it"
        );
        eprintln!("SKIPPED: `{name}` is not on PATH; install it to run this test");
    }
    found
}

/// Runs `steps` in place over a copy of the example bundle and checks that
/// it fails with `code`, says each of `needles` in one error message, and
/// leaves every byte of the bundle as it was.
pub(crate) fn refused(steps: &str, code: i32, needles: &[&str]) -> String {
    let bundle = example_bundle("docker-test-site");
    refused_in(bundle.path(), steps, code, needles)
}

pub(crate) fn refused_in(bundle: &Path, steps: &str, code: i32, needles: &[&str]) -> String {
    refused_with(bundle, steps, &[], code, needles)
}

/// [`refused`] with a `.wasm` guest below `dir`, which the operator approves.
pub(crate) fn refused_allowing(dir: &Path, steps: &str, code: i32, needles: &[&str]) -> String {
    let bundle = example_bundle("docker-test-site");
    let dir = dir.to_str().unwrap();
    refused_with(
        bundle.path(),
        steps,
        &["--allow-guests", dir],
        code,
        needles,
    )
}

/// [`refused_in`] with more arguments to `mooring run`.
pub(crate) fn refused_with(
    bundle: &Path,
    steps: &str,
    extra: &[&str],
    code: i32,
    needles: &[&str],
) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(scratch.path(), steps);
    let before = snapshot(bundle);
    let mut args = vec!["--in-place", "--pipeline", pipeline.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ran, usage) = measured(mooring().arg("run").arg(bundle).args(&args));
    usage.contained(HOST_RSS_BOUND);
    assert_eq!(ran.code, code, "stderr:\n{}", ran.stderr);
    for needle in needles {
        assert!(
            ran.stderr.contains(needle),
            "expected {needle:?} in:\n{}",
            ran.stderr
        );
    }
    assert_eq!(
        ran.stderr.matches("mooring: error:").count(),
        1,
        "one message:\n{}",
        ran.stderr
    );
    assert_untouched(&before, &snapshot(bundle));
    ran.stderr
}

pub(crate) fn hostile(mode: &str) -> String {
    format!(
        "- name: hostile-{mode}\n  guest: {}\n  config: {{mode: {mode}}}\n  limits: {{timeout: 1s, memory: 64Mi}}\n",
        fixture_guest(mooring_test_guests::HOSTILE).display()
    )
}

/// Fails naming every file that differs between two snapshots.
pub(crate) fn assert_untouched(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) {
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(
        changed.is_empty(),
        "the bundle must be untouched; changed: {changed:?}"
    );
}

/// Fails unless the run's stderr says `needle`, showing what it said.
pub(crate) fn says(ran: &Ran, needle: &str) {
    assert!(
        ran.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        ran.stderr
    );
}

/// A directory holding a `docker` that runs `mooring fn` (the test build,
/// its cache and the test policy), and a PATH that finds it first: what
/// kustomize's containerized KRM functions run here, where there is no
/// container engine. kustomize runs `docker run ... IMAGE`; the shim
/// ignores the arguments.
pub(crate) fn docker_shim() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let shim = bin.join("docker");
    fs::write(
        &shim,
        format!(
            "#!/bin/sh\n# test shim: kustomize runs `docker run ... IMAGE`\nMOORING_CACHE_DIR='{}' MOORING_POLICY='{}' exec '{}' fn\n",
            cache_dir().display(),
            test_policy().display(),
            binary().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path)
}
