//! `stats` and `stats-check`: the multiplexer's counters.
//!
//! The multiplexer answers any datagram to its stats port with one ASCII
//! line of space-separated `key=value` counters, e.g.
//! `rx=12 drops=3 no_flow=1 t0.delivered=5 t0.sent=5`. The keys are data:
//! this module knows none of them, it only parses the line into an ordered
//! list and compares two such lists key by key.

use std::fmt;
use std::time::{Duration, Instant};

use crate::pattern::preview;
use crate::target::Loopback;
use crate::udp::{self, Recv};
use crate::Error;

/// What the query datagram carries (the service answers any datagram).
pub const QUERY: &[u8] = b"stats";
/// What asks the stats service for the time summaries instead (the mux's
/// `edgeos_mux::HOPS_QUERY`).
pub const HOPS_QUERY: &[u8] = b"hops";
/// Resends of an unanswered query, after the first send (the first
/// datagrams may race the guest's neighbour setup).
pub const RETRIES: u32 = 3;
/// Longest line accepted: the multiplexer caps its line at 1024 bytes; a
/// little room beyond that costs nothing.
pub const MAX_LINE: usize = 2048;

/// Why a stats line does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("the stats line is empty")]
    Empty,
    /// A token without `=`, or with an empty key.
    #[error("{token:?} is not a key=value pair")]
    NotAPair {
        /// The offending token.
        token: String,
    },
    /// A value that is not an unsigned decimal counter.
    #[error("{key}={value:?}: the value is not a counter (an unsigned decimal number)")]
    NotACounter {
        /// The key.
        key: String,
        /// Its value as written.
        value: String,
    },
    /// The same key twice: a comparison could not say which one counts.
    #[error("key {key:?} appears twice")]
    Duplicate {
        /// The repeated key.
        key: String,
    },
    /// Bytes that are not ASCII text.
    #[error("the reply is not ASCII text: {preview}")]
    NotText {
        /// The start of the reply.
        preview: String,
    },
}

/// A parsed stats line: counters in the order the line lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    counters: Vec<(String, u64)>,
}

impl Stats {
    /// Parses one line (surrounding whitespace, including a final newline,
    /// is ignored).
    pub fn parse(line: &str) -> Result<Stats, ParseError> {
        let mut counters: Vec<(String, u64)> = Vec::new();
        for token in line.split_ascii_whitespace() {
            let (key, value) = token
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| ParseError::NotAPair {
                    token: token.to_owned(),
                })?;
            // `u64::from_str` takes a leading '+'; a counter has digits only.
            let count = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| ParseError::NotACounter {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })?;
            if counters.iter().any(|(k, _)| k == key) {
                return Err(ParseError::Duplicate {
                    key: key.to_owned(),
                });
            }
            counters.push((key.to_owned(), count));
        }
        if counters.is_empty() {
            return Err(ParseError::Empty);
        }
        Ok(Stats { counters })
    }

    /// Parses a reply datagram: ASCII text holding one line.
    pub fn parse_bytes(bytes: &[u8]) -> Result<(String, Stats), ParseError> {
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|text| text.is_ascii())
            .ok_or_else(|| ParseError::NotText {
                preview: preview(bytes),
            })?;
        let line = text.trim_end_matches(['\r', '\n']);
        let stats = Stats::parse(line)?;
        Ok((line.to_owned(), stats))
    }

    /// The counter named `key`, if the line has it.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.counters
            .iter()
            .find_map(|(k, v)| (k == key).then_some(*v))
    }

    /// Every counter, in line order.
    pub fn counters(&self) -> &[(String, u64)] {
        &self.counters
    }
}

/// One requirement on a counter between two lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The value must have increased.
    Rose(String),
    /// The value must have increased by exactly this much.
    RoseBy(String, u64),
    /// The value must be unchanged.
    Same(String),
    /// The value must be this, now (the saved line is not consulted).
    Equals(String, u64),
    /// The value must be at most this, now.
    AtMost(String, u64),
}

/// One check applied to two lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The requirement.
    pub check: Check,
    /// The value in the earlier line.
    pub before: Option<u64>,
    /// The value in the later line.
    pub after: Option<u64>,
}

