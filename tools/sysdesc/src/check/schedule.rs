//! Schedulability: on each CPU, the budgets of all PDs (top level and
//! children) and of all dynamic FWPs over their periods must sum to at most
//! 1, or some PD or FWP cannot get the time its budget promises. A dynamic
//! FWP runs on a clone of its prototype's scheduling context, so it counts
//! as one more of that PD. Passive PDs are left out: Microkit revokes
//! their scheduling context after `init`, and they then run on their
//! callers' budgets. So are best-effort PDs: a budget equal to the period
//! at a priority below every PD with a reservation (budget < period) takes
//! only the time the reservations leave. Sums are exact fractions, not
//! floating point.

use std::collections::BTreeMap;
use std::fmt;

use super::blobs::DynamicFwp;
use crate::diagnostic::{Diagnostics, Span};
use crate::model::{ProtectionDomain, System};

/// How many of the biggest contributors an over-commitment report lists.
const LISTED: usize = 3;

/// An exact non-negative fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: u128,
    den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    /// `num / den`; `None` for a zero denominator.
    pub fn new(num: u64, den: u64) -> Option<Ratio> {
        (den != 0).then(|| {
            Ratio {
                num: num.into(),
                den: den.into(),
            }
            .reduced()
        })
    }

    fn reduced(self) -> Ratio {
        let g = gcd(self.num, self.den).max(1);
        Ratio {
            num: self.num / g,
            den: self.den / g,
        }
    }

    /// `self + other`. Exact unless the common denominator overflows (only
    /// with periods whose least common multiple exceeds 2^128), where it
    /// falls back to billionths.
    pub fn plus(self, other: Ratio) -> Ratio {
        let exact = (self.den / gcd(self.den, other.den).max(1))
            .checked_mul(other.den)
            .and_then(|den| {
                let a = self.num.checked_mul(den / self.den)?;
                let b = other.num.checked_mul(den / other.den)?;
                Some(Ratio {
                    num: a.checked_add(b)?,
                    den,
                })
            });
        exact.map(Ratio::reduced).unwrap_or_else(|| {
            let approx = self.num as f64 / self.den as f64 + other.num as f64 / other.den as f64;
            Ratio {
                num: (approx * 1e9).round() as u128,
                den: 1_000_000_000,
            }
            .reduced()
        })
    }

    /// Whether the fraction is above 1.
    pub fn above_one(self) -> bool {
        self.num > self.den
    }

    /// `self - 1`, or zero.
    pub fn minus_one(self) -> Ratio {
        Ratio {
            num: self.num.saturating_sub(self.den),
            den: self.den,
        }
        .reduced()
    }
}

impl fmt::Display for Ratio {
    /// Three decimals, rounded half up (`0.200`); with `{:#}`, trailing zeros
    /// dropped (`0.2`, `1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let thousandths = (self.num.saturating_mul(1000).saturating_add(self.den / 2)) / self.den;
        let (whole, frac) = (thousandths / 1000, thousandths % 1000);
        if f.alternate() {
            let s = format!("{frac:03}");
            let s = s.trim_end_matches('0');
            if s.is_empty() {
                write!(f, "{whole}")
            } else {
                write!(f, "{whole}.{s}")
            }
        } else {
            write!(f, "{whole}.{frac:03}")
        }
    }
}

/// One PD's (or dynamic FWP's) share of a CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// The PD, or `dynamic FWP k, a clone of <PD>`.
    pub pd: String,
    /// Its budget in µs.
    pub budget: u64,
    /// Its period in µs.
    pub period: u64,
}

impl Contribution {
    fn share(&self) -> Ratio {
        Ratio::new(self.budget, self.period).unwrap_or(Ratio::ZERO)
    }
}

/// A CPU promised more than all of its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleIssue {
    /// Budgets over periods sum to more than 1.
    Overcommitted {
        /// The CPU.
        cpu: u64,
        /// The sum.
        total: Ratio,
        /// The biggest contributors, biggest first.
        biggest: Vec<Contribution>,
        /// How many PDs run on the CPU.
        pds: usize,
        /// How many dynamic FWPs run on it besides.
        dynamic: usize,
    },
}

impl fmt::Display for ScheduleIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ScheduleIssue::Overcommitted {
            cpu,
            total,
            biggest,
            pds,
            dynamic,
        } = self;
        let dynamic = match dynamic {
            0 => String::new(),
            n => format!(" and {n} dynamic FWPs"),
        };
        write!(
            f,
            "budget/period must sum to at most 1 per CPU: CPU {cpu} sums to {total} over {pds} PDs{dynamic}, over by {}; biggest: ",
            total.minus_one()
        )?;
        let list: Vec<_> = biggest
            .iter()
            .map(|c| format!("'{}' {} ({}/{} µs)", c.pd, c.share(), c.budget, c.period))
            .collect();
        f.write_str(&list.join(", "))
    }
}

