//! What a kustomization names: every field that points at a file or
//! directory, so a step that removes documents can remove the entries that
//! would otherwise dangle and break `kustomize build`.

use serde_json::{Map, Value};

/// One entry of a kustomization that names a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The kustomization field (`resources`, `patchesStrategicMerge`, ...).
    pub field: &'static str,
    /// An RFC 6901 pointer to the entry, for removing it.
    pub pointer: String,
    /// The path as written, relative to the kustomization's directory.
    pub path: String,
}

/// Fields whose entries are paths (or URLs), each entry a string.
const PLAIN: &[&str] = &[
    "resources",
    "bases",
    "components",
    "patchesStrategicMerge",
    "transformers",
    "generators",
    "validators",
    "crds",
];

/// Fields whose entries are objects naming a path under `path:`.
const WITH_PATH: &[&str] = &["patches", "patchesJson6902", "replacements"];

/// Every entry of `kustomization` that names a local path, in field order.
/// Remote resources (`https://...`, `github.com/...?ref=`) and inline
/// patches (text with a newline) are left out: no bundle file backs them.
pub fn references(kustomization: &Map<String, Value>) -> Vec<Reference> {
    let mut found = Vec::new();
    for field in PLAIN {
        let Some(Value::Array(entries)) = kustomization.get(*field) else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            if let Some(path) = entry.as_str().filter(|p| is_local(p)) {
                found.push(Reference {
                    field,
                    pointer: format!("/{field}/{i}"),
                    path: path.to_owned(),
                });
            }
        }
    }
    for field in WITH_PATH {
        let Some(Value::Array(entries)) = kustomization.get(*field) else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            if let Some(path) = entry
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| is_local(p))
            {
                found.push(Reference {
                    field,
                    pointer: format!("/{field}/{i}"),
                    path: path.to_owned(),
                });
            }
        }
    }
    found
}

fn is_local(path: &str) -> bool {
    !path.contains('\n')
        && !path.contains("://")
        && !path.starts_with('/')
        && !path.contains("?ref=")
}

/// True when a kustomization has nothing left to build: every list it has
/// is empty.
pub fn is_empty(kustomization: &Map<String, Value>) -> bool {
    kustomization
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "apiVersion"
                    | "kind"
                    | "metadata"
                    | "namespace"
                    | "generatorOptions"
                    | "namePrefix"
                    | "nameSuffix"
            )
        })
        .all(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
}

/// `dir/entry` normalized, `/`-separated; `None` for an entry that leaves
/// the tree rooted at `dir`'s top.
pub fn join(dir: &str, entry: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in entry.trim_end_matches('/').split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_that_names_a_path_is_found_with_its_pointer() {
        let k = json!({
            "resources": ["../../type/gating", "plan.yaml", "https://example.com/x.yaml"],
            "patchesStrategicMerge": ["plan_patch.yaml", "kind: X\nmetadata: {name: y}\n"],
            "patchesJson6902": [{"target": {"kind": "Clusterctl"}, "path": "clusterctl-patch.yaml"}],
            "patches": [{"patch": "inline"}, {"path": "p.yaml"}],
            "transformers": ["../replacements"],
            "components": ["c"]
        });
        let refs = references(k.as_object().unwrap());
        let seen: Vec<(&str, &str, &str)> = refs
            .iter()
            .map(|r| (r.field, r.pointer.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("resources", "/resources/0", "../../type/gating"),
                ("resources", "/resources/1", "plan.yaml"),
                ("components", "/components/0", "c"),
                (
                    "patchesStrategicMerge",
                    "/patchesStrategicMerge/0",
                    "plan_patch.yaml"
                ),
                ("transformers", "/transformers/0", "../replacements"),
                ("patches", "/patches/1", "p.yaml"),
                (
                    "patchesJson6902",
                    "/patchesJson6902/0",
                    "clusterctl-patch.yaml"
                ),
            ]
        );
    }

    #[test]
    fn paths_join_and_empty_kustomizations_are_told() {
        assert_eq!(
            join("site/a", "../b/c.yaml").as_deref(),
            Some("site/b/c.yaml")
        );
        assert_eq!(join("", "../x"), None);
        assert!(is_empty(
            json!({"resources": [], "namespace": "x"})
                .as_object()
                .unwrap()
        ));
        assert!(!is_empty(json!({"resources": ["a"]}).as_object().unwrap()));
    }
}
