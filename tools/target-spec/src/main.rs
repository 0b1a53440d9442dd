//! `target-spec OUT.json [RUSTC]`: asks the PD toolchain's rustc (default
//! `rustc`; the Makefile passes the pinned nightly's) for its built-in
//! `aarch64-unknown-none` spec and writes the derived `aarch64-sel4` spec.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: target-spec OUT.json [RUSTC]");
        return ExitCode::from(2);
    };
    let rustc = args.next().unwrap_or_else(|| "rustc".into());
    let output = match Command::new(&rustc)
        .args(["-Z", "unstable-options", "--print", "target-spec-json", "--target"])
        .arg(edgeos_target_spec::BASE_TARGET)
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "target-spec: {} could not print the {} spec (a nightly rustc is needed): {}",
                rustc.to_string_lossy(),
                edgeos_target_spec::BASE_TARGET,
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("target-spec: cannot run {}: {e}", rustc.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let spec = match edgeos_target_spec::derive(&String::from_utf8_lossy(&output.stdout)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("target-spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&out, spec) {
        eprintln!("target-spec: cannot write {}: {e}", out.to_string_lossy());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
