//! `inject-credentials`: merge the captured kubeconfigs of the site's
//! clusters into its `KubeConfig` document, creating the document if the
//! site has none. Entries of the same name are replaced where they stand;
//! nothing else in the document changes.

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

fn inject(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let clusters = if config.clusters.is_empty() {
        let (_, map) = docs.find_one::<ClusterMap>()?.ok_or_else(|| {
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
        return Ok(());
    }
    let (doc, mut document) = match docs.find_one::<KubeConfigDocument>()? {
        Some(found) => found,
        None => {
            let doc = docs.add_typed(&config.path, &new_document())?;
            link_into_kustomization(docs, &config.path, results)?;
            let document = doc.parse()?;
            (doc, document)
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
            .about(&doc);
        return Ok(());
    }
    document.config = merged;
    doc.set("/config", &document.config)?;
    results
        .info(format!("merged the kubeconfigs of {}", clusters.join(", ")))
        .about(&doc)
        .field("/config");
    Ok(())
}

/// A KubeConfig document like airshipctl's static ones: named `default`,
/// never applied to a cluster, with the `preferences` kubectl writes.
fn new_document() -> KubeConfigDocument {
    let mut new = KubeConfigDocument::default();
    new.metadata.name = "default".to_owned();
    new.metadata.rest.insert(
        "labels".to_owned(),
        json!({"airshipit.org/deploy-k8s": "false"}),
    );
    new.config.rest.insert("preferences".to_owned(), json!({}));
    new
}

/// When the bundle is a kustomize tree, a new document must be part of it,
/// as the static KubeConfig of a bare-metal site is: its directory gets a
/// kustomization, and the root one lists the directory.
fn link_into_kustomization(
    docs: &Documents,
    path: &str,
    results: &mut Results,
) -> Result<(), Error> {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return Ok(());
    };
    let kustomization = |at: &str| docs.iter().find(|d| d.path() == at && d.is_kustomization());
    let Some(root) = kustomization("kustomization.yaml") else {
        return Ok(());
    };
    let own = format!("{dir}/kustomization.yaml");
    if kustomization(&own).is_none() {
        let mut content = Map::new();
        content.insert("resources".to_owned(), json!([file]));
        docs.add(&own, content)?;
    }
    let listed = match root.get("/resources") {
        Some(Value::Array(items)) => items,
        None => Vec::new(),
        Some(_) => return Ok(()),
    };
    if !listed.iter().any(|r| r.as_str() == Some(dir)) {
        if listed.is_empty() {
            root.set("/resources", [dir])?;
        } else {
            root.set("/resources/-", dir)?;
        }
        results
            .info(format!("listed {dir} in the root kustomization"))
            .about(&root)
            .field("/resources");
    }
    Ok(())
}

mooring_guest::export_step!(
    inject,
    mooring_guest::Description {
        summary: "write the captured kubeconfigs of the site's clusters into its KubeConfig document (needs a credentials grant)",
        config_schema: include_str!("../config.schema.json"),
        example: include_str!("../example.yaml"),
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use mooring_guest::Object;
    use mooring_guest::kubeconfig::Kubeconfig;
    use mooring_guest::testing::Fixture;

    fn captured(cluster: &str) -> Kubeconfig {
        Kubeconfig::from_value(json!({
            "clusters": [{"name": cluster, "cluster": {"server": format!("https://{cluster}:6443")}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": format!("{cluster}-admin")}}],
            "users": [{"name": format!("{cluster}-admin"), "user": {"token": "t0k3n-of-some-length"}}]
        }))
        .unwrap()
    }

    fn site() -> Fixture {
        Fixture::new()
            .doc("kustomization.yaml", json!({"resources": ["phases"]}))
            .doc("phases/cluster-map.yaml", json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "ClusterMap",
                "metadata": {"name": "main-map"}, "map": {"ephemeral-cluster": {}, "target-cluster": {"parent": "ephemeral-cluster"}}}))
    }

    #[test]
    fn a_site_without_a_kubeconfig_document_gets_one_linked_into_its_tree() {
        let run = site()
            .credential("ephemeral-cluster", captured("ephemeral-cluster"))
            .credential("target-cluster", captured("target-cluster"))
            .run(inject, json!({}))
            .unwrap();
        let doc = run.get("KubeConfig", "default").unwrap();
        assert_eq!(doc.path, "kubeconfig/kubeconfig.yaml");
        assert_eq!(doc.label("airshipit.org/deploy-k8s"), Some("false"));
        assert_eq!(
            doc.content["config"]["contexts"].as_array().unwrap().len(),
            2
        );
        let own = run
            .documents
            .iter()
            .find(|d| d.path == "kubeconfig/kustomization.yaml")
            .unwrap();
        assert_eq!(own.content["resources"], json!(["kubeconfig.yaml"]));
        let root = run
            .documents
            .iter()
            .find(|d| d.path == "kustomization.yaml")
            .unwrap();
        assert_eq!(root.content["resources"], json!(["phases", "kubeconfig"]));
    }

    #[test]
    fn a_missing_capture_is_an_error_result_and_nothing_changes() {
        let run = site()
            .credential("target-cluster", captured("target-cluster"))
            .run(inject, json!({}))
            .unwrap();
        assert_eq!(run.results.len(), 1);
        assert!(
            run.messages()[0].starts_with("no kubeconfig for cluster `ephemeral-cluster`: denied")
        );
        assert!(run.get("KubeConfig", "default").is_none());
    }

    #[test]
    fn a_current_document_is_left_alone() {
        let mut current = KubeConfigDocument::default();
        current.metadata.name = "default".to_owned();
        current.config = merge_all([&captured("target-cluster")], None).unwrap();
        let run = Fixture::new()
            .doc(
                "k.yaml",
                Value::Object(mooring_guest::airship::to_content(&current).unwrap()),
            )
            .credential("target-cluster", captured("target-cluster"))
            .run(inject, json!({"clusters": ["target-cluster"]}))
            .unwrap();
        assert_eq!(
            run.messages(),
            ["the KubeConfig document is already current"]
        );
    }
}
