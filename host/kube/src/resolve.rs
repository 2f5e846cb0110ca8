//! Finding a cluster's kubeconfig the way airshipctl does, and saying what
//! happened: its `kubeconfigSources` are tried in order and the first that
//! works wins; a `clusterAPI` source first resolves the parent the same
//! way. When every listed source fails, the persisted copy in the store is
//! the last resort. Each answer names the source that won and the ones
//! that failed, with why.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use mooring_model::airship::{self, Kind};
use mooring_model::cluster_map::{ClusterMap, KubeconfigSource};
use mooring_model::kubeconfig::{KubeConfigDocument, Kubeconfig};

use crate::client::{ClusterError, Connection, Wait, WaitProgress, kubeconfig_from_secret};
use crate::store::{FileStore, SecretStore, StoreError};
use mooring_engine::bundle::Bundle;
use mooring_engine::document::{Document, names};
use mooring_engine::limits::DisplayDuration;
use mooring_engine::limits::parse_duration;
use mooring_engine::session::chain;
use mooring_engine::trust;
use mooring_model::{OneOf, one_of};

/// Why a site's kubeconfigs cannot be resolved at all, or one cluster's.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The bundle has no ClusterMap, or several.
    #[error("{0}")]
    NoMap(String),
    /// The ClusterMap is invalid.
    #[error("{document}: invalid ClusterMap:\n  {}", .problems.join("\n  "))]
    InvalidMap {
        /// `ClusterMap/name (path:line)`.
        document: String,
        /// One line per problem, each naming its field.
        problems: Vec<String>,
    },
    /// The bundle's KubeConfig document is unusable.
    #[error("{document}: {reason}")]
    BadKubeConfig {
        /// `KubeConfig/name (path:line)`.
        document: String,
        /// What is wrong.
        reason: String,
    },
    /// The cluster is not in the map.
    #[error("cluster `{cluster}` is not in {document} (it has: {known})")]
    UnknownCluster {
        /// The cluster asked for.
        cluster: String,
        /// The map.
        document: String,
        /// The clusters it has.
        known: String,
    },
    /// Every source failed, and nothing was persisted.
    #[error("no kubeconfig for cluster `{cluster}`: every source failed:{}", attempts_text(.attempts))]
    AllSourcesFailed {
        /// The cluster.
        cluster: String,
        /// Each source tried, and why it failed.
        attempts: Vec<Attempt>,
    },
    /// A source could not be used.
    #[error("{0}")]
    Source(String),
    /// Capturing failed.
    #[error("capturing cluster `{cluster}` failed: {cause}")]
    Capture {
        /// The cluster.
        cluster: String,
        /// Why.
        cause: Box<ResolveError>,
    },
    /// Talking to a cluster failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResolveError {
    /// True when the fault is in the site's documents or in what was asked
    /// for (a cluster not in the map), not in reaching a source.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            ResolveError::NoMap(_)
                | ResolveError::InvalidMap { .. }
                | ResolveError::BadKubeConfig { .. }
                | ResolveError::UnknownCluster { .. }
        )
    }
}

fn attempts_text(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("\n  - {}: {}", a.source, a.error))
        .collect()
}

/// One source that was tried and failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The source, as `filesystem ~/.airship/kubeconfig`.
    pub source: String,
    /// Why it failed.
    pub error: String,
}

/// A cluster's kubeconfig and how it was found.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The cluster.
    pub cluster: String,
    /// One context named after the cluster, with its cluster and user.
    pub kubeconfig: Kubeconfig,
    /// The source that won.
    pub source: String,
    /// The sources tried before it, and why each failed.
    pub failed: Vec<Attempt>,
}

/// What a site says about its clusters: its ClusterMap and, if it has one,
/// its KubeConfig document.
#[derive(Debug, Clone)]
pub struct Site {
    /// The validated ClusterMap.
    pub map: ClusterMap,
    /// How messages name the ClusterMap document.
    pub map_document: String,
    /// The kubeconfig in the bundle's KubeConfig document.
    pub bundle_kubeconfig: Option<Kubeconfig>,
}

