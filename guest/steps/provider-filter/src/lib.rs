//! `provider-filter`: one plan for every provider. Learns the site's
//! infrastructure provider from the bundle, drops what belongs only to other
//! providers, and leaves a bundle that still holds together.
//!
//! ```yaml
//! - guest: provider-filter
//!   config:
//!     provider: docker          # optional: detected from Metal3Cluster, DockerCluster, AzureCluster, ...
//!     rules:                    # optional: the default is the hwcc rule below
//!       - name: hwcc
//!         providers: [metal3]   # the rule's documents belong to these providers only
//!         documents:            # selectors: apiVersion, kind, name, namespace, labels, annotations
//!           - kind: HardwareClassification
//!           - {kind: Phase, name: verify-hwcc-profiles}
//! ```
//!
//! What a rule removes pulls its dependants with it: a removed `Phase`'s
//! executor (unless another phase uses it), an executor's `configRef`
//! ConfigMap or the kustomize `configMapGenerator` that makes it, `PhasePlan`
//! entries naming a removed phase, and `kustomization.yaml` `resources:`
//! entries whose files or directories lost everything. Each removal is a
//! result naming the document and the reason.

use mooring_guest::prelude::*;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    provider: Option<String>,
    rules: Option<Vec<Rule>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    providers: Vec<String>,
    documents: Vec<Selector>,
}

/// hwcc (HardwareClassification) checks count BareMetalHosts per profile, so
/// they mean something only on metal3.
fn default_rules() -> Vec<Rule> {
    let select = |kind: &str, name: Option<&str>| Selector {
        kind: Some(kind.to_owned()),
        name: name.map(str::to_owned),
        ..Selector::default()
    };
    vec![Rule {
        name: "hwcc".to_owned(),
        providers: vec!["metal3".to_owned()],
        documents: vec![
            select("HardwareClassification", None),
            select("Phase", Some("verify-hwcc-profiles")),
        ],
    }]
}

/// Provider names as clusterctl spells them, and the aliases people use.
const PROVIDERS: &[(&str, &[&str])] = &[
    ("metal3", &["capm3", "baremetal"]),
    ("docker", &["capd"]),
    ("azure", &["capz"]),
    ("gcp", &["capg"]),
    ("openstack", &["capo"]),
];

/// Cluster API infrastructure cluster kinds and their provider.
const INFRASTRUCTURE: &[(&str, &str)] = &[
    ("Metal3Cluster", "metal3"),
    ("DockerCluster", "docker"),
    ("AzureCluster", "azure"),
    ("AzureManagedCluster", "azure"),
    ("GCPCluster", "gcp"),
    ("OpenStackCluster", "openstack"),
];

fn canonical(name: &str) -> Result<&'static str, Error> {
    PROVIDERS
        .iter()
        .find(|(canonical, aliases)| *canonical == name || aliases.contains(&name))
        .map(|(canonical, _)| *canonical)
        .ok_or_else(|| {
            let known: Vec<&str> = PROVIDERS.iter().map(|(c, _)| *c).collect();
            Error::msg(format!(
                "unknown provider {name:?}; known providers: {}",
                known.join(", ")
            ))
        })
}

/// The provider, from the config or from the infrastructure objects present.
fn provider(
    config: &Config,
    docs: &[Document],
    results: &mut Results,
) -> Result<&'static str, Error> {
    if let Some(name) = &config.provider {
        let provider = canonical(name)?;
        results.info(format!("provider {provider}, as configured"));
        return Ok(provider);
    }
    let found: Vec<(&Document, &str)> = docs
        .iter()
        .filter(|d| {
            d.api_version()
                .starts_with("infrastructure.cluster.x-k8s.io/")
        })
        .filter_map(|d| {
            INFRASTRUCTURE
                .iter()
                .find(|(kind, _)| *kind == d.kind())
                .map(|(_, p)| (d, *p))
        })
        .collect();
    let Some((first, provider)) = found.first() else {
        return Err(Error::msg(
            "found no Cluster API infrastructure cluster (Metal3Cluster, DockerCluster, AzureCluster, ...) \
             to tell the provider by; set `provider:` in this step's config",
        ));
    };
    if let Some((other, different)) = found.iter().find(|(_, p)| p != provider) {
        return Err(Error::msg(format!(
            "the bundle mixes providers: {} ({}) is {provider}, {} ({}) is {different}; set `provider:` in this step's config",
            first.name(),
            first.path,
            other.name(),
            other.path
        )));
    }
    results
        .info(format!(
            "provider {provider}, from {}/{} in {}",
            first.kind(),
            first.name(),
            first.path
        ))
        .about(first);
    Ok(provider)
}

