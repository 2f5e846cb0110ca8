//! The pipeline document: which guests run, in what order, over which
//! documents, with what configuration and limits.
//!
//! ```yaml
//! apiVersion: mooring.dev/v1alpha1
//! kind: Pipeline
//! metadata:
//!   name: default
//! steps:
//!   - name: mark-site                # optional; defaults to the guest's name
//!     guest: set-metadata            # a built-in, or a path to a .wasm component
//!     # sha256: 3f1c...              # pin for a .wasm path: refused if it differs
//!     config:                        # anything; handed to the guest as JSON
//!       labels: {airshipit.org/site: docker-test-site}
//!     selector:                      # optional; every field given must match
//!       kind: ClusterMap
//!       labels: {airshipit.org/deploy-k8s: "false"}
//!     limits: {timeout: 10s, memory: 256Mi}
//!     grants:                        # optional; nothing is granted by default
//!       credentials: [target-cluster] # captured kubeconfigs the step may read
//!     mode: validate                 # optional: results only, documents read-only
//! ```
//!
//! A pipeline lives in the bundle (any document of this kind; it is never
//! handed to a step) or in a file given with `--pipeline`. Paths to `.wasm`
//! files are relative to the pipeline file's directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::document::{Document, Object};
pub use crate::guests::GuestRef;
use crate::limits::Limits;
use crate::yaml::{self, YamlError};

/// The `apiVersion` of mooring's own documents.
pub const API_VERSION: &str = "mooring.dev/v1alpha1";
/// The `kind` of a pipeline document.
pub const KIND: &str = "Pipeline";

/// Why a pipeline document is not usable.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A YAML or schema error with a position.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A schema error in a pipeline given as a value (a KRM functionConfig).
    #[error("{source_name}: {message}")]
    Invalid {
        /// Where the pipeline came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The pipeline file could not be read.
    #[error("failed to read pipeline file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `metadata.name`, or `pipeline`.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a pipeline.
#[derive(Debug, Clone)]
pub struct Step {
    /// Unique within the pipeline.
    pub name: String,
    /// Which guest runs.
    pub guest: GuestRef,
    /// The guest's configuration (an object; `{}` when none was given).
    pub config: Value,
    /// Which documents the step sees.
    pub selector: Selector,
    /// Time and memory the step may use.
    pub limits: Limits,
    /// Capabilities beyond the sandbox.
    pub grants: Grants,
    /// Whether it may change documents.
    pub mode: StepMode,
    /// Where its `config` is written (`pipeline.yaml:12:7`), for messages
    /// about it.
    pub config_at: String,
}

/// Whether a step may change documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepMode {
    /// It may change, add and remove documents (the default).
    #[default]
    Transform,
    /// It reports results only: its documents are read-only, and a change
    /// fails it (what kpt's `pipeline.validators` expects).
    Validate,
}

/// What a step may reach beyond the sandbox. Nothing, unless listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Clusters whose captured kubeconfig the step may read.
    #[serde(default)]
    pub credentials: Vec<String>,
}

pub use mooring_model::Selector;

