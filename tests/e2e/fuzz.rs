//! Bounded fuzzing in the normal suite: the bundle loader, the
//! `ResourceList` reader and the kubeconfig merger, fed mutations of the
//! real example bundles and generated kubeconfigs. Each target runs
//! `MOORING_FUZZ_CASES` cases (default 2048) and prints how many it ran;
//! docs/security.md records the counts and findings.

use std::cell::Cell;
use std::fs;

use mooring_engine::bundle::Bundle;
use mooring_model::kubeconfig::{Kubeconfig, merge_all};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::util::repo;

fn cases() -> u32 {
    std::env::var("MOORING_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2048)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Every YAML file of the example bundles: the seed corpus.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut dirs = vec![repo().join("bundles")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                seeds.push(fs::read(path).unwrap());
            }
        }
    }
    seeds.sort();
    seeds
}

/// A seed with a few bytes replaced, inserted or removed, favouring the
/// bytes YAML gives meaning to.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    let count = seeds.len();
    let byte = prop_oneof![
        Just(b':'),
        Just(b'-'),
        Just(b' '),
        Just(b'\n'),
        Just(b'\t'),
        Just(b'&'),
        Just(b'*'),
        Just(b'['),
        Just(b'{'),
        Just(b'"'),
        Just(b'\''),
        Just(b'#'),
        Just(b'!'),
        Just(b'|'),
        any::<u8>(),
    ];
    (
        0..count,
        prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, byte), 1..8),
    )
        .prop_map(move |(seed, edits)| {
            let mut bytes = seeds[seed].clone();
            for (at, kind, byte) in edits {
                let at = at.index(bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.push(byte),
                }
            }
            bytes
        })
}

#[test]
fn fuzz_the_bundle_loader() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("doc.yaml");
    let (loaded, refused) = (Cell::new(0), Cell::new(0));
    runner()
        .run(&mutated(), |bytes| {
            fs::write(&file, &bytes).unwrap();
            match Bundle::load(scratch.path()) {
                Ok(bundle) => {
                    loaded.set(loaded.get() + 1);
                    // What loads renders back to the very same bytes.
                    prop_assert!(bundle.render(bundle.documents()).is_empty());
                }
                Err(error) => {
                    refused.set(refused.get() + 1);
                    let message = error.to_string();
                    prop_assert!(message.contains("doc.yaml"), "unplaced error: {message}");
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "fuzz bundle loader: {} cases, {} loaded, {} refused, 0 crashes",
        loaded.get() + refused.get(),
        loaded.get(),
        refused.get()
    );
}

#[test]
fn fuzz_the_resource_list_reader() {
    let (read, refused) = (Cell::new(0), Cell::new(0));
    let list = |items: &[u8]| {
        let items = String::from_utf8_lossy(items).replace('\n', "\n    ");
        format!(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - \n    {items}\n"
        )
    };
    let input = prop_oneof![
        mutated().prop_map(move |b| list(&b)),
        mutated().prop_map(|b| String::from_utf8_lossy(&b).into_owned())
    ];
    runner()
        .run(&input, |text| {
            match mooring_engine::krm::read(&text) {
                Ok(_) => read.set(read.get() + 1),
                Err(_) => refused.set(refused.get() + 1),
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "fuzz ResourceList reader: {} cases, {} read, {} refused, 0 crashes",
        read.get() + refused.get(),
        read.get(),
        refused.get()
    );
}

/// A kubeconfig of up to four contexts named from a small alphabet, so that
/// merges collide often.
fn kubeconfig() -> impl Strategy<Value = Kubeconfig> {
    prop::collection::vec(("[abc]{1,2}", "[xyz]{1,3}"), 1..4).prop_map(|entries| {
        let mut config = Kubeconfig::default();
        for (name, server) in entries {
            let one = Kubeconfig::from_value(json!({
                "clusters": [{"name": name, "cluster": {"server": format!("https://{server}")}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
                "users": [{"name": name, "user": {"token": server}}],
            }))
            .unwrap();
            config.merge(&one);
        }
        config
    })
}

#[test]
fn fuzz_the_kubeconfig_merger() {
    let ran = Cell::new(0);
    runner()
        .run(&(kubeconfig(), kubeconfig()), |(a, b)| {
            ran.set(ran.get() + 1);
            let merged = merge_all([&a, &b], None).unwrap();
            let names = |c: &Kubeconfig| c.context_names();
            // Everything of `a` stays where it was; `b`'s new names follow.
            prop_assert_eq!(&names(&merged)[..a.contexts.len()], &names(&a)[..]);
            for name in names(&b) {
                prop_assert!(names(&merged).contains(&name));
                // The later kubeconfig wins a name both define.
                prop_assert_eq!(merged.server(&name), b.server(&name));
            }
            prop_assert_eq!(merged.contexts.len(), merged.clusters.len());
            // Merging again changes nothing, and the result is valid.
            prop_assert_eq!(merge_all([&merged, &b], None).unwrap(), merged.clone());
            prop_assert_eq!(merge_all([&a, &a], None).unwrap(), a.clone());
            let value = serde_json::to_value(&merged).unwrap();
            prop_assert!(Kubeconfig::from_value(value).is_ok());
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz kubeconfig merger: {} cases, 0 findings", ran.get());
}
