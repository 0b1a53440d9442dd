//! `middlebox`: the Click firewall and NAT (`click/firewall-nat.click`)
//! seen from the wire.
//!
//! The test plays the clients on QEMU's hub: 10.0.2.50 and up, and the
//! blocked client 10.0.2.66, each with a made-up MAC (`packet`). It injects
//! their frames through QEMU's socket netdev and captures every frame on
//! the hub but its own (`tap`): the node's, and those of QEMU's user
//! network. The backend, 10.0.2.100, is real: the user network carries the
//! node's datagrams for it to sockets of this test bound at 10.0.2.100 on
//! the host (`backend`), and puts their answers on the hub in its name.
//! Each frame the node sends is checked against what the configuration
//! must make of it (`expect`):
//!
//! ```text
//!   client (injected)                                     backend (a socket at 10.0.2.100)
//!   10.0.2.50:41000 -> 10.0.2.15:20001  ==node==> 10.0.2.15:41000 -> 10.0.2.100:20001  ==user network==> socket
//!   10.0.2.15:20001 -> 10.0.2.50:41000  <==node== 10.0.2.100:20001 -> 10.0.2.15:41000  <==user network== socket
//!   TTL one less through the node; every frame it sends goes from its MAC to the destination's
//!   (the backend's is the user network's, 52:55:0a:00:02:02)
//! ```
//!
//! Every case starts with the backend's ARP request for the node's
//! address, from the user network's MAC: the multiplexer's reply proves
//! the path through the NIC, and the request is how it learns where the
//! backend's frames go. Then:
//! - `nat`: a UDP request reaches the backend's socket and its reply the
//!   client, a TCP SYN the backend's listener and its SYN-ACK the client,
//!   each translated exactly (`cases::nat`);
//! - `deny`: datagrams the configuration refuses never leave the node,
//!   while an allowed flow's do (`deny`);
//! - `churn`: many short TCP flows, each its own FWP, every one served
//!   (`churn`).
//!
//! The user network answers the node's frames to the made-up clients too:
//! a SYN-ACK draws a RST in the client's name, which ends the TCP flow and
//! its FWP (noted in the report as frames in a played client's name).
//!
//! Bounded: every awaited frame has the `within` deadline (at most
//! [`crate::MAX_TIMEOUT`]), the frame causing it is sent at most four
//! times (`tap::Resends`), and a churn has at most [`MAX_FLOWS`] flows.

use std::fmt;
use std::time::Duration;

use crate::{Error, Loopback};

mod backend;
mod cases;
mod churn;
mod deny;
mod expect;
#[cfg(test)]
mod fake;
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
    /// A flow passed on to a tenant of the node is answered through the middlebox.
    Local,
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
            Case::Local => "local",
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
    let within = params.within;
    if cases::node_answers_arp(&mut tap, within, &mut checks)? {
        // The backend's sockets once the node answers (the ARP check needs
        // none) and before any flow: a host without 10.0.2.100 is a local
        // error.
        use backend::{service, TcpBackend, UdpBackend};
        match params.case {
            Case::Nat => {
                let mut udp = UdpBackend::bind(service(cases::UDP_SERVICE))?;
                let tcp = TcpBackend::listen(service(cases::TCP_SERVICE))?;
                cases::nat(&mut tap, &mut udp, &tcp, within, &mut checks)?
            }
            Case::Deny => {
                let mut udp = UdpBackend::bind(service(deny::SENTINEL_SERVICE))?;
                deny::deny(&mut tap, &mut udp, within, &mut checks)?
            }
            Case::Local => cases::local(&mut tap, within, &mut checks)?,
            Case::Churn { flows } => {
                let tcp = TcpBackend::listen(service(churn::SERVICE))?;
                checks.push(churn::run(&mut tap, &tcp, flows, within)?)
            }
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
                "middlebox {case}: note: {} captured frames came from client addresses this test plays without being its own \
                 (QEMU's user network, on the same hub, answers the node's frames to them in their name), and the node \
                 takes them for those clients; the first: {}",
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
                "middlebox nat: note: 4 captured frames came from client addresses this test plays"
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
