//! The only place the host side of the WIT world is generated.
#![allow(missing_docs, unreachable_pub)]

wasmtime::component::bindgen!({
    world: "step",
    path: "../../wit",
});

/// The WIT package every guest must speak, as `name@version`.
pub const WIT_PACKAGE: &str = "mooring:step";
/// The version of [`WIT_PACKAGE`] this host implements.
pub const WIT_VERSION: &str = "0.1.0";
