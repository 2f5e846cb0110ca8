//! A plugin author's commands: `mooring new-guest` and `mooring inspect`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use mooring_engine::bindings::{WIT_PACKAGE, WIT_VERSION};
use mooring_engine::digest::sha256_hex;

use mooring_engine::guests::{self, GuestRef};

use crate::args::GlobalArgs;
use crate::exit::{Failure, failed, input};
use crate::{output, template};

#[derive(Debug, Args)]
pub(crate) struct NewGuestArgs {
    /// The guest's crate name (lowercase, `-` and `_` allowed)
    pub(crate) name: String,
    /// Where to create the crate [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Depend on the mooring-guest SDK of a checkout (its guest/sdk) [default: the SDK this binary carries, written into the crate as mooring-sdk/]
    #[arg(long, value_name = "PATH")]
    pub(crate) sdk: Option<PathBuf>,
}

pub(crate) fn new_guest(args: &NewGuestArgs) -> Result<(), Failure> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let files = template::new_guest(&args.name, &dir, args.sdk.as_deref()).map_err(input)?;
    let mut out = io::stdout().lock();
    for file in files
        .iter()
        .filter(|f| !f.starts_with(dir.join("mooring-sdk")))
    {
        let _ = writeln!(out, "created {}", file.display());
    }
    if args.sdk.is_none() {
        let _ = writeln!(
            out,
            "created {} (the guest SDK, WIT {WIT_PACKAGE}@{WIT_VERSION})",
            dir.join("mooring-sdk").display()
        );
    }
    let _ = writeln!(
        out,
        "\nNext:\n  cd {}\n  cargo build --target wasm32-wasip2 --release\n  MOORING_BIN={} cargo test",
        dir.display(),
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "mooring".to_owned())
    );
    Ok(())
}

pub(crate) fn inspect(global: &GlobalArgs, wasm: &Path) -> Result<(), Failure> {
    if !wasm.exists()
        && let Some(reference) = wasm
            .to_str()
            .filter(|r| r.contains('/') && !r.ends_with(".wasm"))
    {
        return inspect_reference(reference);
    }
    let bytes = std::fs::read(wasm)
        .map_err(|e| input(anyhow!(e).context(format!("failed to read {}", wasm.display()))))?;
    let runtime = global.runtime()?;
    let name = wasm.display().to_string();
    let inspection = runtime.inspect(&name, &bytes).map_err(input)?;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{name}: {} bytes, sha256 {}",
        bytes.len(),
        sha256_hex(&bytes)
    );
    let _ = writeln!(out, "exports:");
    for export in &inspection.exports {
        let _ = writeln!(out, "  {export}");
    }
    let _ = writeln!(out, "imports:");
    for import in &inspection.imports {
        let _ = writeln!(out, "  {import}");
    }
    let _ = out.flush();
    match inspection.verdict {
        Ok(()) => {
            let _ = writeln!(out, "matches {WIT_PACKAGE}@{WIT_VERSION}: mooring runs it");
            Ok(())
        }
        Err(e) => Err(input(e)),
    }
}

/// `mooring guests NAME`: what a guest says about itself.
pub(crate) fn describe(global: &GlobalArgs, name: &str) -> Result<(), Failure> {
    let guest = if name.ends_with(".wasm") {
        GuestRef::File {
            path: PathBuf::from(name),
            sha256: None,
        }
    } else {
        GuestRef::Builtin(name.to_owned())
    };
    let runtime = global.runtime()?;
    let wasm = guests::fetch(&guest, runtime.registry()).map_err(input)?;
    let loaded = runtime.load(name, &wasm).map_err(input)?;
    let described = runtime.describe(&loaded).map_err(failed)?;
    let Some(description) = described else {
        return output::stdout(
            format!("{name}: the guest does not describe itself (it exports no {WIT_PACKAGE}/describe)\n")
                .as_bytes(),
        );
    };
    let mut text = format!("{name}: {}\n", description.summary);
    if !description.config_schema.is_empty() {
        let schema = serde_json::from_str::<serde_json::Value>(&description.config_schema)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(description.config_schema);
        text.push_str(&format!("\nConfiguration (JSON Schema):\n{schema}\n"));
    }
    if !description.example.is_empty() {
        text.push_str(&format!("\nExample step:\n{}", description.example));
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    output::stdout(text.as_bytes())
}

/// `mooring inspect REF`: the manifest of a published guest, and whether
/// mooring runs it by the WIT world it was pushed for.
fn inspect_reference(reference: &str) -> Result<(), Failure> {
    let reference = reference.strip_prefix("oci://").unwrap_or(reference);
    let auth = mooring_oci::credentials::for_reference(reference, None).map_err(input)?;
    let inspected = mooring_oci::inspect(reference, &auth).map_err(input)?;
    let mut text = format!(
        "{reference}: manifest sha256:{}\nconfig: {}\nlayers:\n",
        inspected.manifest_digest, inspected.config_media_type
    );
    for (media_type, size) in &inspected.layers {
        text.push_str(&format!("  {media_type} ({size} bytes)\n"));
    }
    if !inspected.annotations.is_empty() {
        text.push_str("annotations:\n");
        for (key, value) in &inspected.annotations {
            text.push_str(&format!("  {key}: {value}\n"));
        }
    }
    let ours = format!("{WIT_PACKAGE}@{WIT_VERSION}");
    let verdict = match inspected.annotations.get(mooring_oci::WIT_ANNOTATION) {
        Some(world) if *world == ours => Ok(format!(
            "built for {ours}: mooring runs it (pin it as {}@sha256:{})\n",
            guests::oci_repository(reference),
            inspected.manifest_digest
        )),
        Some(world) => Err(format!(
            "built for {world}, and mooring runs {ours}: rebuild it against {ours}"
        )),
        None => Err(format!(
            "the manifest names no WIT world ({}); pull it and inspect the .wasm to know",
            mooring_oci::WIT_ANNOTATION
        )),
    };
    match verdict {
        Ok(line) => {
            text.push_str(&line);
            output::stdout(text.as_bytes())
        }
        Err(why) => {
            output::stdout(text.as_bytes())?;
            Err(input(anyhow!("{reference}: {why}")))
        }
    }
}

/// `mooring push FILE REF`: publishes a guest mooring runs, and prints the
/// digest a pipeline pins.
pub(crate) fn push(global: &GlobalArgs, wasm: &Path, reference: &str) -> Result<(), Failure> {
    let bytes = std::fs::read(wasm)
        .map_err(|e| input(anyhow!(e).context(format!("failed to read {}", wasm.display()))))?;
    let runtime = global.runtime()?;
    let inspection = runtime
        .inspect(&wasm.display().to_string(), &bytes)
        .map_err(input)?;
    inspection.verdict.map_err(|e| {
        input(anyhow!(e).context(format!(
            "{} is not a guest mooring runs, so it is not pushed",
            wasm.display()
        )))
    })?;
    let reference = reference.strip_prefix("oci://").unwrap_or(reference);
    let auth = mooring_oci::credentials::for_reference(reference, None).map_err(input)?;
    let world = format!("{WIT_PACKAGE}@{WIT_VERSION}");
    let pushed = mooring_oci::push(
        &bytes,
        reference,
        Some(&world),
        (&inspection.exports, &inspection.imports),
        &auth,
    )
    .map_err(failed)?;
    let repository = guests::oci_repository(reference);
    output::stdout(
        format!(
            "pushed {reference}: manifest sha256:{0}\npin it in a step as  guest: {repository}@sha256:{0}\n",
            pushed.manifest_digest
        )
        .as_bytes(),
    )
}
