//! `inject`: raw Ethernet frames into the guest's NIC.
//!
//! QEMU's `-netdev socket,udp=127.0.0.1:19001,localaddr=127.0.0.1:19000`
//! backend sits on the same hub as the guest NIC: every UDP datagram it
//! receives on its local address is one Ethernet frame, which the hub hands
//! to the NIC. This module sends [`crate::frames`] that way, one datagram
//! per frame, paced so a burst does not simply overflow QEMU's queue.

use std::collections::BTreeMap;
use std::fmt;
use std::thread;
use std::time::Duration;

use crate::frames::{malformed_mix, Malformed};
use crate::target::Loopback;
use crate::udp::{self, Recv};
use crate::Error;

/// Most frames in one run.
pub const MAX_COUNT: u32 = 10_000;
/// Longest pause between frames.
pub const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// What to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The deterministic mix of [`Malformed`] frames.
    Malformed,
}

/// Where to, what and how many.
#[derive(Debug, Clone, Copy)]
pub struct Inject {
    /// QEMU's socket netdev (its `localaddr`).
    pub target: Loopback,
    /// What to send.
    pub kind: Kind,
    /// Frames to send, 1..=[`MAX_COUNT`].
    pub count: u32,
    /// Pause after each frame, at most [`MAX_INTERVAL`].
    pub interval: Duration,
    /// The local address to send from; any loopback port if `None`. (QEMU
    /// reads its socket netdev without checking the sender, but binding the
    /// peer address it names, `udp=...`, mimics a second QEMU exactly.)
    pub from: Option<Loopback>,
}

/// What was sent.
#[derive(Debug, Clone)]
pub struct InjectReport {
    /// The run's parameters.
    pub params: Inject,
    /// Frames sent of each kind.
    pub sent: BTreeMap<Malformed, u32>,
    /// Set if the target refused a datagram (nothing listens there), which
    /// ends the run.
    pub refused_after: Option<u32>,
}

impl InjectReport {
    /// Every frame was handed to the target.
    pub fn success(&self) -> bool {
        self.refused_after.is_none()
    }

    /// Frames sent in all.
    pub fn total(&self) -> u32 {
        self.sent.values().sum()
    }
}

/// Sends the frames.
pub fn run(params: Inject) -> Result<InjectReport, Error> {
    if !(1..=MAX_COUNT).contains(&params.count) {
        return Err(Error::Limit(format!(
            "--count must be 1..={MAX_COUNT}, got {}",
            params.count
        )));
    }
    if params.interval > MAX_INTERVAL {
        return Err(Error::Limit(format!(
            "--interval-ms must be at most {} ms",
            MAX_INTERVAL.as_millis()
        )));
    }
    let socket = match params.from {
        Some(from) => udp::connect_from(from.addr(), params.target)?,
        None => udp::connect(params.target)?,
    };
    let mut report = InjectReport {
        params,
        sent: BTreeMap::new(),
        refused_after: None,
    };
    let Kind::Malformed = params.kind;
    for (kind, frame) in malformed_mix(params.count) {
        // A connected socket learns of an ICMP port-unreachable for an
        // earlier datagram as an error on a later send.
        if udp::send(&socket, &frame)? == Some(Recv::Refused) {
            report.refused_after = Some(report.total());
            break;
        }
        *report.sent.entry(kind).or_default() += 1;
        if !params.interval.is_zero() {
            thread::sleep(params.interval);
        }
    }
    Ok(report)
}

impl fmt::Display for InjectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (kind, n) in &self.sent {
            writeln!(f, "inject: {kind}: {n}")?;
        }
        let target = self.params.target;
        match self.refused_after {
            None => write!(
                f,
                "inject: sent {} malformed frames to {target}",
                self.total()
            ),
            Some(n) => write!(
                f,
                "inject: FAILED: {target} refused a frame once {n} had been sent (ICMP port unreachable): nothing listens there; is QEMU running with its socket netdev?"
            ),
        }
    }
}
