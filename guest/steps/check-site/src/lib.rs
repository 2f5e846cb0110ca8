//! `check-site`: a validator (run it with `mode: validate`). It changes
//! nothing and reports, as error results, what would break the site when
//! airshipctl runs it:
//!
//! - a `PhasePlan` entry naming a phase the bundle does not hold, or a
//!   phase whose executor is not there;
//! - a `ClusterMap` cluster whose parent is not in the map;
//! - a `bundle` kubeconfig source whose context the `KubeConfig` document
//!   lacks (only a warning when there is no KubeConfig document yet: a
//!   cloud site gets one from `inject-credentials`);
//! - a planned phase that belongs to another infrastructure provider than
//!   the site's.

use std::collections::HashSet;

use mooring_guest::airship::{ObjectRef, Phase, PhasePlan};
use mooring_guest::cluster_map::{ClusterMap, KubeconfigSource};
use mooring_guest::kubeconfig::KubeConfigDocument;
use mooring_guest::prelude::*;
use mooring_guest::providers::{self, Provider, Providers, Rule, default_rules};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// The site's provider, when detection should not decide.
    provider: Option<String>,
    /// Rules replacing the default ones (as provider-filter takes them).
    rules: Option<Vec<Rule>>,
    /// Providers beyond the built-in ones.
    providers: Vec<Provider>,
}

fn check_site(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    check_plans(docs, results)?;
    check_cluster_map(docs, results)?;
    check_providers(&config, docs, results)?;
    Ok(())
}

fn check_plans(docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let executors: HashSet<(String, String)> = docs
        .iter()
        .map(|d| (d.kind().to_owned(), d.name().to_owned()))
        .collect();
    let mut phases = Vec::new();
    for doc in docs.of_kind::<Phase>() {
        let phase: Phase = doc.parse()?;
        if let Some(ObjectRef { kind, name, .. }) = &phase.config.executor_ref
            && !executors.contains(&(kind.clone(), name.clone()))
        {
            results
                .error(format!(
                    "phase {} runs executor {kind}/{name}, which the bundle does not hold",
                    phase.metadata.name
                ))
                .about(&doc)
                .field("/config/executorRef");
        }
        phases.push(phase.metadata.name);
    }
    for doc in docs.of_kind::<PhasePlan>() {
        let plan: PhasePlan = doc.parse()?;
        for (i, entry) in plan.phases.iter().enumerate() {
            if !phases.contains(&entry.name) {
                results
                    .error(format!(
                        "plan {} names phase {}, which the bundle does not hold",
                        plan.metadata.name, entry.name
                    ))
                    .about(&doc)
                    .field(format!("/phases/{i}/name"));
            }
        }
    }
    Ok(())
}

fn check_cluster_map(docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let Some((map_doc, map)) = docs.find_one::<ClusterMap>()? else {
        return Ok(());
    };
    for (key, cluster) in &map.map {
        if !cluster.parent.is_empty() && !map.map.contains_key(&cluster.parent) {
            results
                .error(format!(
                    "cluster `{key}` has parent `{}`, which is not in the map",
                    cluster.parent
                ))
                .about(&map_doc)
                .field(format!(
                    "/map/{}/parent",
                    mooring_guest::pointer::escape(key)
                ));
        }
    }
    let kubeconfig = docs.find_one::<KubeConfigDocument>()?;
    for (key, cluster) in &map.map {
        let name = cluster.context_name(key);
        for source in cluster.sources(key) {
            let KubeconfigSource::Bundle { context } = source else {
                continue;
            };
            let context = context.unwrap_or_else(|| name.to_owned());
            match &kubeconfig {
                Some((doc, document))
                    if !document.config.contexts.iter().any(|c| c.name == context) =>
                {
                    results
                        .error(format!("cluster `{key}` reads context {context} from the bundle, but the KubeConfig document has no such context"))
                        .about(doc)
                        .field("/config/contexts");
                }
                Some(_) => {}
                None => {
                    results
                        .warning(format!("cluster `{key}` reads context {context} from the bundle, which has no KubeConfig document (inject-credentials writes one)"))
                        .about(&map_doc);
                }
            }
        }
    }
    Ok(())
}

/// Planned phases, and their executors, that belong to another provider.
fn check_providers(config: &Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let providers = Providers::with(&config.providers);
    let Ok(detected) = providers::detect(docs, &providers, config.provider.as_deref()) else {
        // A site that names no provider has none to be inconsistent with.
        return Ok(());
    };
    let site = detected.provider.name;
    let rules = config.rules.clone().unwrap_or_else(default_rules);
    for plan_doc in docs.of_kind::<PhasePlan>() {
        let plan: PhasePlan = plan_doc.parse()?;
        for (i, entry) in plan.phases.iter().enumerate() {
            let Some(phase) = docs.of_kind::<Phase>().find(|d| d.name() == entry.name) else {
                continue;
            };
            let executor = phase.get("/config/executorRef").and_then(|r| {
                let kind = r.get("kind")?.as_str()?.to_owned();
                let name = r.get("name")?.as_str()?.to_owned();
                docs.iter().find(|d| d.is(&kind, &name))
            });
            for doc in std::iter::once(phase.clone()).chain(executor) {
                if let Some((owners, why)) = providers::owners_of(&doc, &providers, &rules)?
                    && !owners.contains(&site)
                {
                    results
                        .error(format!(
                            "plan {} runs phase {}, but {} ({why}), and this site is {site}; run provider-filter first",
                            plan.metadata.name, entry.name, doc.describe()
                        ))
                        .about(&plan_doc)
                        .field(format!("/phases/{i}/name"));
                }
            }
        }
    }
    Ok(())
}

