//! `mooring kubeconfig`: capture, resolve and merge cluster kubeconfigs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use mooring_engine::bundle::Bundle;
use mooring_engine::limits;
use mooring_engine::overlay;
use mooring_kube::client::Wait;
use mooring_kube::file::to_yaml;
use mooring_kube::lifecycle;
use mooring_kube::resolve::{OperatorKubeconfig, Resolver, ResolverOptions, Site};
use mooring_kube::store::FileStore;

use crate::args::{GlobalArgs, OverlayArgs};
use crate::exit::{Failure, KUBECONFIG_EXIT_CODES, failed, input, partial};
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum KubeconfigCommand {
    /// Capture clusters' kubeconfigs and persist them in the store
    ///
    /// A cluster whose ClusterMap entry has a clusterAPI source (or, in the
    /// older schema, dynamicKubeConf) is read from the Secret
    /// <name>-kubeconfig in its parent, waiting for it to appear; any other
    /// from its first working source. Run it for the ephemeral cluster's
    /// children before the ephemeral cluster is deleted.
    #[command(after_help = KUBECONFIG_EXIT_CODES)]
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
    #[command(after_help = KUBECONFIG_EXIT_CODES)]
    Get {
        /// The clusters [default: every cluster of the ClusterMap]
        clusters: Vec<String>,
        /// Set current-context [default: with --merge, the file's own; otherwise the cluster's, when exactly one is asked for]
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
    /// As kubectl merges KUBECONFIG=a:b: the first file to name a cluster,
    /// context or user wins (stderr names each later entry left out); the
    /// first file's entries keep their order, new ones are appended.
    #[command(after_help = KUBECONFIG_EXIT_CODES)]
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
pub(crate) struct SiteArgs {
    /// The bundle holding the site's ClusterMap (and KubeConfig document): a directory (an overlay is read as its kustomize build; a site with airshipctl's metadata.yaml through the phases entrypoint it names; any other site directory as its entrypoints' builds), or `-` for a YAML stream on stdin, as airshipctl's GenericContainer executor sends it
    #[arg(short, long, value_name = "DIR")]
    pub(crate) bundle: PathBuf,
    /// Try FILE first for each cluster, by the cluster's context name (FILE:FILE... merged as kubectl merges KUBECONFIG) [default: $KUBECONFIG, but only where $KCTL_CONTEXT is set too, as in an airshipctl phase container]
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<std::ffi::OsString>,
    /// The context of that kubeconfig holding the cluster the command works on (the --children-of parent, or the one cluster named)
    #[arg(long, value_name = "CONTEXT", env = "KCTL_CONTEXT")]
    pub(crate) context: Option<String>,
    /// Wait at most this long for a Secret [default: the ClusterMap source's timeout, else 30s]
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    pub(crate) timeout: Option<Duration>,
    /// Look for a Secret this often
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = limits::parse_duration)]
    pub(crate) interval: Duration,
    /// Also keep kubeconfigs as Secrets mooring-kubeconfig-<cluster> in NAMESPACE of CLUSTER: capture writes them, get reads them after the file store
    #[arg(long, value_name = "CLUSTER/NAMESPACE", value_parser = cluster_namespace)]
    pub(crate) secret_store: Option<(String, String)>,
    /// Let the ClusterMap's filesystem sources read PATH (a file or directory) besides the bundle and ~/.airship/kubeconfig
    #[arg(long, value_name = "PATH")]
    pub(crate) allow_kubeconfig: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) overlay: OverlayArgs,
}

impl SiteArgs {
    /// True when the bundle is a YAML stream on stdin (`--bundle -`).
    fn on_stdin(&self) -> bool {
        self.bundle.as_os_str() == "-"
    }
}

fn cluster_namespace(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((cluster, namespace)) if !cluster.is_empty() && !namespace.is_empty() => {
            Ok((cluster.to_owned(), namespace.to_owned()))
        }
        _ => Err("want CLUSTER/NAMESPACE, for example target-cluster/mooring".to_owned()),
    }
}

