//! `kubeconfig-rewrite`: give the site's `KubeConfig` document the names its
//! `ClusterMap` uses, the way captured kubeconfigs are named: for each
//! cluster read from the bundle, context `<cluster>`, cluster `<cluster>`,
//! user `<cluster>-admin`. Entries no cluster reads are kept as they are.
//! The ClusterMap's `bundle` sources are renamed with them, so the map and
//! the KubeConfig keep agreeing.

use std::collections::BTreeSet;

use mooring_guest::cluster_map::{ClusterMap, KubeconfigSource};
use mooring_guest::kubeconfig::{KubeConfigDocument, Kubeconfig};
use mooring_guest::pointer::escape;
use mooring_guest::prelude::*;

/// It takes no configuration.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {}

fn rewrite(_: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let (Some((map_doc, map)), Some((doc, mut document))) = (
        docs.find_one::<ClusterMap>()?,
        docs.find_one::<KubeConfigDocument>()?,
    ) else {
        results.info("nothing to rewrite: needs a ClusterMap and a KubeConfig document");
        return Ok(());
    };
    let old = &document.config;
    let mut new = Kubeconfig {
        rest: old.rest.clone(),
        ..Kubeconfig::default()
    };
    let mut read = BTreeSet::new();
    for (key, cluster) in &map.map {
        let name = cluster.context_name(key);
        // The context this cluster reads from the bundle, if it does.
        let Some(context) = cluster.sources(key).into_iter().find_map(|s| match s {
            KubeconfigSource::Bundle { context } => {
                Some(context.unwrap_or_else(|| name.to_owned()))
            }
            _ => None,
        }) else {
            continue;
        };
        match old.extract(Some(&context), name) {
            Ok(one) => {
                if context != name {
                    results
                        .info(format!(
                            "context {context} is now {name}, for cluster `{key}`"
                        ))
                        .about(&doc)
                        .field("/config/contexts");
                    rename_bundle_sources(&map_doc, &map, key, name, results)?;
                }
                if old.current_context == context {
                    new.current_context = name.to_owned();
                }
                new.merge(&one);
                read.insert(context);
            }
            Err(e) => {
                results
                    .warning(format!(
                        "cluster `{key}` reads context {context} from the bundle, but the KubeConfig document {e}"
                    ))
                    .about(&doc)
                    .field("/config/contexts");
            }
        }
    }
    keep_unread(old, &read, &mut new);
    // Order is not meaning: a document that already has these entries
    // stays byte for byte as it is.
    if sorted(&new) != sorted(old) {
        document.config = new;
        doc.store(&document)?;
    }
    Ok(())
}

/// Points the cluster's `bundle` sources at the context's new name.
fn rename_bundle_sources(
    map_doc: &Document,
    map: &ClusterMap,
    key: &str,
    name: &str,
    results: &mut Results,
) -> Result<(), Error> {
    let Some(cluster) = map.map.get(key) else {
        return Ok(());
    };
    for (i, source) in cluster.kubeconfig_sources.iter().enumerate() {
        if source.kind == "bundle" {
            let pointer = format!(
                "/map/{}/kubeconfigSources/{i}/bundle/contextName",
                escape(key)
            );
            map_doc.set(&pointer, name)?;
            results
                .info(format!(
                    "cluster `{key}` now reads context {name} from the bundle"
                ))
                .about(map_doc)
                .field(pointer);
        }
    }
    Ok(())
}

/// Whatever no cluster reads stays, under its own names.
fn keep_unread(old: &Kubeconfig, read: &BTreeSet<String>, new: &mut Kubeconfig) {
    for context in old.contexts.iter().filter(|c| !read.contains(&c.name)) {
        let mut kept = Kubeconfig::default();
        kept.contexts.push(context.clone());
        for (field, from, to) in [
            ("cluster", &old.clusters, &mut kept.clusters),
            ("user", &old.users, &mut kept.users),
        ] {
            let wanted = context.inner_str("context", field).unwrap_or_default();
            to.extend(from.iter().filter(|e| e.name == wanted).cloned());
        }
        if old.current_context == context.name {
            new.current_context = context.name.clone();
        }
        new.merge(&kept);
    }
}

