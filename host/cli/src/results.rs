//! `mooring run --results FILE`: what each step did, for a CI system to
//! annotate a change. The shape follows kpt's results file (a list with an
//! exit code and items of KRM results); nothing in it depends on the
//! clock, so the same run gives the same file.

use std::path::Path;

use anyhow::anyhow;
use serde_json::{Map, Value, json};

use crate::exit::{Failure, input};

/// The `kind` of a results file.
const KIND: &str = "RunResultList";

/// The results of one or more bundles: one item per step that ran, and one
/// for a bundle that failed, with the worst exit code among them.
#[derive(Debug, Default)]
pub(crate) struct Items {
    pub(crate) items: Vec<Value>,
    pub(crate) exit_code: u8,
}

impl Items {
    pub(crate) fn extend(&mut self, other: Items) {
        self.items.extend(other.items);
        self.exit_code = self.exit_code.max(other.exit_code);
    }
}

/// The items of `bundle`'s run: each step's (see
/// [`mooring_engine::krm::step_items`]) and, when the bundle failed, one
/// saying why, with its exit code.
pub(crate) fn items(bundle: &Path, result: &Result<usize, Failure>, steps: Vec<Value>) -> Items {
    let name = Value::from(bundle.display().to_string());
    let mut items: Vec<Value> = steps
        .into_iter()
        .map(|step| {
            let mut item = Map::new();
            item.insert("bundle".into(), name.clone());
            if let Value::Object(fields) = step {
                item.extend(fields);
            }
            Value::Object(item)
        })
        .collect();
    let exit_code = match result {
        Ok(_) => 0,
        Err(failure) => {
            items.push(json!({
                "bundle": name,
                "exitCode": failure.code,
                "results": [{"severity": "error", "message": format!("{:#}", failure.error)}],
            }));
            failure.code
        }
    };
    Items { items, exit_code }
}

/// Writes `items` to `file`: JSON when its name ends in `.json`, else YAML;
/// replaced atomically, readable by its owner only.
pub(crate) fn write(file: &Path, items: Items) -> Result<(), Failure> {
    let mut list = Map::new();
    list.insert("apiVersion".into(), "mooring.dev/v1alpha1".into());
    list.insert("kind".into(), KIND.into());
    list.insert("metadata".into(), json!({"name": "mooring-run"}));
    list.insert("exitCode".into(), items.exit_code.into());
    list.insert("items".into(), items.items.into());
    let text = if file.extension().is_some_and(|e| e == "json") {
        let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
        text.push('\n');
        text
    } else {
        mooring_engine::yaml::to_yaml(&list)
    };
    mooring_engine::atomic::write_private(file, text.as_bytes()).map_err(|e| {
        input(anyhow!(e).context(format!("failed to write the results to {}", file.display())))
    })
}