impl Site {
    /// Reads the site's one ClusterMap and at most one KubeConfig document.
    pub fn from_bundle(bundle: &Bundle) -> Result<Self, ResolveError> {
        Self::from_documents(bundle.documents(), &bundle.root().display().to_string())
    }

    /// The same from documents, `place` naming where they came from.
    pub fn from_documents(documents: &[Document], place: &str) -> Result<Self, ResolveError> {
        let maps = documents.iter().filter(|d| ClusterMap::describes(*d));
        let map_doc = match one_of(maps) {
            OneOf::One(doc) => doc,
            OneOf::None => {
                return Err(ResolveError::NoMap(format!(
                    "{place} holds no airshipit.org/v1alpha1 ClusterMap; add one naming the site's clusters"
                )));
            }
            OneOf::Many(many) => {
                return Err(ResolveError::NoMap(format!(
                    "{place} holds {} ClusterMaps ({}); keep one",
                    many.len(),
                    names(&many)
                )));
            }
        };
        let document = map_doc.to_string();
        let map: ClusterMap = airship::parse(map_doc).map_err(|e| ResolveError::InvalidMap {
            document: document.clone(),
            problems: vec![e.to_string()],
        })?;
        let kubeconfigs = documents
            .iter()
            .filter(|d| KubeConfigDocument::describes(*d));
        let bundle_kubeconfig = match one_of(kubeconfigs) {
            OneOf::None => None,
            OneOf::One(one) => Some(kubeconfig_of(one)?),
            OneOf::Many(many) => {
                return Err(ResolveError::BadKubeConfig {
                    document: many[1].to_string(),
                    reason: format!(
                        "a second KubeConfig document (after {}); a site has one",
                        many[0]
                    ),
                });
            }
        };
        Ok(Site {
            map,
            map_document: document,
            bundle_kubeconfig,
        })
    }

    /// The clusters of the map, in document order.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.map.map.keys().map(String::as_str)
    }

    /// The cluster is in the map, and neither its entry nor any of its
    /// parents' has a problem. As in airshipctl, a map with a broken entry
    /// (a parent outside the map, a clusterAPI source without a parent) is
    /// not refused whole: only a cluster that needs that entry fails.
    fn check(&self, cluster: &str) -> Result<(), ResolveError> {
        if !self.map.map.contains_key(cluster) {
            return Err(ResolveError::UnknownCluster {
                cluster: cluster.to_owned(),
                document: self.map_document.clone(),
                known: self.clusters().collect::<Vec<_>>().join(", "),
            });
        }
        let mut problems = Vec::new();
        let mut seen = vec![cluster];
        let mut current = Some(cluster);
        while let Some(key) = current {
            problems.extend(self.map.problems(key).iter().map(ToString::to_string));
            current = self.map.parent(key).filter(|p| !seen.contains(p));
            seen.extend(current);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ResolveError::InvalidMap {
                document: self.map_document.clone(),
                problems,
            })
        }
    }
}

/// The kubeconfig of a KubeConfig document, checked.
pub fn kubeconfig_of(doc: &Document) -> Result<Kubeconfig, ResolveError> {
    let bad = |reason: String| ResolveError::BadKubeConfig {
        document: doc.to_string(),
        reason,
    };
    let config = doc
        .content
        .get("config")
        .cloned()
        .ok_or_else(|| bad("has no `config`".to_owned()))?;
    Kubeconfig::from_value(config).map_err(|e| bad(format!("field config: {e}")))
}

/// Options for a [`Resolver`].
pub struct ResolverOptions<'a> {
    /// Persisted kubeconfigs, the last resort.
    pub store: Option<&'a FileStore>,
    /// What `~` means in filesystem sources.
    pub home: Option<PathBuf>,
    /// Overrides every `clusterAPI` source's timeout and the poll interval.
    pub wait: Option<Wait>,
    /// Each request to an API server gives up after this long.
    pub request_timeout: Duration,
    /// Kubeconfigs kept as Secrets in a namespace of one of the site's
    /// clusters, `(cluster, namespace)`: written by capture, read after
    /// the file store.
    pub secret_store: Option<(String, String)>,
    /// Where a ClusterMap's `filesystem` sources may read: the bundle,
    /// airshipctl's `~/.airship/kubeconfig`, and what the operator approved.
    pub readable: Vec<PathBuf>,
    /// A kubeconfig the operator handed over, tried before any source.
    pub operator: Option<OperatorKubeconfig>,
}

