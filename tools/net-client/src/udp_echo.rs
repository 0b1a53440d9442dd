//! `udp-echo`: send numbered datagrams one at a time and check that each
//! comes back byte for byte.
//!
//! Datagrams go out strictly one at a time: the next is sent only once the
//! previous one's reply has been checked, so a reply is always matched to
//! the datagram it answers. A datagram without a reply is resent, up to
//! [`RETRIES`] times, because the first ones may race the guest's neighbour
//! (ARP) setup; a late reply to an earlier attempt is recognised by its
//! sequence number and skipped. The first datagram that still gets no reply
//! ends the run: against a peer that drops everything the run fails after
//! `(RETRIES + 1) × timeout`, not `count` times that.

use std::fmt;
use std::time::{Duration, Instant};

use crate::pattern::{self, compare, SEQ_LEN};
use crate::target::Loopback;
use crate::udp::{self, Recv, MAX_DATAGRAM};
use crate::{percentile, Error};

/// Resends of a datagram that got no reply, after the first send.
pub const RETRIES: u32 = 3;
/// Most datagrams in one run: with the longest timeout a run that loses
/// nothing still ends in minutes, and the report stays readable.
pub const MAX_COUNT: u32 = 10_000;
/// Smallest datagram: it must hold the sequence number.
pub const MIN_SIZE: usize = SEQ_LEN;
/// Largest datagram: the most UDP carries over IPv4. (The guest's MTU is
/// 1500, so datagrams above 1472 bytes arrive as IPv4 fragments.)
pub const MAX_SIZE: usize = MAX_DATAGRAM;
/// How many problems are described one by one; the rest are only counted.
const MAX_DETAILS: usize = 5;

/// What to send, and where.
#[derive(Debug, Clone, Copy)]
pub struct UdpEcho {
    /// The echo service.
    pub target: Loopback,
    /// Datagrams to send, 1..=[`MAX_COUNT`].
    pub count: u32,
    /// Bytes per datagram, [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub size: usize,
    /// How long to wait for each reply before resending.
    pub timeout: Duration,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct UdpEchoReport {
    /// The run's parameters.
    pub params: UdpEcho,
    /// Datagrams that got a reply, whether or not it matched.
    pub replies: u32,
    /// Replies that differed from what was sent.
    pub mismatched: u32,
    /// The first few problems, one line each.
    pub details: Vec<String>,
    /// The datagram whose every attempt went unanswered, which ended the run.
    pub lost: Option<u32>,
    /// Datagrams sent again because no reply came in time.
    pub resent: u32,
    /// Late replies to an earlier attempt, skipped.
    pub stale: u32,
    /// Round-trip time of each matched reply, from the last send of its
    /// datagram.
    pub rtts: Vec<Duration>,
}

impl UdpEchoReport {
    /// Every datagram got a reply equal to it.
    pub fn success(&self) -> bool {
        self.lost.is_none() && self.mismatched == 0 && self.replies == self.params.count
    }

    fn detail(&mut self, line: String) {
        if self.details.len() < MAX_DETAILS {
            self.details.push(line);
        }
    }
}

/// Runs the exchange. `Err` only for a local failure (a socket that cannot
/// be created, a send the kernel refuses); a missing or wrong reply is a
/// failed report.
pub fn run(params: UdpEcho) -> Result<UdpEchoReport, Error> {
    if !(1..=MAX_COUNT).contains(&params.count) {
        return Err(Error::Limit(format!(
            "--count must be 1..={MAX_COUNT}, got {}",
            params.count
        )));
    }
    if !(MIN_SIZE..=MAX_SIZE).contains(&params.size) {
        return Err(Error::Limit(format!(
            "--size must be {MIN_SIZE}..={MAX_SIZE} bytes, got {}",
            params.size
        )));
    }
    crate::check_timeout(params.timeout)?;
    let socket = udp::connect(params.target)?;
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut report = UdpEchoReport {
        params,
        replies: 0,
        mismatched: 0,
        details: Vec::new(),
        lost: None,
        resent: 0,
        stale: 0,
        rtts: Vec::with_capacity(params.count as usize),
    };
    for seq in 0..params.count {
        let sent = pattern::datagram(seq, params.size);
        let mut refused = false;
        let mut answered = false;
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                report.resent += 1;
            }
            let sent_at = Instant::now();
            let mut outcome = udp::send(&socket, &sent)?;
            let deadline = sent_at + params.timeout;
            while outcome.is_none() {
                match udp::recv_before(&socket, &mut buf, deadline)? {
                    Recv::Data(n) => {
                        let got = &buf[..n];
                        if is_stale(got, seq, params.size) {
                            report.stale += 1;
                            continue;
                        }
                        report.replies += 1;
                        match compare(&sent, got) {
                            None => report.rtts.push(sent_at.elapsed()),
                            Some(diff) => {
                                report.mismatched += 1;
                                report.detail(format!(
                                    "udp-echo: datagram #{seq} ({} bytes): the reply differs: {diff}",
                                    params.size
                                ));
                            }
                        }
                        outcome = Some(Recv::Data(n));
                    }
                    other => outcome = Some(other),
                }
            }
            match outcome {
                Some(Recv::Data(_)) => {
                    answered = true;
                    break;
                }
                Some(Recv::Refused) => refused = true,
                _ => {}
            }
        }
        if !answered {
            let why = if refused {
                format!(
                    "{} refused it (ICMP port unreachable): nothing listens there",
                    params.target
                )
            } else {
                format!("no reply within {} ms", params.timeout.as_millis())
            };
            report.detail(format!(
                "udp-echo: datagram #{seq} ({} bytes): sent {} times, {why}",
                params.size,
                RETRIES + 1
            ));
            report.lost = Some(seq);
            break;
        }
    }
    Ok(report)
}

