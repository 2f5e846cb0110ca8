//! The only place the guest side of the WIT world is generated.
#![allow(missing_docs, unreachable_pub, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    world: "described-step",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_world",
    default_bindings_module: "mooring_guest::bindings",
    runtime_path: "mooring_guest::__private::wit_bindgen::rt",
});