pub(crate) fn kubeconfig(global: &GlobalArgs, command: &KubeconfigCommand) -> Result<(), Failure> {
    let site_args = match command {
        KubeconfigCommand::Merge {
            files,
            current_context,
        } => {
            let merged = lifecycle::merge(files, current_context.as_deref())?;
            if !global.quiet {
                for entry in &merged.ignored {
                    eprintln!(
                        "mooring: note: {entry} left out: an earlier file names it (the first wins, as in kubectl)"
                    );
                }
            }
            return output::stdout(to_yaml(&merged.kubeconfig).as_bytes());
        }
        KubeconfigCommand::Capture { site, .. } | KubeconfigCommand::Get { site, .. } => site,
    };
    let bundle = site_bundle(global, site_args)?;
    let site = Site::from_bundle(&bundle).map_err(|e| match sites_below(site_args) {
        sites if sites.is_empty() => input(e),
        sites => input(anyhow!(
            "{e}. {} is a repository of sites, not one site: name one with --bundle, such as {sites}",
            site_args.bundle.display()
        )),
    })?;
    let store = global.store()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let options = ResolverOptions {
        store: Some(&store),
        readable: readable(global, site_args, home.as_deref())?,
        home,
        wait: site_args.timeout.map(|timeout| Wait {
            timeout,
            interval: site_args.interval,
        }),
        request_timeout: Duration::from_secs(10),
        secret_store: site_args.secret_store.clone(),
        operator: operator_kubeconfig(site_args, command)?,
    };
    let resolver = Resolver::new(&site, options);
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
            } => capture(&site, &resolver, &store, clusters, children_of.as_deref()).await,
            KubeconfigCommand::Get {
                clusters,
                current_context,
                file,
                merge,
                ..
            } => {
                get(
                    &site,
                    &resolver,
                    clusters,
                    current_context.as_deref(),
                    file.as_deref(),
                    *merge,
                )
                .await
            }
            KubeconfigCommand::Merge { .. } => Ok(()),
        }
    })
}

/// Where the site's filesystem sources may read: the bundle, airshipctl's
/// own kubeconfig, and what the operator approved on the command line or in
/// the policy file for this bundle.
/// The site's documents: a YAML stream on stdin (`-`), the kustomize build
/// of a site that is an overlay (its ClusterMap is a patch on its type's,
/// which only the build puts together, as airshipctl reads it), or the
/// directory's files.
fn site_bundle(global: &GlobalArgs, site_args: &SiteArgs) -> Result<Bundle, Failure> {
    let dir = &site_args.bundle;
    if site_args.on_stdin() {
        let text = crate::run::read_stdin()?;
        return Bundle::from_stream(Path::new("<stdin>"), "<stdin>", text).map_err(input);
    }
    let entrypoint = phases_entrypoint(dir)?;
    if let Some(phases) = &entrypoint
        && !global.quiet
    {
        eprintln!(
            "mooring: {} names its phases entrypoint in metadata.yaml; reading {}",
            dir.display(),
            phases.display()
        );
    }
    let dir = entrypoint.as_deref().unwrap_or(dir);
    let layout = overlay::Layout::of(dir);
    if layout == overlay::Layout::Files {
        return Bundle::load(dir).map_err(input);
    }
    let kustomize = &site_args.overlay.kustomize;
    let text = layout.build(dir, kustomize).map_err(input)?;
    let bundle = Bundle::from_stream(dir, "<kustomize build>", text).map_err(input)?;
    if !global.quiet {
        eprintln!(
            "mooring: {} is {}; reading its `{}` build of {} document(s)",
            dir.display(),
            layout.describe(),
            kustomize.display(),
            bundle.documents().len()
        );
    }
    Ok(bundle)
}

