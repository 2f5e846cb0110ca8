//! Builds the standard guests (`guest/steps/*`) and generates `gen.rs`: one
//! constant per guest, the list of them, the `foreach_standard_guest!`
//! macro, and the sources they were built from.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.join("../..");
    let built = mooring_guest_build::build(&workspace, "guest/steps");

    let mut generated = String::new();
    for guest in &built.guests {
        let description = guest
            .description
            .trim_start_matches("mooring standard guest: ");
        writeln!(
            generated,
            "/// `{name}`: {description}\npub const {upper}: StandardGuest = StandardGuest {{ name: {name:?}, description: {description:?}, wasm: include_bytes!({wasm:?}) }};",
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
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("gen.rs"), generated).expect("failed to write gen.rs");
}
