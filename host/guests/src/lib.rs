//! The standard guests, compiled from `guest/steps/*` for `wasm32-wasip2` by
//! this crate's build script and embedded as bytes, each beside its native
//! code: the build script precompiles it with the runtime's engine
//! configuration ([`engine_config`]) for the target's baseline CPU, so the
//! first run on a fresh machine loads it instead of compiling it. A release
//! build of the `mooring` binary builds these and nothing else; the test
//! fixtures live in `mooring-test-guests`.

mod engine_config;
pub use engine_config::engine_config;

/// A guest compiled into the `mooring` binary.
#[derive(Debug, Clone, Copy)]
pub struct StandardGuest {
    /// The name a pipeline uses.
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// The component.
    pub wasm: &'static [u8],
    /// The component compiled by wasmtime (`Engine::precompile_component`)
    /// with [`engine_config`], for the target's baseline CPU features.
    pub precompiled: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/gen.rs"));

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Guests use the model through the SDK: an edit under `model/`, the
    /// SDK or the WIT must rebuild them, so each of those files is one the
    /// build script tracks.
    #[test]
    fn every_model_sdk_and_wit_source_is_tracked() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tracked: Vec<_> = super::SOURCES
            .iter()
            .filter_map(|s| Path::new(s).canonicalize().ok())
            .collect();
        for dir in ["model/src", "guest/sdk/src", "wit"] {
            for entry in std::fs::read_dir(workspace.join(dir)).expect("a source directory") {
                let path = entry.expect("a directory entry").path();
                // The SDK's test helper is compiled for the host only.
                if path.is_file() && !path.ends_with("guest/sdk/src/testing.rs") {
                    let path = path.canonicalize().expect("a path");
                    assert!(tracked.contains(&path), "{} is not tracked", path.display());
                }
            }
        }
    }

    #[test]
    fn every_standard_guest_is_a_component() {
        for guest in super::ALL {
            assert_eq!(&guest.wasm[..8], b"\0asm\x0d\0\x01\0", "{}", guest.name);
        }
    }
}
