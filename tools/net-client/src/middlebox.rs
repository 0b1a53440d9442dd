//! `middlebox`: the Click firewall and NAT (`click/firewall-nat.click`)
//! seen from the wire.
//!
//! The client plays every host around the node on QEMU's hub: clients
//! 10.0.2.50 and up, the blocked client 10.0.2.66 and the backend
//! 10.0.2.100, each with a made-up MAC (`packet`). It injects their
//! frames through QEMU's socket netdev and captures every frame the node
//! transmits (`tap`), and checks each against what the configuration
//! must make of it (`expect`):
//!
//! ```text
//!   client side (src -> dst)                          backend side (src -> dst)
//!   10.0.2.50:41000 -> 10.0.2.15:20001   ==node==>   10.0.2.15:41000 -> 10.0.2.100:20001
//!   10.0.2.15:20001 -> 10.0.2.50:41000   <==node==   10.0.2.100:20001 -> 10.0.2.15:41000
//!   TTL one less each way; every frame the node sends goes from its MAC to the destination's
//! ```
//!
//! Every case starts with the backend's ARP request for the node's
//! address: the multiplexer's reply proves the path through the NIC, and
//! the request is how it learns the backend's MAC. Then:
//! - `nat`: a UDP request and its reply, and a TCP SYN, SYN-ACK and RST,
//!   each translated exactly (`cases::nat`);
//! - `deny`: datagrams the configuration refuses never leave the node,
//!   while an allowed flow's datagrams do (`cases::deny`);
//! - `churn`: many short TCP flows, each its own FWP, every one served
//!   (`churn`).
//!
//! Bounded: every awaited frame has the `within` deadline (at most
//! [`crate::MAX_TIMEOUT`]), the frame causing it is sent at most four
//! times (`tap::Resends`), and a churn has at most [`MAX_FLOWS`] flows.

use std::fmt;
use std::time::Duration;

use crate::{Error, Loopback};

mod cases;
mod churn;
mod expect;
mod packet;
mod tap;

pub use churn::MAX_FLOWS;
pub use tap::Impostors;

/// Which behaviour to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Allowed flows are translated exactly, both ways.
    Nat,
    /// Refused flows never pass.
    Deny,
    /// This many short TCP flows are all served.
    Churn {
        /// Flows, 1..=[`MAX_FLOWS`].
        flows: u32,
    },
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Case::Nat => "nat",
            Case::Deny => "deny",
            Case::Churn { .. } => "churn",
        })
    }
}

/// Where QEMU's socket netdev is, and what to check.
#[derive(Debug, Clone, Copy)]
pub struct Middlebox {
    /// The netdev's `localaddr`: frames sent here go onto the hub.
    pub inject: Loopback,
    /// The netdev's `udp` peer: QEMU sends every frame on the hub here.
    pub capture: Loopback,
    /// The case.
    pub case: Case,
    /// How long each awaited frame may take, from the first send of the
    /// frame that causes it.
    pub within: Duration,
}

/// One check's verdict and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// It held.
    pub passed: bool,
    /// What was checked and seen.
    pub text: String,
}

impl Check {
    pub(crate) fn passed(text: String) -> Check {
        Check { passed: true, text }
    }

    pub(crate) fn failed(text: String) -> Check {
        Check {
            passed: false,
            text,
        }
    }
}

/// The checks of one run, in order. A case stops at its first failed
/// check: each step builds on the ones before (a reply is only routed once
/// the request made its flow).
#[derive(Debug, Clone)]
pub struct MiddleboxReport {
    /// The run's case.
    pub case: Case,
    /// Its checks.
    pub checks: Vec<Check>,
    /// Frames someone else sent in the name of hosts the test plays.
    pub impostors: Impostors,
}

impl MiddleboxReport {
    /// Every check held.
    pub fn success(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|check| check.passed)
    }
}

/// Runs the case.
pub fn run(params: Middlebox) -> Result<MiddleboxReport, Error> {
    crate::check_timeout(params.within)?;
    if let Case::Churn { flows } = params.case {
        if !(1..=MAX_FLOWS).contains(&flows) {
            return Err(Error::Limit(format!(
                "--flows must be 1..={MAX_FLOWS}, got {flows}"
            )));
        }
    }
    let mut tap = tap::Tap::open(params.inject, params.capture)?;
    let mut checks = Vec::new();
    if cases::node_answers_arp(&mut tap, params.within, &mut checks)? {
        match params.case {
            Case::Nat => cases::nat(&mut tap, params.within, &mut checks)?,
            Case::Deny => cases::deny(&mut tap, params.within, &mut checks)?,
            Case::Churn { flows } => checks.push(churn::run(&mut tap, flows, params.within)?),
        }
    }
    Ok(MiddleboxReport {
        case: params.case,
        checks,
        impostors: tap.impostors().clone(),
    })
}

impl fmt::Display for MiddleboxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = self.case;
        for check in &self.checks {
            let verdict = if check.passed { "ok  " } else { "FAIL" };
            writeln!(f, "middlebox {case}: {verdict} {}", check.text)?;
        }
        if self.impostors.count > 0 {
            writeln!(
                f,
                "middlebox {case}: note: {} captured frames came from addresses this test plays without being its own \
                 (QEMU's user network answers for 10.0.2.0/24 on the same hub), and the node takes them for those hosts; \
                 the first: {}",
                self.impostors.count,
                self.impostors.first.join("; ")
            )?;
        }
        let passed = self.checks.iter().filter(|check| check.passed).count();
        if self.success() {
            write!(f, "middlebox {case}: all {passed} checks passed")
        } else {
            write!(f, "middlebox {case}: FAILED after {passed} passing checks (a case stops at its first failure)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_a_line_per_check_a_note_on_impostors_and_a_verdict() {
        let mut report = MiddleboxReport {
            case: Case::Nat,
            checks: vec![
                Check::passed("ARP: fine".into()),
                Check::failed("tcp: nothing".into()),
            ],
            impostors: Impostors::default(),
        };
        assert!(!report.success());
        assert_eq!(
            report.to_string(),
            "middlebox nat: ok   ARP: fine\n\
             middlebox nat: FAIL tcp: nothing\n\
             middlebox nat: FAILED after 1 passing checks (a case stops at its first failure)"
        );
        report.checks.pop();
        report.impostors = Impostors {
            count: 4,
            first: vec!["a RST".into()],
        };
        assert!(report.success());
        let text = report.to_string();
        assert!(
            text.contains(
                "middlebox nat: note: 4 captured frames came from addresses this test plays"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("the first: a RST\nmiddlebox nat: all 1 checks passed"),
            "{text}"
        );
        report.checks.clear();
        assert!(!report.success(), "no check is no pass");
    }
}