/// True for a mooring pipeline document, which steps never see.
pub fn is_pipeline(doc: &Document) -> bool {
    doc.api_version() == API_VERSION && doc.kind() == KIND
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PipelineSpec {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Map<String, Value>,
    steps: Vec<StepSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    name: Option<String>,
    guest: String,
    sha256: Option<String>,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    selector: Selector,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    grants: Grants,
    #[serde(default)]
    mode: StepMode,
}

impl Pipeline {
    /// Reads a pipeline file; `.wasm` paths resolve against its directory.
    pub fn from_file(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_owned(),
            source,
        })?;
        let chunk = yaml::Chunk {
            text,
            first_line: 1,
        };
        let base = path.parent().unwrap_or(Path::new(""));
        Self::from_chunk(&path.display().to_string(), &chunk, base)
    }

    /// Parses a pipeline from one YAML chunk of a file named `source_name`.
    pub fn from_chunk(
        source_name: &str,
        chunk: &yaml::Chunk,
        base: &Path,
    ) -> Result<Pipeline, PipelineError> {
        let spec: PipelineSpec = yaml::from_chunk(source_name, chunk)?;
        let place = |index: usize| {
            let step = index.to_string();
            let at = crate::edit::position(&chunk.text, &["steps", &step, "config"])
                .or_else(|| crate::edit::position(&chunk.text, &["steps", &step]));
            match at {
                Some((line, column)) => {
                    format!("{source_name}:{}:{column}", chunk.first_line + line - 1)
                }
                None => format!("{source_name}: steps[{index}]"),
            }
        };
        Self::from_spec(spec, base, &place).map_err(|message| {
            PipelineError::Yaml(YamlError {
                path: source_name.to_owned(),
                line: chunk.first_line,
                column: 1,
                message,
            })
        })
    }

    /// Builds a pipeline from an already-parsed value, such as a KRM
    /// `functionConfig`; `.wasm` paths resolve against `base`.
    pub fn from_value(
        source_name: &str,
        value: Value,
        base: &Path,
    ) -> Result<Pipeline, PipelineError> {
        let invalid = |message: String| PipelineError::Invalid {
            source_name: source_name.to_owned(),
            message,
        };
        let spec: PipelineSpec =
            serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        let place = |index: usize| format!("{source_name}: steps[{index}].config");
        Self::from_spec(spec, base, &place).map_err(invalid)
    }

    /// A one-step pipeline, as named by `mooring fn`'s ConfigMap form.
    pub fn single(guest: &str, config: Value, base: &Path) -> Result<Pipeline, String> {
        let step = StepSpec {
            name: None,
            guest: guest.to_owned(),
            sha256: None,
            config,
            selector: Selector::default(),
            limits: Limits::default(),
            grants: Grants::default(),
            mode: StepMode::default(),
        };
        let place = |_| "functionConfig data.config".to_owned();
        Self::build("pipeline".to_owned(), vec![step], base, &place)
    }

    fn from_spec(
        spec: PipelineSpec,
        base: &Path,
        place: &dyn Fn(usize) -> String,
    ) -> Result<Pipeline, String> {
        if spec.api_version != API_VERSION || spec.kind != KIND {
            return Err(format!(
                "expected apiVersion {API_VERSION} and kind {KIND}, found {} {}",
                spec.api_version, spec.kind
            ));
        }
        let name = spec
            .metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("pipeline")
            .to_owned();
        Self::build(name, spec.steps, base, place)
    }

    fn build(
        name: String,
        specs: Vec<StepSpec>,
        base: &Path,
        place: &dyn Fn(usize) -> String,
    ) -> Result<Pipeline, String> {
        if specs.is_empty() {
            return Err("the pipeline has no steps; list at least one under `steps:`".to_owned());
        }
        let mut names = HashSet::new();
        let mut steps = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let at = format!("steps[{index}]");
            let guest =
                guest_ref(&spec.guest, spec.sha256, base).map_err(|e| format!("{at}: {e}"))?;
            let config = match spec.config {
                Value::Null => Value::Object(Map::new()),
                Value::Object(map) => Value::Object(map),
                _ => return Err(format!("{at}.config: must be a mapping")),
            };
            let step_name = spec.name.unwrap_or_else(|| default_step_name(&guest));
            if !names.insert(step_name.clone()) {
                return Err(format!(
                    "{at}.name: another step is already named `{step_name}`; \
                     give each step a name of its own (a step without `name:` is named after its guest)"
                ));
            }
            if let Some(bad) = spec.grants.credentials.iter().find(|c| !is_cluster_name(c)) {
                return Err(format!(
                    "{at}.grants.credentials: {bad:?} is not a cluster name; list clusters of the \
                     ClusterMap by name (no wildcards)"
                ));
            }
            steps.push(Step {
                name: step_name,
                guest,
                config,
                selector: spec.selector,
                limits: spec.limits,
                grants: spec.grants,
                mode: spec.mode,
                config_at: place(index),
            });
        }
        Ok(Pipeline { name, steps })
    }
}

