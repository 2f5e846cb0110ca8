//! Which infrastructure provider a site runs on, and what belongs to which
//! provider (the tables live in the model, shared by every guest).

pub use mooring_model::providers::{Provider, Providers, Rule, default_rules, is_infrastructure};

use crate::{Document, Documents, Error};

/// The provider a site was found to run on, and how it was found.
#[derive(Debug)]
pub struct Detected<'s, 'a> {
    /// The provider.
    pub provider: Provider,
    /// How it was found, for a result: `Metal3Cluster/target-cluster in target/cluster.yaml`.
    pub why: String,
    /// The document that told, if one did.
    pub witness: Option<Document<'s, 'a>>,
}

/// The site's provider: `configured` when given, else what the documents
/// say — infrastructure clusters, their templates, managed clusters, and
/// Cluster API `Cluster`s' `infrastructureRef` — refusing a site whose
/// documents name two providers.
pub fn detect<'s, 'a>(
    docs: &'s Documents<'a>,
    providers: &Providers,
    configured: Option<&str>,
) -> Result<Detected<'s, 'a>, Error> {
    if let Some(name) = configured {
        return Ok(Detected {
            provider: providers.named(name).map_err(Error::msg)?.clone(),
            why: "as configured".to_owned(),
            witness: None,
        });
    }
    // Infrastructure objects first, Clusters' references to them after: the
    // object is the better witness when both are there.
    let mut found: Vec<(Document, &Provider, String)> = Vec::new();
    let mut referenced = Vec::new();
    for doc in docs.iter() {
        if mooring_model::providers::tells_the_provider(doc.api_version(), doc.kind()) {
            if let Some(provider) = providers.by_kind_prefix(doc.kind()) {
                let why = format!("from {}/{} in {}", doc.kind(), doc.name(), doc.path());
                found.push((doc, provider, why));
            }
        } else if doc.kind() == "Cluster" && doc.api_version().starts_with("cluster.x-k8s.io/") {
            let kind = doc
                .get_str("/spec/infrastructureRef/kind")
                .unwrap_or_default();
            if let Some(provider) = providers.by_kind_prefix(&kind) {
                let why = format!(
                    "from the infrastructureRef {kind} of Cluster/{} in {}",
                    doc.name(),
                    doc.path()
                );
                referenced.push((doc, provider, why));
            }
        }
    }
    found.extend(referenced);
    let Some((first, provider, why)) = found.first() else {
        return Err(Error::msg(
            "found no Cluster API infrastructure cluster (Metal3Cluster, DockerCluster, AWSCluster, \
             GCPManagedCluster, a Cluster's infrastructureRef, ...) to tell the provider by; \
             set `provider:` in this step's config",
        ));
    };
    if let Some((_, other, other_why)) = found.iter().find(|(_, p, _)| p.name != provider.name) {
        return Err(Error::msg(format!(
            "the bundle mixes providers: {} ({why}) and {} ({other_why}); set `provider:` in this step's config",
            provider.name, other.name
        )));
    }
    Ok(Detected {
        provider: (*provider).clone(),
        why: why.clone(),
        witness: Some(first.clone()),
    })
}

/// The providers `doc` belongs to, by kind or by the first of `rules`
/// that selects it, with why; `None` for a document every provider uses.
pub fn owners_of(
    doc: &Document,
    providers: &Providers,
    rules: &[Rule],
) -> Result<Option<(Vec<String>, String)>, Error> {
    if let Some(owner) = providers.owner(doc.api_version(), doc.kind()) {
        let why = format!("{} belongs to {}", doc.kind(), owner.name);
        return Ok(Some((vec![owner.name.clone()], why)));
    }
    for rule in rules {
        if rule.documents.iter().any(|s| doc.matches(s)) {
            let owners = rule
                .providers
                .iter()
                .map(|p| providers.named(p).map(|p| p.name.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::msg)?;
            let why = format!("rule {}: only for {}", rule.name, owners.join(", "));
            return Ok(Some((owners, why)));
        }
    }
    Ok(None)
}
