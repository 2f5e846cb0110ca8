//! Paths of the fixture guests (`tests/guests/*`), compiled for
//! `wasm32-wasip2` by this crate's build script. Only tests depend on this
//! crate, so no release build compiles these guests.

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
