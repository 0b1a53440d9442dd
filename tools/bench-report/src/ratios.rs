//! The headline ratios, computed from the table:
//! - startup: each Linux method's median over EdgeOS's FWP warm and cold
//!   spawn medians (issue 12 sets them beside the paper's 170x), and a
//!   service started on both (the same case name), Linux's over EdgeOS's;
//! - memcached with N tenants: Linux's p50 and p99 over EdgeOS's, and
//!   EdgeOS's throughput over Linux's, per case and N;
//! - tails: every EdgeOS hop's and spawn's p99 over its median, against
//!   the target of [`TAIL_TARGET`].
//!
//! A ratio needs both figures in the same unit and a denominator above
//! zero; a pair that lacks one gives no ratio rather than a wrong one.

use crate::table::{Row, Table};

/// The benchmark of the startup methods (both systems).
pub const STARTUP: &str = "startup";
/// The benchmark of the per-frame hops (EdgeOS).
pub const HOPS: &str = "hops";
/// The benchmark of the FWP lifecycle's other steps (EdgeOS).
pub const FWP: &str = "fwp";
/// The benchmark of memcached with N tenants (both systems).
pub const MEMCACHED_TENANTS: &str = "memcached-tenants";
/// The system under test.
pub const EDGEOS: &str = "edgeos";
/// The baseline.
pub const LINUX: &str = "linux";
/// The metric of a latency row (min, median, p99).
pub const LATENCY: &str = "latency";
/// The metric of a throughput row (its value in median).
pub const THROUGHPUT: &str = "throughput";
/// EdgeOS's startup cases the Linux methods are compared with: an FWP
/// started from the warm pool when no other FWP is starting or serving
/// (`ci/bench-fwp.sh`'s sequential connections alone), the same over the
/// whole run (with its rounds of 3 concurrent connections, whose spawns
/// can wait behind the FWPs of the same round), and one restored first.
/// All of the reused slots' variant, whose figures `ci/bench-fwp.sh` names
/// without a suffix.
pub const FWP_SPAWNS: [&str; 3] = ["fwp-warm-spawn-sequential", "fwp-warm-spawn", "fwp-cold-spawn"];
/// Issue 12's target for tails that never wait on the device: every hop's
/// and every spawn's p99 within twice its median.
pub const TAIL_TARGET: f64 = 2.0;

/// `numerator / denominator`, when the denominator is above zero.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// A Linux startup method against one FWP spawn.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupRatio {
    /// The Linux method, e.g. `fork+execve`.
    pub linux_case: String,
    /// Its median.
    pub linux_median: f64,
    /// The FWP spawn, one of [`FWP_SPAWNS`], or the same case as Linux's.
    pub edgeos_case: String,
    /// Its median.
    pub edgeos_median: f64,
    /// The shared unit.
    pub unit: String,
    /// Linux's median over EdgeOS's.
    pub ratio: f64,
}

/// Every Linux startup method against each FWP spawn the table has, in
/// table order.
pub fn startup(table: &Table) -> Vec<StartupRatio> {
    let spawns: Vec<(&'static str, &Row, f64)> = FWP_SPAWNS
        .iter()
        .filter_map(|&case| {
            let row = table.select(STARTUP, EDGEOS, LATENCY).find(|r| r.case == case)?;
            Some((case, row, row.median?))
        })
        .collect();
    let mut ratios = Vec::new();
    for linux in table.select(STARTUP, LINUX, LATENCY) {
        let Some(linux_median) = linux.median else { continue };
        for &(edgeos_case, edgeos, edgeos_median) in &spawns {
            if edgeos.unit != linux.unit {
                continue;
            }
            if let Some(ratio) = ratio(linux_median, edgeos_median) {
                ratios.push(StartupRatio {
                    linux_case: linux.case.clone(),
                    linux_median,
                    edgeos_case: edgeos_case.to_owned(),
                    edgeos_median,
                    unit: linux.unit.clone(),
                    ratio,
                });
            }
        }
    }
    ratios
}

/// Each startup case measured on both systems under one name (a service
/// from its start to its first reply: `memcached-first-reply`), Linux's
/// median over EdgeOS's, in table order.
pub fn same_case(table: &Table) -> Vec<StartupRatio> {
    table
        .select(STARTUP, LINUX, LATENCY)
        .filter_map(|linux| {
            let edgeos = table
                .select(STARTUP, EDGEOS, LATENCY)
                .find(|r| r.case == linux.case && r.unit == linux.unit)?;
            let (linux_median, edgeos_median) = (linux.median?, edgeos.median?);
            Some(StartupRatio {
                linux_case: linux.case.clone(),
                linux_median,
                edgeos_case: edgeos.case.clone(),
                edgeos_median,
                unit: linux.unit.clone(),
                ratio: ratio(linux_median, edgeos_median)?,
            })
        })
        .collect()
}

/// Both systems' figures for one case and N, and their ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRatio {
    /// The request mix, e.g. `get-100B`.
    pub case: String,
    /// N.
    pub tenants: u32,
    /// Latency unit.
    pub latency_unit: Option<String>,
    /// (EdgeOS, Linux, Linux / EdgeOS) of the p50 latencies.
    pub p50: Option<(f64, f64, Option<f64>)>,
    /// (EdgeOS, Linux, Linux / EdgeOS) of the p99 latencies.
    pub p99: Option<(f64, f64, Option<f64>)>,
    /// Throughput unit.
    pub throughput_unit: Option<String>,
    /// (EdgeOS, Linux, EdgeOS / Linux) of the throughputs.
    pub throughput: Option<(f64, f64, Option<f64>)>,
}

