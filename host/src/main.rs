//! The `mooring` binary: see [`mooring::cli`].
use std::process::ExitCode;

fn main() -> ExitCode {
    mooring::cli::main()
}
