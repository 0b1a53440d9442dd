//! `expect-silence`: show that a port routed to nobody gives nothing back.
//!
//! UDP: one datagram is sent; the check holds if no reply arrives within the
//! wait. TCP: QEMU's `hostfwd` accepts the host-side connection before it
//! knows whether the guest will, so a successful connect proves nothing;
//! the check holds if the connect fails, or the probe cannot be written, or
//! the connection closes or stays quiet, as long as no data comes back
//! within the wait. The whole probe ends within the wait.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::pattern::preview;
use crate::target::Loopback;
use crate::udp::{self, Recv, MAX_DATAGRAM};
use crate::Error;

/// What the probe carries: recognisable in a packet capture or a guest log.
pub const PROBE: &[u8] = b"edgeos net-client expect-silence probe\n";

/// Which transport to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// One UDP datagram.
    Udp(Loopback),
    /// A TCP connect, then one write.
    Tcp(Loopback),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Udp(target) => write!(f, "udp {target}"),
            Probe::Tcp(target) => write!(f, "tcp {target}"),
        }
    }
}

/// How the probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Nothing came back; the text says how the silence looked.
    Nothing(String),
    /// Data came back: the check fails.
    Reply {
        /// How many bytes.
        len: usize,
        /// The start of them.
        preview: String,
    },
}

/// The outcome of a probe.
#[derive(Debug, Clone)]
pub struct SilenceReport {
    /// What was probed.
    pub probe: Probe,
    /// How long a reply was waited for.
    pub wait: Duration,
    /// What came back.
    pub heard: Heard,
}

impl SilenceReport {
    /// Nothing came back.
    pub fn success(&self) -> bool {
        matches!(self.heard, Heard::Nothing(_))
    }
}

/// Sends the probe and listens until `wait` has passed.
pub fn run(probe: Probe, wait: Duration) -> Result<SilenceReport, Error> {
    crate::check_timeout(wait)?;
    let deadline = Instant::now() + wait;
    let heard = match probe {
        Probe::Udp(target) => udp_probe(target, deadline)?,
        Probe::Tcp(target) => tcp_probe(target, wait, deadline),
    };
    Ok(SilenceReport { probe, wait, heard })
}

fn udp_probe(target: Loopback, deadline: Instant) -> Result<Heard, Error> {
    let socket = udp::connect(target)?;
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let outcome = match udp::send(&socket, PROBE)? {
        Some(refused) => refused,
        None => udp::recv_before(&socket, &mut buf, deadline)?,
    };
    Ok(match outcome {
        Recv::Data(n) => Heard::Reply {
            len: n,
            preview: preview(&buf[..n]),
        },
        Recv::TimedOut => Heard::Nothing("no reply".into()),
        Recv::Refused => {
            Heard::Nothing("the port refused the datagram (ICMP port unreachable), no reply".into())
        }
    })
}

fn tcp_probe(target: Loopback, wait: Duration, deadline: Instant) -> Heard {
    let mut stream = match TcpStream::connect_timeout(&target.addr(), wait) {
        Ok(stream) => stream,
        Err(e) => return Heard::Nothing(format!("the connect failed ({e})")),
    };
    if let Err(e) = stream.write_all(PROBE) {
        return Heard::Nothing(format!("the probe could not be written ({e})"));
    }
    let mut buf = [0u8; 4096];
    let heard = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Heard::Nothing("connected, but no data came back".into());
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            break Heard::Nothing(format!("connected, then the socket failed ({e})"));
        }
        match stream.read(&mut buf) {
            Ok(0) => break Heard::Nothing("the connection was closed without data".into()),
            Ok(n) => {
                break Heard::Reply {
                    len: n,
                    preview: preview(&buf[..n]),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => break Heard::Nothing(format!("the connection failed without data ({e})")),
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    heard
}

impl fmt::Display for SilenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.wait.as_millis();
        match &self.heard {
            Heard::Nothing(how) => {
                write!(f, "expect-silence: {}: {how} within {ms} ms", self.probe)
            }
            Heard::Reply { len, preview } => write!(
                f,
                "expect-silence: FAILED: {} answered within {ms} ms with {len} bytes: {preview}",
                self.probe
            ),
        }
    }
}
