//! `kubeconfig-rewrite`: give the site's `KubeConfig` document the names its
//! `ClusterMap` uses, the way captured kubeconfigs are named: for each
//! cluster read from the bundle, context `<cluster>`, cluster `<cluster>`,
//! user `<cluster>-admin`. Entries no cluster reads are kept as they are.
//! The ClusterMap's `bundle` sources are renamed with them, and so are the
//! entry names in ReplacementTransformer field references into the
//! KubeConfig document (treasuremap's `update-target`), so the map, the
//! KubeConfig and what writes into it keep agreeing.

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
    let mut renamed = Vec::new();
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
                renamed.extend(renames(old, &context, name));
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
    follow_references(docs, &renamed, &new, results)?;
    // Order is not meaning: a document that already has these entries
    // stays byte for byte as it is.
    if sorted(&new) != sorted(old) {
        document.config = new;
        doc.store(&document)?;
    }
    Ok(())
}

/// A renamed entry: its list (`contexts`, `clusters`, `users`), old name
/// and new name.
type Rename = (&'static str, String, String);

/// What extracting `context` as `name` renames: the context, its cluster
/// and its user.
fn renames(old: &Kubeconfig, context: &str, name: &str) -> Vec<Rename> {
    let inner = |field: &str| {
        old.contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.inner_str("context", field))
            .map(str::to_owned)
    };
    [
        ("contexts", Some(context.to_owned()), name.to_owned()),
        ("clusters", inner("cluster"), name.to_owned()),
        ("users", inner("user"), format!("{name}-admin")),
    ]
    .into_iter()
    .filter_map(|(list, from, to)| Some((list, from?, to)))
    .filter(|(_, from, to)| from != to)
    .collect()
}

