//! The wasmtime configuration guests are compiled for. The build script
//! precompiles the standard guests with it and the runtime loads them with
//! it: one definition, so the two cannot drift (and a test in the engine
//! fails if an embedded artifact does not load).

/// The configuration of the engine that runs guests: components, epoch
/// interruption for time limits, and compilation on every core. A guest's
/// data segments are copied into each new instance rather than mapped
/// copy-on-write from a memfd: for guests this small the memfd costs more
/// in system calls than the copy (a 3-step run over 10 documents 4.4 ->
/// 4.1 ms, system time 2.7 -> 2.0 ms).
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true)
        .memory_init_cow(false);
    config
}
