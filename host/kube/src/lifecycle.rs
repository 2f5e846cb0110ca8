//! The kubeconfig lifecycle as calls that return reports: capture clusters'
//! kubeconfigs into the store, get them merged into one, merge kubeconfig
//! files. The command line prints the reports; nothing here prints.

use std::collections::HashSet;
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
    /// A file a kubeconfig names (a certificate, a key) cannot be read.
    #[error("{}: {reason}", .path.display())]
    Referenced {
        /// The kubeconfig.
        path: PathBuf,
        /// Which entry, field and file, and why.
        reason: String,
    },
    /// A site-wide `get` resolved no cluster at all.
    #[error("no cluster could be resolved: {}", unresolved_list(.0))]
    NoneResolved(Vec<Unresolved>),
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
            | LifecycleError::NotAKubeconfig { .. }
            | LifecycleError::Referenced { .. } => true,
            LifecycleError::File { action, .. } => *action == "read",
            LifecycleError::NoneResolved(unresolved) => {
                unresolved.iter().all(|u| u.error.is_input_error())
            }
        }
    }
}

/// A cluster a site-wide [`get`] could not resolve, and why.
#[derive(Debug)]
pub struct Unresolved {
    /// The cluster.
    pub cluster: String,
    /// Why.
    pub error: Box<ResolveError>,
}

fn unresolved_list(unresolved: &[Unresolved]) -> String {
    let each: Vec<String> = unresolved
        .iter()
        .map(|u| format!("{}: {}", u.cluster, u.error))
        .collect();
    each.join("; ")
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
    /// The clusters a site-wide `get` could not resolve, left out of the
    /// kubeconfig (as airshipctl leaves them out): a cluster that is not
    /// created yet must not hide the ones that are.
    pub unresolved: Vec<Unresolved>,
}

/// Resolves `clusters` (every cluster of the map when empty) and merges
/// their kubeconfigs. With `merge_into`, the file's own entries come first
/// and are kept, but the clusters' fresh entries replace any of the same
/// name (that is what fetching them is for), and the file's
/// current-context stays unless `current_context` names another.
/// Otherwise `current_context` defaults to the cluster's context when
/// exactly one is asked for.
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
    let mut unresolved = Vec::new();
    for cluster in &wanted {
        let resolved = match resolver.resolve(cluster).await {
            Ok(resolved) => resolved,
            // Clusters named on the command line must all resolve.
            Err(error) if clusters.is_empty() => {
                unresolved.push(Unresolved {
                    cluster: cluster.clone(),
                    error: Box::new(error),
                });
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        configs.push(resolved.kubeconfig);
        found.push(Found {
            cluster: cluster.clone(),
            source: resolved.source,
            failed: resolved.failed,
        });
    }
    let kept = merge_into
        .map(|file| file.current_context.clone())
        .filter(|c| !c.is_empty());
    let current = current_context
        .map(str::to_owned)
        .or(kept)
        .or_else(|| match wanted.as_slice() {
            [one] => Some(site.map.map[one].context_name(one).to_owned()),
            _ => None,
        });
    if found.is_empty() && !unresolved.is_empty() {
        return Err(LifecycleError::NoneResolved(unresolved));
    }
    let kubeconfig = merge_all(&configs, current.as_deref())?;
    Ok(GetReport {
        kubeconfig,
        found,
        unresolved,
    })
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

/// Kubeconfig files merged as kubectl merges `KUBECONFIG=a:b`: the first
/// file to name a cluster, context or user wins, and a later entry of that
/// name is left out (each one left out is named in `ignored`, with the file
/// it came from). The first file's entries keep their order; new ones are
/// appended.
#[derive(Debug)]
pub struct Merged {
    /// The merged kubeconfig.
    pub kubeconfig: Kubeconfig,
    /// `FILE: cluster|context|user NAME`, for every entry an earlier file
    /// had already named.
    pub ignored: Vec<String>,
}

/// Merges kubeconfig files, the first to name an entry winning (see
/// [`Merged`]); `current_context` defaults to the first file's.
pub fn merge(files: &[PathBuf], current_context: Option<&str>) -> Result<Merged, LifecycleError> {
    // The merged file lives elsewhere: the files' certificates and keys
    // go into it inline.
    let mut configs = files
        .iter()
        .map(|f| {
            let mut config = read(f)?;
            let dir = f.parent().unwrap_or(Path::new("."));
            file::inline_files(&mut config, dir).map_err(|reason| LifecycleError::Referenced {
                path: f.clone(),
                reason,
            })?;
            Ok(config)
        })
        .collect::<Result<Vec<_>, LifecycleError>>()?;
    let first = configs.first().map(|c| c.current_context.clone());
    let wanted = current_context
        .map(str::to_owned)
        .or(first)
        .filter(|c| !c.is_empty());
    let mut seen: [HashSet<String>; 3] = Default::default();
    let mut ignored = Vec::new();
    for (config, file) in configs.iter_mut().zip(files) {
        let kinds = [
            ("cluster", &mut config.clusters),
            ("context", &mut config.contexts),
            ("user", &mut config.users),
        ];
        for ((kind, entries), seen) in kinds.into_iter().zip(&mut seen) {
            entries.retain(|entry| {
                let first = seen.insert(entry.name.clone());
                if !first {
                    ignored.push(format!("{}: {kind} {}", file.display(), entry.name));
                }
                first
            });
        }
    }
    let kubeconfig = merge_all(&configs, wanted.as_deref())?;
    Ok(Merged {
        kubeconfig,
        ignored,
    })
}

/// Writes `config` to `path`, 0600 and atomically.
pub fn write(path: &Path, config: &Kubeconfig) -> Result<(), LifecycleError> {
    file::write_private(path, config).map_err(|source| LifecycleError::File {
        action: "write",
        path: path.to_owned(),
        source,
    })
}