fn guest_ref(guest: &str, sha256: Option<String>, base: &Path) -> Result<GuestRef, String> {
    if guest.is_empty() {
        return Err("`guest` is empty; name a built-in guest or a .wasm file".to_owned());
    }
    if let Some(pin) = &sha256
        && !(pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!(
            "`sha256` must be 64 hexadecimal digits, found {pin:?}"
        ));
    }
    if let Some(reference) = oci_reference(guest) {
        return oci_guest(reference, sha256.map(|s| s.to_ascii_lowercase()));
    }
    if !guest.ends_with(".wasm") {
        if sha256.is_some() {
            return Err(format!(
                "`sha256` pins a .wasm file, but `{guest}` is a built-in guest"
            ));
        }
        return Ok(GuestRef::Builtin(guest.to_owned()));
    }
    Ok(GuestRef::File {
        path: base.join(guest),
        sha256: sha256.map(|s| s.to_ascii_lowercase()),
    })
}

/// The OCI reference a step's `guest` names: `oci://` and a reference, or
/// a `registry/repository[:tag][@sha256:...]` (it has a `/` and is not a
/// `.wasm` path).
fn oci_reference(guest: &str) -> Option<&str> {
    guest
        .strip_prefix("oci://")
        .or_else(|| (guest.contains('/') && !guest.ends_with(".wasm")).then_some(guest))
}

/// An OCI guest: its reference without a digest, and the digest from
/// `@sha256:` or the step's `sha256:` (which must agree).
fn oci_guest(reference: &str, pin: Option<String>) -> Result<GuestRef, String> {
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => {
            let hex = digest
                .strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    format!("`{reference}`: a digest is @sha256: and 64 hexadecimal digits")
                })?;
            (name, Some(hex.to_ascii_lowercase()))
        }
        None => (reference, None),
    };
    let well_formed = name.split_once('/').is_some_and(|(registry, repository)| {
        !registry.is_empty()
            && !repository.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:[]".contains(&b))
    });
    if !well_formed {
        return Err(format!(
            "`{reference}` is not an OCI reference registry/repository[:tag][@sha256:digest] \
             (repositories are lowercase); a built-in guest has no `/`, a file ends in .wasm"
        ));
    }
    let digest = match (digest, pin) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "`{reference}` and `sha256: {b}` pin different digests; keep one"
            ));
        }
        (a, b) => a.or(b),
    };
    Ok(GuestRef::Oci {
        reference: name.to_owned(),
        digest,
    })
}

