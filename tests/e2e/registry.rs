//! Guests by OCI reference, against a real registry (distribution 2.8,
//! Debian's `docker-registry`) started on the loopback interface with its
//! own storage: push, then pull by tag and by digest and run; a pin the tag
//! does not match, a missing tag, a registry that is down, offline runs
//! from the store, a corrupted blob, and basic auth.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Ran, mooring, tool, write_pipeline};

/// A registry server of our own, stopped when dropped.
struct Registry {
    child: Child,
    host: String,
    storage: tempfile::TempDir,
}

impl Registry {
    /// Starts one, with basic auth from `htpasswd` when given; `None` when
    /// `docker-registry` is not installed (outside CI only).
    fn start(htpasswd: Option<&Path>) -> Option<Registry> {
        let server = tool("docker-registry")?;
        let storage = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let auth = htpasswd.map_or(String::new(), |file| {
            format!(
                "auth:\n  htpasswd:\n    realm: mooring-tests\n    path: {}\n",
                file.display()
            )
        });
        let config = storage.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem:\n    rootdirectory: {}\n{auth}http:\n  addr: {host}\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(server)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(&host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the registry did not start on {host}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Registry {
            child,
            host,
            storage,
        })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The blob files the registry keeps, by content digest.
    fn blob(&self, hex: &str) -> PathBuf {
        self.storage
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An operator's machine: its own guest cache and store, and its own
/// (empty, unless a test writes one) docker config.
struct Operator {
    home: tempfile::TempDir,
}

impl Operator {
    fn new() -> Self {
        Operator {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn mooring(&self, args: &[&str]) -> Ran {
        mooring()
            .env("MOORING_CACHE_DIR", self.home.path().join("cache"))
            .env("DOCKER_CONFIG", self.home.path().join("docker"))
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    /// Pushes the built-in set-metadata guest's component to `reference`;
    /// returns the manifest digest it printed.
    fn push(&self, reference: &str) -> String {
        self.push_builtin("set-metadata", reference)
    }

    /// Pushes built-in guest `name`'s component to `reference`; returns the
    /// manifest digest it printed.
    fn push_builtin(&self, name: &str, reference: &str) -> String {
        let wasm = self.home.path().join(format!("{name}.wasm"));
        let guest = mooring_guests::ALL.iter().find(|g| g.name == name).unwrap();
        fs::write(&wasm, guest.wasm).unwrap();
        let pushed = self.mooring(&["push", wasm.to_str().unwrap(), reference]);
        assert_eq!(pushed.code, 0, "{}", pushed.stderr);
        let digest = pushed.stdout.split("manifest sha256:").nth(1).unwrap();
        digest[..64].to_owned()
    }

    /// Runs a one-step pipeline whose guest is `guest` over a one-document
    /// bundle, approving `approve`.
    fn run(&self, guest: &str, approve: &str, extra: &[&str]) -> Ran {
        let bundle = self.home.path().join("bundle");
        fs::create_dir_all(&bundle).unwrap();
        fs::write(
            bundle.join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        )
        .unwrap();
        let pipeline = write_pipeline(
            self.home.path(),
            &format!("- guest: {guest}\n  config: {{labels: {{from: registry}}}}\n"),
        );
        let mut args = vec![
            "run",
            bundle.to_str().unwrap(),
            "-p",
            pipeline.to_str().unwrap(),
        ];
        if !approve.is_empty() {
            args.extend(["--allow-guests", approve]);
        }
        args.extend(extra);
        self.mooring(&args)
    }
}

fn labelled(ran: &Ran) {
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("from: registry"), "{}", ran.stdout);
}

fn refused(ran: &Ran, code: i32, needle: &str) {
    assert_eq!(ran.code, code, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(needle),
        "`{needle}` not in:\n{}",
        ran.stderr
    );
    assert!(!ran.stdout.contains("from: registry"));
}

#[test]
fn a_pushed_guest_runs_by_tag_and_by_digest_and_offline_from_the_store() {
    let Some(mut registry) = Registry::start(None) else {
        return;
    };
    let operator = Operator::new();
    let tag = format!("{}/guests/set-metadata:1.0", registry.host);
    let digest = operator.push(&tag);
    let repository = format!("{}/guests/set-metadata", registry.host);
    let approve = format!("oci://{}", registry.host);

    // The manifest says what it is before anything is pulled.
    let inspected = operator.mooring(&["inspect", &tag]);
    assert_eq!(inspected.code, 0, "{}", inspected.stderr);
    assert!(
        inspected
            .stdout
            .contains("dev.mooring.wit-world: mooring:step@0.2.0")
    );
    assert!(
        inspected
            .stdout
            .contains(&format!("pin it as {repository}@sha256:{digest}"))
    );

    // Nothing from a registry runs unless the operator approves it.
    refused(
        &operator.run(&tag, "", &[]),
        2,
        &format!("--allow-guests oci://{repository}"),
    );
    labelled(&operator.run(&tag, &approve, &[]));
    labelled(&operator.run(&format!("{repository}@sha256:{digest}"), &approve, &[]));
    // A digest approves that artifact alone, wherever it is.
    labelled(&operator.run(
        &format!("{repository}@sha256:{digest}"),
        &format!("sha256:{digest}"),
        &[],
    ));

    // A tag that names other bytes than the pin is refused, even though
    // the pinned bytes are in the store.
    let other = format!("{}/guests/other:1.0", registry.host);
    let other_digest = operator.push_builtin("check-site", &other);
    assert_ne!(other_digest, digest);
    let moved = operator.run(&format!("oci://{other}@sha256:{digest}"), &approve, &[]);
    refused(
        &moved,
        2,
        &format!("the tag now names manifest sha256:{other_digest}"),
    );
    // Pulled by a digest the registry does not hold under that name.
    let absent = operator.run(
        &format!("{}/guests/fresh@sha256:{other_digest}", registry.host),
        &approve,
        &[],
    );
    refused(&absent, 2, "failed to pull guest");
    refused(
        &operator.run(
            &format!("{}/guests/missing:9.9", registry.host),
            &approve,
            &[],
        ),
        2,
        "failed to pull guest",
    );

    // A tag moved to other bytes: online, the new ones are pulled.
    let moving = format!("{}/guests/moving:1", registry.host);
    operator.push(&moving);
    labelled(&operator.run(&moving, &approve, &[]));
    let moved_to = operator.push_builtin("check-site", &moving);
    let moved = operator.run(&moving, &approve, &[]);
    assert!(
        moved.stderr.contains(&format!("pulled sha256:{moved_to}")),
        "{}",
        moved.stderr
    );

    // With the registry gone: what was stored runs offline (and by digest
    // online too); a tag cannot be resolved online; nothing else is stored.
    registry.stop();
    let offline = operator.run(&tag, &approve, &["--offline"]);
    labelled(&offline);
    assert!(
        offline.stderr.contains("from the local store"),
        "{}",
        offline.stderr
    );
    labelled(&operator.run(&format!("{repository}@sha256:{digest}"), &approve, &[]));
    let down = operator.run(&tag, &approve, &[]);
    refused(&down, 2, &format!("registry {}", registry.host));
    refused(
        &operator.run(&other, &approve, &["--offline"]),
        2,
        "not in the local store",
    );
}

#[test]
fn a_corrupted_blob_is_refused_and_not_stored() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let operator = Operator::new();
    let tag = format!("{}/guests/set-metadata:1.0", registry.host);
    operator.push(&tag);
    let guest = mooring_guests::ALL
        .iter()
        .find(|g| g.name == "set-metadata")
        .unwrap();
    let blob = registry.blob(&mooring_engine::digest::sha256_hex(guest.wasm));
    let mut bytes = fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&blob, bytes).unwrap();
    let approve = format!("oci://{}", registry.host);
    refused(&operator.run(&tag, &approve, &[]), 2, "digest");
    refused(
        &operator.run(&tag, &approve, &["--offline"]),
        2,
        "not in the local store",
    );
}

#[test]
fn a_registry_with_basic_auth_takes_the_docker_config_credentials() {
    let Some(htpasswd) = tool("htpasswd") else {
        return;
    };
    let operator = Operator::new();
    let users = operator.home.path().join("htpasswd");
    let made = Command::new(htpasswd)
        .args(["-Bbc", users.to_str().unwrap(), "ci", "s3cret-pass"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let Some(registry) = Registry::start(Some(&users)) else {
        return;
    };
    let tag = format!("{}/guests/set-metadata:1.0", registry.host);
    let wasm = operator.home.path().join("g.wasm");
    fs::write(
        &wasm,
        mooring_guests::ALL
            .iter()
            .find(|g| g.name == "set-metadata")
            .unwrap()
            .wasm,
    )
    .unwrap();

    let anonymous = operator.mooring(&["push", wasm.to_str().unwrap(), &tag]);
    assert_eq!(anonymous.code, 1, "{}", anonymous.stderr);
    assert!(
        anonymous.stderr.contains("401")
            || anonymous.stderr.to_lowercase().contains("unauthorized"),
        "{}",
        anonymous.stderr
    );

    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret-pass");
    fs::create_dir_all(operator.home.path().join("docker")).unwrap();
    fs::write(
        operator.home.path().join("docker/config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.host
        ),
    )
    .unwrap();
    operator.push(&tag);
    let ran = operator.run(&tag, &format!("oci://{}", registry.host), &[]);
    labelled(&ran);
    assert!(!ran.stderr.contains("s3cret-pass") && !ran.stdout.contains("s3cret-pass"));
}