fn provider_filter(
    config: Config,
    docs: Vec<Document>,
    results: &mut Results,
) -> Result<Vec<Document>, Error> {
    let provider = provider(&config, &docs, results)?;
    let rules = config.rules.unwrap_or_else(default_rules);
    let mut bundle = Bundle::new(docs);
    for rule in &rules {
        let owners = rule
            .providers
            .iter()
            .map(|p| canonical(p))
            .collect::<Result<Vec<_>, _>>()?;
        if owners.contains(&provider) {
            continue;
        }
        let reason = format!(
            "rule {}: only for {}, and this site is {provider}",
            rule.name,
            owners.join(", ")
        );
        for i in 0..bundle.docs.len() {
            if rule.documents.iter().any(|s| s.matches(&bundle.docs[i])) {
                bundle.remove(i, &reason);
            }
        }
    }
    bundle.cascade();
    Ok(bundle.finish(results))
}

/// The documents with what has been removed and why.
struct Bundle {
    docs: Vec<Document>,
    removed: Vec<Option<String>>,
    edits: Vec<(usize, String, &'static str)>,
}

impl Bundle {
    fn new(docs: Vec<Document>) -> Self {
        let removed = vec![None; docs.len()];
        Bundle {
            docs,
            removed,
            edits: Vec::new(),
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Document)> {
        self.docs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.removed[*i].is_none())
    }

    fn remove(&mut self, index: usize, reason: &str) -> bool {
        if self.removed[index].is_some() {
            return false;
        }
        self.removed[index] = Some(reason.to_owned());
        true
    }

    /// Follows references from what was removed until nothing changes.
    fn cascade(&mut self) {
        while self.drop_unused_executors()
            | self.drop_unused_configs()
            | self.prune_kustomizations()
        {}
        self.prune_plans();
    }

    /// An executor that only removed phases used goes with them.
    fn drop_unused_executors(&mut self) -> bool {
        let mut changed = false;
        let removed_phases: Vec<(String, String, String)> = (0..self.docs.len())
            .filter(|&i| self.removed[i].is_some() && self.docs[i].kind() == "Phase")
            .filter_map(|i| {
                let r = self.docs[i].get(&["config", "executorRef"])?;
                Some((
                    str_of(r, "kind"),
                    str_of(r, "name"),
                    self.docs[i].name().to_owned(),
                ))
            })
            .collect();
        for (kind, name, phase) in removed_phases {
            let still_used = self.live().any(|(_, d)| {
                d.kind() == "Phase"
                    && d.get(&["config", "executorRef"])
                        .is_some_and(|r| str_of(r, "kind") == kind && str_of(r, "name") == name)
            });
            if still_used {
                continue;
            }
            if let Some(i) = self.find(&kind, &name) {
                changed |= self.remove(i, &format!("executor of removed Phase/{phase}"));
            }
        }
        changed
    }

    /// A ConfigMap (or the kustomize generator that makes it) that only
    /// removed executors used goes with them.
    fn drop_unused_configs(&mut self) -> bool {
        let mut changed = false;
        let orphaned: Vec<(String, String)> = (0..self.docs.len())
            .filter(|&i| self.removed[i].is_some())
            .filter_map(|i| {
                let r = self.docs[i].get(&["configRef"])?;
                Some((
                    str_of(r, "name"),
                    format!("{}/{}", self.docs[i].kind(), self.docs[i].name()),
                ))
            })
            .filter(|(name, _)| {
                !self.live().any(|(_, d)| {
                    d.get(&["configRef"])
                        .is_some_and(|r| str_of(r, "name") == *name)
                })
            })
            .collect();
        for (name, executor) in orphaned {
            if let Some(i) = self.find("ConfigMap", &name) {
                changed |= self.remove(i, &format!("configuration of removed {executor}"));
            }
            let generators: Vec<usize> = self
                .live()
                .filter(|(_, d)| d.is_kustomization())
                .map(|(i, _)| i)
                .collect();
            for i in generators {
                let Some(Value::Array(entries)) =
                    self.docs[i].content.get_mut("configMapGenerator")
                else {
                    continue;
                };
                let before = entries.len();
                entries.retain(|e| str_of(e, "name") != name);
                if entries.len() != before {
                    self.edits.push((
                        i,
                        format!("dropped configMapGenerator {name} (used by removed {executor})"),
                        "configMapGenerator",
                    ));
                    changed = true;
                }
            }
        }
        changed
    }

