//! The sandbox: one wasmtime engine, guests compiled once, and each step run
//! in a fresh store under a time limit (epoch interruption) and a memory
//! limit (a store limiter).
//!
//! Expensive work happens once per guest ([`Runtime::load`]: compile or load
//! from the cache, check the WIT version, link into an `InstancePre`); cheap
//! work once per step ([`Runtime::run`]: a `Store`, an instance, one call).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, Linker, Resource};
use wasmtime::{Engine, Store, Trap};

use crate::bindings::{self, StepPre, WIT_PACKAGE, WIT_VERSION};
use crate::cache::CompileCache;
use crate::capabilities::documents::DocumentSet;
use crate::capabilities::{self, HostState, credentials::Credentials, log::LogBuffer};
use crate::digest::sha256_hex;
use crate::limits::{DisplayBytes, DisplayDuration, Limits};
use crate::trust::TrustError;

/// How often the epoch advances; a step's timeout is accurate to this.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A result as a guest reports it.
pub type WitResult = bindings::mooring::step::types::StepResult;

/// Why a guest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error("guest `{guest}` is not a WebAssembly file (it does not start with `\\0asm`)")]
    NotWasm {
        /// The guest's name.
        guest: String,
    },
    /// A core module where a component is needed.
    #[error(
        "guest `{guest}` is a core WebAssembly module, not a component; \
         build it with `cargo build --target wasm32-wasip2` (which emits a component)"
    )]
    CoreModule {
        /// The guest's name.
        guest: String,
    },
    /// wasmtime could not compile the component.
    #[error("failed to compile guest `{guest}`: {reason}")]
    Compile {
        /// The guest's name.
        guest: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The guest implements no version of our world.
    #[error(
        "guest `{guest}` does not export `{WIT_PACKAGE}/run`; it is not a mooring guest (it exports: {exports})"
    )]
    NotAGuest {
        /// The guest's name.
        guest: String,
        /// What it does export.
        exports: String,
    },
    /// The guest was built against a WIT version this host does not speak.
    #[error(
        "guest `{guest}` was built against {WIT_PACKAGE}@{found}, but this mooring speaks \
         {WIT_PACKAGE}@{WIT_VERSION}; rebuild the guest against mooring-guest {WIT_VERSION} \
         (the SDK of this mooring)"
    )]
    IncompatibleVersion {
        /// The guest's name.
        guest: String,
        /// The version it was built against.
        found: String,
    },
    /// The guest imports something the host does not provide.
    #[error(
        "guest `{guest}` imports `{import}`, which mooring does not provide \
         (guests may import WASI 0.2 and {WIT_PACKAGE}/log and /credentials)"
    )]
    UnknownImport {
        /// The guest's name.
        guest: String,
        /// The import.
        import: String,
    },
    /// Its compiled copy in the cache is not the user's to trust.
    #[error(
        "the compiled copy of guest `{guest}` in the cache cannot be trusted: it would run as native code"
    )]
    Cache {
        /// The guest's name.
        guest: String,
        /// Why (boxed: it is rare, and every step result carries the size).
        #[source]
        source: Box<TrustError>,
    },
    /// Linking failed for another reason.
    #[error("failed to link guest `{guest}`: {reason}")]
    Link {
        /// The guest's name.
        guest: String,
        /// wasmtime's explanation.
        reason: String,
    },
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// wasmtime refused its configuration.
    #[error("failed to start the WebAssembly runtime: {0}")]
    Engine(String),
    /// The compiled-guest cache is not the user's to trust.
    #[error(
        "the compiled-guest cache cannot be trusted: it is run as native code (choose another with --cache-dir, or --no-cache)"
    )]
    Cache(#[source] TrustError),
}

/// Why a step run did not produce output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The step returned an error of its own.
    #[error("the guest reported: {0}")]
    Refused(String),
    /// The epoch deadline passed.
    #[error("exceeded its time limit of {}", DisplayDuration(*.0))]
    Timeout(Duration),
    /// The guest asked for more memory than allowed and then aborted.
    #[error("exceeded its memory limit of {} (it asked for {} in total)", DisplayBytes(*limit), DisplayBytes(*requested))]
    OutOfMemory {
        /// The limit.
        limit: u64,
        /// What the guest asked for.
        requested: u64,
    },
    /// The guest panicked; the message is what it printed.
    #[error("panicked: {0}")]
    Panic(String),
    /// Any other trap, with the guest's captured output if there was any.
    #[error("trapped: {reason}{}", output_suffix(.output))]
    Trap {
        /// wasmtime's explanation.
        reason: String,
        /// The tail of what the guest printed.
        output: String,
    },
}