/// A kubeconfig the operator hands over (`--kubeconfig`, or `$KUBECONFIG`
/// where airshipctl's GenericContainer executor sets it): each cluster's
/// context in it is tried before the ClusterMap's sources.
#[derive(Debug)]
pub struct OperatorKubeconfig {
    /// How messages name it (`--kubeconfig a.yaml`, `$KUBECONFIG (a:b)`).
    pub describe: String,
    /// The files, merged as kubectl merges them, certificates inlined.
    pub config: Kubeconfig,
    /// `(cluster, context)`: the context that holds that cluster, when it
    /// is not named after the cluster (`--context`, `$KCTL_CONTEXT`).
    pub context: Option<(String, String)>,
}

/// The largest kubeconfig file a `filesystem` source reads.
pub const MAX_KUBECONFIG_BYTES: u64 = 4 << 20;

/// Resolves clusters of one site, remembering each answer for the run (a
/// parent is resolved once, however many children need it).
pub struct Resolver<'a> {
    site: &'a Site,
    options: ResolverOptions<'a>,
    resolved: RefCell<HashMap<String, Result<Resolved, Vec<Attempt>>>>,
}

type Boxed<'f, T> = Pin<Box<dyn Future<Output = T> + 'f>>;

impl<'a> Resolver<'a> {
    /// A resolver over `site`.
    pub fn new(site: &'a Site, options: ResolverOptions<'a>) -> Self {
        Resolver {
            site,
            options,
            resolved: RefCell::new(HashMap::new()),
        }
    }

    /// `cluster`'s kubeconfig from the first source that works, else from
    /// the store.
    pub fn resolve<'s>(&'s self, cluster: &'s str) -> Boxed<'s, Result<Resolved, ResolveError>> {
        Box::pin(async move {
            self.site.check(cluster)?;
            if let Some(known) = self.resolved.borrow().get(cluster).cloned() {
                return known.map_err(|attempts| ResolveError::AllSourcesFailed {
                    cluster: cluster.to_owned(),
                    attempts,
                });
            }
            let outcome = self.try_sources(cluster).await;
            self.resolved
                .borrow_mut()
                .insert(cluster.to_owned(), outcome.clone());
            outcome.map_err(|attempts| ResolveError::AllSourcesFailed {
                cluster: cluster.to_owned(),
                attempts,
            })
        })
    }

