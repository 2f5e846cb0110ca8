//! Kubeconfig files: read one, write one readable by its owner only.

use std::path::Path;

use base64::Engine as _;
use mooring_engine::{atomic, trust};
use mooring_model::kubeconfig::{Kubeconfig, KubeconfigError};
use serde_json::Value;

/// The largest certificate or key file a kubeconfig may name.
const MAX_REFERENCED_BYTES: u64 = 1 << 20;

/// The fields that name a file, and the `-data` field that holds the same
/// bytes inline, per kind of entry (as `kubectl config view --flatten`
/// inlines them).
const FILE_FIELDS: [(&str, &str, &str); 3] = [
    (
        "cluster",
        "certificate-authority",
        "certificate-authority-data",
    ),
    ("user", "client-certificate", "client-certificate-data"),
    ("user", "client-key", "client-key-data"),
];

/// Inlines every certificate and key file `config` names, a relative path
/// read from `dir` (the directory of the file that defines it, as kubectl
/// resolves it): a kubeconfig stored or merged elsewhere would otherwise
/// point at nothing. The error names the entry, the field and the file.
pub fn inline_files(config: &mut Kubeconfig, dir: &Path) -> Result<(), String> {
    for (field, path_key, data_key) in FILE_FIELDS {
        let entries = match field {
            "cluster" => &mut config.clusters,
            _ => &mut config.users,
        };
        for entry in entries.iter_mut() {
            let Some(Value::Object(inner)) = entry.body.get_mut(field) else {
                continue;
            };
            let Some(Value::String(named)) = inner.get(path_key) else {
                continue;
            };
            let file = dir.join(named);
            let bytes = trust::read_regular_file(&file, MAX_REFERENCED_BYTES).map_err(|e| {
                format!(
                    "{field} `{}`: {path_key} {}: {}",
                    entry.name,
                    file.display(),
                    mooring_engine::session::chain(&e)
                )
            })?;
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            inner.shift_remove(path_key);
            inner.insert(data_key.to_owned(), Value::String(data));
        }
    }
    Ok(())
}

/// Reads kubeconfig text (YAML or JSON) and checks it is a kubeconfig.
pub fn parse(text: &str) -> Result<Kubeconfig, KubeconfigError> {
    let value: Value = serde_saphyr::from_str(text).map_err(|error| {
        let at = error
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        KubeconfigError::NotAKubeconfig(format!("invalid YAML{at}"))
    })?;
    Kubeconfig::from_value(value)
}

/// Replaces `path` with `config` as YAML, readable by its owner only, so a
/// reader sees the old kubeconfig or the new one and never a credential in
/// a world-readable file.
pub fn write_private(path: &Path, config: &Kubeconfig) -> std::io::Result<()> {
    atomic::write_private(path, to_yaml(config).as_bytes())
}

/// A kubeconfig as YAML, for files and stdout.
pub fn to_yaml(config: &Kubeconfig) -> String {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => mooring_engine::yaml::to_yaml(&map),
        _ => String::new(),
    }
}
