//! The operator grants; the data only asks.
//!
//! A pipeline — in a bundle, a `--pipeline` file, or a KRM functionConfig —
//! is data: it may *ask* for captured credentials, `.wasm` guests and limits
//! above the defaults, and a run gets them only when the operator approved
//! them outside the data: on the command line (`--allow-credentials`,
//! `--allow-guests`, `--max-timeout`, `--max-memory`) or in their policy
//! file (`$XDG_CONFIG_HOME/mooring/policy.yaml`), whose entries name the
//! bundles or kpt packages they approve for:
//!
//! ```yaml
//! apiVersion: mooring.dev/v1alpha1
//! kind: Policy
//! approvals:
//!   - paths: [~/sites/docker-test-site]           # this site, as a bundle or a kpt package
//!     credentials: [ephemeral-cluster, target-cluster]
//!     guests: [~/guests/, "sha256:3f1c..."]         # a directory of .wasm files, or a digest
//!     limits: {timeout: 60s, memory: 1Gi}         # the most a step may ask for
//!     kubeconfigs: [~/kind/kubeconfig]            # filesystem sources a ClusterMap may read
//! ```
//!
//! Built-in guests and the default limits need no approval. A refused
//! request names the step, what it asked, and the flag or policy line that
//! would approve it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::guests::GuestRef;
use crate::limits::{self, DisplayBytes, DisplayDuration, Limits};
use crate::pipeline::Pipeline;
use crate::trust;
use crate::yaml;

/// What the operator approved for one run.
#[derive(Debug, Clone)]
pub struct Approvals {
    /// Clusters whose captured kubeconfigs a step may be granted.
    pub credentials: BTreeSet<String>,
    /// `.wasm` guests a step may name.
    pub guests: Vec<GuestApproval>,
    /// The longest timeout a step may ask for.
    pub max_timeout: Duration,
    /// The most memory a step may ask for.
    pub max_memory: u64,
    /// Kubeconfig files a ClusterMap's `filesystem` sources may read,
    /// besides the bundle and `~/.airship/kubeconfig`.
    pub kubeconfigs: Vec<PathBuf>,
}

impl Default for Approvals {
    /// Nothing beyond the defaults: built-in guests, default limits, no
    /// credentials.
    fn default() -> Self {
        Approvals {
            credentials: BTreeSet::new(),
            guests: Vec::new(),
            max_timeout: limits::DEFAULT_TIMEOUT,
            max_memory: limits::DEFAULT_MEMORY,
            kubeconfigs: Vec::new(),
        }
    }
}

/// One approved `.wasm` guest source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestApproval {
    /// Any `.wasm` file below this directory (or this file).
    Path(PathBuf),
    /// A component with this sha256, wherever it is (for an OCI guest, the
    /// sha256 of its manifest).
    Digest(String),
    /// Any OCI guest in this registry or repository (`oci://` and a prefix
    /// of its reference, ending at a `/`).
    Registry(String),
}

impl GuestApproval {
    /// Reads `sha256:<hex>`, `oci://<registry>[/<repository>]` or a path.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(prefix) = text.strip_prefix("oci://") {
            let prefix = prefix.trim_end_matches('/');
            if prefix.is_empty() || prefix.contains(['@', ' ']) {
                return Err(format!(
                    "{text:?}: approve a registry or repository as oci://HOST[:PORT][/REPOSITORY]"
                ));
            }
            return Ok(GuestApproval::Registry(prefix.to_owned()));
        }
        match text.strip_prefix("sha256:") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(GuestApproval::Digest(hex.to_ascii_lowercase()))
            }
            Some(_) => Err(format!(
                "{text:?}: a digest is sha256: and 64 hexadecimal digits"
            )),
            None => Ok(GuestApproval::Path(PathBuf::from(text))),
        }
    }
}

/// A request the operator did not approve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "step `{step}` asks for {asked}, which the operator has not approved; \
     run with {flag}, or approve it in the policy file ({policy})"
)]
pub struct NotApproved {
    /// The step.
    pub step: String,
    /// What it asked for.
    pub asked: String,
    /// The command-line flag that would approve it.
    pub flag: String,
    /// The policy line that would approve it.
    pub policy: String,
}

