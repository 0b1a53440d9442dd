//! `net-client`: the host side of EdgeOS's network system tests.
//!
//! The guest (10.0.2.15) runs in QEMU with user-mode networking; QEMU
//! forwards host loopback ports to guest ports (`hostfwd`) and joins a UDP
//! socket backend to the guest NIC's hub. This crate talks to those ports:
//!
//! ```text
//!   main.rs (clap, exit codes)
//!      │
//!      ├── udp_echo, tcp_echo, tcp_churn, memcache_load, silence, stats, inject, middlebox   one module per command
//!      │        │            │                  │
//!      │     pattern (contents, comparison)   frames (smoltcp::wire; middlebox's own: packet, expect, tap)
//!      │        │
//!      └── udp (socket helpers), target (loopback-only addresses)
//! ```
//!
//! Rules every operation keeps:
//! - it only talks to loopback: a target is a [`Loopback`], which cannot be
//!   built for any other address (the one exception, `middlebox`'s
//!   backend, binds 10.0.2.100, which must be an address of this host, and
//!   answers only peers on this host);
//! - it is bounded in count and in time: every wait has a deadline, every
//!   count a documented maximum, and each module says what bounds its run;
//! - it trusts nothing that comes back: replies are compared byte by byte
//!   and reported, never unwrapped;
//! - a failed check is a report whose `success()` is false; [`Error`] is
//!   only for local failures (a socket that cannot be opened, a file that
//!   cannot be read) and parameters out of range.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::io;
use std::time::Duration;

pub mod frames;
pub mod inject;
pub mod memcache_load;
pub mod middlebox;
pub mod pattern;
pub mod send;
pub mod silence;
pub mod stats;
pub mod target;
pub mod tcp_churn;
pub mod tcp_echo;
mod udp;
pub mod udp_echo;

pub use target::{AddrError, Loopback};
pub use udp::MAX_DATAGRAM;

/// Longest wait any single command accepts. A minute covers a slow first
/// boot of the guest's network; anything longer is a hung test.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// A local failure, as opposed to a failed check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on this side failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done, e.g. "bind a UDP socket on 127.0.0.1:0".
        what: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A parameter is outside its documented bounds.
    #[error("{0}")]
    Limit(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// Refuses a zero wait (which sockets read as "forever") and one above
/// [`MAX_TIMEOUT`].
pub(crate) fn check_timeout(timeout: Duration) -> Result<(), Error> {
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(Error::Limit(format!(
            "timeouts must be 1..={} ms, got {} ms",
            MAX_TIMEOUT.as_millis(),
            timeout.as_millis()
        )));
    }
    Ok(())
}

/// The `p`th percentile (nearest rank) of `samples`; `None` if empty.
pub fn percentile(samples: &[Duration], p: u32) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    // Nearest rank: ceil(p/100 × n), 1-based, at least 1.
    let rank = (p.min(100) as usize * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_micros(v)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        let one = us(&[7]);
        assert_eq!(percentile(&one, 50), Some(Duration::from_micros(7)));
        assert_eq!(percentile(&one, 99), Some(Duration::from_micros(7)));
        let hundred: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&hundred, 50), Some(Duration::from_micros(50)));
        assert_eq!(percentile(&hundred, 99), Some(Duration::from_micros(99)));
        assert_eq!(percentile(&hundred, 100), Some(Duration::from_micros(100)));
        assert_eq!(
            percentile(&us(&[5, 1, 3, 2]), 50),
            Some(Duration::from_micros(2))
        );
    }

    #[test]
    fn timeouts_are_bounded() {
        assert!(check_timeout(Duration::from_millis(1)).is_ok());
        assert!(check_timeout(MAX_TIMEOUT).is_ok());
        assert!(check_timeout(Duration::ZERO).is_err());
        assert!(check_timeout(MAX_TIMEOUT + Duration::from_millis(1)).is_err());
    }
}
