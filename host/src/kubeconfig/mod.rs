//! The kubeconfig lifecycle: resolve a cluster's kubeconfig from the
//! sources its `ClusterMap` lists ([`resolve`]), capture it from Cluster
//! API ([`capture`]), persist it beyond the ephemeral cluster ([`store`]),
//! and merge many into one (the model's `merge_all`).
//!
//! Nothing here ever prints or returns a credential in a message: parse
//! errors give a position, never a snippet of the text.

pub mod capture;
pub mod resolve;
pub mod store;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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

/// Replaces `path` with `config` as YAML, readable by its owner only: a
/// flushed temporary file beside it, renamed over it, so a reader sees the
/// old kubeconfig or the new one and never a credential in a world-readable
/// file. `prefix` names the temporary file.
pub fn write_private(path: &Path, config: &Kubeconfig, prefix: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    file.write_all(to_yaml(config).as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A kubeconfig as YAML, for files and stdout.
pub fn to_yaml(config: &Kubeconfig) -> String {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => crate::yaml::to_yaml(&map),
        _ => String::new(),
    }
}
