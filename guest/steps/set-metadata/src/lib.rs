//! `set-metadata`: set labels and annotations on every Kubernetes object
//! the step selects (kustomize's own files are not objects). It reads
//! nothing: each label is one edit, sent with the rest in one batch, and
//! written into the document's own text.

use std::collections::BTreeMap;

use mooring_guest::prelude::*;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn set_metadata(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    if config.labels.is_empty() && config.annotations.is_empty() {
        return Err(Error::msg(
            "config sets no labels and no annotations; give `labels:` or `annotations:`",
        ));
    }
    // Labels belong on Kubernetes objects: kustomize's own files in a
    // repository (and data without a kind) are left as they are.
    let mut skipped = 0;
    for doc in docs.iter() {
        if !doc.is_object() {
            skipped += 1;
            continue;
        }
        for (key, value) in &config.labels {
            doc.set_label(key, value);
        }
        for (key, value) in &config.annotations {
            doc.set_annotation(key, value);
        }
    }
    let mut summary = format!(
        "set {} label(s) and {} annotation(s) on {} document(s)",
        config.labels.len(),
        config.annotations.len(),
        docs.len() - skipped
    );
    if skipped > 0 {
        summary.push_str(&format!(
            "; left {skipped} that are not Kubernetes objects (kustomizations, kustomize configurations, documents without apiVersion and kind) as they were"
        ));
    }
    results.info(summary);
    Ok(())
}

mooring_guest::export_step!(
    set_metadata,
    mooring_guest::Description {
        summary: "set labels and annotations on the Kubernetes objects it is given (not on kustomize's own files)",
        config_schema: include_str!("../config.schema.json"),
        example: include_str!("../example.yaml"),
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use mooring_guest::Object;
    use mooring_guest::testing::Fixture;

    fn site() -> Fixture {
        Fixture::new()
            .doc(
                "a.yaml",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"keep": "me"}}}),
            )
            .doc(
                "b.yaml",
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "annotations": null}}),
            )
            .doc("kustomization.yaml", json!({"resources": ["a.yaml", "b.yaml"], "configurations": ["config.yaml"]}))
            .doc("config.yaml", json!({"nameReference": [{"kind": "Secret", "fieldSpecs": []}]}))
            .doc("component/kustomization.yaml", json!({"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component"}))
    }

    #[test]
    fn labels_and_annotations_land_on_every_document_and_keep_the_rest() {
        let run = site()
            .run(
                set_metadata,
                json!({"labels": {"team": "infra"}, "annotations": {"a/b": "c"}}),
            )
            .unwrap();
        let a = run.get("ConfigMap", "a").unwrap();
        assert_eq!(
            (a.label("keep"), a.label("team")),
            (Some("me"), Some("infra"))
        );
        let b = run.get("Secret", "b").unwrap();
        assert_eq!(
            (b.label("team"), b.annotation("a/b")),
            (Some("infra"), Some("c"))
        );
        assert_eq!(
            run.messages(),
            [
                "set 1 label(s) and 1 annotation(s) on 2 document(s); left 3 that are not Kubernetes objects (kustomizations, kustomize configurations, documents without apiVersion and kind) as they were"
            ]
        );
        // kustomize's own files are not resources: a label there would be
        // a field kustomize does not expect.
        for path in [
            "kustomization.yaml",
            "config.yaml",
            "component/kustomization.yaml",
        ] {
            let doc = run.documents.iter().find(|d| d.path == path).unwrap();
            assert!(
                doc.content
                    .get("metadata")
                    .is_none_or(|m| m.get("labels").is_none()),
                "{path}"
            );
        }
    }

    #[test]
    fn a_config_that_sets_nothing_or_misspells_a_field_is_refused() {
        let nothing = site().run(set_metadata, json!({})).unwrap_err().to_string();
        assert!(nothing.contains("sets no labels"), "{nothing}");
        let typo = site()
            .run(set_metadata, json!({"lables": {}}))
            .unwrap_err()
            .to_string();
        assert!(typo.contains("unknown field `lables`"), "{typo}");
        assert!(!typo.contains("line 1"), "{typo}");
    }
}