impl Approvals {
    /// Checks every request of `pipeline` against these approvals.
    pub fn check(&self, pipeline: &Pipeline) -> Result<(), NotApproved> {
        for step in &pipeline.steps {
            let refuse = |asked: String, flag: String, policy: String| NotApproved {
                step: step.name.clone(),
                asked,
                flag,
                policy,
            };
            if let Some(cluster) = step
                .grants
                .credentials
                .iter()
                .find(|c| !self.credentials.contains(*c))
            {
                return Err(refuse(
                    format!("the credentials of cluster `{cluster}`"),
                    format!("--allow-credentials {cluster}"),
                    format!("credentials: [{cluster}]"),
                ));
            }
            if let GuestRef::Oci { reference, digest } = &step.guest
                && !self.approves_oci(reference, digest.as_deref())
            {
                let repository = crate::guests::oci_repository(reference);
                return Err(refuse(
                    format!("guest {}", step.guest.display_name()),
                    format!("--allow-guests oci://{repository}"),
                    format!("guests: [\"oci://{repository}\"]"),
                ));
            }
            if let GuestRef::File { path, sha256 } = &step.guest
                && !self.approves_guest(path, sha256.as_deref())
            {
                let dir = path.parent().unwrap_or(Path::new("."));
                return Err(refuse(
                    format!("guest file {}", path.display()),
                    format!("--allow-guests {}", dir.display()),
                    format!("guests: [{}]", dir.display()),
                ));
            }
            self.check_limits(&step.limits)
                .map_err(|(asked, flag, policy)| refuse(asked, flag, policy))?;
        }
        Ok(())
    }

    fn check_limits(&self, limits: &Limits) -> Result<(), (String, String, String)> {
        if limits.timeout > self.max_timeout {
            let asked = DisplayDuration(limits.timeout);
            return Err((
                format!(
                    "a timeout of {asked} (the most approved is {})",
                    DisplayDuration(self.max_timeout)
                ),
                format!("--max-timeout {asked}"),
                format!("limits: {{timeout: {asked}}}"),
            ));
        }
        if limits.memory > self.max_memory {
            let asked = DisplayBytes(limits.memory);
            return Err((
                format!(
                    "{asked} of memory (the most approved is {})",
                    DisplayBytes(self.max_memory)
                ),
                format!("--max-memory {asked}"),
                format!("limits: {{memory: {asked}}}"),
            ));
        }
        Ok(())
    }

    /// True when a `.wasm` at `path`, pinned or not, is approved: its
    /// digest is, or it lies below an approved path. A digest approval
    /// holds only for a pinned file (the pin is checked when it is read).
    fn approves_guest(&self, path: &Path, pin: Option<&str>) -> bool {
        // A file that is missing is still below its directory: it is then
        // refused for being missing, which says more.
        let canonical = path.canonicalize().ok().or_else(|| {
            let dir = path.parent()?.canonicalize().ok()?;
            Some(dir.join(path.file_name()?))
        });
        self.guests.iter().any(|approval| match approval {
            GuestApproval::Digest(digest) => pin == Some(digest.as_str()),
            GuestApproval::Path(dir) => match (&canonical, dir.canonicalize()) {
                (Some(file), Ok(dir)) => file.starts_with(dir),
                _ => false,
            },
            GuestApproval::Registry(_) => false,
        })
    }

    /// True when the OCI guest `reference`, pinned to `digest` or not, is
    /// approved: its manifest digest is, or its registry or repository.
    fn approves_oci(&self, reference: &str, digest: Option<&str>) -> bool {
        self.guests.iter().any(|approval| match approval {
            GuestApproval::Digest(approved) => digest == Some(approved.as_str()),
            // A registry approves its repositories; a repository its tags
            // (after a registry, `:` starts a port: another registry).
            GuestApproval::Registry(prefix) => {
                reference.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    rest.is_empty()
                        || rest.starts_with('/')
                        || (rest.starts_with(':') && prefix.contains('/'))
                })
            }
            GuestApproval::Path(_) => false,
        })
    }

    /// Adds what `other` approves.
    pub fn extend(&mut self, other: &Approvals) {
        self.credentials.extend(other.credentials.iter().cloned());
        self.guests.extend(other.guests.iter().cloned());
        self.max_timeout = self.max_timeout.max(other.max_timeout);
        self.max_memory = self.max_memory.max(other.max_memory);
        self.kubeconfigs.extend(other.kubeconfigs.iter().cloned());
    }
}

