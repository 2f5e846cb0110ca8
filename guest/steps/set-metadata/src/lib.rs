//! `set-metadata`: set labels and annotations on every document the step
//! selects.
//!
//! ```yaml
//! - name: mark-site
//!   guest: set-metadata
//!   config:
//!     labels: {airshipit.org/site: docker-test-site}
//!     annotations: {mooring.dev/managed: "true"}
//! ```

use std::collections::BTreeMap;

use mooring_guest::prelude::*;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn set_metadata(
    config: Config,
    mut docs: Vec<Document>,
    results: &mut Results,
) -> Result<Vec<Document>, Error> {
    if config.labels.is_empty() && config.annotations.is_empty() {
        return Err(Error::msg(
            "config sets no labels and no annotations; give `labels:` or `annotations:`",
        ));
    }
    for doc in &mut docs {
        for (key, value) in &config.labels {
            doc.set_label(key, value);
        }
        for (key, value) in &config.annotations {
            doc.set_annotation(key, value);
        }
    }
    results.info(format!(
        "set {} label(s) and {} annotation(s) on {} document(s)",
        config.labels.len(),
        config.annotations.len(),
        docs.len()
    ));
    Ok(docs)
}

mooring_guest::export_step!(set_metadata);