/// The utilisation of `pds` as a sum (`0.2 + 0.3 + 2 x 0.1 = 0.7 <= 1`),
/// runs of equal shares grouped; for comments.
pub fn describe_sum(pds: &[&ProtectionDomain]) -> String {
    let mut terms: Vec<(Ratio, usize)> = Vec::new();
    let mut total = Ratio::ZERO;
    for pd in pds.iter().filter(|pd| !pd.passive) {
        let share = Ratio::new(pd.budget, pd.period).unwrap_or(Ratio::ZERO);
        total = total.plus(share);
        match terms.last_mut() {
            Some((last, n)) if *last == share => *n += 1,
            _ => terms.push((share, 1)),
        }
    }
    let terms: Vec<_> = terms
        .iter()
        .map(|(r, n)| {
            if *n == 1 {
                format!("{r:#}")
            } else {
                format!("{n} x {r:#}")
            }
        })
        .collect();
    let cmp = if total.above_one() { ">" } else { "<=" };
    format!("{} = {total:#} {cmp} 1", terms.join(" + "))
}

/// A PD that reserves nothing: its budget is its period, and it runs below
/// every PD that has a reservation, so it only takes what they leave.
pub fn is_best_effort(pd: &ProtectionDomain, lowest_reserved_priority: u64) -> bool {
    pd.budget == pd.period && pd.priority < lowest_reserved_priority
}

/// Checks every CPU's utilisation: the PDs', and the `dynamic` FWPs'.
pub fn check(system: &System, dynamic: &[DynamicFwp], diags: &mut Diagnostics) {
    let mut per_cpu: BTreeMap<u64, Vec<(Contribution, Span)>> = BTreeMap::new();
    let mut dynamic_per_cpu: BTreeMap<u64, usize> = BTreeMap::new();
    let pds = system.all_pds().into_iter().map(|r| (r.pd, r.pd.name.to_string()));
    let clones = dynamic.iter().filter_map(|fwp| {
        let pd = system.pd(fwp.prototype.as_str())?;
        Some((pd, format!("dynamic FWP {}, a clone of {}", fwp.index, pd.name)))
    });
    let first_clone = system.all_pds().len();
    let lowest_reserved = system
        .all_pds()
        .into_iter()
        .filter(|r| !r.pd.passive && r.pd.budget < r.pd.period)
        .map(|r| r.pd.priority)
        .min()
        .unwrap_or(u64::MAX);
    // The root task serves as the FWP manager on a reservation of its own
    // when there are dynamic FWPs (CPU 0: the boot CPU it runs on).
    if !dynamic.is_empty() {
        use edgeos_fwp_manager::schedule::{BUDGET_US, PERIOD_US};
        let manager = Contribution { pd: "the FWP manager (root task)".into(), budget: BUDGET_US, period: PERIOD_US };
        per_cpu.entry(0).or_default().push((manager, Span::default()));
    }
    for (n, (pd, name)) in pds.chain(clones).enumerate() {
        if pd.passive || pd.period == 0 {
            continue; // A zero period is reported by the limits pass.
        }
        if is_best_effort(pd, lowest_reserved) {
            continue;
        }
        let c = Contribution {
            pd: name,
            budget: pd.budget,
            period: pd.period,
        };
        per_cpu.entry(pd.cpu).or_default().push((c, pd.span));
        if n >= first_clone {
            *dynamic_per_cpu.entry(pd.cpu).or_default() += 1;
        }
    }
    for (cpu, mut list) in per_cpu {
        let dynamic = dynamic_per_cpu.get(&cpu).copied().unwrap_or(0);
        let total = list.iter().fold(Ratio::ZERO, |t, (c, _)| t.plus(c.share()));
        if !total.above_one() {
            continue;
        }
        // Biggest first; ties in document order (sort is stable).
        list.sort_by(|(a, _), (b, _)| {
            let (a, b) = (a.share(), b.share());
            (b.num * a.den).cmp(&(a.num * b.den))
        });
        let span = list.first().map_or(Span::UNKNOWN, |(_, s)| *s);
        let pds = list.len() - dynamic;
        let biggest = list.into_iter().take(LISTED).map(|(c, _)| c).collect();
        diags.push(
            ScheduleIssue::Overcommitted {
                cpu,
                total,
                biggest,
                pds,
                dynamic,
            },
            span,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sums() {
        let third = Ratio::new(1, 3).unwrap();
        let one = third.plus(third).plus(third);
        assert!(!one.above_one());
        assert_eq!(one.to_string(), "1.000");
        let over = one.plus(Ratio::new(1, 1000).unwrap());
        assert!(over.above_one());
        assert_eq!(over.minus_one().to_string(), "0.001");
        assert_eq!(format!("{:#}", Ratio::new(200, 1000).unwrap()), "0.2");
        assert!(Ratio::new(1, 0).is_none());
    }
}