/// The operator's policy file: approvals, each for some bundles.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Where it was read from (for messages).
    pub source: Option<PathBuf>,
    entries: Vec<(Vec<PathBuf>, Approvals)>,
}

/// Why the policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Unreadable, or not ours to trust.
    #[error(transparent)]
    Untrusted(#[from] trust::TrustError),
    /// Not a policy.
    #[error(transparent)]
    Invalid(#[from] yaml::YamlError),
    /// A value that does not parse.
    #[error("{path}: {message}")]
    Value {
        /// The policy file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicySpec {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    approvals: Vec<EntrySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    paths: Vec<String>,
    #[serde(default)]
    credentials: Vec<String>,
    #[serde(default)]
    guests: Vec<String>,
    #[serde(default)]
    limits: Option<LimitsSpec>,
    #[serde(default)]
    kubeconfigs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    timeout: Option<String>,
    memory: Option<String>,
}

impl Policy {
    /// `$XDG_CONFIG_HOME/mooring/policy.yaml`, else
    /// `~/.config/mooring/policy.yaml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
        Some(base.join("mooring/policy.yaml"))
    }

    /// Reads the policy at `path`; an absent file is an empty policy. The
    /// file must be the operator's: owned by them and writable by no one
    /// else, or a bundle could approve itself by writing it.
    pub fn load(path: &Path, home: Option<&Path>) -> Result<Policy, PolicyError> {
        let Some(text) = trust::read_private_file(path, 1 << 20)? else {
            return Ok(Policy::default());
        };
        let name = path.display().to_string();
        let chunk = yaml::Chunk {
            text,
            first_line: 1,
        };
        let spec: PolicySpec = yaml::from_chunk(&name, &chunk)?;
        let invalid = |message: String| PolicyError::Value {
            path: name.clone(),
            message,
        };
        if spec.api_version != crate::pipeline::API_VERSION || spec.kind != "Policy" {
            return Err(invalid(format!(
                "expected apiVersion {} and kind Policy, found {} {}",
                crate::pipeline::API_VERSION,
                spec.api_version,
                spec.kind
            )));
        }
        let _ = spec.metadata;
        let expand = |p: &str| expand_home(p, home);
        let mut entries = Vec::new();
        for (i, entry) in spec.approvals.into_iter().enumerate() {
            let at = |e: String| invalid(format!("approvals[{i}]: {e}"));
            let mut approvals = Approvals {
                credentials: entry.credentials.into_iter().collect(),
                ..Approvals::default()
            };
            for guest in &entry.guests {
                approvals
                    .guests
                    .push(match GuestApproval::parse(guest).map_err(at)? {
                        GuestApproval::Path(p) => GuestApproval::Path(expand(&p.to_string_lossy())),
                        digest => digest,
                    });
            }
            if let Some(limits) = entry.limits {
                if let Some(timeout) = limits.timeout {
                    approvals.max_timeout = limits::parse_duration(&timeout).map_err(at)?;
                }
                if let Some(memory) = limits.memory {
                    approvals.max_memory = limits::parse_memory(&memory).map_err(at)?;
                }
            }
            approvals.kubeconfigs = entry.kubeconfigs.iter().map(|p| expand(p)).collect();
            let paths = entry.paths.iter().map(|p| expand(p)).collect();
            entries.push((paths, approvals));
        }
        Ok(Policy {
            source: Some(path.to_owned()),
            entries,
        })
    }

    /// What the policy approves for the bundle or package at `site`: every
    /// entry one of whose paths holds it.
    pub fn approvals_for(&self, site: &Path) -> Approvals {
        let site = site.canonicalize().unwrap_or_else(|_| site.to_owned());
        let mut approvals = Approvals::default();
        for (paths, entry) in &self.entries {
            let applies = paths.iter().any(|p| {
                p.canonicalize()
                    .map(|p| site.starts_with(p))
                    .unwrap_or(false)
            });
            if applies {
                approvals.extend(entry);
            }
        }
        approvals
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(path) => write!(f, "{}", path.display()),
            None => f.write_str("no policy file"),
        }
    }
}