/// The site directories (each with airshipctl's `metadata.yaml`) below the
/// `--bundle` directory, for an error to name when it is a whole
/// repository; empty when there are none.
fn sites_below(site_args: &SiteArgs) -> String {
    const SHOWN: usize = 4;
    // Sites sit a few levels down (`manifests/site/<site>`); a bound keeps
    // a mistaken `--bundle /` from walking the disk.
    const DEPTH: usize = 6;
    if site_args.on_stdin() {
        return String::new();
    }
    let root = &site_args.bundle;
    let mut sites = Vec::new();
    let mut pending = vec![(root.clone(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if dir != *root && matches!(phases_entrypoint(&dir), Ok(Some(_))) {
            sites.push(dir.display().to_string());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && depth < DEPTH && entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    sites.sort();
    let more = sites.len().saturating_sub(SHOWN);
    sites.truncate(SHOWN);
    let mut list = sites.join(", ");
    if more > 0 {
        list.push_str(&format!(" (and {more} more)"));
    }
    list
}

/// airshipctl reads a site's ClusterMap from its phases entrypoint, which
/// the site's `metadata.yaml` (a `ManifestMetadata`) names relative to the
/// repository root: `spec.phase.path`, the site itself being
/// `spec.phase.docEntryPointPrefix`. For a site directory holding one, that
/// entrypoint; `None` for any other directory.
fn phases_entrypoint(dir: &Path) -> Result<Option<PathBuf>, Failure> {
    let file = dir.join("metadata.yaml");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(None);
    };
    let Some(metadata) = mooring_engine::yaml::read_object(&text).map(serde_json::Value::Object)
    else {
        return Ok(None);
    };
    if metadata["kind"] != "ManifestMetadata" {
        return Ok(None);
    }
    let Some(phases) = metadata["spec"]["phase"]["path"]
        .as_str()
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    // The repository root: the site directory without its own prefix, or
    // else the nearest parent under which the path exists.
    let dir = dir
        .canonicalize()
        .map_err(|e| input(anyhow!(e).context(format!("cannot read {}", dir.display()))))?;
    let prefix = metadata["spec"]["phase"]["docEntryPointPrefix"]
        .as_str()
        .unwrap_or_default();
    let root = (!prefix.is_empty())
        .then(|| {
            let depth = Path::new(prefix).components().count();
            dir.ancestors()
                .nth(depth)
                .filter(|root| root.join(prefix) == dir)
        })
        .flatten()
        .or_else(|| dir.ancestors().find(|root| root.join(phases).is_dir()));
    match root.map(|root| root.join(phases)).filter(|p| p.is_dir()) {
        Some(entrypoint) => Ok(Some(entrypoint)),
        None => Err(input(anyhow!(
            "{} names the phases entrypoint `{phases}` (spec.phase.path, from the repository root), which is not a directory under {} or any parent of it",
            file.display(),
            dir.display()
        ))),
    }
}

/// The kubeconfig the operator hands over: `--kubeconfig`, or
/// `$KUBECONFIG` where `$KCTL_CONTEXT` says an airshipctl executor set both
/// (an operator's everyday `$KUBECONFIG` alone must not stand in for the
/// ClusterMap's sources). `--context` names the context holding the
/// cluster the command works on.
fn operator_kubeconfig(
    site_args: &SiteArgs,
    command: &KubeconfigCommand,
) -> Result<Option<OperatorKubeconfig>, Failure> {
    let (files, describe) = match (&site_args.kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(files), _) => (files.clone(), "--kubeconfig"),
        (None, Some(files)) if site_args.context.is_some() && !files.is_empty() => {
            (files, "$KUBECONFIG")
        }
        _ => return Ok(None),
    };
    let paths: Vec<PathBuf> = std::env::split_paths(&files).collect();
    let merged = lifecycle::merge(&paths, None)?;
    let cluster = match command {
        KubeconfigCommand::Capture {
            children_of: Some(parent),
            ..
        } => Some(parent),
        KubeconfigCommand::Capture { clusters, .. } | KubeconfigCommand::Get { clusters, .. } => {
            match clusters.as_slice() {
                [one] => Some(one),
                _ => None,
            }
        }
        KubeconfigCommand::Merge { .. } => None,
    };
    let context = match (cluster, &site_args.context) {
        (Some(cluster), Some(context)) => {
            if !merged
                .kubeconfig
                .contexts
                .iter()
                .any(|c| &c.name == context)
            {
                return Err(input(anyhow!(
                    "{describe} ({}) has no context `{context}` (it has: {}); name one with --context or KCTL_CONTEXT",
                    files.to_string_lossy(),
                    merged.kubeconfig.context_names().join(", ")
                )));
            }
            Some((cluster.clone(), context.clone()))
        }
        _ => None,
    };
    Ok(Some(OperatorKubeconfig {
        describe: format!("{describe} {}", files.to_string_lossy()),
        config: merged.kubeconfig,
        context,
    }))
}

fn readable(
    global: &GlobalArgs,
    site_args: &SiteArgs,
    home: Option<&Path>,
) -> Result<Vec<PathBuf>, Failure> {
    // A bundle on stdin has no directory for sources to read in.
    let mut readable: Vec<PathBuf> = match site_args.on_stdin() {
        true => Vec::new(),
        false => vec![site_args.bundle.clone()],
    };
    readable.extend(home.map(|home| home.join(".airship").join("kubeconfig")));
    readable.extend(site_args.allow_kubeconfig.iter().cloned());
    readable.extend(
        global
            .policy()?
            .approvals_for(&site_args.bundle)
            .kubeconfigs,
    );
    Ok(readable)
}

async fn capture(
    site: &Site,
    resolver: &Resolver<'_>,
    store: &FileStore,
    clusters: &[String],
    children_of: Option<&str>,
) -> Result<(), Failure> {
    let captured = lifecycle::capture(site, resolver, store, clusters, children_of).await?;
    for c in captured {
        eprintln!(
            "mooring: {}: captured from {}; stored in {}",
            c.cluster,
            c.source,
            c.stored.display()
        );
        if let Some(place) = c.also_in {
            eprintln!("mooring: {}: also stored in {place}", c.cluster);
        }
    }
    Ok(())
}

async fn get(
    site: &Site,
    resolver: &Resolver<'_>,
    clusters: &[String],
    current_context: Option<&str>,
    file: Option<&Path>,
    merge: bool,
) -> Result<(), Failure> {
    // Merging into the file airshipctl users keep their kubeconfig in must
    // not truncate it first (airshipctl #495).
    let existing = match file {
        Some(file) if merge && file.exists() => Some(lifecycle::read(file)?),
        _ => None,
    };
    let report =
        lifecycle::get(site, resolver, clusters, current_context, existing.as_ref()).await?;
    for found in &report.found {
        let tried: Vec<String> = found
            .failed
            .iter()
            .map(|a| format!("{}: {}", a.source, a.error))
            .collect();
        if tried.is_empty() {
            eprintln!("mooring: {}: from {}", found.cluster, found.source);
        } else {
            eprintln!(
                "mooring: {}: from {} (after {})",
                found.cluster,
                found.source,
                tried.join("; ")
            );
        }
    }
    for left_out in &report.unresolved {
        eprintln!(
            "mooring: {}: left out: {}",
            left_out.cluster, left_out.error
        );
    }
    match file {
        None => output::stdout(to_yaml(&report.kubeconfig).as_bytes())?,
        Some(file) => {
            lifecycle::write(file, &report.kubeconfig)?;
            eprintln!("mooring: wrote {} (mode 0600)", file.display());
        }
    }
    match report.unresolved.len() {
        0 => Ok(()),
        n => Err(partial(n)),
    }
}