    /// `resources:` entries whose file or directory lost everything are
    /// dropped; a kustomization left with nothing goes too.
    fn prune_kustomizations(&mut self) -> bool {
        let mut changed = false;
        let kustomizations: Vec<usize> = self
            .live()
            .filter(|(_, d)| d.is_kustomization())
            .map(|(i, _)| i)
            .collect();
        for i in kustomizations {
            let dir = parent(&self.docs[i].path).to_owned();
            let Some(Value::Array(entries)) = self.docs[i].content.get("resources") else {
                continue;
            };
            let gone: Vec<String> = entries
                .iter()
                .filter_map(Value::as_str)
                .filter(|entry| join(&dir, entry).is_some_and(|target| self.emptied(&target)))
                .map(str::to_owned)
                .collect();
            if !gone.is_empty() {
                if let Some(Value::Array(entries)) = self.docs[i].content.get_mut("resources") {
                    entries.retain(|e| e.as_str().is_none_or(|s| !gone.contains(&s.to_owned())));
                }
                for entry in gone {
                    self.edits.push((
                        i,
                        format!(
                            "dropped resources entry {entry} (everything it named was removed)"
                        ),
                        "resources",
                    ));
                }
                changed = true;
            }
            if self.edits.iter().any(|(e, _, _)| *e == i) && is_empty_kustomization(&self.docs[i]) {
                self.remove(i, "kustomization left with nothing to build");
            }
        }
        changed
    }

    /// True when the bundle had documents at `target` (a file, or a
    /// directory's kustomization) and all of them were removed.
    fn emptied(&self, target: &str) -> bool {
        let at: Vec<usize> = (0..self.docs.len())
            .filter(|&i| {
                let path = &self.docs[i].path;
                path == target || (parent(path) == target && self.docs[i].is_kustomization())
            })
            .collect();
        !at.is_empty() && at.iter().all(|&i| self.removed[i].is_some())
    }

    /// Plans stop naming removed phases.
    fn prune_plans(&mut self) {
        let removed_phases: Vec<String> = (0..self.docs.len())
            .filter(|&i| self.removed[i].is_some() && self.docs[i].kind() == "Phase")
            .map(|i| self.docs[i].name().to_owned())
            .collect();
        let plans: Vec<usize> = self
            .live()
            .filter(|(_, d)| d.kind() == "PhasePlan")
            .map(|(i, _)| i)
            .collect();
        for i in plans {
            let Some(Value::Array(phases)) = self.docs[i].content.get_mut("phases") else {
                continue;
            };
            let before: Vec<String> = phases.iter().map(|p| str_of(p, "name")).collect();
            phases.retain(|p| !removed_phases.contains(&str_of(p, "name")));
            for name in before.iter().filter(|n| removed_phases.contains(n)) {
                self.edits.push((
                    i,
                    format!("dropped phase {name} from the plan (the phase was removed)"),
                    "phases",
                ));
            }
        }
    }

    fn find(&self, kind: &str, name: &str) -> Option<usize> {
        self.live()
            .find(|(_, d)| d.kind() == kind && d.name() == name)
            .map(|(i, _)| i)
    }

    fn finish(self, results: &mut Results) -> Vec<Document> {
        for (i, reason) in self.removed.iter().enumerate() {
            if let Some(reason) = reason {
                results
                    .info(format!("removed: {reason}"))
                    .about(&self.docs[i]);
            }
        }
        for (i, message, field) in &self.edits {
            results
                .info(message.clone())
                .about(&self.docs[*i])
                .field(*field);
        }
        let removed = self.removed;
        self.docs
            .into_iter()
            .zip(removed)
            .filter(|(_, r)| r.is_none())
            .map(|(d, _)| d)
            .collect()
    }
}

fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A kustomization with no entries left in any list it had.
fn is_empty_kustomization(doc: &Document) -> bool {
    doc.content
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "apiVersion" | "kind" | "metadata" | "namespace" | "generatorOptions"
            )
        })
        .all(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir/entry` normalized; `None` for a remote entry or one that leaves the bundle.
fn join(dir: &str, entry: &str) -> Option<String> {
    if entry.contains("://") || entry.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in entry.trim_end_matches('/').split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

mooring_guest::export_step!(provider_filter);
