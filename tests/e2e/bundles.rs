//! The example bundles are what their `SOURCES.txt` says: every file is
//! accounted for, none is missing (a clean clone once lacked `target/`).

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
