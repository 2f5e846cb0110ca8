//! Kubeconfig files: read one, write one readable by its owner only.

use std::path::Path;

use mooring_engine::atomic;
use mooring_model::kubeconfig::{Kubeconfig, KubeconfigError};
use serde_json::Value;

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
