//! Cluster API infrastructure providers, and what belongs to each: by kind
//! (`Metal3MachineTemplate`, `AWSCluster`, `BareMetalHost`) and by rules
//! naming documents (hwcc checks and the ISO boot image are metal3's; each
//! cloud's ephemeral boot configuration is that cloud's). Shared by the
//! guests that filter a site by provider and that check one.

use serde::Deserialize;

use crate::Selector;

/// A Cluster API infrastructure provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Provider {
    /// As clusterctl names it: `metal3`, `aws`.
    pub name: String,
    /// Other names people use: `capm3`, `capa`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Its infrastructure kinds start with this: `Metal3`, `AWS`.
    pub kind_prefix: String,
    /// Kinds outside `infrastructure.cluster.x-k8s.io` that are its own.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// Documents that belong to some providers only, by selector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// How results name the rule.
    pub name: String,
    /// The providers the documents belong to.
    pub providers: Vec<String>,
    /// The documents.
    pub documents: Vec<Selector>,
}

/// The providers mooring knows, and any declared beside them.
#[derive(Debug, Clone)]
pub struct Providers(Vec<Provider>);

impl Providers {
    /// The built-in providers and `extra`.
    pub fn with(extra: &[Provider]) -> Self {
        let provider = |name: &str, aliases: &[&str], prefix: &str, kinds: &[&str]| Provider {
            name: name.to_owned(),
            aliases: aliases.iter().map(|s| (*s).to_owned()).collect(),
            kind_prefix: prefix.to_owned(),
            kinds: kinds.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut all = vec![
            provider(
                "metal3",
                &["capm3", "baremetal"],
                "Metal3",
                &[
                    "BareMetalHost",
                    "BaremetalManager",
                    "HardwareClassification",
                    "HostFirmwareSettings",
                    "FirmwareSchema",
                ],
            ),
            provider("docker", &["capd"], "Docker", &[]),
            provider("azure", &["capz"], "Azure", &[]),
            provider("gcp", &["capg"], "GCP", &[]),
            provider("openstack", &["capo"], "OpenStack", &[]),
            provider("aws", &["capa"], "AWS", &[]),
            provider("vsphere", &["capv"], "VSphere", &[]),
        ];
        all.extend(extra.iter().cloned());
        Providers(all)
    }

    /// The provider called `name` (any case, or an alias such as `capd`).
    pub fn named(&self, name: &str) -> Result<&Provider, String> {
        self.0
            .iter()
            .find(|p| {
                p.name.eq_ignore_ascii_case(name)
                    || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.0.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "unknown provider {name:?}; known providers: {} (declare more under `providers:`)",
                    known.join(", ")
                )
            })
    }

    /// The provider an infrastructure kind (`Metal3Cluster`) belongs to.
    pub fn by_kind_prefix(&self, kind: &str) -> Option<&Provider> {
        self.0
            .iter()
            .find(|p| !kind.is_empty() && kind.starts_with(&p.kind_prefix))
    }

    /// The provider a document belongs to by its kind alone, if any.
    pub fn owner(&self, api_version: &str, kind: &str) -> Option<&Provider> {
        if is_infrastructure(api_version) {
            return self.by_kind_prefix(kind);
        }
        self.0.iter().find(|p| p.kinds.iter().any(|k| k == kind))
    }
}

/// True for the Cluster API infrastructure API group.
pub fn is_infrastructure(api_version: &str) -> bool {
    api_version.starts_with("infrastructure.cluster.x-k8s.io/")
}

/// True for a kind that says which provider a site runs on: an
/// infrastructure cluster, its template, a managed cluster or control plane.
pub fn tells_the_provider(api_version: &str, kind: &str) -> bool {
    is_infrastructure(api_version)
        && [
            "Cluster",
            "ClusterTemplate",
            "ManagedCluster",
            "ManagedControlPlane",
        ]
        .iter()
        .any(|suffix| kind.ends_with(suffix))
}

/// What belongs to one provider by name rather than by kind.
pub fn default_rules() -> Vec<Rule> {
    let select = |kind: &str, name: Option<&str>| Selector {
        kind: Some(kind.to_owned()),
        name: name.map(str::to_owned),
        ..Selector::default()
    };
    let rule = |name: &str, provider: &str, documents: Vec<Selector>| Rule {
        name: name.to_owned(),
        providers: vec![provider.to_owned()],
        documents,
    };
    let boot = |prefix: &str| -> Vec<Selector> {
        ["Phase", "BootConfiguration"]
            .iter()
            .flat_map(|kind| {
                ["genesis", "cleanup"]
                    .iter()
                    .map(move |step| select(kind, Some(&format!("ephemeral-{prefix}-{step}"))))
            })
            .collect()
    };
    vec![
        // hwcc (HardwareClassification) checks count BareMetalHosts per
        // profile, so they mean something only on metal3.
        rule(
            "hwcc",
            "metal3",
            vec![
                select("HardwareClassification", None),
                select("Phase", Some("verify-hwcc-profiles")),
            ],
        ),
        // The ephemeral ISO is what redfish boots a bare-metal node from.
        rule(
            "iso",
            "metal3",
            vec![
                select("PhasePlan", Some("iso")),
                select("Phase", Some("iso-cloud-init-data")),
                select("Phase", Some("iso-build-image")),
                select("IsoConfiguration", None),
            ],
        ),
        rule("azure-ephemeral", "azure", boot("az")),
        rule("gcp-ephemeral", "gcp", boot("gcp")),
        rule("openstack-ephemeral", "openstack", boot("os")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_kinds_tell_owners() {
        let providers = Providers::with(&[]);
        assert_eq!(providers.named("CAPM3").unwrap().name, "metal3");
        assert_eq!(providers.named("Docker").unwrap().name, "docker");
        assert!(
            providers
                .named("nimbus")
                .unwrap_err()
                .contains("known providers: metal3")
        );
        let infra = "infrastructure.cluster.x-k8s.io/v1beta1";
        assert_eq!(
            providers.owner(infra, "AWSMachineTemplate").unwrap().name,
            "aws"
        );
        assert_eq!(
            providers
                .owner("metal3.io/v1alpha1", "BareMetalHost")
                .unwrap()
                .name,
            "metal3"
        );
        assert!(providers.owner("v1", "ConfigMap").is_none());
        assert!(tells_the_provider(infra, "GCPManagedCluster"));
        assert!(!tells_the_provider(infra, "DockerMachineTemplate"));
    }
}