fn output_suffix(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!("; the guest printed:\n{}", output.trim_end())
    }
}

/// A compiled, linked guest, ready to be instantiated many times.
#[derive(Clone)]
pub struct LoadedGuest {
    name: String,
    pre: StepPre<HostState>,
    /// Where the optional `describe` export is, when the guest has it.
    describe: Option<Arc<DescribeIndices>>,
}

type DescribeIndices = crate::bindings::described::exports::mooring::step::describe::GuestIndices;

/// What a guest says about itself (`mooring guests NAME`).
pub type Description = bindings::mooring::step::types::Description;

impl LoadedGuest {
    /// The guest's name (a built-in name or the `.wasm` path).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a step run produced.
pub struct RunOutcome {
    /// The documents, as the step left them.
    pub documents: DocumentSet,
    /// The results it reported, each message scrubbed.
    pub results: Vec<WitResult>,
    /// What the guest logged.
    pub log: LogBuffer,
    /// Clusters whose credentials the guest asked for without a grant.
    pub denied: Vec<String>,
}

/// What `mooring inspect` shows of a component.
#[derive(Debug)]
pub struct Inspection {
    /// Every import, WASI's included, as `package/interface@version`.
    pub imports: Vec<String>,
    /// Every export.
    pub exports: Vec<String>,
    /// `Ok` when this host would run it; otherwise why not.
    pub verdict: Result<(), LoadError>,
}

/// Options for building a [`Runtime`].
#[derive(Debug, Default)]
pub struct RuntimeOptions {
    /// Where compiled guests are cached; `None` compiles every time.
    pub cache: Option<std::path::PathBuf>,
    /// What pulls OCI guests; `None` refuses them.
    pub registry: Option<Box<dyn crate::guests::Registry>>,
}

/// The wasmtime engine and linker every step shares.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<CompileCache>,
    registry: Option<Box<dyn crate::guests::Registry>>,
    /// Components compiled or loaded in this process, by sha256: however
    /// many bundles or steps use a guest, it is compiled once. Held while
    /// compiling, so concurrent runs wait for one compile instead of racing.
    compiled: Mutex<HashMap<String, Component>>,
    ticker: EpochTicker,
}