/// Each case and N measured on both systems, by case, then N.
pub fn memcached(table: &Table) -> Vec<TenantRatio> {
    let pair = |metric: &str, case: &str, n: u32| {
        let find = |system| {
            table
                .select(MEMCACHED_TENANTS, system, metric)
                .find(|r| r.case == case && r.tenants == Some(n))
        };
        Some((find(EDGEOS)?, find(LINUX)?)).filter(|(e, l)| e.unit == l.unit)
    };
    let mut keys: Vec<(String, u32)> = table
        .rows()
        .iter()
        .filter(|r| r.benchmark == MEMCACHED_TENANTS)
        .filter_map(|r| Some((r.case.clone(), r.tenants?)))
        .collect();
    keys.sort();
    keys.dedup();
    let mut ratios = Vec::new();
    for (case, n) in keys {
        let latency = pair(LATENCY, &case, n);
        let both = |pick: fn(&Row) -> Option<f64>| {
            let (e, l) = latency?;
            let (e, l) = (pick(e)?, pick(l)?);
            Some((e, l, ratio(l, e)))
        };
        let throughput = pair(THROUGHPUT, &case, n);
        let entry = TenantRatio {
            latency_unit: latency.map(|(e, _)| e.unit.clone()),
            p50: both(|r| r.median),
            p99: both(|r| r.p99),
            throughput_unit: throughput.map(|(e, _)| e.unit.clone()),
            throughput: throughput.and_then(|(e, l)| {
                let (e, l) = (e.median?, l.median?);
                Some((e, l, ratio(e, l)))
            }),
            case,
            tenants: n,
        };
        if entry.p50.is_some() || entry.p99.is_some() || entry.throughput.is_some() {
            ratios.push(entry);
        }
    }
    ratios
}

/// One EdgeOS series' tail against [`TAIL_TARGET`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tail {
    /// [`HOPS`], [`STARTUP`] or [`FWP`].
    pub benchmark: String,
    /// The hop or lifecycle step.
    pub case: String,
    /// Its median.
    pub median: f64,
    /// Its p99.
    pub p99: f64,
    /// Their unit.
    pub unit: String,
    /// p99 / median.
    pub ratio: f64,
}

impl Tail {
    /// Whether the p99 is within [`TAIL_TARGET`] times the median.
    pub fn within_target(&self) -> bool {
        self.ratio <= TAIL_TARGET
    }

    /// Whether issue 12's target covers this series: the hops and the
    /// spawns do; the other lifecycle steps are shown for reference.
    pub fn targeted(&self) -> bool {
        self.benchmark == HOPS || self.benchmark == STARTUP
    }
}

