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

fn check_plans(
    config: Config,
    mut docs: Vec<Document>,
    results: &mut Results,
) -> Result<Vec<Document>, Error> {
    let phases: Vec<String> = docs
        .iter()
        .filter(|d| Phase::describes(*d))
        .map(|d| d.name().to_owned())
        .collect();
    for doc in docs.iter_mut().filter(|d| PhasePlan::describes(*d)) {
        let mut plan: PhasePlan = doc.parse()?;
        let (known, unknown): (Vec<_>, Vec<_>) = plan
            .phases
            .into_iter()
            .partition(|entry| phases.contains(&entry.name));
        for entry in &unknown {
            let message = format!("phase {} is not in the bundle", entry.name);
            if config.prune {
                results.warning(format!("{message}; removed")).about(doc);
            } else {
                results.error(message).about(doc).field("phases");
            }
        }
        plan.phases = known;
        if config.prune && !unknown.is_empty() {
            doc.store(&plan)?;
        }
    }
    Ok(docs)
}

mooring_guest::export_step!(check_plans);
