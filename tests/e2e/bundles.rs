//! The example bundles are what their `SOURCES.txt` says: every file is
//! accounted for, and every upstream file is byte-identical to its source.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::util::{repo, snapshot};

const SITES: [&str; 2] = ["metal3-site", "docker-test-site"];

/// `SOURCES.txt` as (bundle path → origin), origin being `mooring` or an
/// upstream `github.com/<owner>/<repo>@<commit>:<path>`.
fn sources(site: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(site.join("SOURCES.txt")).unwrap();
    let mut origins = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (paths, origin) = line
            .split_once("\t<= ")
            .unwrap_or_else(|| panic!("malformed SOURCES.txt line: {line}"));
        for path in paths.split(", ") {
            origins.insert(path.to_owned(), origin.to_owned());
        }
    }
    origins
}

#[test]
fn every_file_of_an_example_bundle_is_accounted_for() {
    for site in SITES {
        let dir = repo().join("bundles").join(site);
        let listed: BTreeSet<String> = sources(&dir).into_keys().collect();
        let present: BTreeSet<String> = snapshot(&dir)
            .into_keys()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| p != "SOURCES.txt" && p != "LICENSE")
            .collect();
        let missing: Vec<_> = listed.difference(&present).collect();
        let unlisted: Vec<_> = present.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "{site}: listed but missing: {missing:?}"
        );
        assert!(
            unlisted.is_empty(),
            "{site}: present but not listed: {unlisted:?}"
        );
    }
}

#[test]
fn upstream_files_are_unmodified_copies() {
    let corpus = repo().join("../shared/corpus");
    let Ok(manifest) = fs::read_to_string(corpus.join("MANIFEST.txt")) else {
        eprintln!("SKIPPED: ../shared/corpus is not beside the repository");
        return;
    };
    // The shared corpus names its files by the same origin lines.
    let by_origin: BTreeMap<&str, &str> = manifest
        .lines()
        .filter_map(|l| l.split_once("\t<= "))
        .map(|(path, origin)| (origin, path))
        .collect();
    let mut compared = 0;
    for site in SITES {
        let dir = repo().join("bundles").join(site);
        for (path, origin) in sources(&dir) {
            if origin == "mooring" {
                continue;
            }
            let Some(copy) = by_origin.get(origin.as_str()) else {
                continue;
            };
            assert_eq!(
                fs::read(dir.join(&path)).unwrap(),
                fs::read(corpus.join(copy)).unwrap(),
                "{site}/{path} differs from {origin}"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 10,
        "only {compared} upstream files were compared"
    );
}
