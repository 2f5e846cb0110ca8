//! Log lines that reach the operator, tagged with the step's name.
//!
//! Never log secrets: the host prints what it is given.

use crate::bindings::mooring::step::log as wit;

pub use wit::Level;

/// Log `message` with key/value `fields` at `level`.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    #[cfg(target_arch = "wasm32")]
    wit::log(level, message, &fields);
    // In a native test: stderr, which cargo test shows for a failing test.
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message} {fields:?}");
}

/// Log at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message, &[]);
}

/// Log at info level.
pub fn info(message: &str) {
    log(Level::Info, message, &[]);
}

/// Log at warning level.
pub fn warn(message: &str) {
    log(Level::Warn, message, &[]);
}

/// Log at error level. This does not fail the step: return an error or
/// add an error result for that.
pub fn error(message: &str) {
    log(Level::Error, message, &[]);
}
