//! Registry credentials from the docker config file (`$DOCKER_CONFIG/
//! config.json`, else `~/.docker/config.json`), as `docker login`, `oras`
//! and `wkg` write it; never from a bundle or a pipeline.

use std::path::{Path, PathBuf};

use base64::Engine;
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use serde_json::Value;

/// Why the credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Not a reference.
    #[error("`{0}` is not an OCI reference")]
    Reference(String),
    /// The config file is unreadable or not what docker writes.
    #[error("{}: {message}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The docker config file in effect: `explicit`, `$DOCKER_CONFIG/config.json`
/// or `~/.docker/config.json`.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit.map(Path::to_owned).or_else(|| {
        std::env::var_os("DOCKER_CONFIG")
            .map(|dir| PathBuf::from(dir).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
            })
    })
}

/// The credentials for `reference`'s registry: `auths.<registry>` of the
/// docker config (an `auth` of base64 `user:password`, or `username` and
/// `password`), else anonymous.
pub fn for_reference(
    reference: &str,
    explicit: Option<&Path>,
) -> Result<RegistryAuth, CredentialsError> {
    let parsed: Reference = reference
        .parse()
        .map_err(|_| CredentialsError::Reference(reference.to_owned()))?;
    let Some(path) = config_path(explicit).filter(|p| p.is_file()) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let bad = |message: String| CredentialsError::Config {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let config: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let registry = parsed.resolve_registry();
    let entry = config["auths"]
        .as_object()
        .and_then(|auths| {
            auths.iter().find(|(key, _)| {
                let key = key
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                key.trim_end_matches('/') == registry
            })
        })
        .map(|(_, entry)| entry);
    let Some(entry) = entry else {
        if config["credHelpers"].get(registry).is_some() || config["credsStore"].is_string() {
            tracing::warn!(
                "{}: credential helpers are not supported; for {registry}, put the credentials in `auths`",
                path.display()
            );
        }
        return Ok(RegistryAuth::Anonymous);
    };
    if let Some(auth) = entry["auth"].as_str() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                bad(format!(
                    "auths.{registry}.auth is not base64 of user:password"
                ))
            })?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            bad(format!(
                "auths.{registry}.auth is not base64 of user:password"
            ))
        })?;
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(user), Some(password)) => {
            Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
        }
        _ => Ok(RegistryAuth::Anonymous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_auths_entry_of_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(
            &config,
            format!(r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{auth}"}}, "https://other.example": {{"username": "u", "password": "p"}}}}}}"#),
        )
        .unwrap();
        let basic = |r: &str| match for_reference(r, Some(&config)).unwrap() {
            RegistryAuth::Basic(u, p) => Some((u, p)),
            _ => None,
        };
        assert_eq!(
            basic("127.0.0.1:5000/g/x:1"),
            Some(("ci".into(), "s3cret".into()))
        );
        assert_eq!(basic("other.example/g/x:1"), Some(("u".into(), "p".into())));
        assert_eq!(basic("third.example/g/x:1"), None);
        std::fs::write(&config, r#"{"auths": {"127.0.0.1:5000": {"auth": "***"}}}"#).unwrap();
        let error = for_reference("127.0.0.1:5000/g/x:1", Some(&config)).unwrap_err();
        assert!(
            error.to_string().contains("not base64 of user:password"),
            "{error}"
        );
        assert!(!error.to_string().contains("***"));
    }
}