impl Comparison {
    /// Whether the requirement holds (a key missing from either line fails).
    pub fn holds(&self) -> bool {
        match self.check {
            Check::Equals(_, value) => return self.after == Some(value),
            Check::AtMost(_, value) => return self.after.is_some_and(|now| now <= value),
            _ => {}
        }
        match (self.before, self.after) {
            (Some(before), Some(after)) => match self.check {
                Check::Rose(_) => after > before,
                Check::RoseBy(_, by) => after.checked_sub(before) == Some(by),
                Check::Same(_) => after == before,
                Check::Equals(_, value) => after == value,
                Check::AtMost(_, value) => after <= value,
            },
            _ => false,
        }
    }
}

impl fmt::Display for Comparison {
    /// `ok   rose drops: 3 -> 5 (+2)`, `FAIL same t1.delivered: 0 -> 2 (+2)`,
    /// `FAIL rose drops: missing from the saved line`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.holds() { "ok  " } else { "FAIL" };
        let (word, key) = match &self.check {
            Check::Rose(key) => ("rose", key),
            Check::RoseBy(key, by) => {
                write!(f, "{verdict} rose by {by} {key}: ")?;
                return match (self.before, self.after) {
                    (Some(before), Some(after)) => write!(f, "{before} -> {after}"),
                    (None, _) => write!(f, "missing from the saved line"),
                    (Some(_), None) => write!(f, "missing from the new line"),
                };
            }
            Check::Same(key) => ("same", key),
            Check::Equals(key, value) | Check::AtMost(key, value) => {
                let op = if matches!(self.check, Check::Equals(..)) { "=" } else { "<=" };
                return match self.after {
                    Some(now) => write!(f, "{verdict} {key} {op} {value}: now {now}"),
                    None => write!(f, "{verdict} {key} {op} {value}: missing from the new line"),
                };
            }
        };
        write!(f, "{verdict} {word} {key}: ")?;
        match (self.before, self.after) {
            (Some(before), Some(after)) => {
                write!(f, "{before} -> {after} ")?;
                match after.cmp(&before) {
                    std::cmp::Ordering::Equal => write!(f, "(unchanged)"),
                    std::cmp::Ordering::Greater => write!(f, "(+{})", after - before),
                    std::cmp::Ordering::Less => write!(f, "(-{})", before - after),
                }
            }
            (None, None) => write!(f, "missing from both lines"),
            (None, Some(_)) => write!(f, "missing from the saved line"),
            (Some(_), None) => write!(f, "missing from the new line"),
        }
    }
}

/// Applies each check to the two lines, in the order given.
pub fn compare(before: &Stats, after: &Stats, checks: &[Check]) -> Vec<Comparison> {
    checks
        .iter()
        .map(|check| {
            let key = match check {
                Check::Rose(key)
                | Check::RoseBy(key, _)
                | Check::Same(key)
                | Check::Equals(key, _)
                | Check::AtMost(key, _) => key,
            };
            Comparison {
                check: check.clone(),
                before: before.get(key),
                after: after.get(key),
            }
        })
        .collect()
}

/// The answer to a query.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A line that parses.
    Line {
        /// The line as received, without its line ending.
        text: String,
        /// Its counters.
        stats: Stats,
    },
    /// A reply that is not a stats line.
    Malformed(ParseError),
    /// No reply after every attempt.
    Silent(String),
}

/// Asks the stats service for its counters line: sends [`QUERY`], waits
/// `timeout` for the reply, and resends up to [`RETRIES`] times.
pub fn query(target: Loopback, timeout: Duration) -> Result<Answer, Error> {
    query_with(target, QUERY, timeout)
}

/// As [`query`], sending `request` ([`QUERY`] or [`HOPS_QUERY`]).
pub fn query_with(target: Loopback, request: &[u8], timeout: Duration) -> Result<Answer, Error> {
    crate::check_timeout(timeout)?;
    let socket = udp::connect(target)?;
    let mut buf = vec![0u8; MAX_LINE + 1];
    let mut refused = false;
    for _ in 0..=RETRIES {
        let outcome = match udp::send(&socket, request)? {
            Some(refusal) => refusal,
            None => udp::recv_before(&socket, &mut buf, Instant::now() + timeout)?,
        };
        match outcome {
            Recv::Data(n) if n > MAX_LINE => {
                return Ok(Answer::Malformed(ParseError::NotText {
                    preview: format!("a reply of more than {MAX_LINE} bytes"),
                }))
            }
            Recv::Data(n) => {
                return Ok(match Stats::parse_bytes(&buf[..n]) {
                    Ok((text, stats)) => Answer::Line { text, stats },
                    Err(e) => Answer::Malformed(e),
                })
            }
            Recv::Refused => refused = true,
            Recv::TimedOut => {}
        }
    }
    let attempts = RETRIES + 1;
    Ok(Answer::Silent(if refused {
        format!("{target} refused the query (ICMP port unreachable): nothing listens there")
    } else {
        format!(
            "no reply from {target} to {attempts} queries, {} ms each",
            timeout.as_millis()
        )
    }))
}

