//! `inject-credentials`: merge the captured kubeconfigs of the site's
//! clusters into its `KubeConfig` document, creating the document if the
//! site has none. Entries of the same name are replaced where they stand;
//! nothing else in the document changes.
//!
//! ```yaml
//! - name: inject-credentials
//!   guest: inject-credentials
//!   grants: {credentials: [ephemeral-cluster, target-cluster]}
//!   config:
//!     clusters: [target-cluster]        # default: every cluster of the ClusterMap
//!     path: kubeconfig/kubeconfig.yaml  # where a new KubeConfig document goes (the default)
//! ```

use mooring_guest::cluster_map::ClusterMap;
use mooring_guest::kubeconfig::{KubeConfigDocument, merge_all};
use mooring_guest::prelude::*;

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    clusters: Vec<String>,
    path: String,
    current_context: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clusters: Vec::new(),
            path: "kubeconfig/kubeconfig.yaml".to_owned(),
            current_context: None,
        }
    }
}

fn inject(
    config: Config,
    mut docs: Vec<Document>,
    results: &mut Results,
) -> Result<Vec<Document>, Error> {
    let clusters = if config.clusters.is_empty() {
        let (_, map) = find_one::<ClusterMap>(&docs)?.ok_or_else(|| {
            Error::msg("no ClusterMap among the documents to take the clusters from; list them in config.clusters")
        })?;
        map.map.keys().cloned().collect()
    } else {
        config.clusters
    };
    let mut captured = Vec::new();
    for cluster in &clusters {
        match mooring_guest::credentials::kubeconfig(cluster) {
            Ok(kubeconfig) => captured.push(kubeconfig),
            Err(e) => {
                results.error(format!("no kubeconfig for cluster `{cluster}`: {e}"));
            }
        }
    }
    if captured.len() < clusters.len() {
        return Ok(docs);
    }

    let (index, mut document) = match find_one::<KubeConfigDocument>(&docs)? {
        Some(found) => found,
        None => {
            let mut new = KubeConfigDocument::default();
            // What kubectl writes, and what airshipctl's static ones hold.
            new.config.rest.insert("preferences".to_owned(), json!({}));
            let mut doc = Document::from_typed(&config.path, &new)?;
            doc.content["metadata"] = json!({
                "name": "default",
                // Like airshipctl's own: never applied to a cluster.
                "labels": {"airshipit.org/deploy-k8s": "false"}
            });
            docs.push(doc);
            let index = docs.len() - 1;
            let parsed = docs[index].parse()?;
            link_into_kustomization(&mut docs, &config.path, results);
            (index, parsed)
        }
    };
    let before = document.config.clone();
    let merged = merge_all(
        std::iter::once(&before).chain(&captured),
        config.current_context.as_deref(),
    )?;
    if merged == before {
        results
            .info("the KubeConfig document is already current")
            .about(&docs[index]);
        return Ok(docs);
    }
    document.config = merged;
    docs[index].store(&document)?;
    results
        .info(format!("merged the kubeconfigs of {}", clusters.join(", ")))
        .about(&docs[index])
        .field("config");
    Ok(docs)
}

/// When the bundle is a kustomize tree, a new document must be part of it,
/// as the static KubeConfig of a bare-metal site is: its directory gets a
/// kustomization, and the root one lists the directory.
fn link_into_kustomization(docs: &mut Vec<Document>, path: &str, results: &mut Results) {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return;
    };
    let is_kustomization = |d: &Document, at: &str| d.path == at && d.is_kustomization();
    let Some(root) = docs
        .iter()
        .position(|d| is_kustomization(d, "kustomization.yaml"))
    else {
        return;
    };
    let own = format!("{dir}/kustomization.yaml");
    if !docs.iter().any(|d| is_kustomization(d, &own)) {
        let mut content = Map::new();
        content.insert("resources".to_owned(), json!([file]));
        docs.push(Document::new(own, content));
    }
    let listed = docs[root]
        .content
        .entry("resources")
        .or_insert_with(|| json!([]));
    if let Some(resources) = listed.as_array_mut()
        && !resources.iter().any(|r| r.as_str() == Some(dir))
    {
        resources.push(json!(dir));
        results
            .info(format!("listed {dir} in the root kustomization"))
            .about(&docs[root])
            .field("resources");
    }
}

mooring_guest::export_step!(inject);
