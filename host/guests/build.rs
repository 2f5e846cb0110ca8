//! Builds the standard guests (`guest/steps/*`), precompiles each for the
//! runtime's engine, and generates `gen.rs`: one constant per guest, the
//! list of them, the `foreach_standard_guest!` macro, and the sources they
//! were built from.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(unreachable_pub, dead_code)]
#[path = "src/engine_config.rs"]
mod engine_config;

/// Compiles `wasm` to wasmtime's native artifact for the target's baseline
/// CPU (no features detected on the build machine, so the artifact runs
/// on any CPU of the target architecture), written to `out`.
fn precompile(wasm: &Path, out: &Path) {
    let target = std::env::var("TARGET").expect("set by cargo");
    let mut config = engine_config::engine_config();
    config
        .target(&target)
        .unwrap_or_else(|e| panic!("wasmtime cannot compile for {target}: {e}"));
    let engine = wasmtime::Engine::new(&config).expect("the runtime's engine configuration");
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let compiled = engine
        .precompile_component(&bytes)
        .unwrap_or_else(|e| panic!("failed to precompile {}: {e:#}", wasm.display()));
    std::fs::write(out, compiled).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.join("../..");
    let built = mooring_guest_build::build(&workspace, "guest/steps");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo::rerun-if-changed=src/engine_config.rs");

    let mut generated = String::new();
    for guest in &built.guests {
        let native = out.join(format!("{}.cwasm", guest.name));
        precompile(&guest.wasm, &native);
        let description = guest
            .description
            .trim_start_matches("mooring standard guest: ");
        writeln!(
            generated,
            "/// `{name}`: {description}\npub const {upper}: StandardGuest = StandardGuest {{ name: {name:?}, description: {description:?}, wasm: include_bytes!({wasm:?}), precompiled: include_bytes!({native:?}) }};",
            name = guest.name,
            upper = guest.ident().to_uppercase(),
            wasm = guest.wasm,
        )
        .expect("writing to a String");
    }
    let constants: Vec<String> = built
        .guests
        .iter()
        .map(|g| g.ident().to_uppercase())
        .collect();
    let idents: String = built
        .guests
        .iter()
        .map(|g| format!("$mac!({});", g.ident()))
        .collect();
    let sources: String = built.sources.iter().map(|s| format!("{:?},", s)).collect();
    write!(
        generated,
        "/// Every standard guest, by name.\npub const ALL: &[StandardGuest] = &[{}];\n\
         /// Calls `$mac!(guest_ident)` once per standard guest: a test module that\n\
         /// asserts a test per guest fails to compile when a guest has none.\n\
         #[macro_export]\nmacro_rules! foreach_standard_guest {{ ($mac:ident) => {{ {idents} }}; }}\n\
         /// Every file the standard guests were built from; a change to any of\n\
         /// them rebuilds the guests.\npub const SOURCES: &[&str] = &[{sources}];\n",
        constants.join(", "),
    )
    .expect("writing to a String");
    std::fs::write(out.join("gen.rs"), generated).expect("failed to write gen.rs");
}
