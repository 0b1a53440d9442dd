//! Command-line entry point; see the library docs and the README.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};
use edgeos_sysdesc::commands::{self, BuildOptions};
use edgeos_sysdesc::{Diagnostics, Severity};

/// Generates, checks and builds EdgeOS's Microkit system description.
///
/// Exits 0 when there are no errors, 1 when there are, 2 for a bad command line.
#[derive(Debug, Parser)]
#[command(name = "sysdesc", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes the system description for a configuration.
    Generate {
        /// The TOML configuration.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The SDF file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Writes the configuration blobs (mux_config.bin, fwp_NN_config.bin)
    /// the generated system description prefills its regions from.
    Blobs {
        /// The TOML configuration.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The directory to write them into (created if need be).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Writes a configuration with a variant's changes applied (see
    /// `variant`: `[templates.NAME]` tables change that template's fields,
    /// other tables merge key by key), then checks it.
    Derive {
        /// The base TOML configuration.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The variant: the fields it changes.
        #[arg(long, value_name = "FILE")]
        variant: PathBuf,
        /// The configuration to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Checks a configuration or an existing system description.
    Check(CheckArgs),
    /// Generates, checks, writes the blobs beside the SDF, and runs the
    /// Microkit tool (which finds the blobs there first).
    Build {
        /// The TOML configuration.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where the program images are (repeatable).
        #[arg(long = "search-path", value_name = "DIR")]
        search_paths: Vec<PathBuf>,
        /// The Microkit board; must match the configuration's.
        #[arg(long)]
        board: Option<String>,
        /// The Microkit configuration: debug, release or benchmark.
        #[arg(long = "config-name", value_name = "NAME", default_value = "debug")]
        config_name: String,
        /// The image to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// The Microkit report to write.
        #[arg(short, long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Where to write the generated SDF [default: <output>.system.xml].
        #[arg(long = "system-out", value_name = "FILE")]
        system_out: Option<PathBuf>,
        /// The Microkit SDK [default: $MICROKIT_SDK, .sdk/microkit-sdk-2.3.0, /opt/microkit-sdk-2.3.0].
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["config", "system"])))]
struct CheckArgs {
    /// A TOML configuration to check (its generated system is checked too).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// An existing SDF file to check.
    #[arg(long, value_name = "FILE")]
    system: Option<PathBuf>,
    /// The board an SDF file is for (a configuration names its own).
    #[arg(long, default_value = "qemu_virt_aarch64")]
    board: String,
    /// Where the program images are, to check maps against them (repeatable).
    #[arg(long = "search-path", value_name = "DIR")]
    search_paths: Vec<PathBuf>,
}

/// Prints every diagnostic (notes only when `notes`), then a summary line;
/// returns the exit code.
fn report(diags: &Diagnostics, notes: bool, done: &str) -> ExitCode {
    let mut warnings = 0;
    for d in diags.items() {
        match d.severity() {
            Severity::Note if !notes => continue,
            Severity::Warning => warnings += 1,
            _ => {}
        }
        eprintln!("{}: {d}", d.severity());
    }
    let errors = diags.error_count();
    if errors > 0 {
        eprintln!("sysdesc: {errors} error(s), {warnings} warning(s)");
        ExitCode::from(1)
    } else {
        eprintln!("sysdesc: {done} ({warnings} warning(s))");
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Generate { config, output } => {
            let diags = commands::generate_file(&config, &output);
            report(&diags, false, &format!("wrote {}", output.display()))
        }
        Command::Blobs { config, output } => {
            let (diags, written) = commands::blobs_to_dir(&config, &output);
            let names: Vec<_> = written
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            let done = format!("wrote {} in {}", names.join(", "), output.display());
            report(&diags, false, &done)
        }
        Command::Derive {
            config,
            variant,
            output,
        } => match commands::derive_file(&config, &variant, &output) {
            Ok(diags) => report(&diags, false, &format!("wrote {}", output.display())),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
        },
        Command::Check(args) => {
            // clap's group makes exactly one of --config and --system present.
            let (diags, what) = match (&args.config, &args.system) {
                (Some(config), _) => (commands::check_config(config, &args.search_paths), config),
                (None, Some(system)) => (
                    commands::check_system(system, &args.board, &args.search_paths),
                    system,
                ),
                (None, None) => return ExitCode::from(2),
            };
            report(&diags, true, &format!("{}: no errors", what.display()))
        }
        Command::Build {
            config,
            search_paths,
            board,
            config_name,
            output,
            report: rep,
            system_out,
            sdk,
        } => {
            let opts = BuildOptions {
                config,
                search_paths,
                board,
                config_name,
                output,
                report: rep,
                system_out,
                sdk,
            };
            let outcome = commands::build(&opts);
            if let Some(out) = &outcome.tool_output {
                eprint!("{out}");
            }
            let done = format!("built {}", opts.output.display());
            report(&outcome.diagnostics, true, &done)
        }
    }
}