impl Runtime {
    /// Builds the engine and links the host's imports; opens the cache,
    /// which must be the user's own.
    pub fn new(options: RuntimeOptions) -> Result<Self, StartError> {
        let cache = options
            .cache
            .map(CompileCache::open)
            .transpose()
            .map_err(StartError::Cache)?;
        let engine_error = |e: wasmtime::Error| StartError::Engine(format!("{e:#}"));
        let engine = Engine::new(&mooring_guests::engine_config()).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker).map_err(engine_error)?;
        let ticker =
            EpochTicker::start(engine.clone()).map_err(|e| StartError::Engine(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            compiled: Mutex::new(HashMap::new()),
            ticker,
            registry: options.registry,
        })
    }

    /// What pulls OCI guests, when the host has one.
    pub fn registry(&self) -> Option<&dyn crate::guests::Registry> {
        self.registry.as_deref()
    }

    /// Compiles (or loads from the cache), checks and links a guest.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<LoadedGuest, LoadError> {
        let component = self.compile(name, wasm)?;
        check_world(name, &self.engine, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(StepPre::new)
            .map_err(|e| LoadError::Link {
                guest: name.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let describe = DescribeIndices::new(pre.instance_pre()).ok().map(Arc::new);
        Ok(LoadedGuest {
            name: name.to_owned(),
            pre,
            describe,
        })
    }

    /// What the guest says about itself; `None` when it does not say.
    pub fn describe(&self, guest: &LoadedGuest) -> Result<Option<Description>, RunError> {
        self.call_describe(guest, |store, describe| describe.call_describe(store))
    }

    /// Whether the guest takes `config` (JSON text): `Ok(Err(why))` when it
    /// does not, `Ok(Ok(()))` when it does or cannot say.
    pub fn validate_config(
        &self,
        guest: &LoadedGuest,
        config: &str,
    ) -> Result<Result<(), String>, RunError> {
        let answer = self.call_describe(guest, |store, describe| {
            describe.call_validate_config(store, config)
        })?;
        Ok(answer.unwrap_or(Ok(())))
    }

    /// Calls the guest's `describe` interface in a fresh, limited store.
    fn call_describe<T>(
        &self,
        guest: &LoadedGuest,
        call: impl FnOnce(
            &mut Store<HostState>,
            &crate::bindings::described::exports::mooring::step::describe::Guest,
        ) -> wasmtime::Result<T>,
    ) -> Result<Option<T>, RunError> {
        let Some(indices) = &guest.describe else {
            return Ok(None);
        };
        let limits = Limits::default();
        let mut store = Store::new(
            &self.engine,
            HostState::new(limits.memory, Credentials::default()),
        );
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(self.ticker.ticks(limits.timeout));
        store.epoch_deadline_trap();
        let result = guest
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .and_then(|instance| indices.load(&mut store, &instance))
            .and_then(|describe| call(&mut store, &describe));
        match result {
            Ok(answer) => Ok(Some(answer)),
            Err(error) => {
                let state = store.into_data();
                Err(classify(&error, &state, &limits))
            }
        }
    }

    /// What a component imports and exports, and whether this host would
    /// run it, without linking or running it.
    pub fn inspect(&self, name: &str, wasm: &[u8]) -> Result<Inspection, LoadError> {
        let component = self.compile(name, wasm)?;
        let ty = component.component_type();
        Ok(Inspection {
            imports: ty
                .imports(&self.engine)
                .map(|(n, _)| n.to_owned())
                .collect(),
            exports: ty
                .exports(&self.engine)
                .map(|(n, _)| n.to_owned())
                .collect(),
            verdict: check_world(name, &self.engine, &component),
        })
    }

    /// The component for `wasm`, from the cache or freshly compiled.
    fn compile(&self, name: &str, wasm: &[u8]) -> Result<Component, LoadError> {
        let guest = || name.to_owned();
        if !wasm.starts_with(b"\0asm") || wasm.len() < 8 {
            return Err(LoadError::NotWasm { guest: guest() });
        }
        // Bytes 4..8: a core module has version 1 and layer 0; a component
        // has layer 1.
        if wasm[6..8] == [0, 0] {
            return Err(LoadError::CoreModule { guest: guest() });
        }
        let digest = sha256_hex(wasm);
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(component) = compiled.get(&digest) {
            return Ok(component.clone());
        }
        if let Some(component) = self.precompiled(name, wasm) {
            compiled.insert(digest, component.clone());
            return Ok(component);
        }
        let cached = match &self.cache {
            Some(cache) => {
                cache
                    .load(&self.engine, &digest)
                    .map_err(|source| LoadError::Cache {
                        guest: guest(),
                        source: Box::new(source),
                    })?
            }
            None => None,
        };
        if let Some(component) = cached {
            compiled.insert(digest, component.clone());
            return Ok(component);
        }
        let component = Component::new(&self.engine, wasm).map_err(|e| LoadError::Compile {
            guest: guest(),
            reason: format!("{e:#}"),
        })?;
        if let Some(cache) = &self.cache {
            cache.store(&self.engine, &digest, &component);
        }
        compiled.insert(digest, component.clone());
        Ok(component)
    }

    /// The native code built into the binary for a standard guest with
    /// exactly these bytes, when it loads with this engine; otherwise the
    /// guest is compiled (and cached) like any other, and `-v` says why.
    fn precompiled(&self, name: &str, wasm: &[u8]) -> Option<Component> {
        let guest = mooring_guests::ALL.iter().find(|g| g.wasm == wasm)?;
        // SAFETY: the artifact was made by this binary's build from these
        // very bytes with the same wasmtime and configuration; wasmtime
        // checks its version, configuration and CPU features before use.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(&self.engine, guest.precompiled) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::debug!(
                    "the built-in native code of guest `{name}` does not load here ({e:#}); compiling it"
                );
                None
            }
        }
    }

    /// Runs one step over `documents`: a fresh store and instance, one
    /// call, under `limits`, able to read only `credentials`, which are
    /// scrubbed from everything the step says.
    pub fn run(
        &self,
        guest: &LoadedGuest,
        documents: DocumentSet,
        config: &str,
        limits: &Limits,
        credentials: Credentials,
    ) -> Result<RunOutcome, RunError> {
        let mut store = Store::new(&self.engine, HostState::new(limits.memory, credentials));
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(self.ticker.ticks(limits.timeout));
        store.epoch_deadline_trap();

        let set = store
            .data_mut()
            .table
            .push(documents)
            .map_err(|e| RunError::Trap {
                reason: e.to_string(),
                output: String::new(),
            })?;
        let borrowed = Resource::<DocumentSet>::new_borrow(set.rep());
        let result = guest.pre.instantiate(&mut store).and_then(|step| {
            step.mooring_step_run()
                .call_run(&mut store, borrowed, config)
        });
        let mut state = store.into_data();
        let documents = state.table.delete(set);
        match (result, documents) {
            (Ok(Ok(mut results)), Ok(documents)) => {
                for result in &mut results {
                    result.message = state.credentials.scrub(&result.message);
                }
                Ok(RunOutcome {
                    documents,
                    results,
                    log: state.log,
                    denied: state.credentials.denied,
                })
            }
            (Ok(Err(message)), _) => Err(RunError::Refused(state.credentials.scrub(&message))),
            (Err(error), _) => Err(classify(&error, &state, limits)),
            (Ok(Ok(_)), Err(error)) => Err(RunError::Trap {
                reason: format!("the document set was not returned: {error}"),
                output: String::new(),
            }),
        }
    }
}