/// Points ReplacementTransformer field references into the KubeConfig
/// document (`{.config.users[name=tc-admin].user.token}`, or the JSONPath
/// filter `[?(@.name=="tc-admin")]`) at the entries' new names, and warns
/// about a reference to an entry the document does not have: kustomize
/// would otherwise fail on it, or write nowhere, long after this step.
fn follow_references(
    docs: &Documents,
    renamed: &[Rename],
    config: &Kubeconfig,
    results: &mut Results,
) -> Result<(), Error> {
    for doc in docs.iter().filter(|d| d.kind() == "ReplacementTransformer") {
        let Some(Value::Array(replacements)) = doc.get("/replacements") else {
            continue;
        };
        for (i, replacement) in replacements.iter().enumerate() {
            let mut references = Vec::new();
            if replacement["source"]["objref"]["kind"] == "KubeConfig" {
                references.push((
                    format!("/replacements/{i}/source/fieldref"),
                    &replacement["source"]["fieldref"],
                ));
            }
            if replacement["target"]["objref"]["kind"] == "KubeConfig" {
                let refs = replacement["target"]["fieldrefs"]
                    .as_array()
                    .into_iter()
                    .flatten();
                references.extend(
                    refs.enumerate()
                        .map(|(j, r)| (format!("/replacements/{i}/target/fieldrefs/{j}"), r)),
                );
            }
            for (pointer, reference) in references {
                let Some(text) = reference.as_str() else {
                    continue;
                };
                let updated = rename_entries(text, renamed);
                if updated != text {
                    doc.set(&pointer, &updated)?;
                    results
                        .info(format!("field reference {text} now reads {updated}"))
                        .about(&doc)
                        .field(&pointer);
                }
                for (list, name) in entry_names(&updated) {
                    let entries = match list {
                        "contexts" => &config.contexts,
                        "clusters" => &config.clusters,
                        _ => &config.users,
                    };
                    if !entries.iter().any(|e| e.name == name) {
                        results
                            .warning(format!(
                                "field reference {updated} names {list} entry `{name}`, which the KubeConfig document does not have"
                            ))
                            .about(&doc)
                            .field(&pointer);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Each `LIST[name=NAME]` or `LIST[?(@.name=="NAME")]` in a field
/// reference, also written `LIST.[…]` (as airshipctl's and treasuremap's
/// ReplacementTransformers do): where its name starts and ends, the list
/// and the name.
fn entry_spans(text: &str) -> Vec<(usize, usize, &'static str, &str)> {
    let mut spans = Vec::new();
    let openings = ["contexts", "clusters", "users"]
        .into_iter()
        .flat_map(|list| [(list, format!("{list}[")), (list, format!("{list}.["))]);
    for (list, opening) in openings {
        for (at, _) in text.match_indices(&opening) {
            // A whole path segment: `subclusters[` names no kubeconfig list.
            if !matches!(text[..at].chars().next_back(), None | Some('.' | '{')) {
                continue;
            }
            let start = at + opening.len();
            let Some(len) = text[start..].find(']') else {
                continue;
            };
            let filter = &text[start..start + len];
            let name_at = if let Some(name) = filter.strip_prefix("name=") {
                Some((filter.len() - name.len(), name.len()))
            } else {
                filter
                    .strip_prefix("?(@.name")
                    .and_then(|r| r.trim_start().strip_prefix("=="))
                    .map(str::trim_start)
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::trim_end)
                    .filter(|r| r.len() >= 2 && (r.starts_with('"') || r.starts_with('\'')))
                    .map(|quoted| {
                        let inner = &quoted[1..quoted.len() - 1];
                        let offset = quoted.as_ptr() as usize - filter.as_ptr() as usize + 1;
                        (offset, inner.len())
                    })
            };
            if let Some((offset, len)) = name_at {
                let from = start + offset;
                spans.push((from, from + len, list, &text[from..from + len]));
            }
        }
    }
    spans.sort_by_key(|s| s.0);
    spans
}

fn entry_names(text: &str) -> Vec<(&'static str, &str)> {
    entry_spans(text)
        .into_iter()
        .map(|(_, _, list, name)| (list, name))
        .collect()
}

/// `text` with every entry name in `renamed` replaced, all at once.
fn rename_entries(text: &str, renamed: &[Rename]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (from, to, list, name) in entry_spans(text) {
        let Some((_, _, new)) = renamed.iter().find(|(l, old, _)| *l == list && old == name) else {
            continue;
        };
        out.push_str(&text[copied..from]);
        out.push_str(new);
        copied = to;
    }
    out.push_str(&text[copied..]);
    out
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

    /// treasuremap writes certificates into the KubeConfig document with
    /// a ReplacementTransformer whose field references name entries: they
    /// follow the rename, in every spelling, and one that names nothing
    /// the document has is reported.
    #[test]
    fn replacement_field_references_follow_the_renamed_entries() {
        let transformer = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "ReplacementTransformer",
        "metadata": {"name": "update-target"},
        "replacements": [
            {"source": {"objref": {"kind": "Secret", "name": "tc-ca"}, "fieldref": "{.data.tls\\.crt}"},
             "target": {"objref": {"kind": "KubeConfig", "name": "default"},
                        "fieldrefs": ["{.config.clusters[name=tc].cluster.certificate-authority-data}",
                                      "{.config.users[?(@.name == 'tc-admin')].user.client-certificate-data}",
                                      "{.config.users[name=nobody].user.token}",
                                      ".config.users.[name=tc-admin].user.client-key-data",
                                      "{.config.subusers[name=tc-admin].x}"]}},
            {"source": {"objref": {"kind": "KubeConfig", "name": "default"},
                        "fieldref": "{.config.contexts[?(@.name==\"tc-admin@tc\")].context.cluster}"},
             "target": {"objref": {"kind": "ConfigMap", "name": "x"}, "fieldrefs": ["{.data.users[name=tc-admin]}"]}}
        ]});
        let run = Fixture::new()
            .doc("phases/cluster-map.yaml", cluster_map("tc-admin@tc"))
            .doc(
                "kubeconfig/kubeconfig.yaml",
                kubeconfig("tc-admin@tc", "tc", "tc-admin"),
            )
            .doc("kubeconfig/update-target.yaml", transformer)
            .run(rewrite, json!({}))
            .unwrap();
        let updated = &run
            .get("ReplacementTransformer", "update-target")
            .unwrap()
            .content;
        assert_eq!(
            updated["replacements"][0]["target"]["fieldrefs"],
            json!([
                "{.config.clusters[name=target-cluster].cluster.certificate-authority-data}",
                "{.config.users[?(@.name == 'target-cluster-admin')].user.client-certificate-data}",
                "{.config.users[name=nobody].user.token}",
                ".config.users.[name=target-cluster-admin].user.client-key-data",
                "{.config.subusers[name=tc-admin].x}"
            ])
        );
        assert_eq!(
            updated["replacements"][1]["source"]["fieldref"],
            "{.config.contexts[?(@.name==\"target-cluster\")].context.cluster}"
        );
        // Not a reference into the KubeConfig: untouched.
        assert_eq!(
            updated["replacements"][1]["target"]["fieldrefs"][0],
            "{.data.users[name=tc-admin]}"
        );
        assert!(run.messages().iter().any(|m| {
            m.contains("names users entry `nobody`, which the KubeConfig document does not have")
        }));
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