mooring_guest::export_step!(
    check_site,
    mooring_guest::Description {
        summary: "a validator: report what breaks a site (plans naming missing phases or executors, unknown ClusterMap parents, bundle sources the KubeConfig lacks, phases of another provider)",
        config_schema: r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "check-site config", "type": "object", "additionalProperties": false, "properties": {"provider": {"type": "string", "description": "the site's provider [default: detected]"}, "rules": {"type": "array", "description": "as provider-filter's"}, "providers": {"type": "array", "description": "as provider-filter's"}}}"#,
        example: "- name: check\n  guest: check-site\n  mode: validate\n",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use mooring_guest::testing::Fixture;

    fn airship(kind: &str, name: &str, extra: Value) -> Value {
        let mut doc = json!({"apiVersion": "airshipit.org/v1alpha1", "kind": kind, "metadata": {"name": name}});
        if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
            doc.extend(extra);
        }
        doc
    }

    fn phase(name: &str, kind: &str, executor: &str) -> Value {
        airship(
            "Phase",
            name,
            json!({"config": {"executorRef": {"kind": kind, "name": executor}}}),
        )
    }

    fn site() -> Fixture {
        Fixture::new()
            .doc("cluster.yaml", json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DockerCluster", "metadata": {"name": "t"}}))
            .doc("phases.yaml", phase("clusterctl-move", "Clusterctl", "clusterctl_move"))
            .doc("phases.yaml", airship("Clusterctl", "clusterctl_move", json!({})))
            .doc("map.yaml", airship("ClusterMap", "main-map", json!({"map": {
                "ephemeral-cluster": {"kubeconfigSources": [{"type": "bundle", "bundle": {"contextName": "ephemeral-cluster"}}]},
                "target-cluster": {"parent": "ephemeral-cluster", "kubeconfigSources": [{"type": "clusterAPI"}]}}})))
            .doc("kubeconfig.yaml", airship("KubeConfig", "default", json!({"config": {"contexts": [{"name": "ephemeral-cluster", "context": {}}]}})))
    }

    #[test]
    fn a_consistent_site_has_nothing_to_report() {
        let fixture = site().doc(
            "plan.yaml",
            airship(
                "PhasePlan",
                "deploy",
                json!({"phases": [{"name": "clusterctl-move"}]}),
            ),
        );
        let run = fixture.run(check_site, json!({})).unwrap();
        assert!(run.results.is_empty(), "{:?}", run.messages());
    }

    /// The site with a phase whose executor is missing, one whose executor
    /// exists, and a plan naming a phase that does not.
    fn broken() -> Fixture {
        site()
            .doc(
                "more.yaml",
                phase(
                    "remotedirect-ephemeral",
                    "BaremetalManager",
                    "RemoteDirectEphemeral",
                ),
            )
            .doc(
                "more.yaml",
                airship("BaremetalManager", "RemoteDirectEphemeral", json!({})),
            )
            .doc("more.yaml", phase("broken", "GenericContainer", "missing"))
            .doc(
                "plan.yaml",
                airship(
                    "PhasePlan",
                    "deploy",
                    json!({"phases": [{"name": "remotedirect-ephemeral"}, {"name": "nowhere"}]}),
                ),
            )
    }

    #[test]
    fn each_break_is_an_error_about_its_document_and_field() {
        let run = broken()
            .doc("map2.yaml", airship("ClusterMap", "other", json!({})))
            .run(check_site, json!({}));
        // Two ClusterMaps: the map check refuses to guess.
        assert!(
            run.unwrap_err()
                .to_string()
                .contains("found two ClusterMap documents")
        );

        let run = broken().run(check_site, json!({})).unwrap();
        let messages = run.messages().join("\n");
        assert!(messages.contains("phase broken runs executor GenericContainer/missing, which the bundle does not hold"), "{messages}");
        assert!(
            messages.contains("plan deploy names phase nowhere, which the bundle does not hold"),
            "{messages}"
        );
        assert!(messages.contains("plan deploy runs phase remotedirect-ephemeral, but BaremetalManager/RemoteDirectEphemeral (more.yaml) (BaremetalManager belongs to metal3), and this site is docker"), "{messages}");
        assert!(
            run.results
                .iter()
                .all(|r| r.severity() == mooring_guest::Severity::Error)
        );
    }

    #[test]
    fn map_and_kubeconfig_problems_are_named() {
        let run = Fixture::new()
            .doc("map.yaml", airship("ClusterMap", "m", json!({"map": {
                "target-cluster": {"parent": "ghost", "kubeconfigSources": [{"type": "bundle", "bundle": {"contextName": "target-cluster"}}]}}})))
            .doc("kubeconfig.yaml", airship("KubeConfig", "default", json!({"config": {"contexts": []}})))
            .run(check_site, json!({}))
            .unwrap();
        assert_eq!(
            run.messages(),
            [
                "cluster `target-cluster` has parent `ghost`, which is not in the map",
                "cluster `target-cluster` reads context target-cluster from the bundle, but the KubeConfig document has no such context"
            ]
        );
    }
}
