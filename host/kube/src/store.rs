//! Where captured kubeconfigs outlive the cluster they came from.
//!
//! [`FileStore`] is the default: a directory (mode 0700) with one kubeconfig
//! per cluster (mode 0600), each replaced atomically, under a lock so two
//! runs never interleave or lose an entry. [`SecretStore`] keeps them as
//! Secrets in a long-lived cluster instead, for a cloud site whose
//! ephemeral cluster is about to go.

use std::fs::{self, File, OpenOptions};

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use mooring_model::kubeconfig::Kubeconfig;

use crate::client::{ClusterError, Connection, Wait, kubeconfig_from_secret};

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("kubeconfig store {}: failed to {action}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored entry is not a kubeconfig (edited by hand, or damaged).
    #[error("kubeconfig store {}: {reason}; capture the cluster again", .path.display())]
    Damaged {
        /// The entry.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cluster name that cannot be a file name.
    #[error("`{0}` cannot name a stored kubeconfig: use letters, digits, `-`, `_` and `.`")]
    BadName(String),
    /// The Secret backend failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Captured kubeconfigs in a directory, one file per cluster.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// `$XDG_STATE_HOME/mooring/kubeconfigs`, else
    /// `~/.local/state/mooring/kubeconfigs`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
        Some(base.join("mooring/kubeconfigs"))
    }

    /// The store in `dir`. The directory is created (0700) by the first
    /// [`put`](Self::put); reading a store that was never written finds
    /// nothing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `cluster`'s kubeconfig.
    pub fn path(&self, cluster: &str) -> Result<PathBuf, StoreError> {
        let valid = !cluster.is_empty()
            && !cluster.starts_with('.')
            && cluster
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid {
            Ok(self.dir.join(format!("{cluster}.yaml")))
        } else {
            Err(StoreError::BadName(cluster.to_owned()))
        }
    }

    /// Stores `config` as `cluster`'s kubeconfig, replacing any before it.
    pub fn put(&self, cluster: &str, config: &Kubeconfig) -> Result<PathBuf, StoreError> {
        let path = self.path(cluster)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io("create", &self.dir))?;
        let _lock = self.lock(true)?;
        crate::file::write_private(&path, config).map_err(io("write", &path))?;
        Ok(path)
    }

    /// `cluster`'s stored kubeconfig, if there is one.
    pub fn get(&self, cluster: &str) -> Result<Option<Kubeconfig>, StoreError> {
        let path = self.path(cluster)?;
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let _lock = self.lock(false)?;
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &path)(e)),
        };
        crate::file::parse(&text)
            .map(Some)
            .map_err(|e| StoreError::Damaged {
                path,
                reason: e.to_string(),
            })
    }

    /// Writers exclude everyone; readers exclude writers. The lock is
    /// released when the returned file is dropped, or the process dies.
    fn lock(&self, exclusive: bool) -> Result<File, StoreError> {
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("open the lock", &path))?;
        if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        }
        .map_err(io("lock", &path))?;
        Ok(file)
    }
}

impl mooring_engine::execute::CredentialSource for FileStore {
    fn kubeconfig(&self, cluster: &str) -> Result<Kubeconfig, String> {
        match self.get(cluster) {
            Ok(Some(config)) => Ok(config),
            Ok(None) => Err(format!(
                "nothing is captured for cluster `{cluster}` in {}; run `mooring kubeconfig capture {cluster}`",
                self.dir.display()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// Captured kubeconfigs as Secrets `mooring-kubeconfig-<cluster>` in one
/// namespace of a cluster.
pub struct SecretStore {
    connection: Connection,
    namespace: String,
}

/// The label that marks a Secret as a stored kubeconfig, and names its cluster.
pub const CLUSTER_LABEL: &str = "mooring.dev/kubeconfig-of";

impl SecretStore {
    /// The store in `namespace` of the cluster `connection` reaches.
    pub fn new(connection: Connection, namespace: impl Into<String>) -> Self {
        SecretStore {
            connection,
            namespace: namespace.into(),
        }
    }

    /// Where this store is, for messages: `namespace on cluster (server)`.
    pub fn describe(&self) -> String {
        format!(
            "namespace {} of cluster `{}` ({})",
            self.namespace,
            self.connection.cluster(),
            self.connection.server()
        )
    }

    /// The Secret that holds `cluster`'s kubeconfig.
    pub fn secret_name(cluster: &str) -> String {
        format!("mooring-kubeconfig-{cluster}")
    }

    /// Stores `config` as `cluster`'s kubeconfig.
    pub async fn put(&self, cluster: &str, config: &Kubeconfig) -> Result<(), StoreError> {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(Self::secret_name(cluster)),
                namespace: Some(self.namespace.clone()),
                labels: Some([(CLUSTER_LABEL.to_owned(), cluster.to_owned())].into()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(
                [(
                    "value".to_owned(),
                    ByteString(crate::file::to_yaml(config).into_bytes()),
                )]
                .into(),
            ),
            ..Secret::default()
        };
        Ok(self.connection.put_secret(&self.namespace, secret).await?)
    }

    /// `cluster`'s stored kubeconfig, if there is one: one look, no waiting.
    pub async fn get(&self, cluster: &str) -> Result<Option<Kubeconfig>, StoreError> {
        let once = Wait {
            timeout: std::time::Duration::ZERO,
            interval: std::time::Duration::ZERO,
        };
        let name = Self::secret_name(cluster);
        match self
            .connection
            .wait_for_secret(&self.namespace, &name, once, |_| {})
            .await
        {
            Ok(secret) => Ok(Some(kubeconfig_from_secret(cluster, &secret)?)),
            Err(ClusterError::Timeout { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}