/// Turns a wasmtime error into the cause an operator can act on.
fn classify(error: &wasmtime::Error, state: &HostState, limits: &Limits) -> RunError {
    let output = state.credentials.scrub(&state.output.text());
    if let Some(requested) = state.memory.refused {
        return RunError::OutOfMemory {
            limit: limits.memory,
            requested,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RunError::Timeout(limits.timeout),
        Some(Trap::UnreachableCodeReached) if output.contains("panicked at") => {
            // The guest writes this text itself, so it may end anywhere.
            let (_, message) = output.rsplit_once("panicked at").unwrap_or_default();
            RunError::Panic(message.trim().to_owned())
        }
        Some(trap) => RunError::Trap {
            reason: trap.to_string(),
            output,
        },
        None => RunError::Trap {
            reason: format!("{:#}", error.root_cause()),
            output,
        },
    }
}

/// Refuses a component that does not implement our world, naming both
/// versions, or that imports what we do not provide.
fn check_world(name: &str, engine: &Engine, component: &Component) -> Result<(), LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let run_prefix = format!("{WIT_PACKAGE}/run@");
    let Some(found) = exports.iter().find_map(|e| e.strip_prefix(&run_prefix)) else {
        return Err(LoadError::NotAGuest {
            guest: name.to_owned(),
            exports: if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            },
        });
    };
    if !compatible(found, WIT_VERSION) {
        return Err(LoadError::IncompatibleVersion {
            guest: name.to_owned(),
            found: found.to_owned(),
        });
    }
    for (import, _) in ty.imports(engine) {
        if let Some(version) = import
            .strip_prefix(WIT_PACKAGE)
            .and_then(|rest| rest.split_once('@'))
            .map(|(_, version)| version)
            && !compatible(version, WIT_VERSION)
        {
            return Err(LoadError::IncompatibleVersion {
                guest: name.to_owned(),
                found: version.to_owned(),
            });
        }
        if !capabilities::is_provided(import) {
            return Err(LoadError::UnknownImport {
                guest: name.to_owned(),
                import: import.to_owned(),
            });
        }
    }
    Ok(())
}

/// Semver compatibility as the component model uses it: same major, and for
/// 0.x the same minor.
fn compatible(found: &str, ours: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|p| p.parse().unwrap_or(u64::MAX))
            .collect()
    };
    let (found, ours) = (parts(found), parts(ours));
    match (found.as_slice(), ours.as_slice()) {
        ([0, a, _], [0, b, _]) => a == b,
        ([a, _, _], [b, _, _]) => a == b,
        _ => false,
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while the runtime lives.
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("mooring-epoch".to_owned())
            .spawn(move || {
                // Ticks until the runtime drops the sender, which wakes this
                // at once: exiting never waits out a tick.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The deadline, in ticks, for a timeout.
    fn ticks(&self, timeout: Duration) -> u64 {
        timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Runtime, RuntimeOptions, compatible};

    /// The first run on a fresh machine loads the built-in guests' native
    /// code instead of compiling them (85-100 ms each in a release build):
    /// an artifact that no longer loads with the runtime's engine (another
    /// wasmtime, another configuration) fails here instead of quietly
    /// costing that on every fresh CI runner.
    #[test]
    fn every_standard_guest_loads_from_its_built_in_native_code() {
        let runtime = Runtime::new(RuntimeOptions {
            cache: None,
            registry: None,
        })
        .unwrap();
        for guest in mooring_guests::ALL {
            assert!(
                runtime.precompiled(guest.name, guest.wasm).is_some(),
                "{}",
                guest.name
            );
            runtime.load(guest.name, guest.wasm).unwrap();
        }
        let other = b"\0asm\x0d\0\x01\0";
        assert!(runtime.precompiled("other", other).is_none());
    }

    #[test]
    fn versions_follow_component_model_semver() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.3", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        assert!(!compatible("junk", "0.1.0"));
    }
}
