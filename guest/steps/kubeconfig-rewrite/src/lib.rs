//! `kubeconfig-rewrite`: give the site's `KubeConfig` document the names
//! its `ClusterMap` uses, the way captured kubeconfigs are named: for each
//! cluster read from the bundle, context `<cluster>`, cluster `<cluster>`,
//! user `<cluster>-admin`. Entries no cluster reads are kept as they are.
//!
//! ```yaml
//! - guest: kubeconfig-rewrite
//!   selector: {apiVersion: airshipit.org/v1alpha1}
//! ```

use std::collections::BTreeSet;

use mooring_guest::cluster_map::{ClusterMap, KubeconfigSource};
use mooring_guest::kubeconfig::{KubeConfigDocument, Kubeconfig};
use mooring_guest::prelude::*;

fn rewrite(
    _: Map<String, Value>,
    mut docs: Vec<Document>,
    results: &mut Results,
) -> Result<Vec<Document>, Error> {
    let (Some((_, map)), Some((index, mut document))) = (
        find_one::<ClusterMap>(&docs)?,
        find_one::<KubeConfigDocument>(&docs)?,
    ) else {
        results.info("nothing to rewrite: needs a ClusterMap and a KubeConfig document");
        return Ok(docs);
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
                        .about(&docs[index])
                        .field("config.contexts");
                }
                if old.current_context == context {
                    new.current_context = name.to_owned();
                }
                new.merge(&one);
                read.insert(context);
            }
            Err(e) => {
                results
                    .warning(format!("cluster `{key}` reads context {context} from the bundle, but the KubeConfig document {e}"))
                    .about(&docs[index])
                    .field("config.contexts");
            }
        }
    }
    // Whatever no cluster reads stays, under its own names.
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
    // Order is not meaning: a document that already has these entries
    // stays byte for byte as it is.
    if sorted(&new) != sorted(old) {
        document.config = new;
        docs[index].store(&document)?;
    }
    Ok(docs)
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

mooring_guest::export_step!(rewrite);
