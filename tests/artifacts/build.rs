//! Builds the fixture guests (`tests/guests/*`) and generates `gen.rs`: the
//! path of each component and the `foreach_test_guest!` macro.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.join("../..");
    let built = mooring_guest_build::build(&workspace, "tests/guests");
    let mut generated = String::new();
    for guest in &built.guests {
        writeln!(
            generated,
            "/// `{name}`: {description}\npub const {upper}: &str = {wasm:?};",
            name = guest.name,
            description = guest.description,
            upper = guest.ident().to_uppercase(),
            wasm = guest.wasm,
        )
        .expect("writing to a String");
    }
    let idents: String = built
        .guests
        .iter()
        .map(|g| format!("$mac!({});", g.ident()))
        .collect();
    write!(
        generated,
        "/// Calls `$mac!(guest_ident)` once per fixture guest.\n\
         #[macro_export]\nmacro_rules! foreach_test_guest {{ ($mac:ident) => {{ {idents} }}; }}\n"
    )
    .expect("writing to a String");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("gen.rs"), generated).expect("failed to write gen.rs");
}
