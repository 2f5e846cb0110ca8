//! `mooring kubeconfig`: capture, resolve and merge cluster kubeconfigs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{EXIT_CODES, Failure, GlobalArgs, failed, input, open_store, write_stdout};
use crate::bundle::Bundle;
use crate::limits;

#[derive(Debug, Subcommand)]
pub(super) enum KubeconfigCommand {
    /// Capture clusters' kubeconfigs and persist them in the store
    ///
    /// A cluster whose ClusterMap entry has a clusterAPI source (or, in the
    /// older schema, dynamicKubeConf) is read from the Secret
    /// <name>-kubeconfig in its parent, waiting for it to appear; any other
    /// from its first working source. Run it for the ephemeral cluster's
    /// children before the ephemeral cluster is deleted.
    #[command(after_help = EXIT_CODES)]
    Capture {
        /// The clusters to capture (keys of the ClusterMap)
        #[arg(required_unless_present = "children_of")]
        clusters: Vec<String>,
        /// Capture every cluster whose parent is CLUSTER
        #[arg(long, value_name = "CLUSTER")]
        children_of: Option<String>,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Print clusters' kubeconfigs merged into one, like `airshipctl cluster get-kubeconfig`
    ///
    /// Each cluster's sources are tried in ClusterMap order, then the store;
    /// stderr says which source won and why the others failed.
    #[command(after_help = EXIT_CODES)]
    Get {
        /// The clusters [default: every cluster of the ClusterMap]
        clusters: Vec<String>,
        /// Set current-context [default: the cluster, when exactly one is asked for]
        #[arg(long, value_name = "CONTEXT")]
        current_context: Option<String>,
        /// Write to FILE (mode 0600, replaced atomically) instead of stdout
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Merge into FILE's existing entries instead of replacing it
        #[arg(long, requires = "file")]
        merge: bool,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Merge kubeconfig files into one on stdout
    ///
    /// Entries named alike are replaced where they stand by later files, new
    /// ones appended; nothing is dropped or reordered.
    #[command(after_help = EXIT_CODES)]
    Merge {
        /// The kubeconfig files, in order
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Set current-context [default: the first file's]
        #[arg(long, value_name = "CONTEXT")]
        current_context: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(super) struct SiteArgs {
    /// The bundle holding the site's ClusterMap (and KubeConfig document)
    #[arg(short, long, value_name = "DIR")]
    pub(super) bundle: PathBuf,
    /// Wait at most this long for a Secret [default: the ClusterMap source's timeout, else 30s]
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Look for a Secret this often
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = limits::parse_duration)]
    pub(super) interval: Duration,
    /// Also keep kubeconfigs as Secrets mooring-kubeconfig-<cluster> in NAMESPACE of CLUSTER: capture writes them, get reads them after the file store
    #[arg(long, value_name = "CLUSTER/NAMESPACE", value_parser = cluster_namespace)]
    pub(super) secret_store: Option<(String, String)>,
}

fn cluster_namespace(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((cluster, namespace)) if !cluster.is_empty() && !namespace.is_empty() => {
            Ok((cluster.to_owned(), namespace.to_owned()))
        }
        _ => Err("want CLUSTER/NAMESPACE, for example target-cluster/mooring".to_owned()),
    }
}

pub(super) fn kubeconfig_command(
    global: &GlobalArgs,
    command: &KubeconfigCommand,
) -> Result<(), Failure> {
    use crate::kubeconfig::{self, resolve::Site};
    use mooring_model::kubeconfig::merge_all;

    if let KubeconfigCommand::Merge {
        files,
        current_context,
    } = command
    {
        let mut configs = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| {
                input(anyhow!(e).context(format!("failed to read {}", file.display())))
            })?;
            let config =
                kubeconfig::parse(&text).map_err(|e| input(anyhow!("{}: {e}", file.display())))?;
            configs.push(config);
        }
        let first = configs.first().map(|c| c.current_context.clone());
        let wanted = current_context.clone().or(first).filter(|c| !c.is_empty());
        let merged = merge_all(&configs, wanted.as_deref()).map_err(input)?;
        return write_stdout(&kubeconfig::to_yaml(&merged));
    }
    let site_args = match command {
        KubeconfigCommand::Capture { site, .. } | KubeconfigCommand::Get { site, .. } => site,
        KubeconfigCommand::Merge { .. } => unreachable!("handled above"),
    };
    let bundle = Bundle::load(&site_args.bundle).map_err(input)?;
    let site = Site::from_bundle(&bundle).map_err(input)?;
    let store = open_store(global)?;
    let progress = |cluster: &str, p: &kubeconfig::capture::WaitProgress| {
        eprintln!(
            "mooring: {cluster}: waiting for Secret {}: {} (poll {}, {} of {})",
            p.secret,
            p.last,
            p.poll,
            limits::DisplayDuration(p.elapsed),
            limits::DisplayDuration(p.timeout)
        );
    };
    let options = kubeconfig::resolve::ResolverOptions {
        store: Some(&store),
        home: std::env::var_os("HOME").map(PathBuf::from),
        wait: site_args.timeout.map(|timeout| kubeconfig::capture::Wait {
            timeout,
            interval: site_args.interval,
        }),
        request_timeout: Duration::from_secs(10),
        progress: &progress,
        secret_store: site_args.secret_store.clone(),
    };
    let resolver = kubeconfig::resolve::Resolver::new(&site, options);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(anyhow!(e).context("failed to start the async runtime")))?;
    runtime.block_on(async {
        match command {
            KubeconfigCommand::Capture {
                clusters,
                children_of,
                ..
            } => {
                let mut wanted = clusters.clone();
                if let Some(parent) = children_of {
                    wanted.extend(
                        site.map
                            .map
                            .iter()
                            .filter(|(_, c)| &c.parent == parent)
                            .map(|(k, _)| k.clone()),
                    );
                    if wanted.is_empty() {
                        return Err(input(anyhow!(
                            "no cluster of {} has parent `{parent}`",
                            site.map_document
                        )));
                    }
                }
                let secret_store = resolver.secret_store().await.map_err(failed)?;
                for cluster in &wanted {
                    let (resolved, path) =
                        resolver.capture(cluster, &store).await.map_err(failed)?;
                    eprintln!(
                        "mooring: {cluster}: captured from {}; stored in {}",
                        resolved.source,
                        path.display()
                    );
                    if let Some(secret_store) = &secret_store {
                        secret_store
                            .put(cluster, &resolved.kubeconfig)
                            .await
                            .map_err(failed)?;
                        eprintln!(
                            "mooring: {cluster}: also stored in {}",
                            secret_store.describe()
                        );
                    }
                }
                Ok(())
            }
            KubeconfigCommand::Get {
                clusters,
                current_context,
                file,
                merge,
                ..
            } => {
                let wanted: Vec<String> = if clusters.is_empty() {
                    site.clusters().map(str::to_owned).collect()
                } else {
                    clusters.clone()
                };
                let mut configs = Vec::new();
                for cluster in &wanted {
                    let resolved = resolver.resolve(cluster).await.map_err(failed)?;
                    let tried: Vec<String> = resolved
                        .failed
                        .iter()
                        .map(|a| format!("{}: {}", a.source, a.error))
                        .collect();
                    if tried.is_empty() {
                        eprintln!("mooring: {cluster}: from {}", resolved.source);
                    } else {
                        eprintln!(
                            "mooring: {cluster}: from {} (after {})",
                            resolved.source,
                            tried.join("; ")
                        );
                    }
                    configs.push(resolved.kubeconfig);
                }
                let current = current_context.clone().or_else(|| match wanted.as_slice() {
                    [one] => Some(site.map.map[one].context_name(one).to_owned()),
                    _ => None,
                });
                let Some(file) = file else {
                    let merged = merge_all(&configs, current.as_deref()).map_err(input)?;
                    return write_stdout(&kubeconfig::to_yaml(&merged));
                };
                // Merging into the file airshipctl users keep their
                // kubeconfig in must not truncate it first (airshipctl #495).
                if *merge && file.exists() {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        input(anyhow!(e).context(format!("failed to read {}", file.display())))
                    })?;
                    let existing = kubeconfig::parse(&text)
                        .map_err(|e| input(anyhow!("{}: {e}", file.display())))?;
                    configs.insert(0, existing);
                }
                let merged = merge_all(&configs, current.as_deref()).map_err(input)?;
                kubeconfig::write_private(file, &merged, ".mooring-kubeconfig-").map_err(|e| {
                    failed(anyhow!(e).context(format!("failed to write {}", file.display())))
                })?;
                eprintln!("mooring: wrote {} (mode 0600)", file.display());
                Ok(())
            }
            KubeconfigCommand::Merge { .. } => unreachable!("handled above"),
        }
    })
}
