//! `provider-filter`: one plan for every provider. Learns the site's
//! infrastructure provider from the bundle, drops what belongs only to
//! other providers, and leaves a bundle that still builds.
//!
//! What belongs to a provider is known two ways: by kind (Cluster API
//! infrastructure kinds such as `Metal3MachineTemplate` or `AWSCluster`,
//! and bare-metal kinds such as `BareMetalHost`, `BaremetalManager` and
//! `HardwareClassification`), and by rules naming documents (the default
//! rules: hwcc checks and the ISO boot image are metal3's; each cloud's
//! ephemeral boot configuration is that cloud's).
//!
//! What is removed pulls its dependants with it: a `Phase` whose executor
//! went, an executor only removed phases used, a `configRef` ConfigMap (or
//! the kustomize `configMapGenerator` that makes it) only removed executors
//! used, `PhasePlan` entries naming a removed phase (and a plan left with
//! none), and every kustomization entry (`resources`, patches, components,
//! transformers, generators) naming a file or directory that lost
//! everything. Each removal is a result naming the document and the reason.

use std::collections::BTreeSet;

use mooring_guest::airship::PhasePlan;
use mooring_guest::kustomize;
use mooring_guest::prelude::*;
use mooring_guest::providers::{self, Provider, Providers, Rule, default_rules};

/// A provider name is checked with the config, before anything runs, so
/// a typo fails at its line in the pipeline (exit 2), not mid-run.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields, try_from = "ConfigSpec")]
struct Config {
    /// The provider, when detection should not decide.
    provider: Option<String>,
    /// Rules replacing the default ones.
    rules: Option<Vec<Rule>>,
    /// Providers beyond the built-in ones.
    providers: Vec<Provider>,
}

/// The config as written.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ConfigSpec {
    provider: Option<String>,
    rules: Option<Vec<Rule>>,
    providers: Vec<Provider>,
}

impl TryFrom<ConfigSpec> for Config {
    type Error = String;

    fn try_from(spec: ConfigSpec) -> Result<Self, String> {
        if let Some(name) = &spec.provider {
            Providers::with(&spec.providers).named(name)?;
        }
        Ok(Config {
            provider: spec.provider,
            rules: spec.rules,
            providers: spec.providers,
        })
    }
}

fn provider_filter(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let providers = Providers::with(&config.providers);
    let detected = providers::detect(docs, &providers, config.provider.as_deref())?;
    let provider = detected.provider.name.clone();
    let said = results.info(format!("provider {provider}, {}", detected.why));
    if let Some(witness) = &detected.witness {
        said.about(witness);
    }
    let rules = config.rules.unwrap_or_else(default_rules);
    let mut site = Site::new(docs);
    for i in 0..site.docs.len() {
        if let Some((owners, why)) = providers::owners_of(&site.docs[i], &providers, &rules)?
            && !owners.contains(&provider)
        {
            site.remove(i, format!("{why}, and this site is {provider}"));
        }
    }
    site.cascade()?;
    site.finish(results)
}

/// The documents, what is removed and why, and the edits made to keep the
/// rest together.
struct Site<'s, 'a> {
    docs: Vec<Document<'s, 'a>>,
    removed: Vec<Option<String>>,
    /// Pointers to remove from a document, with why.
    edits: Vec<(usize, String, String, String)>,
    /// Plans and their phases as they will be written.
    plans: Vec<(usize, PhasePlan)>,
}