fn sorted(config: &Kubeconfig) -> Kubeconfig {
    let mut config = config.clone();
    for list in [
        &mut config.clusters,
        &mut config.contexts,
        &mut config.users,
    ] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    config
}

mooring_guest::export_step!(
    rewrite,
    mooring_guest::Description {
        summary: "give the site's KubeConfig document the context, cluster and user names its ClusterMap uses",
        config_schema: r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "kubeconfig-rewrite config (none)", "type": "object", "additionalProperties": false}"#,
        example: "- guest: kubeconfig-rewrite\n  selector: {apiVersion: airshipit.org/v1alpha1}\n",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use mooring_guest::Object;
    use mooring_guest::testing::Fixture;

    fn cluster_map(context: &str) -> Value {
        json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "ClusterMap", "metadata": {"name": "main-map"},
               "map": {"target-cluster": {"kubeconfigSources": [
                   {"type": "filesystem", "filesystem": {"path": "~/.airship/kubeconfig", "contextName": "target-cluster"}},
                   {"type": "bundle", "bundle": {"contextName": context}}]}}})
    }

    fn kubeconfig(context: &str, cluster: &str, user: &str) -> Value {
        json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "KubeConfig", "metadata": {"name": "default"},
               "config": {"apiVersion": "v1", "kind": "Config", "current-context": context,
                   "clusters": [{"name": cluster, "cluster": {"server": "https://10.0.0.1:6443"}}],
                   "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}},
                                {"name": "other", "context": {"cluster": cluster, "user": user}}],
                   "users": [{"name": user, "user": {"token": "abc"}}]}})
    }

    #[test]
    fn entries_take_the_cluster_map_names_and_the_map_follows() {
        let run = Fixture::new()
            .doc("phases/cluster-map.yaml", cluster_map("tc-admin@tc"))
            .doc(
                "kubeconfig/kubeconfig.yaml",
                kubeconfig("tc-admin@tc", "tc", "tc-admin"),
            )
            .run(rewrite, json!({}))
            .unwrap();
        let config = &run.get("KubeConfig", "default").unwrap().content["config"];
        let names = |list: &str| -> Vec<&str> {
            config[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect()
        };
        assert_eq!(names("contexts"), ["target-cluster", "other"]);
        assert_eq!(names("clusters"), ["target-cluster", "tc"]);
        assert_eq!(names("users"), ["target-cluster-admin", "tc-admin"]);
        assert_eq!(config["current-context"], "target-cluster");
        let map = run.get("ClusterMap", "main-map").unwrap();
        assert_eq!(
            map.content["map"]["target-cluster"]["kubeconfigSources"][1]["bundle"]["contextName"],
            "target-cluster"
        );
        assert!(
            run.messages().contains(
                &"context tc-admin@tc is now target-cluster, for cluster `target-cluster`"
            )
        );
    }

    #[test]
    fn a_document_already_in_shape_is_left_alone() {
        let input = kubeconfig("target-cluster", "target-cluster", "target-cluster-admin");
        let run = Fixture::new()
            .doc("m.yaml", cluster_map("target-cluster"))
            .doc("k.yaml", input.clone())
            .run(rewrite, json!({}))
            .unwrap();
        assert_eq!(
            Value::Object(run.get("KubeConfig", "default").unwrap().content.clone()),
            input
        );
        assert!(run.messages().is_empty(), "{:?}", run.messages());
    }

    #[test]
    fn without_both_documents_there_is_nothing_to_do() {
        let run = Fixture::new()
            .doc("m.yaml", cluster_map("x"))
            .run(rewrite, json!({}))
            .unwrap();
        assert_eq!(
            run.messages(),
            ["nothing to rewrite: needs a ClusterMap and a KubeConfig document"]
        );
        assert_eq!(
            run.get("ClusterMap", "main-map").unwrap().kind(),
            "ClusterMap"
        );
    }
}