    async fn try_sources(&self, cluster: &str) -> Result<Resolved, Vec<Attempt>> {
        let entry = &self.site.map.map[cluster];
        let name = entry.context_name(cluster).to_owned();
        let mut failed = Vec::new();
        if let Some(operator) = &self.options.operator {
            let context = match &operator.context {
                Some((named, context)) if named == cluster => context.as_str(),
                _ => name.as_str(),
            };
            let outcome = operator
                .config
                .extract(Some(context), &name)
                .map_err(|e| e.to_string());
            if let Some(won) = settle(cluster, operator.describe.clone(), outcome, &mut failed) {
                return Ok(won);
            }
        }
        for source in entry.sources(cluster) {
            let outcome = self.try_source(cluster, &name, &source).await;
            if let Some(won) = settle(cluster, source.describe(), outcome, &mut failed) {
                return Ok(won);
            }
        }
        if let Some(store) = self.options.store {
            let source = format!("the persisted copy in {}", store.dir().display());
            let outcome = store
                .get(cluster)
                .map_err(|e| e.to_string())
                .and_then(|found| {
                    found.ok_or_else(|| {
                        "nothing persisted; run `mooring kubeconfig capture` while a source works"
                            .to_owned()
                    })
                });
            if let Some(won) = settle(cluster, source, outcome, &mut failed) {
                return Ok(won);
            }
        }
        if let Some((store_cluster, namespace)) = &self.options.secret_store
            && store_cluster != cluster
        {
            let source = format!(
                "Secret {namespace}/{} in cluster `{store_cluster}`",
                SecretStore::secret_name(cluster)
            );
            let outcome = match self.secret_store().await {
                Ok(Some(store)) => store.get(cluster).await.map_err(|e| e.to_string()),
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string().replace('\n', " ")),
            }
            .and_then(|found| found.ok_or_else(|| "not there".to_owned()));
            if let Some(won) = settle(cluster, source, outcome, &mut failed) {
                return Ok(won);
            }
        }
        Err(failed)
    }

    /// The Secret store the options name, connected through its cluster's
    /// own kubeconfig.
    pub async fn secret_store(&self) -> Result<Option<SecretStore>, ResolveError> {
        let Some((cluster, namespace)) = &self.options.secret_store else {
            return Ok(None);
        };
        let resolved = self.resolve(cluster).await?;
        let connection =
            Connection::new(cluster, &resolved.kubeconfig, self.options.request_timeout).await?;
        Ok(Some(SecretStore::new(connection, namespace.clone())))
    }

    async fn try_source(
        &self,
        cluster: &str,
        name: &str,
        source: &KubeconfigSource,
    ) -> Result<Kubeconfig, String> {
        match source {
            KubeconfigSource::Filesystem { path, context } => {
                let file = self.readable(path)?;
                if !file.exists() {
                    return Err(format!("{} does not exist", file.display()));
                }
                let bytes =
                    trust::read_regular_file(&file, MAX_KUBECONFIG_BYTES).map_err(|e| chain(&e))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("{} is not UTF-8", file.display()))?;
                let mut config =
                    crate::file::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
                let dir = file.parent().unwrap_or(Path::new("."));
                crate::file::inline_files(&mut config, dir)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                config
                    .extract(context.as_deref(), name)
                    .map_err(|e| format!("{} {e}", file.display()))
            }
            KubeconfigSource::Bundle { context } => {
                let config = self
                    .site
                    .bundle_kubeconfig
                    .as_ref()
                    .ok_or("the bundle has no KubeConfig document")?;
                config
                    .extract(context.as_deref(), name)
                    .map_err(|e| format!("the KubeConfig document {e}"))
            }
            KubeconfigSource::ClusterApi {
                name: capi_name,
                namespace,
                timeout,
            } => {
                let secret = self
                    .fetch_secret(cluster, capi_name, namespace, timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                secret
                    .extract(None, name)
                    .map_err(|e| format!("the Secret's kubeconfig {e}"))
            }
        }
    }

    /// The kubeconfig in the Cluster API Secret `<capi_name>-kubeconfig`,
    /// read from `cluster`'s parent.
    async fn fetch_secret(
        &self,
        cluster: &str,
        capi_name: &str,
        namespace: &str,
        timeout: &str,
    ) -> Result<Kubeconfig, ResolveError> {
        let parent = self.site.map.parent(cluster).ok_or_else(|| {
            ResolveError::Source(format!(
                "cluster `{cluster}` has no parent to read its Secret from"
            ))
        })?;
        let parent_config = self.resolve(parent).await.map_err(|e| {
            ResolveError::Source(format!(
                "its parent `{parent}` has no kubeconfig ({})",
                e.to_string().replace('\n', " ")
            ))
        })?;
        let wait = match self.options.wait {
            Some(wait) => wait,
            None => Wait {
                timeout: parse_duration(timeout).map_err(|e| {
                    ResolveError::Source(format!("timeout `{timeout}` of cluster `{cluster}`: {e}"))
                })?,
                interval: Duration::from_secs(1),
            },
        };
        let connection = Connection::new(
            parent,
            &parent_config.kubeconfig,
            self.options.request_timeout,
        )
        .await?;
        let secret_name = format!("{capi_name}-kubeconfig");
        let secret = connection
            .wait_for_secret(namespace, &secret_name, wait, |p| report_wait(cluster, p))
            .await?;
        Ok(kubeconfig_from_secret(cluster, &secret)?)
    }

    /// Captures `cluster`'s kubeconfig and persists it: from the Cluster API
    /// Secret in its parent when its sources list one (or the older schema
    /// says `dynamicKubeConf`), else from its first working source. Returns
    /// what was stored and where.
    pub async fn capture(
        &self,
        cluster: &str,
        store: &FileStore,
    ) -> Result<(Resolved, PathBuf), ResolveError> {
        self.site.check(cluster)?;
        let entry = &self.site.map.map[cluster];
        let name = entry.context_name(cluster).to_owned();
        let capi = entry
            .sources(cluster)
            .into_iter()
            .find(|s| matches!(s, KubeconfigSource::ClusterApi { .. }));
        let resolved = match capi {
            Some(source) => {
                let kubeconfig = self
                    .try_source(cluster, &name, &source)
                    .await
                    .map_err(|why| ResolveError::Capture {
                        cluster: cluster.to_owned(),
                        cause: Box::new(ResolveError::Source(why)),
                    })?;
                Resolved {
                    cluster: cluster.to_owned(),
                    kubeconfig,
                    source: source.describe(),
                    failed: Vec::new(),
                }
            }
            None => self.resolve(cluster).await?,
        };
        let path = store.put(cluster, &resolved.kubeconfig)?;
        Ok((resolved, path))
    }

    /// `path` (a ClusterMap's `filesystem` source) when it may be read:
    /// inside the bundle, airshipctl's `~/.airship/kubeconfig`, or a path
    /// the operator approved. A bundle must not make mooring read the
    /// operator's own `~/.kube/config` as a site's cluster.
    fn readable(&self, path: &str) -> Result<PathBuf, String> {
        let file = self.expand(path)?;
        // A path that does not exist yet is judged by its words, and `..`
        // among them could climb anywhere.
        let resolved = match file.canonicalize() {
            Ok(resolved) => resolved,
            Err(_)
                if file
                    .components()
                    .any(|c| c == std::path::Component::ParentDir) =>
            {
                PathBuf::new()
            }
            Err(_) => file.clone(),
        };
        // An approved path that does not exist (airshipctl's
        // `~/.airship/kubeconfig` before kind writes it) is compared as
        // written, so the read fails as missing, not as unapproved.
        let allowed = self.options.readable.iter().any(|dir| {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            resolved.starts_with(dir)
        });
        if allowed {
            Ok(file)
        } else {
            Err(format!(
                "{} is outside the bundle and not a path the operator approved; \
                 approve it with --allow-kubeconfig {} or `kubeconfigs:` in the policy file",
                file.display(),
                file.display()
            ))
        }
    }

    fn expand(&self, path: &str) -> Result<PathBuf, String> {
        match path.strip_prefix("~/") {
            Some(rest) => self
                .options
                .home
                .as_ref()
                .map(|home| home.join(rest))
                .ok_or_else(|| format!("cannot expand {path}: HOME is not set")),
            None => Ok(Path::new(path).to_owned()),
        }
    }
}

/// The answer when `source` gave a kubeconfig (with every attempt before
/// it); otherwise records why it did not.
fn settle(
    cluster: &str,
    source: String,
    outcome: Result<Kubeconfig, String>,
    failed: &mut Vec<Attempt>,
) -> Option<Resolved> {
    match outcome {
        Ok(kubeconfig) => Some(Resolved {
            cluster: cluster.to_owned(),
            kubeconfig,
            source,
            failed: std::mem::take(failed),
        }),
        Err(error) => {
            failed.push(Attempt { source, error });
            None
        }
    }
}

/// Says, once per look, that a Secret is not there yet, so a long wait is
/// never silent.
fn report_wait(cluster: &str, progress: &WaitProgress) {
    tracing::info!(
        "{cluster}: waiting for Secret {}: {} (poll {}, {} of {})",
        progress.secret,
        progress.last,
        progress.poll,
        DisplayDuration(progress.elapsed),
        DisplayDuration(progress.timeout)
    );
}