impl<'s, 'a> Site<'s, 'a> {
    fn new(docs: &'s Documents<'a>) -> Self {
        let docs: Vec<_> = docs.iter().collect();
        Site {
            removed: vec![None; docs.len()],
            docs,
            edits: Vec::new(),
            plans: Vec::new(),
        }
    }

    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.docs.len()).filter(|&i| self.removed[i].is_none())
    }

    fn remove(&mut self, index: usize, reason: String) -> bool {
        if self.removed[index].is_some() {
            return false;
        }
        self.removed[index] = Some(reason);
        true
    }

    fn find(&self, kind: &str, name: &str) -> Option<usize> {
        self.live().find(|&i| self.docs[i].is(kind, name))
    }

    /// Follows references from what was removed until nothing changes.
    fn cascade(&mut self) -> Result<(), Error> {
        loop {
            let changed = self.drop_phases_without_executors()
                | self.drop_unused_executors()
                | self.drop_unused_configs()
                | self.prune_kustomizations();
            if !changed {
                break;
            }
        }
        self.prune_plans()
    }

    /// `(phase index, executor kind, executor name)` for every phase.
    fn executors(&self) -> Vec<(usize, String, String)> {
        (0..self.docs.len())
            .filter(|&i| self.docs[i].kind() == "Phase")
            .filter_map(|i| {
                let reference = self.docs[i].get("/config/executorRef")?;
                let text = |key: &str| {
                    reference
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                Some((i, text("kind"), text("name")))
            })
            .collect()
    }

    /// A phase whose executor was removed cannot run: it goes too.
    fn drop_phases_without_executors(&mut self) -> bool {
        let mut changed = false;
        for (phase, kind, name) in self.executors() {
            let gone = (0..self.docs.len())
                .any(|i| self.removed[i].is_some() && self.docs[i].is(&kind, &name));
            if gone && self.removed[phase].is_none() {
                changed |= self.remove(phase, format!("its executor {kind}/{name} was removed"));
            }
        }
        changed
    }

    /// An executor that only removed phases used goes with them.
    fn drop_unused_executors(&mut self) -> bool {
        let uses = self.executors();
        let mut changed = false;
        for (phase, kind, name) in &uses {
            if self.removed[*phase].is_none() {
                continue;
            }
            let still_used = uses
                .iter()
                .any(|(p, k, n)| self.removed[*p].is_none() && k == kind && n == name);
            if !still_used && let Some(i) = self.find(kind, name) {
                let why = format!("executor of removed Phase/{}", self.docs[*phase].name());
                changed |= self.remove(i, why);
            }
        }
        changed
    }

    /// A ConfigMap (or the kustomize generator that makes it) that only
    /// removed executors used goes with them.
    fn drop_unused_configs(&mut self) -> bool {
        let config_of = |doc: &Document| {
            doc.get("/configRef/name")
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let used: BTreeSet<String> = self
            .live()
            .filter_map(|i| config_of(&self.docs[i]))
            .collect();
        let orphaned: Vec<(String, String)> = (0..self.docs.len())
            .filter(|&i| self.removed[i].is_some())
            .filter_map(|i| Some((config_of(&self.docs[i])?, self.docs[i].describe())))
            .filter(|(name, _)| !used.contains(name))
            .collect();
        let mut changed = false;
        for (name, executor) in orphaned {
            if let Some(i) = self.find("ConfigMap", &name) {
                changed |= self.remove(i, format!("configuration of removed {executor}"));
            }
            let kustomizations: Vec<usize> = self
                .live()
                .filter(|&i| self.docs[i].is_kustomization())
                .collect();
            for i in kustomizations {
                let Some(Value::Array(generators)) = self.docs[i].get("/configMapGenerator") else {
                    continue;
                };
                for (g, generator) in generators.iter().enumerate().rev() {
                    let pointer = format!("/configMapGenerator/{g}");
                    if generator.get("name").and_then(Value::as_str) == Some(name.as_str())
                        && !self
                            .edits
                            .iter()
                            .any(|(d, p, _, _)| *d == i && *p == pointer)
                    {
                        let why = format!(
                            "dropped configMapGenerator {name} (used by removed {executor})"
                        );
                        self.edits
                            .push((i, pointer, why, "/configMapGenerator".to_owned()));
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Entries of every kustomization field naming a file or directory
    /// that lost everything are dropped; a kustomization left with nothing
    /// to build goes too.
    fn prune_kustomizations(&mut self) -> bool {
        let mut changed = false;
        let kustomizations: Vec<(usize, String, Map<String, Value>)> = self
            .live()
            .filter(|&i| self.docs[i].is_kustomization())
            .filter_map(|i| {
                let dir = parent(self.docs[i].path()).to_owned();
                Some((i, dir, self.docs[i].content().ok()?))
            })
            .collect();
        // The directories each kustomization names.
        let named: Vec<(usize, String)> = kustomizations
            .iter()
            .flat_map(|(i, dir, content)| {
                kustomize::references(content)
                    .into_iter()
                    .filter_map(|r| Some((*i, kustomize::join(dir, &r.path)?)))
            })
            .collect();
        for (i, dir, content) in &kustomizations {
            let i = *i;
            for reference in kustomize::references(content) {
                let done = self
                    .edits
                    .iter()
                    .any(|(d, p, _, _)| *d == i && *p == reference.pointer);
                let emptied = kustomize::join(dir, &reference.path)
                    .is_some_and(|target| self.emptied(&target));
                if !done && emptied {
                    let why = format!(
                        "dropped {} entry {} (everything it named was removed)",
                        reference.field, reference.path
                    );
                    let field = format!("/{}", reference.field);
                    self.edits.push((i, reference.pointer, why, field));
                    changed = true;
                }
            }
            // An emptied kustomization goes only where another names it (and
            // loses the entry for it): one nothing names is an entrypoint,
            // and stays one, building to nothing.
            let named_elsewhere = named
                .iter()
                .any(|(j, target)| *j != i && target == dir && self.removed[*j].is_none());
            if named_elsewhere && self.emptied_kustomization(i, content) {
                changed |= self.remove(i, "kustomization left with nothing to build".to_owned());
            }
        }
        changed
    }

    /// True when every list of kustomization `i` would be empty after the
    /// entries queued for removal.
    fn emptied_kustomization(&self, i: usize, content: &Map<String, Value>) -> bool {
        let mut after = content.clone();
        let mut pointers: Vec<&String> = self
            .edits
            .iter()
            .filter(|(d, ..)| *d == i)
            .map(|(_, p, ..)| p)
            .collect();
        if pointers.is_empty() {
            return false;
        }
        // Highest index first, so earlier indices still point where they did.
        pointers.sort_by_key(|p| std::cmp::Reverse(index_of(p)));
        for pointer in pointers {
            let _ = mooring_guest::pointer::apply(
                &mut after,
                &mooring_guest::pointer::Edit::Remove(pointer.clone()),
            );
        }
        kustomize::is_empty(&after)
    }

    /// True when the bundle had documents at `target` (a file, or a
    /// directory with a kustomization) and all of them were removed.
    fn emptied(&self, target: &str) -> bool {
        let at: Vec<usize> = (0..self.docs.len())
            .filter(|&i| {
                let path = self.docs[i].path();
                path == target || (parent(path) == target && self.docs[i].is_kustomization())
            })
            .collect();
        !at.is_empty() && at.iter().all(|&i| self.removed[i].is_some())
    }

    /// Plans stop naming removed phases; a plan left with none goes.
    fn prune_plans(&mut self) -> Result<(), Error> {
        let removed_phases: BTreeSet<String> = (0..self.docs.len())
            .filter(|&i| self.removed[i].is_some() && self.docs[i].kind() == "Phase")
            .map(|i| self.docs[i].name().to_owned())
            .collect();
        let plans: Vec<usize> = self
            .live()
            .filter(|&i| self.docs[i].kind() == "PhasePlan")
            .collect();
        for i in plans {
            let mut plan: PhasePlan = self.docs[i].parse()?;
            let before = plan.phases.len();
            plan.phases.retain(|p| !removed_phases.contains(&p.name));
            if plan.phases.len() == before {
                continue;
            }
            if plan.phases.is_empty() {
                self.remove(i, "every phase of the plan was removed".to_owned());
            } else {
                self.plans.push((i, plan));
            }
        }
        Ok(())
    }

    fn finish(self, results: &mut Results) -> Result<(), Error> {
        for (i, reason) in self.removed.iter().enumerate() {
            if let Some(reason) = reason {
                results
                    .info(format!("removed: {reason}"))
                    .about(&self.docs[i]);
                self.docs[i].remove()?;
            }
        }
        for (i, plan) in &self.plans {
            let before: PhasePlan = self.docs[*i].parse()?;
            for entry in before
                .phases
                .iter()
                .filter(|e| !plan.phases.iter().any(|p| p.name == e.name))
            {
                results
                    .info(format!(
                        "dropped phase {} from the plan (the phase was removed)",
                        entry.name
                    ))
                    .about(&self.docs[*i])
                    .field("/phases");
            }
            self.docs[*i].store(plan)?;
        }
        let mut edits: Vec<&(usize, String, String, String)> = self
            .edits
            .iter()
            .filter(|(i, ..)| self.removed[*i].is_none())
            .collect();
        edits.sort_by_key(|(i, pointer, ..)| {
            (*i, std::cmp::Reverse(index_of(pointer)), pointer.clone())
        });
        for (i, pointer, why, field) in edits {
            results
                .info(why.clone())
                .about(&self.docs[*i])
                .field(field.clone());
            self.docs[*i].remove_field(pointer);
        }
        Ok(())
    }
}

/// The list index a pointer ends with, for removing later entries first.
fn index_of(pointer: &str) -> usize {
    pointer
        .rsplit('/')
        .next()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

mooring_guest::export_step!(
    provider_filter,
    mooring_guest::Description {
        summary: "drop what belongs only to other infrastructure providers (metal3-only hwcc checks, for one) and everything that names it",
        config_schema: include_str!("../config.schema.json"),
        example: include_str!("../example.yaml"),
    }
);

#[cfg(test)]
mod tests;
