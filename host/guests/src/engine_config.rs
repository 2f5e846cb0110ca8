//! The wasmtime configuration guests are compiled for. The build script
//! precompiles the standard guests with it and the runtime loads them with
//! it: one definition, so the two cannot drift (and a test in the engine
//! fails if an embedded artifact does not load).

/// The configuration of the engine that runs guests: components, epoch
/// interruption for time limits, and compilation on every core.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true);
    config
}
