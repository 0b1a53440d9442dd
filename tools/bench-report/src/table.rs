//! The benchmark table: `make bench`'s CSV in long format, one row per
//! measured series, under the header [`HEADER`]. For example:
//!
//! ```text
//! hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416
//! startup,linux,fork+execve,,latency,guest_ns,1000,280000,285984,487360
//! memcached-tenants,edgeos,get-100B,8,latency,us,4000,41.5,52,88
//! memcached-tenants,linux,get-100B,8,throughput,req_per_s,4000,,1234.5,
//! ```
//!
//! A single value (a throughput) goes in `median`; `min` and `p99` stay
//! empty. Parsed by hand rather than with the `csv` crate: every writer is
//! ours (`net-client stats --csv`, the `ci/bench-*.sh` scripts), no field is
//! ever quoted, and a parser of our own names each bad line by its number
//! and column, all of them in one pass.

use std::fmt;

/// The table's first line.
pub const HEADER: &str = "benchmark,system,case,tenants,metric,unit,samples,min,median,p99";

/// Fields per line.
const FIELDS: usize = 10;

/// One measured series.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `hops`, `startup`, `fwp`, `memcached-tenants`, ...
    pub benchmark: String,
    /// `edgeos` or `linux`.
    pub system: String,
    /// What was measured, e.g. `fwp-warm-spawn`, `fork+execve`, `get-100B`.
    pub case: String,
    /// N of a multi-tenant run; `None` where it does not apply.
    pub tenants: Option<u32>,
    /// `latency` or `throughput`.
    pub metric: String,
    /// `guest_ns`, `us`, `req_per_s`, ...
    pub unit: String,
    /// Samples behind the figures, when known.
    pub samples: Option<u64>,
    /// Smallest sample.
    pub min: Option<f64>,
    /// Median (p50), or the single value of a throughput.
    pub median: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// What identifies a series: a later row with the same key replaces it.
pub type Key<'a> = (&'a str, &'a str, &'a str, Option<u32>, &'a str, &'a str);

impl Row {
    /// The series this row measures.
    pub fn key(&self) -> Key<'_> {
        (
            &self.benchmark,
            &self.system,
            &self.case,
            self.tenants,
            &self.metric,
            &self.unit,
        )
    }

    /// The row as a line of the table (no line ending).
    pub fn to_csv(&self) -> String {
        fn opt<T: ToString>(value: Option<T>) -> String {
            value.map(|v| v.to_string()).unwrap_or_default()
        }
        [
            self.benchmark.clone(),
            self.system.clone(),
            self.case.clone(),
            opt(self.tenants),
            self.metric.clone(),
            self.unit.clone(),
            opt(self.samples),
            opt(self.min),
            opt(self.median),
            opt(self.p99),
        ]
        .join(",")
    }
}

/// Why a line of the table was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No line at all.
    NoHeader,
    /// The first line is not [`HEADER`].
    Header {
        /// The first line as found.
        found: String,
    },
    /// A line without exactly ten fields.
    Fields {
        /// How many it has.
        found: usize,
    },
    /// A `"` anywhere: fields are never quoted.
    Quoted,
    /// A required field that is empty.
    Empty {
        /// The column's name.
        column: &'static str,
    },
    /// `tenants` or `samples` that is not an unsigned integer.
    NotACount {
        /// The column's name.
        column: &'static str,
        /// The field as written.
        value: String,
    },
    /// `min`, `median` or `p99` that is not a finite number >= 0.
    NotANumber {
        /// The column's name.
        column: &'static str,
        /// The field as written.
        value: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoHeader => write!(f, "the table is empty: it needs the header `{HEADER}`"),
            Problem::Header { found } => write!(f, "the first line must be the header `{HEADER}`, not {found:?}"),
            Problem::Fields { found } => write!(f, "a row has {FIELDS} comma-separated fields, this one {found}"),
            Problem::Quoted => write!(f, "fields are never quoted, but the line holds a '\"'"),
            Problem::Empty { column } => write!(f, "column {column} must not be empty"),
            Problem::NotACount { column, value } => {
                write!(f, "column {column} holds an unsigned integer or nothing, not {value:?}")
            }
            Problem::NotANumber { column, value } => {
                write!(f, "column {column} holds a number >= 0 or nothing, not {value:?}")
            }
        }
    }
}