/// EdgeOS's latency series of [`HOPS`], [`STARTUP`] and [`FWP`], in that
/// order (table order within each).
pub fn tails(table: &Table) -> Vec<Tail> {
    [HOPS, STARTUP, FWP]
        .iter()
        .flat_map(|&benchmark| table.select(benchmark, EDGEOS, LATENCY))
        .filter_map(|row| {
            let (median, p99) = (row.median?, row.p99?);
            Some(Tail {
                benchmark: row.benchmark.clone(),
                case: row.case.clone(),
                median,
                p99,
                unit: row.unit.clone(),
                ratio: ratio(p99, median)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::parse;

    fn table(rows: &str) -> Table {
        parse("t.csv", &format!("{}\n{rows}", crate::table::HEADER)).unwrap()
    }

    #[test]
    fn each_linux_method_is_divided_by_each_fwp_spawn() {
        let t = table(
            "startup,edgeos,fwp-warm-spawn,,latency,guest_ns,6116,6880,7000,888016
startup,edgeos,fwp-cold-spawn,,latency,guest_ns,6116,6880,14000,888016
startup,edgeos,fwp-warm-spawn-sequential,,latency,guest_ns,2500,2400,2500,3000
startup,edgeos,fwp-warm-spawn-renew,,latency,guest_ns,6116,1,1,1
startup,linux,fork+execve,,latency,guest_ns,1000,280000,287000,487360
startup,linux,memcached,,latency,us,100,1,2,3
startup,linux,vfork+execve,,latency,guest_ns,1000,1,70000,1",
        );
        let shown: Vec<(String, String, f64)> = startup(&t)
            .into_iter()
            .map(|r| (r.linux_case, r.edgeos_case, r.ratio))
            .collect();
        let expected: Vec<(String, String, f64)> = [
            ("fork+execve", "fwp-warm-spawn-sequential", 114.8),
            ("fork+execve", "fwp-warm-spawn", 41.0),
            ("fork+execve", "fwp-cold-spawn", 20.5),
            ("vfork+execve", "fwp-warm-spawn-sequential", 28.0),
            ("vfork+execve", "fwp-warm-spawn", 10.0),
            ("vfork+execve", "fwp-cold-spawn", 5.0),
        ]
        .iter()
        .map(|&(l, e, r)| (l.to_owned(), e.to_owned(), r))
        .collect();
        assert_eq!(
            shown,
            expected,
            "the renew variant is not a headline case; a different unit gives no ratio"
        );
    }

    #[test]
    fn a_service_started_on_both_is_compared_with_itself() {
        let t = table(
            "startup,edgeos,memcached-first-reply,,latency,guest_ns,100,100000,135000,360000
startup,linux,memcached-first-reply,,latency,guest_ns,100,7884224,8640000,9039552
startup,linux,fork+execve,,latency,guest_ns,1000,280000,287000,487360
startup,edgeos,fork+execve,,latency,us,1,1,1,1",
        );
        let got = same_case(&t);
        assert_eq!(got.len(), 1, "fork+execve's EdgeOS row is in another unit: {got:?}");
        assert_eq!(got[0].linux_case, "memcached-first-reply");
        assert_eq!(got[0].edgeos_case, "memcached-first-reply");
        assert!((got[0].ratio - 64.0).abs() < 1e-12);
    }

    #[test]
    fn no_linux_rows_no_startup_ratios() {
        let t = table("startup,edgeos,fwp-warm-spawn,,latency,guest_ns,1,1,1,1");
        assert!(startup(&t).is_empty());
    }

    #[test]
    fn memcached_ratios_pair_the_same_case_and_n() {
        let t = table(
            "memcached-tenants,edgeos,get-100B,8,latency,us,4000,10,50,100
memcached-tenants,linux,get-100B,8,latency,us,4000,100,500,5000
memcached-tenants,edgeos,get-100B,8,throughput,req_per_s,4000,,2000,
memcached-tenants,linux,get-100B,8,throughput,req_per_s,4000,,1000,
memcached-tenants,edgeos,get-100B,1,latency,us,4000,10,0,100
memcached-tenants,linux,get-100B,1,latency,us,4000,10,40,300
memcached-tenants,edgeos,get-100B,32,latency,us,4000,10,40,300",
        );
        let got = memcached(&t);
        assert_eq!(got.len(), 2, "N=32 has no Linux figures: {got:?}");
        assert_eq!(got[0].tenants, 1);
        assert_eq!(got[0].p50, Some((0.0, 40.0, None)), "no ratio over a zero median");
        assert_eq!(got[0].p99, Some((100.0, 300.0, Some(3.0))));
        assert_eq!(got[0].throughput, None);
        assert_eq!(got[1].tenants, 8);
        assert_eq!(got[1].p50, Some((50.0, 500.0, Some(10.0))));
        assert_eq!(got[1].p99, Some((100.0, 5000.0, Some(50.0))));
        assert_eq!(got[1].throughput, Some((2000.0, 1000.0, Some(2.0))));
        assert_eq!(got[1].latency_unit.as_deref(), Some("us"));
    }

    #[test]
    fn tails_are_checked_against_twice_the_median() {
        let t = table(
            "hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416
hops,edgeos,mux,,latency,guest_ns,16384,2480,1000,2001
startup,edgeos,fwp-warm-spawn,,latency,guest_ns,6116,6880,7056,888016
startup,linux,fork+execve,,latency,guest_ns,1000,280000,285984,487360
fwp,edgeos,teardown,,latency,guest_ns,1,1,100,100",
        );
        let got = tails(&t);
        let shown: Vec<(&str, bool, bool)> = got
            .iter()
            .map(|t| (t.case.as_str(), t.within_target(), t.targeted()))
            .collect();
        assert_eq!(
            shown,
            [
                ("net_driver", true, true),
                ("mux", false, true),
                ("fwp-warm-spawn", false, true),
                ("teardown", true, false)
            ]
        );
        assert!((got[0].ratio - 6416.0 / 4976.0).abs() < 1e-12);
    }
}