/// A reply that is exactly an earlier datagram: the late answer to an
/// attempt that was resent.
fn is_stale(got: &[u8], current: u32, size: usize) -> bool {
    match pattern::datagram_seq(got) {
        Some(seq) if seq < current => got == pattern::datagram(seq, size),
        _ => false,
    }
}

impl fmt::Display for UdpEchoReport {
    /// Problem lines, notes, then one summary line; the success form is
    /// `udp-echo: N/N replies, every byte matched, rtt median X us p99 Y us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.details {
            writeln!(f, "{line}")?;
        }
        let problems = (self.mismatched as usize).saturating_sub(self.details.len());
        if problems > 0 && self.lost.is_none() {
            writeln!(f, "udp-echo: ... and {problems} more mismatched replies")?;
        }
        if self.resent > 0 {
            writeln!(
                f,
                "udp-echo: note: {} resends after a datagram got no reply ({} late replies skipped)",
                self.resent, self.stale
            )?;
        }
        let count = self.params.count;
        let rtt = match (percentile(&self.rtts, 50), percentile(&self.rtts, 99)) {
            (Some(median), Some(p99)) => format!(
                ", rtt median {} us p99 {} us",
                median.as_micros(),
                p99.as_micros()
            ),
            _ => String::new(),
        };
        if self.success() {
            return write!(
                f,
                "udp-echo: {}/{count} replies, every byte matched{rtt}",
                self.replies
            );
        }
        write!(f, "udp-echo: FAILED: {}/{count} replies", self.replies)?;
        if self.mismatched > 0 {
            write!(f, ", {} differed from what was sent", self.mismatched)?;
        }
        if let Some(seq) = self.lost {
            write!(f, ", stopped at datagram #{seq}, which got no reply")?;
        }
        write!(f, "{rtt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_replies_are_earlier_datagrams_exactly() {
        let old = pattern::datagram(2, 64);
        assert!(is_stale(&old, 3, 64));
        assert!(!is_stale(&old, 2, 64), "the current one is not stale");
        let mut corrupt = old.clone();
        corrupt[10] ^= 1;
        assert!(!is_stale(&corrupt, 3, 64));
        assert!(!is_stale(&old[..10], 3, 64));
    }

    #[test]
    fn summary_lines_have_the_documented_form() {
        let target = "127.0.0.1:9".parse().unwrap();
        let params = UdpEcho {
            target,
            count: 2,
            size: 8,
            timeout: Duration::from_millis(100),
        };
        let mut report = UdpEchoReport {
            params,
            replies: 2,
            mismatched: 0,
            details: vec![],
            lost: None,
            resent: 0,
            stale: 0,
            rtts: vec![Duration::from_micros(300), Duration::from_micros(100)],
        };
        assert!(report.success());
        assert_eq!(
            report.to_string(),
            "udp-echo: 2/2 replies, every byte matched, rtt median 100 us p99 300 us"
        );
        report.lost = Some(1);
        report.replies = 1;
        report.rtts.pop();
        assert!(!report.success());
        assert_eq!(
            report.to_string(),
            "udp-echo: FAILED: 1/2 replies, stopped at datagram #1, which got no reply, rtt median 300 us p99 300 us"
        );
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let target = "127.0.0.1:9".parse().unwrap();
        let ok = UdpEcho {
            target,
            count: 1,
            size: 8,
            timeout: Duration::from_millis(10),
        };
        assert!(matches!(
            run(UdpEcho { count: 0, ..ok }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(UdpEcho { size: 3, ..ok }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(UdpEcho {
                size: MAX_SIZE + 1,
                ..ok
            }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(UdpEcho {
                timeout: Duration::ZERO,
                ..ok
            }),
            Err(Error::Limit(_))
        ));
    }
}