/// A refused line: the rule, the value, then `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}, {file}:{line}")]
pub struct ParseError {
    /// The table's name as given to [`parse`].
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: Problem,
}

/// The rows of a table, in the order they were read or sorted into.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    rows: Vec<Row>,
}

/// Parses the text of a table named `file` (for messages). Blank lines are
/// skipped, and so is a header repeated further down (tables appended
/// end to end). Every bad line is reported, not just the first.
pub fn parse(file: &str, text: &str) -> Result<Table, Vec<ParseError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let error = |line, problem| ParseError {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    match lines.next() {
        None => return Err(vec![error(1, Problem::NoHeader)]),
        Some((_, HEADER)) => {}
        Some((n, found)) => errors.push(error(
            n,
            Problem::Header {
                found: found.to_owned(),
            },
        )),
    }
    for (n, line) in lines {
        if line.trim().is_empty() || line == HEADER {
            continue;
        }
        match parse_row(line) {
            Ok(row) => rows.push(row),
            Err(problem) => errors.push(error(n, problem)),
        }
    }
    if errors.is_empty() {
        Ok(Table { rows })
    } else {
        Err(errors)
    }
}

fn parse_row(line: &str) -> Result<Row, Problem> {
    if line.contains('"') {
        return Err(Problem::Quoted);
    }
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [benchmark, system, case, tenants, metric, unit, samples, min, median, p99] = fields[..] else {
        return Err(Problem::Fields { found: fields.len() });
    };
    let text = |column, value: &str| {
        if value.is_empty() {
            Err(Problem::Empty { column })
        } else {
            Ok(value.to_owned())
        }
    };
    fn count<T: std::str::FromStr>(column: &'static str, value: &str) -> Result<Option<T>, Problem> {
        if value.is_empty() {
            return Ok(None);
        }
        // `from_str` takes a leading '+'; a count has digits only.
        let parsed = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse().ok())
            .flatten();
        parsed.map(Some).ok_or_else(|| Problem::NotACount {
            column,
            value: value.to_owned(),
        })
    }
    let number = |column, value: &str| {
        if value.is_empty() {
            return Ok(None);
        }
        match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
            _ => Err(Problem::NotANumber {
                column,
                value: value.to_owned(),
            }),
        }
    };
    Ok(Row {
        benchmark: text("benchmark", benchmark)?,
        system: text("system", system)?,
        case: text("case", case)?,
        tenants: count("tenants", tenants)?,
        metric: text("metric", metric)?,
        unit: text("unit", unit)?,
        samples: count("samples", samples)?,
        min: number("min", min)?,
        median: number("median", median)?,
        p99: number("p99", p99)?,
    })
}

impl Table {
    /// A table of these rows.
    pub fn new(rows: Vec<Row>) -> Table {
        Table { rows }
    }

    /// Every row.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The table as published: one row per series (the last one read wins:
    /// a script run again appends its newer figures), sorted by benchmark,
    /// system, case, tenants, metric and unit. Also returns how many rows
    /// were replaced.
    pub fn normalised(&self) -> (Table, usize) {
        let mut rows: Vec<Row> = Vec::with_capacity(self.rows.len());
        let mut replaced = 0;
        for row in &self.rows {
            match rows.iter_mut().find(|kept| kept.key() == row.key()) {
                Some(kept) => {
                    *kept = row.clone();
                    replaced += 1;
                }
                None => rows.push(row.clone()),
            }
        }
        rows.sort_by(|a, b| a.key().cmp(&b.key()));
        (Table { rows }, replaced)
    }

    /// The table's text: [`HEADER`], then a line per row.
    pub fn to_csv(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for row in &self.rows {
            text.push_str(&row.to_csv());
            text.push('\n');
        }
        text
    }