/// `~/x` with the home directory, anything else as written.
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pipeline(steps: &str) -> Pipeline {
        let text = format!(
            "apiVersion: mooring.dev/v1alpha1\nkind: Pipeline\nmetadata: {{name: p}}\nsteps:\n{steps}"
        );
        let chunk = yaml::Chunk {
            text,
            first_line: 1,
        };
        Pipeline::from_chunk("p.yaml", &chunk, Path::new("/bundle")).unwrap()
    }

    #[test]
    fn registry_guests_are_approved_by_registry_repository_or_digest() {
        let hex = "ab".repeat(32);
        let step = |guest: &str| pipeline(&format!("- guest: {guest}\n"));
        let approving = |what: &str| Approvals {
            guests: vec![GuestApproval::parse(what).unwrap()],
            ..Approvals::default()
        };
        let tagged = step("r.example:5000/guests/x:1.0");
        let refused = Approvals::default().check(&tagged).unwrap_err().to_string();
        assert!(
            refused.contains("--allow-guests oci://r.example:5000/guests/x"),
            "{refused}"
        );
        assert!(approving("oci://r.example:5000").check(&tagged).is_ok());
        assert!(
            approving("oci://r.example:5000/guests/")
                .check(&tagged)
                .is_ok()
        );
        assert!(
            approving("oci://r.example:5000/guests/x")
                .check(&tagged)
                .is_ok()
        );
        // A prefix approves at a path boundary only, and another port is
        // another registry.
        assert!(
            approving("oci://r.example:5000/gue")
                .check(&tagged)
                .is_err()
        );
        assert!(approving("oci://r.example:500").check(&tagged).is_err());
        assert!(approving("oci://r.example").check(&tagged).is_err());
        assert!(
            approving("oci://r.example:5000/guests/x:1")
                .check(&tagged)
                .is_err()
        );
        let pinned = step(&format!("r.example/guests/x@sha256:{hex}"));
        assert!(approving(&format!("sha256:{hex}")).check(&pinned).is_ok());
        assert!(approving(&format!("sha256:{hex}")).check(&tagged).is_err());
        assert!(GuestApproval::parse("oci://").is_err());
    }

    #[test]
    fn requests_need_approval_and_the_refusal_says_how() {
        let none = Approvals::default();
        assert!(none.check(&pipeline("- guest: set-metadata\n")).is_ok());
        let asked =
            pipeline("- guest: inject-credentials\n  grants: {credentials: [target-cluster]}\n");
        let refused = none.check(&asked).unwrap_err().to_string();
        assert!(
            refused.contains(
                "step `inject-credentials` asks for the credentials of cluster `target-cluster`"
            ),
            "{refused}"
        );
        assert!(
            refused.contains("--allow-credentials target-cluster"),
            "{refused}"
        );
        assert!(
            refused.contains("credentials: [target-cluster]"),
            "{refused}"
        );
        let mut some = Approvals::default();
        some.credentials.insert("target-cluster".into());
        assert!(some.check(&asked).is_ok());

        let long = pipeline("- guest: set-metadata\n  limits: {timeout: 1000h, memory: 4Gi}\n");
        let refused = none.check(&long).unwrap_err().to_string();
        assert!(
            refused.contains("a timeout of 3600000s (the most approved is 10s)")
                && refused.contains("--max-timeout 3600000s"),
            "{refused}"
        );
        let file = pipeline("- guest: x.wasm\n");
        let refused = none.check(&file).unwrap_err().to_string();
        assert!(
            refused.contains("guest file /bundle/x.wasm")
                && refused.contains("--allow-guests /bundle"),
            "{refused}"
        );
    }

    #[test]
    fn a_policy_applies_to_the_paths_it_names_and_must_be_private() {
        let home = tempfile::tempdir().unwrap();
        let site = home.path().join("sites/docker");
        std::fs::create_dir_all(site.join("phases")).unwrap();
        let path = home.path().join("policy.yaml");
        std::fs::write(
            &path,
            "apiVersion: mooring.dev/v1alpha1\nkind: Policy\napprovals:\n- paths: [~/sites/docker]\n  credentials: [target-cluster]\n  limits: {timeout: 60s}\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let policy = Policy::load(&path, Some(home.path())).unwrap();
        let here = policy.approvals_for(&site.join("phases"));
        assert!(here.credentials.contains("target-cluster"));
        assert_eq!(here.max_timeout, Duration::from_secs(60));
        let elsewhere = policy.approvals_for(home.path());
        assert!(elsewhere.credentials.is_empty());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let open = Policy::load(&path, Some(home.path()))
            .unwrap_err()
            .to_string();
        assert!(open.contains("writable by others"), "{open}");
        assert!(
            Policy::load(&home.path().join("absent.yaml"), None)
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
