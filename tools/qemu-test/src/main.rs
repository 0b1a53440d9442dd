//! Command-line entry point; see the library docs for what a run does.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use edgeos_qemu_test::{Console, Runner, Spec};

/// Exit code for a run where some expectation failed.
const EXIT_FAILED: u8 = 1;
/// Exit code for a bad command line or spec, matching clap's own usage errors.
const EXIT_USAGE: u8 = 2;

/// Boots an image in QEMU (or runs any command) and checks its console
/// against a spec of expected lines with deadlines.
///
/// Exits 0 if every expectation passed, 1 if any failed, 2 for usage or
/// spec errors.
#[derive(Debug, Parser)]
#[command(name = "qemu-test", version)]
struct Cli {
    /// The TOML test spec.
    #[arg(long, value_name = "FILE")]
    spec: PathBuf,
    /// Write every raw console line to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Do not echo console lines to stderr.
    #[arg(long)]
    quiet: bool,
    /// The command to run, after `--`, e.g. `-- qemu-system-aarch64 -nographic ...`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let spec = match Spec::load(&cli.spec) {
        Ok(spec) => spec,
        Err(e) => return usage_error(&e),
    };
    let mut log = match &cli.log {
        Some(path) => match File::create(path) {
            Ok(file) => Some(BufWriter::new(file)),
            Err(e) => return usage_error(&format!("log {}: cannot create: {e}", path.display())),
        },
        None => None,
    };

    let runner = Runner::new();
    let interrupter = runner.interrupter();
    // Installed before the command starts, so there is no moment in which a
    // Ctrl-C or a CI job's SIGTERM would leave QEMU running.
    if let Err(e) = ctrlc::set_handler(move || {
        eprintln!("qemu-test: interrupted, stopping the command");
        interrupter.interrupt();
    }) {
        eprintln!("qemu-test: warning: cannot install the signal handler: {e}");
    }

    let mut stderr = io::stderr();
    let console = Console {
        echo: (!cli.quiet).then_some(&mut stderr as &mut dyn Write),
        log: log.as_mut().map(|log| log as &mut dyn Write),
    };
    let mut stdout = io::stdout();
    match runner.run(&spec, &cli.command, console, &mut stdout) {
        Ok(report) if report.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_FAILED),
        Err(e) => usage_error(&e),
    }
}

fn usage_error(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("qemu-test: {error}");
    ExitCode::from(EXIT_USAGE)
}