    /// The rows of one benchmark, system and metric, in table order.
    pub fn select<'t: 'k, 'k>(
        &'t self,
        benchmark: &'k str,
        system: &'k str,
        metric: &'k str,
    ) -> impl Iterator<Item = &'t Row> + 'k {
        self.rows
            .iter()
            .filter(move |r| r.benchmark == benchmark && r.system == system && r.metric == metric)
    }

    /// Whether any row is of this benchmark and system.
    pub fn has(&self, benchmark: &str, system: &str) -> bool {
        self.rows.iter().any(|r| r.benchmark == benchmark && r.system == system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writer_of_the_table_writes_this_header() {
        assert_eq!(edgeos_net_client::stats::BENCH_CSV_HEADER, HEADER, "net-client stats --csv");
        let script = include_str!("../../../ci/bench-csv.sh");
        assert!(
            script.lines().any(|line| line == format!("bench_csv_header={HEADER}")),
            "ci/bench-csv.sh"
        );
    }

    const TABLE: &str = "benchmark,system,case,tenants,metric,unit,samples,min,median,p99
hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416
memcached-tenants,linux,get-100B,8,throughput,req_per_s,4000,,1234.5,
";

    #[test]
    fn parses_rows_with_empty_fields() {
        let table = parse("t.csv", TABLE).unwrap();
        let [hop, memcached] = table.rows() else {
            panic!("two rows")
        };
        assert_eq!(hop.key(), ("hops", "edgeos", "net_driver", None, "latency", "guest_ns"));
        assert_eq!(
            (hop.samples, hop.min, hop.median, hop.p99),
            (Some(16384), Some(2480.0), Some(4976.0), Some(6416.0))
        );
        assert_eq!(memcached.tenants, Some(8));
        assert_eq!(
            (memcached.min, memcached.median, memcached.p99),
            (None, Some(1234.5), None)
        );
    }

    #[test]
    fn rows_print_as_they_were_written() {
        let table = parse("t.csv", TABLE).unwrap();
        assert_eq!(table.to_csv(), TABLE);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_rule_and_place() {
        let text = "benchmark,system,case,tenants,metric,unit,samples,min,median,p99
hops,edgeos,mux,,latency,guest_ns,1,2,3
hops,,mux,,latency,guest_ns,1,2,3,4

hops,edgeos,mux,-1,latency,guest_ns,1,2,3,4
hops,edgeos,mux,,latency,guest_ns,+1,2,3,4
hops,edgeos,mux,,latency,guest_ns,1,2,NaN,4
hops,edgeos,mux,,latency,guest_ns,1,2,-3,4
hops,edgeos,\"mux\",,latency,guest_ns,1,2,3,4
";
        let errors = parse("run.csv", text).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "a row has 10 comma-separated fields, this one 9, run.csv:2",
                "column system must not be empty, run.csv:3",
                "column tenants holds an unsigned integer or nothing, not \"-1\", run.csv:5",
                "column samples holds an unsigned integer or nothing, not \"+1\", run.csv:6",
                "column median holds a number >= 0 or nothing, not \"NaN\", run.csv:7",
                "column median holds a number >= 0 or nothing, not \"-3\", run.csv:8",
                "fields are never quoted, but the line holds a '\"', run.csv:9",
            ]
        );
    }

    #[test]
    fn the_header_is_required() {
        assert_eq!(parse("e.csv", "").unwrap_err()[0].problem, Problem::NoHeader);
        let errors = parse("h.csv", "bench,system\nhops,edgeos,mux,,latency,guest_ns,1,2,3,4\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 1);
        assert!(matches!(errors[0].problem, Problem::Header { .. }));
    }

    #[test]
    fn normalising_keeps_the_last_row_of_a_series_and_sorts() {
        let text = format!(
            "{HEADER}
startup,linux,vfork+execve,,latency,guest_ns,1,1,1,1
hops,edgeos,mux,,latency,guest_ns,1,2,3,4
{HEADER}
memcached-tenants,edgeos,get-100B,8,latency,us,1,1,1,1
memcached-tenants,edgeos,get-100B,1,latency,us,1,1,1,1
hops,edgeos,mux,,latency,guest_ns,9,9,9,9
"
        );
        let (table, replaced) = parse("t.csv", &text).unwrap().normalised();
        assert_eq!(replaced, 1);
        let keys: Vec<String> = table
            .rows()
            .iter()
            .map(|r| format!("{}/{}/{:?}", r.benchmark, r.case, r.tenants))
            .collect();
        assert_eq!(
            keys,
            [
                "hops/mux/None",
                "memcached-tenants/get-100B/Some(1)",
                "memcached-tenants/get-100B/Some(8)",
                "startup/vfork+execve/None"
            ]
        );
        assert_eq!(table.rows()[0].samples, Some(9), "the later figures win");
    }
}
