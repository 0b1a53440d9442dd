//! `bench-report`: the command line over the library (see its docs).
//!
//! Exit status: 0 when the report was written (or the check held), 1 when
//! the table does not parse, a file cannot be written or the check found
//! problems, 2 for a bad command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use edgeos_bench_report::environment::Environment;
use edgeos_bench_report::{check, report, table, write};

/// Turns `make bench`'s table into docs/bench/: results.csv (sorted, one
/// row per series), SVG plots and summary.md with the headline ratios.
#[derive(Debug, Parser)]
#[command(name = "bench-report", version)]
struct Cli {
    /// The table the benchmark scripts appended to (header
    /// benchmark,system,case,tenants,metric,unit,samples,min,median,p99).
    #[arg(required_unless_present = "check")]
    csv: Option<PathBuf>,
    /// Where to write the report.
    #[arg(long, value_name = "DIR", default_value = "docs/bench")]
    out: PathBuf,
    /// The date of the measurement (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// The QEMU the figures were measured with (default: the first line
    /// of `qemu-system-aarch64 --version`).
    #[arg(long, value_name = "TEXT")]
    qemu_version: Option<String>,
    /// Instead of writing: read the report in DIR back and check it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["csv", "date", "qemu_version"])]
    check: Option<PathBuf>,
    /// With --check: the table must have rows of this benchmark and system.
    #[arg(long, value_name = "BENCHMARK/SYSTEM", value_parser = parse_expect, requires = "check")]
    expect: Vec<(String, String)>,
}

fn parse_expect(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('/') {
        Some((b, s)) if !b.is_empty() && !s.is_empty() => Ok((b.to_owned(), s.to_owned())),
        _ => Err(format!("{arg:?} is not BENCHMARK/SYSTEM")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = cli.check {
        return match check(&dir, &cli.expect) {
            Ok(table) => {
                println!(
                    "bench-report: {} holds a whole report ({} rows)",
                    dir.display(),
                    table.rows().len()
                );
                ExitCode::SUCCESS
            }
            Err(problems) => {
                for p in &problems {
                    eprintln!("bench-report: error: {p}");
                }
                eprintln!("bench-report: {} problems in {}", problems.len(), dir.display());
                ExitCode::FAILURE
            }
        };
    }
    let Some(csv) = cli.csv else {
        unreachable!("clap requires the CSV without --check")
    };
    let text = match std::fs::read_to_string(&csv) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("bench-report: error: cannot read {}: {e}", csv.display());
            return ExitCode::FAILURE;
        }
    };
    let input = match table::parse(&csv.display().to_string(), &text) {
        Ok(table) => table,
        Err(errors) => {
            for e in &errors {
                eprintln!("bench-report: error: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let env = Environment::detect(cli.date, cli.qemu_version);
    let result = report(&input, &env).map_err(|e| e.to_string()).and_then(|r| {
        write(&r, &cli.out).map_err(|e| e.to_string())?;
        Ok(r)
    });
    match result {
        Ok(r) => {
            let missing: usize = r.plots.iter().map(|p| p.missing.len()).sum();
            println!(
                "bench-report: {} rows ({} replaced by later ones) -> {}: results.csv, summary.md, {} plots ({missing} series missing, see summary.md)",
                r.table.rows().len(),
                r.replaced,
                cli.out.display(),
                r.plots.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: error: {e}");
            ExitCode::FAILURE
        }
    }
}
