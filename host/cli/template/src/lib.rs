//! `{{name}}`: finds `PhasePlan` entries that name a phase the bundle does
//! not hold; reports each as an error, or, with `prune: true`, removes it
//! and warns.
//!
//! ```yaml
//! - guest: target/wasm32-wasip2/release/{{crate}}.wasm
//!   config: {prune: true}
//! ```

use mooring_guest::airship::{Phase, PhasePlan};
use mooring_guest::prelude::*;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    prune: bool,
}

fn check_plans(config: Config, docs: &Documents, results: &mut Results) -> Result<(), Error> {
    let phases: Vec<String> = docs.of_kind::<Phase>().map(|d| d.name().to_owned()).collect();
    for doc in docs.of_kind::<PhasePlan>() {
        let mut plan: PhasePlan = doc.parse()?;
        let (known, unknown): (Vec<_>, Vec<_>) = plan
            .phases
            .into_iter()
            .partition(|entry| phases.contains(&entry.name));
        for entry in &unknown {
            let message = format!("phase {} is not in the bundle", entry.name);
            if config.prune {
                results.warning(format!("{message}; removed")).about(&doc);
            } else {
                results.error(message).about(&doc).field("/phases");
            }
        }
        plan.phases = known;
        if config.prune && !unknown.is_empty() {
            doc.store(&plan)?;
        }
    }
    Ok(())
}

mooring_guest::export_step!(
    check_plans,
    mooring_guest::Description {
        summary: "report (or prune) PhasePlan entries naming a phase the bundle does not hold",
        config_schema: r#"{"type": "object", "additionalProperties": false, "properties": {"prune": {"type": "boolean"}}}"#,
        example: "- guest: {{crate}}.wasm\n  config: {prune: true}\n",
    }
);

/// Unit tests: the step runs natively, over documents in memory edited
/// exactly as the host edits them. `tests/step.rs` runs it for real.
#[cfg(test)]
mod tests {
    use super::*;
    use mooring_guest::testing::Fixture;

    fn fixture() -> Fixture {
        Fixture::new()
            .doc("phases.yaml", json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "Phase", "metadata": {"name": "a"}}))
            .doc("plan.yaml", json!({"apiVersion": "airshipit.org/v1alpha1", "kind": "PhasePlan",
                "metadata": {"name": "deploy"}, "phases": [{"name": "a"}, {"name": "b"}]}))
    }

    #[test]
    fn a_missing_phase_is_an_error() {
        let run = fixture().run(check_plans, json!({})).unwrap();
        assert_eq!(run.messages(), ["phase b is not in the bundle"]);
    }

    #[test]
    fn prune_removes_it() {
        let run = fixture().run(check_plans, json!({"prune": true})).unwrap();
        let plan = run.get("PhasePlan", "deploy").unwrap();
        assert_eq!(plan.content["phases"], json!([{"name": "a"}]));
    }
}
