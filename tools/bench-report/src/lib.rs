//! `edgeos-bench-report`: `make bench`'s table in, `docs/bench/` out.
//!
//! ```text
//!   run.csv ──table::parse──▶ Table ──normalised──▶ results.csv
//!                               │
//!                               ├──ratios──▶ summary ──▶ summary.md
//!                               │               ▲
//!                               │        environment (date, QEMU, CPU)
//!                               └──plot──▶ startup.svg, memcached-tenants-*.svg, hops.svg
//! ```
//!
//! - [`table`]: the long-format CSV every benchmark script appends to;
//! - [`ratios`]: the headline ratios (startup, memcached per N, tails);
//! - [`plot`]: the SVG plots (`plotters`);
//! - [`summary`]: the text of `summary.md`;
//! - [`environment`]: when and where the figures were measured.
//!
//! A table that lacks a system or a benchmark is reported, not refused:
//! each plot and ratio says what it is missing, and the files are written
//! all the same. [`check`] reads a written directory back.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::path::Path;

pub mod environment;
pub mod plot;
pub mod ratios;
pub mod summary;
pub mod table;

use environment::Environment;
use plot::Plot;
use table::Table;

/// The published table's file name.
pub const RESULTS: &str = "results.csv";
/// The summary's file name.
pub const SUMMARY: &str = "summary.md";
/// The plots' file names, in [`plot::all`]'s order.
pub const PLOTS: [&str; 4] = [
    "startup.svg",
    "memcached-tenants-latency.svg",
    "memcached-tenants-throughput.svg",
    "hops.svg",
];

/// Everything written to the output directory.
#[derive(Debug)]
pub struct Report {
    /// The table as published.
    pub table: Table,
    /// Rows of the input a later row of the same series replaced.
    pub replaced: usize,
    /// The plots.
    pub plots: Vec<Plot>,
    /// `summary.md`'s text.
    pub summary: String,
}

/// The report of `input`, measured in `env`.
pub fn report(input: &Table, env: &Environment) -> Result<Report, plot::PlotError> {
    let (table, replaced) = input.normalised();
    let plots = plot::all(&table)?;
    let summary = summary::render(&table, env, &plots);
    Ok(Report {
        table,
        replaced,
        plots,
        summary,
    })
}

/// A file that could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {path}: {source}")]
pub struct FileError {
    /// `write`, `read`, `create`.
    pub what: &'static str,
    /// The file.
    pub path: String,
    /// The system's reason.
    pub source: std::io::Error,
}

/// Writes `report` into `dir` (created if need be).
pub fn write(report: &Report, dir: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(dir).map_err(|source| FileError {
        what: "create",
        path: dir.display().to_string(),
        source,
    })?;
    let files = [(RESULTS, report.table.to_csv()), (SUMMARY, report.summary.clone())]
        .into_iter()
        .chain(report.plots.iter().map(|p| (p.file, p.svg.clone())));
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| FileError {
            what: "write",
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Reads a written directory back: the table parses, the summary and
/// every plot are there and whole (an XML document whose root is `svg`),
/// and the table has rows of each `benchmark/system` in
/// `expect`. Returns the table, or every problem found.
pub fn check(dir: &Path, expect: &[(String, String)]) -> Result<Table, Vec<String>> {
    let mut problems = Vec::new();
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let table = match read(RESULTS) {
        Ok(text) => match table::parse(&dir.join(RESULTS).display().to_string(), &text) {
            Ok(table) => Some(table),
            Err(errors) => {
                problems.extend(errors.iter().map(ToString::to_string));
                None
            }
        },
        Err(e) => {
            problems.push(e);
            None
        }
    };
    match read(SUMMARY) {
        Ok(text) if text.starts_with("# ") => {}
        Ok(_) => problems.push(format!(
            "{} does not start with a Markdown title",
            dir.join(SUMMARY).display()
        )),
        Err(e) => problems.push(e),
    }
    for name in PLOTS {
        match read(name) {
            Ok(svg) if is_whole_svg(&svg) => {}
            Ok(_) => problems.push(format!("{} is not a whole SVG document", dir.join(name).display())),
            Err(e) => problems.push(e),
        }
    }
    if let Some(table) = &table {
        for (benchmark, system) in expect {
            if !table.has(benchmark, system) {
                problems.push(format!(
                    "{} has no rows of benchmark {benchmark:?} and system {system:?}",
                    dir.join(RESULTS).display()
                ));
            }
        }
    }
    match table {
        Some(table) if problems.is_empty() => Ok(table),
        _ => Err(problems),
    }
}

/// Whether `text` parses as XML with an `svg` root element.
fn is_whole_svg(text: &str) -> bool {
    roxmltree::Document::parse(text).is_ok_and(|doc| doc.root_element().tag_name().name() == "svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_report_checks_and_an_expected_series_is_required() {
        let input = table::parse(
            "in.csv",
            &format!(
                "{}\nhops,edgeos,mux,,latency,guest_ns,1,2,3,4\nhops,edgeos,mux,,latency,guest_ns,1,2,3,5\n",
                table::HEADER
            ),
        )
        .unwrap();
        let env = Environment {
            date: "2026-01-02".into(),
            qemu: "QEMU 7.2".into(),
            cpu: "cpu".into(),
            cores: 2,
        };
        let report = report(&input, &env).unwrap();
        assert_eq!(report.replaced, 1);
        let dir = std::env::temp_dir().join(format!("edgeos-bench-report-{}", std::process::id()));
        write(&report, &dir).unwrap();
        let expect = |b: &str, s: &str| (b.to_owned(), s.to_owned());
        let table = check(&dir, &[expect("hops", "edgeos")]).unwrap();
        assert_eq!(table.rows().len(), 1);
        let problems = check(&dir, &[expect("startup", "linux")]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].ends_with("has no rows of benchmark \"startup\" and system \"linux\""),
            "{problems:?}"
        );
        std::fs::write(dir.join("hops.svg"), "<svg").unwrap();
        std::fs::remove_file(dir.join(SUMMARY)).unwrap();
        let problems = check(&dir, &[]).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("cannot read"));
        assert!(problems[1].ends_with("hops.svg is not a whole SVG document"));
    }
}
