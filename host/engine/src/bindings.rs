//! The only place the host side of the WIT world is generated.
#![allow(missing_docs, unreachable_pub)]

wasmtime::component::bindgen!({
    world: "step",
    path: "../../wit",
    with: {
        "mooring:step/documents.document-set": crate::capabilities::documents::DocumentSet,
    },
});

/// The optional `describe` export, generated for the world that adds it to
/// `step`; every other interface is the one above.
pub mod described {
    wasmtime::component::bindgen!({
        world: "described-step",
        path: "../../wit",
        with: {
            "mooring:step/types": super::mooring::step::types,
            "mooring:step/log": super::mooring::step::log,
            "mooring:step/credentials": super::mooring::step::credentials,
            "mooring:step/documents": super::mooring::step::documents,
            "mooring:step/run": super::exports::mooring::step::run,
        },
    });
}

/// The WIT package every guest must speak, as `name@version`.
pub const WIT_PACKAGE: &str = "mooring:step";
/// The version of [`WIT_PACKAGE`] this host implements.
pub const WIT_VERSION: &str = "0.2.0";

#[cfg(test)]
mod tests {
    /// The version is spelled in the WIT, here and in the guest SDK; the
    /// test keeps them one.
    #[test]
    fn the_version_constants_are_the_wit_package_version() {
        let wit = include_str!("../../../wit/step.wit");
        let package = format!("package {}@{};", super::WIT_PACKAGE, super::WIT_VERSION);
        assert!(
            wit.lines().any(|line| line.trim() == package),
            "wit/step.wit does not declare `{package}`"
        );
        assert_eq!(super::WIT_VERSION, mooring_guest_version());
    }

    fn mooring_guest_version() -> &'static str {
        const SDK: &str = include_str!("../../../guest/sdk/src/lib.rs");
        SDK.lines()
            .find_map(|line| line.strip_prefix("pub const WIT_VERSION: &str = \""))
            .and_then(|rest| rest.strip_suffix("\";"))
            .unwrap_or("missing from guest/sdk/src/lib.rs")
    }
}
