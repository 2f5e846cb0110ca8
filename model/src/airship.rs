//! Typed views of the airshipctl documents steps work with most.
//!
//! Each type keeps every field it does not name in `rest`, so reading a
//! document into it and writing it back loses nothing, whatever version of
//! airshipctl wrote it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Object;

/// The API group and version of every airshipctl document.
pub const AIRSHIP_API_VERSION: &str = "airshipit.org/v1alpha1";

/// A document type with a fixed `apiVersion` and `kind`.
pub trait Kind: Serialize + DeserializeOwned {
    /// The `apiVersion` a document of this kind has.
    const API_VERSION: &'static str;
    /// The `kind` a document of this kind has.
    const KIND: &'static str;

    /// True when `doc` is of this kind.
    fn describes(doc: &impl Object) -> bool {
        doc.api_version() == Self::API_VERSION && doc.kind() == Self::KIND
    }
}

/// Why a document could not be read as a typed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedError {
    /// The document has another `apiVersion` or `kind`.
    WrongKind {
        /// `apiVersion/kind` that was wanted.
        wanted: String,
        /// `apiVersion/kind` the document has.
        found: String,
    },
    /// The document is of the kind but a field does not fit it.
    Invalid(String),
}

impl std::fmt::Display for TypedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypedError::WrongKind { wanted, found } => {
                write!(f, "is a {found}, not a {wanted}")
            }
            TypedError::Invalid(why) => write!(f, "does not fit its kind: {why}"),
        }
    }
}

impl std::error::Error for TypedError {}

/// Read `doc` as a `T`, after checking its `apiVersion` and `kind`.
pub fn parse<T: Kind>(doc: &impl Object) -> Result<T, TypedError> {
    if !T::describes(doc) {
        return Err(TypedError::WrongKind {
            wanted: format!("{}/{}", T::API_VERSION, T::KIND),
            found: format!("{}/{}", doc.api_version(), doc.kind()),
        });
    }
    serde_json::from_value(Value::Object(doc.content().clone()))
        .map_err(|e| TypedError::Invalid(e.to_string()))
}

/// `value` as a document's content, with its `apiVersion` and `kind`.
pub fn to_content<T: Kind>(value: &T) -> Result<Map<String, Value>, TypedError> {
    let mut content = match serde_json::to_value(value) {
        Ok(Value::Object(content)) => content,
        Ok(_) => return Err(TypedError::Invalid("not an object".to_owned())),
        Err(e) => return Err(TypedError::Invalid(e.to_string())),
    };
    content.insert("apiVersion".to_owned(), T::API_VERSION.into());
    content.insert("kind".to_owned(), T::KIND.into());
    Ok(content)
}

/// `metadata` as far as steps need it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// Everything else under `metadata`.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A reference to another document by `apiVersion`, `kind` and `name`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// The referenced document's `apiVersion`.
    #[serde(default)]
    pub api_version: String,
    /// The referenced document's `kind`.
    #[serde(default)]
    pub kind: String,
    /// The referenced document's `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// Anything else (`namespace`, ...).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl ObjectRef {
    /// True when `doc` is the document this refers to.
    pub fn refers_to(&self, doc: &impl Object) -> bool {
        doc.kind() == self.kind
            && doc.name() == self.name
            && (self.api_version.is_empty() || doc.api_version() == self.api_version)
    }
}

/// A `Phase`: one step of a plan, run by the executor it references over
/// the documents below its entry point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// `metadata` (`clusterName` is in `metadata.rest`).
    pub metadata: Metadata,
    /// `config`.
    #[serde(default)]
    pub config: PhaseConfig,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `Phase.config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseConfig {
    /// The executor document that runs the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_ref: Option<ObjectRef>,
    /// The bundle directory the phase's documents come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_entry_point: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Kind for Phase {
    const API_VERSION: &'static str = AIRSHIP_API_VERSION;
    const KIND: &'static str = "Phase";
}

/// A `PhasePlan`: phases run in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhasePlan {
    /// `metadata`.
    pub metadata: Metadata,
    /// The phases, in the order they run.
    #[serde(default)]
    pub phases: Vec<PlanEntry>,
    /// Every other field (`description`, `validation`, ...).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One entry of `PhasePlan.phases`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The phase's name.
    pub name: String,
    /// Every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Kind for PhasePlan {
    const API_VERSION: &'static str = AIRSHIP_API_VERSION;
    const KIND: &'static str = "PhasePlan";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plan_reads_and_writes_back_without_loss() {
        let doc = json!({
            "apiVersion": "airshipit.org/v1alpha1", "kind": "PhasePlan",
            "metadata": {"name": "deploy", "labels": {"a": "b"}},
            "description": "d",
            "phases": [{"name": "one"}, {"name": "two", "extra": 1}],
            "validation": {"kindsToSkip": ["Clusterctl"]}
        });
        let doc = doc.as_object().unwrap();
        let mut plan: PhasePlan = parse(doc).unwrap();
        assert_eq!(plan.phases[1].name, "two");
        assert_eq!(to_content(&plan).unwrap(), *doc);
        plan.phases.remove(0);
        assert_eq!(
            to_content(&plan).unwrap()["phases"],
            json!([{"name": "two", "extra": 1}])
        );
    }

    #[test]
    fn the_wrong_kind_or_shape_is_refused_with_what_was_found() {
        let phase = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "Phase", "metadata": {"name": "p"},
            "config": {"executorRef": {"apiVersion": "airshipit.org/v1alpha1", "kind": "Clusterctl", "name": "c"}}});
        let phase = phase.as_object().unwrap();
        let err = parse::<PhasePlan>(phase).unwrap_err();
        assert_eq!(
            err.to_string(),
            "is a airshipit.org/v1alpha1/Phase, not a airshipit.org/v1alpha1/PhasePlan"
        );
        let parsed: Phase = parse(phase).unwrap();
        let executor = parsed.config.executor_ref.unwrap();
        let target = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "Clusterctl", "metadata": {"name": "c"}});
        assert!(executor.refers_to(target.as_object().unwrap()));
        let broken =
            json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "PhasePlan", "phases": "x"});
        assert!(matches!(
            parse::<PhasePlan>(broken.as_object().unwrap()),
            Err(TypedError::Invalid(_))
        ));
    }
}