/// The header of the benchmark table (`make bench`'s CSV, read by
/// `tools/bench-report`): long format, one row per measured series.
pub const BENCH_CSV_HEADER: &str = "benchmark,system,case,tenants,metric,unit,samples,min,median,p99";

/// Which time summary of a `hops` line becomes which row of the benchmark
/// table: `HOP=BENCHMARK/CASE`, e.g. `driver=hops/net_driver` or
/// `spawn_warm=startup/fwp-warm-spawn`. A `*` ending HOP stands for a slot
/// number (`f*=hops/tenant` matches `f0`, `f12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopRow {
    /// The summary's name in the line (`hop.<name>.median`), or a prefix
    /// ending in `*`.
    pub hop: String,
    /// The table's `benchmark` column.
    pub benchmark: String,
    /// The table's `case` column.
    pub case: String,
}

impl std::str::FromStr for HopRow {
    type Err = String;

    fn from_str(arg: &str) -> Result<HopRow, String> {
        let (hop, to) = arg.split_once('=').ok_or_else(|| format!("{arg:?} is not HOP=BENCHMARK/CASE"))?;
        let (benchmark, case) = to.split_once('/').ok_or_else(|| format!("{arg:?} is not HOP=BENCHMARK/CASE"))?;
        for (what, field) in [("HOP", hop), ("BENCHMARK", benchmark), ("CASE", case)] {
            // The table's fields are never quoted: none may hold a separator.
            if field.is_empty() || field.contains([',', '"', '\n', '\r', '/', '=']) {
                return Err(format!("{arg:?}: {what} {field:?} must be non-empty, without , \" / = or line breaks"));
            }
        }
        if hop.find('*').is_some_and(|at| at + 1 != hop.len()) {
            return Err(format!("{arg:?}: a * may only end HOP"));
        }
        Ok(HopRow { hop: hop.to_owned(), benchmark: benchmark.to_owned(), case: case.to_owned() })
    }
}

/// The names of the time summaries a `hops` line holds (`hop.<name>.count`),
/// in line order.
pub fn hop_names(stats: &Stats) -> Vec<&str> {
    stats
        .counters()
        .iter()
        .filter_map(|(key, _)| key.strip_prefix("hop.")?.strip_suffix(".count"))
        .collect()
}

