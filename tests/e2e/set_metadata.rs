//! `set-metadata`: labels and annotations on the documents a step selects,
//! and nothing else.

use crate::util::{example_bundle, run, says, write_pipeline};

#[test]
fn set_metadata() {
    let bundle = example_bundle("docker-test-site");
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        scratch.path(),
        "- guest: set-metadata\n  selector: {kind: PhasePlan}\n  config:\n    labels: {team: infra}\n    annotations: {mooring.dev/reviewed: \"yes\"}\n",
    );
    let ran = run(bundle.path(), &["--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    says(&ran, "set 1 label(s) and 1 annotation(s) on 1 document(s)");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&ran.stdout).unwrap();
    for doc in &docs {
        let labelled = doc["metadata"]["labels"]["team"] == "infra";
        assert_eq!(labelled, doc["kind"] == "PhasePlan", "{doc}");
    }

    let empty = write_pipeline(scratch.path(), "- guest: set-metadata\n");
    let ran = run(bundle.path(), &["--pipeline", empty.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    says(&ran, "config sets no labels and no annotations");
}