/// A ClusterMap key: what a credentials grant may name.
fn is_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn default_step_name(guest: &GuestRef) -> String {
    match guest {
        GuestRef::Builtin(name) => name.clone(),
        GuestRef::File { path, .. } => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "step".to_owned()),
        // The repository's last segment, without its tag.
        GuestRef::Oci { reference, .. } => {
            let last = reference.rsplit('/').next().unwrap_or(reference);
            last.split(':').next().unwrap_or(last).to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        let chunk = yaml::Chunk {
            text: text.to_owned(),
            first_line: 5,
        };
        Pipeline::from_chunk("p.yaml", &chunk, Path::new("/bundle"))
    }

    const HEAD: &str = "apiVersion: mooring.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: demo}\n";

    #[test]
    fn oci_guests_are_named_by_reference_and_pinned_by_one_digest() {
        let hex = "ab".repeat(32);
        let guest = |text: &str, pin: Option<&str>| {
            guest_ref(text, pin.map(str::to_owned), Path::new("/b"))
        };
        let oci = |reference: &str, digest: Option<&str>| GuestRef::Oci {
            reference: reference.to_owned(),
            digest: digest.map(str::to_owned),
        };
        assert_eq!(
            guest("r.example:5000/g/x:1.0", None),
            Ok(oci("r.example:5000/g/x:1.0", None))
        );
        assert_eq!(
            guest(
                &format!("oci://r.example/g/x@sha256:{}", hex.to_uppercase()),
                None
            ),
            Ok(oci("r.example/g/x", Some(&hex)))
        );
        assert_eq!(
            guest("r.example/g/x:1", Some(&hex)),
            Ok(oci("r.example/g/x:1", Some(&hex)))
        );
        assert_eq!(default_step_name(&oci("r.example:5000/g/x:1.0", None)), "x");
        for (bad, why) in [
            (format!("r.example/g/x@sha256:{hex}"), Some("cd".repeat(32))),
            ("r.example/g/x@sha256:12".to_owned(), None),
            ("r.example/G/X".to_owned(), None),
            ("oci://nothing".to_owned(), None),
        ] {
            assert!(guest(&bad, why.as_deref()).is_err(), "{bad}");
        }
        // A path to a component is still a file, a bare name a built-in.
        assert!(matches!(guest("g/x.wasm", None), Ok(GuestRef::File { .. })));
        assert!(matches!(
            guest("set-metadata", None),
            Ok(GuestRef::Builtin(_))
        ));
    }

    #[test]
    fn steps_get_names_guests_and_defaults() {
        let p = parse(&format!(
            "{HEAD}steps:\n- guest: set-metadata\n- guest: set-metadata\n  name: labels\n  config: {{labels: {{a: b}}}}\n- guest: g/x.wasm\n  sha256: {}\n  limits: {{timeout: 2s}}\n",
            "AB".repeat(32)
        ))
        .unwrap();
        assert_eq!(p.name, "demo");
        let names: Vec<_> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["set-metadata", "labels", "x"]);
        assert_eq!(p.steps[1].config_at, "p.yaml:12:11");
        assert_eq!(p.steps[0].config, Value::Object(Map::new()));
        assert_eq!(
            p.steps[2].guest,
            GuestRef::File {
                path: PathBuf::from("/bundle/g/x.wasm"),
                sha256: Some("ab".repeat(32))
            }
        );
        assert_eq!(p.steps[2].limits.timeout, std::time::Duration::from_secs(2));
        assert_eq!(p.steps[2].limits.memory, crate::limits::DEFAULT_MEMORY);
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let typo = parse(&format!("{HEAD}steps:\n- guest: a\n  confg: {{}}\n")).unwrap_err();
        assert!(typo.to_string().contains("confg"), "{typo}");
        assert!(typo.to_string().starts_with("p.yaml:"), "{typo}");
        let pin = parse(&format!("{HEAD}steps:\n- guest: a.wasm\n  sha256: nope\n")).unwrap_err();
        assert!(
            pin.to_string().contains("steps[0]: `sha256` must be 64"),
            "{pin}"
        );
        let pin_builtin = parse(&format!(
            "{HEAD}steps:\n- guest: a\n  sha256: {}\n",
            "0".repeat(64)
        ))
        .unwrap_err();
        assert!(
            pin_builtin.to_string().contains("built-in"),
            "{pin_builtin}"
        );
        let twins = parse(&format!("{HEAD}steps:\n- guest: a\n- guest: a\n")).unwrap_err();
        assert!(
            twins
                .to_string()
                .contains("another step is already named `a`"),
            "{twins}"
        );
        let star = parse(&format!(
            "{HEAD}steps:\n- guest: a\n  grants: {{credentials: ['*']}}\n"
        ))
        .unwrap_err();
        assert!(
            star.to_string().contains("\"*\" is not a cluster name"),
            "{star}"
        );
        let empty = parse(&format!("{HEAD}steps: []\n")).unwrap_err();
        assert!(empty.to_string().contains("no steps"), "{empty}");
        let kind = parse("apiVersion: v1\nkind: ConfigMap\nsteps: [{guest: a}]\n").unwrap_err();
        assert!(kind.to_string().contains("expected apiVersion"), "{kind}");
        let memory = parse(&format!(
            "{HEAD}steps:\n- guest: a\n  limits: {{memory: 1Ki}}\n"
        ))
        .unwrap_err();
        assert!(memory.to_string().contains("at least 1Mi"), "{memory}");
    }
}