/// The benchmark table's rows for `wanted` (EdgeOS, guest ns), in the
/// order given, and the entries of `wanted` the line has no summary for.
/// A `*` entry matching several slots names each row's case
/// `<case>-<slot>` (`tenant-f0`); matching one, just `<case>`.
pub fn hop_rows<'a>(stats: &Stats, wanted: &'a [HopRow]) -> (Vec<String>, Vec<&'a HopRow>) {
    let names = hop_names(stats);
    let (mut rows, mut missing) = (Vec::new(), Vec::new());
    for want in wanted {
        let matched: Vec<&str> = match want.hop.strip_suffix('*') {
            Some(prefix) => names
                .iter()
                .copied()
                .filter(|name| {
                    name.strip_prefix(prefix)
                        .is_some_and(|slot| !slot.is_empty() && slot.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect(),
            None => names.iter().copied().filter(|name| *name == want.hop).collect(),
        };
        let figures = |name: &str| {
            let get = |key: &str| stats.get(&format!("hop.{name}.{key}"));
            Some([get("count")?, get("min")?, get("median")?, get("p99")?])
        };
        let before = rows.len();
        for name in &matched {
            let Some([count, min, median, p99]) = figures(name) else { continue };
            let case = if matched.len() > 1 { format!("{}-{name}", want.case) } else { want.case.clone() };
            rows.push(format!("{},edgeos,{case},,latency,guest_ns,{count},{min},{median},{p99}", want.benchmark));
        }
        if rows.len() == before {
            missing.push(want);
        }
    }
    (rows, missing)
}

/// Appends `rows` to the benchmark table at `path`, writing
/// [`BENCH_CSV_HEADER`] first when the file is new or empty.
pub fn append_rows(path: &std::path::Path, rows: &[String]) -> Result<(), Error> {
    use std::io::Write;
    let what = || format!("append to {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(what(), e))?;
    let empty = file.metadata().map_err(|e| Error::io(what(), e))?.len() == 0;
    let mut text = String::new();
    if empty {
        text.push_str(BENCH_CSV_HEADER);
        text.push('\n');
    }
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    // One write: rows of one query land together.
    file.write_all(text.as_bytes()).map_err(|e| Error::io(what(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_line_in_order() {
        let line =
            "rx=12 drops=3 no_flow=1 t0.delivered=5 t0.sent=5 t0.rejected=0 t1.delivered=0\n";
        let stats = Stats::parse(line).unwrap();
        assert_eq!(stats.get("rx"), Some(12));
        assert_eq!(stats.get("t0.rejected"), Some(0));
        assert_eq!(stats.get("t2.sent"), None);
        let keys: Vec<&str> = stats.counters().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rx",
                "drops",
                "no_flow",
                "t0.delivered",
                "t0.sent",
                "t0.rejected",
                "t1.delivered"
            ]
        );
        assert_eq!(
            Stats::parse(&format!("big={}", u64::MAX))
                .unwrap()
                .get("big"),
            Some(u64::MAX)
        );
        assert!(
            Stats::parse("  a=1\t b=2 ").is_ok(),
            "any whitespace separates"
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_the_reason() {
        assert_eq!(Stats::parse(" \n"), Err(ParseError::Empty));
        assert_eq!(
            Stats::parse("rx=1 drops"),
            Err(ParseError::NotAPair {
                token: "drops".into()
            })
        );
        assert!(matches!(
            Stats::parse("=3"),
            Err(ParseError::NotAPair { .. })
        ));
        for bad in [
            "rx=",
            "rx=-1",
            "rx=+1",
            "rx=1.5",
            "rx=0x10",
            "rx=99999999999999999999",
        ] {
            assert!(
                matches!(Stats::parse(bad), Err(ParseError::NotACounter { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            Stats::parse("rx=1 rx=2"),
            Err(ParseError::Duplicate { key: "rx".into() })
        );
        assert!(matches!(
            Stats::parse_bytes(&[0xff, 0x00]),
            Err(ParseError::NotText { .. })
        ));
        let (line, stats) = Stats::parse_bytes(b"rx=1 drops=0\r\n").unwrap();
        assert_eq!(line, "rx=1 drops=0");
        assert_eq!(stats.get("drops"), Some(0));
    }

    #[test]
    fn equals_checks_the_new_line_only() {
        let now = Stats::parse("slots.active=0 flows=2").unwrap();
        let results = compare(
            &Stats::default(),
            &now,
            &[
                Check::Equals("slots.active".into(), 0),
                Check::Equals("flows".into(), 0),
                Check::Equals("gone".into(), 0),
                Check::AtMost("flows".into(), 2),
                Check::AtMost("flows".into(), 1),
            ],
        );
        let shown: Vec<String> = results.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "ok   slots.active = 0: now 0",
                "FAIL flows = 0: now 2",
                "FAIL gone = 0: missing from the new line",
                "ok   flows <= 2: now 2",
                "FAIL flows <= 1: now 2"
            ]
        );
    }

    #[test]
    fn comparisons_check_rise_and_sameness() {
        let before = Stats::parse("rx=10 drops=3 t1.delivered=0 gone=1").unwrap();
        let after = Stats::parse("rx=15 drops=3 t1.delivered=2 new=4").unwrap();
        let checks = [
            Check::Rose("rx".into()),
            Check::Rose("drops".into()),
            Check::Same("drops".into()),
            Check::Same("t1.delivered".into()),
            Check::Rose("gone".into()),
            Check::Rose("new".into()),
            Check::Same("nowhere".into()),
        ];
        let results = compare(&before, &after, &checks);
        let lines: Vec<String> = results.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "ok   rose rx: 10 -> 15 (+5)",
                "FAIL rose drops: 3 -> 3 (unchanged)",
                "ok   same drops: 3 -> 3 (unchanged)",
                "FAIL same t1.delivered: 0 -> 2 (+2)",
                "FAIL rose gone: missing from the new line",
                "FAIL rose new: missing from the saved line",
                "FAIL same nowhere: missing from both lines",
            ]
        );
        let holds: Vec<bool> = results.iter().map(Comparison::holds).collect();
        assert_eq!(holds, [true, false, true, false, false, false, false]);
    }

    #[test]
    fn a_counter_that_went_down_did_not_rise() {
        let before = Stats::parse("rx=10").unwrap();
        let after = Stats::parse("rx=4").unwrap();
        let result = &compare(&before, &after, &[Check::Rose("rx".into())])[0];
        assert!(!result.holds());
        assert_eq!(result.to_string(), "FAIL rose rx: 10 -> 4 (-6)");
    }

    #[test]
    fn rose_by_wants_the_exact_rise() {
        let before = Stats::parse("renewed=10 gone=1").unwrap();
        let after = Stats::parse("renewed=1010 gone=1").unwrap();
        let check = |key: &str, by| compare(&before, &after, &[Check::RoseBy(key.into(), by)]).remove(0);
        assert_eq!(check("renewed", 1000).to_string(), "ok   rose by 1000 renewed: 10 -> 1010");
        assert_eq!(check("renewed", 999).to_string(), "FAIL rose by 999 renewed: 10 -> 1010");
        assert!(!check("gone", 0).to_string().starts_with("FAIL") && check("gone", 0).holds());
        assert!(!compare(&after, &before, &[Check::RoseBy("renewed".into(), 1000)])[0].holds(), "a fall is no rise");
        assert_eq!(check("absent", 1).to_string(), "FAIL rose by 1 absent: missing from the saved line");
    }

    fn rows(wanted: &[&str]) -> Vec<HopRow> {
        wanted.iter().map(|w| w.parse().unwrap()).collect()
    }

    #[test]
    fn hop_rows_follow_the_mapping_and_name_what_is_missing() {
        let line = "hop.driver.count=16384 hop.driver.min=2480 hop.driver.median=4976 hop.driver.p99=6416 \
                    hop.mux.count=3 hop.mux.min=1 hop.mux.median=2 hop.mux.p99=3 \
                    hop.f0.count=1024 hop.f0.min=4400 hop.f0.median=4423 hop.f0.p99=4426 f0.wakeups=7";
        let stats = Stats::parse(line).unwrap();
        assert_eq!(hop_names(&stats), ["driver", "mux", "f0"]);
        let wanted = rows(&["driver=hops/net_driver", "f*=hops/tenant", "renew=fwp/renew", "mux=hops/mux"]);
        let (got, missing) = hop_rows(&stats, &wanted);
        assert_eq!(
            got,
            [
                "hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416",
                "hops,edgeos,tenant,,latency,guest_ns,1024,4400,4423,4426",
                "hops,edgeos,mux,,latency,guest_ns,3,1,2,3",
            ]
        );
        assert_eq!(missing, [&wanted[2]]);
    }

    #[test]
    fn a_slot_wildcard_matching_several_slots_names_each() {
        let stats = Stats::parse(
            "hop.f1.count=1 hop.f1.min=1 hop.f1.median=1 hop.f1.p99=1 \
             hop.f12.count=2 hop.f12.min=2 hop.f12.median=2 hop.f12.p99=2 \
             hop.fx.count=3 hop.fx.min=3 hop.fx.median=3 hop.fx.p99=3 hop.f.count=4",
        )
        .unwrap();
        let wanted = rows(&["f*=hops/tenant"]);
        let (got, missing) = hop_rows(&stats, &wanted);
        assert_eq!(
            got,
            ["hops,edgeos,tenant-f1,,latency,guest_ns,1,1,1,1", "hops,edgeos,tenant-f12,,latency,guest_ns,2,2,2,2"]
        );
        assert!(missing.is_empty());
        // A summary cut short by the line's length limit gives no row.
        let cut = Stats::parse("hop.mux.count=1 hop.mux.min=1").unwrap();
        assert_eq!(hop_rows(&cut, &rows(&["mux=hops/mux"])).0, Vec::<String>::new());
    }

    #[test]
    fn hop_row_arguments_are_checked() {
        assert_eq!(
            "spawn_warm=startup/fwp-warm-spawn".parse::<HopRow>(),
            Ok(HopRow { hop: "spawn_warm".into(), benchmark: "startup".into(), case: "fwp-warm-spawn".into() })
        );
        for bad in ["driver", "driver=hops", "=hops/x", "driver=/x", "driver=hops/", "d*x=hops/x", "d=hops/a,b", "d=hops/a/b"] {
            assert!(bad.parse::<HopRow>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rows_are_appended_under_one_header() {
        let path = std::env::temp_dir().join(format!("edgeos-bench-csv-{}.csv", std::process::id()));
        let _ = std::fs::remove_file(&path);
        append_rows(&path, &["a".into()]).unwrap();
        append_rows(&path, &["b".into(), "c".into()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, format!("{BENCH_CSV_HEADER}\na\nb\nc\n"));
    }
}
