//! The kubeconfig lifecycle as calls that return reports: capture clusters'
//! kubeconfigs into the store, get them merged into one, merge kubeconfig
//! files. The command line prints the reports; nothing here prints.

use std::path::{Path, PathBuf};

use mooring_model::kubeconfig::{Kubeconfig, KubeconfigError, merge_all};

use crate::file;
use crate::resolve::{Attempt, ResolveError, Resolver, Site};
use crate::store::FileStore;

/// Why a lifecycle call failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A cluster could not be resolved or captured.
    #[error(transparent)]
    Resolve(#[from] Box<ResolveError>),
    /// The clusters' kubeconfigs do not merge.
    #[error(transparent)]
    Merge(#[from] KubeconfigError),
    /// No cluster has the parent asked for.
    #[error("no cluster of {map} has parent `{parent}`")]
    NoChildren {
        /// The ClusterMap, as messages name it.
        map: String,
        /// The parent asked for.
        parent: String,
    },
    /// A kubeconfig file could not be read or written.
    #[error("failed to {action} {}", .path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A kubeconfig file is not a kubeconfig.
    #[error("{}: {reason}", .path.display())]
    NotAKubeconfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: KubeconfigError,
    },
}

impl From<ResolveError> for LifecycleError {
    fn from(error: ResolveError) -> Self {
        LifecycleError::Resolve(Box::new(error))
    }
}

impl LifecycleError {
    /// True when the fault is in what was asked (a cluster not in the map,
    /// an unreadable file) rather than in reaching a cluster.
    pub fn is_input_error(&self) -> bool {
        match self {
            LifecycleError::Resolve(e) => e.is_input_error(),
            LifecycleError::Merge(_)
            | LifecycleError::NoChildren { .. }
            | LifecycleError::NotAKubeconfig { .. } => true,
            LifecycleError::File { action, .. } => *action == "read",
        }
    }
}

/// One cluster captured.
#[derive(Debug)]
pub struct Captured {
    /// The cluster.
    pub cluster: String,
    /// The source it was read from.
    pub source: String,
    /// The file it was stored in.
    pub stored: PathBuf,
    /// The Secret store it was also kept in, if any.
    pub also_in: Option<String>,
}

/// Captures `clusters`, and every child of `children_of`, into `store` (and
/// the resolver's Secret store when it has one).
pub async fn capture(
    site: &Site,
    resolver: &Resolver<'_>,
    store: &FileStore,
    clusters: &[String],
    children_of: Option<&str>,
) -> Result<Vec<Captured>, LifecycleError> {
    let mut wanted = clusters.to_vec();
    if let Some(parent) = children_of {
        let children: Vec<String> = site
            .map
            .map
            .iter()
            .filter(|(_, c)| c.parent == parent)
            .map(|(k, _)| k.clone())
            .collect();
        if children.is_empty() {
            return Err(LifecycleError::NoChildren {
                map: site.map_document.clone(),
                parent: parent.to_owned(),
            });
        }
        wanted.extend(children);
    }
    let secret_store = resolver.secret_store().await?;
    let mut captured = Vec::new();
    for cluster in &wanted {
        let (resolved, stored) = resolver.capture(cluster, store).await?;
        let also_in = match &secret_store {
            Some(secrets) => {
                secrets
                    .put(cluster, &resolved.kubeconfig)
                    .await
                    .map_err(|e| Box::new(ResolveError::Store(e)))?;
                Some(secrets.describe())
            }
            None => None,
        };
        captured.push(Captured {
            cluster: cluster.clone(),
            source: resolved.source,
            stored,
            also_in,
        });
    }
    Ok(captured)
}

/// One cluster resolved by [`get`].
#[derive(Debug)]
pub struct Found {
    /// The cluster.
    pub cluster: String,
    /// The source that won.
    pub source: String,
    /// The sources tried before it, and why each failed.
    pub failed: Vec<Attempt>,
}

/// What [`get`] found: the clusters' kubeconfigs merged into one.
#[derive(Debug)]
pub struct GetReport {
    /// The merged kubeconfig.
    pub kubeconfig: Kubeconfig,
    /// How each cluster was found.
    pub found: Vec<Found>,
}

/// Resolves `clusters` (every cluster of the map when empty) and merges
/// their kubeconfigs. `current_context` defaults to the cluster's context
/// when exactly one is asked for. With `merge_into`, the file's own entries
/// come first and are kept.
pub async fn get(
    site: &Site,
    resolver: &Resolver<'_>,
    clusters: &[String],
    current_context: Option<&str>,
    merge_into: Option<&Kubeconfig>,
) -> Result<GetReport, LifecycleError> {
    let wanted: Vec<String> = if clusters.is_empty() {
        site.clusters().map(str::to_owned).collect()
    } else {
        clusters.to_vec()
    };
    let mut configs: Vec<Kubeconfig> = merge_into.cloned().into_iter().collect();
    let mut found = Vec::new();
    for cluster in &wanted {
        let resolved = resolver.resolve(cluster).await?;
        configs.push(resolved.kubeconfig);
        found.push(Found {
            cluster: cluster.clone(),
            source: resolved.source,
            failed: resolved.failed,
        });
    }
    let current = current_context
        .map(str::to_owned)
        .or_else(|| match wanted.as_slice() {
            [one] => Some(site.map.map[one].context_name(one).to_owned()),
            _ => None,
        });
    let kubeconfig = merge_all(&configs, current.as_deref())?;
    Ok(GetReport { kubeconfig, found })
}

/// Reads a kubeconfig file.
pub fn read(path: &Path) -> Result<Kubeconfig, LifecycleError> {
    let text = std::fs::read_to_string(path).map_err(|source| LifecycleError::File {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    file::parse(&text).map_err(|reason| LifecycleError::NotAKubeconfig {
        path: path.to_owned(),
        reason,
    })
}

/// Merges kubeconfig files in order; `current_context` defaults to the
/// first file's.
pub fn merge(
    files: &[PathBuf],
    current_context: Option<&str>,
) -> Result<Kubeconfig, LifecycleError> {
    let configs = files
        .iter()
        .map(|f| read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let first = configs.first().map(|c| c.current_context.as_str());
    let wanted = current_context.or(first).filter(|c| !c.is_empty());
    Ok(merge_all(&configs, wanted)?)
}

/// Writes `config` to `path`, 0600 and atomically.
pub fn write(path: &Path, config: &Kubeconfig) -> Result<(), LifecycleError> {
    file::write_private(path, config).map_err(|source| LifecycleError::File {
        action: "write",
        path: path.to_owned(),
        source,
    })
}
