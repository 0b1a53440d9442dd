//! `tcp-churn`: many short TCP connections one after another, each with its
//! own bytes (`tcp_echo::contents`), so a connection served with another
//! connection's leftovers shows as a difference. Against a per-flow
//! template every connection is a spawn and a teardown of an FWP: this is
//! the churn soak and its rate.
//!
//! Bounded by [`MAX_COUNT`] connections, each within its timeout; it stops
//! at the first connection that fails.

use std::fmt;
use std::time::{Duration, Instant};

use crate::tcp_echo::{echo_once, Connection, TcpEcho};
use crate::{Error, Loopback};

/// Most connections a run makes.
pub const MAX_COUNT: u32 = 100_000;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct TcpChurn {
    /// The echo service.
    pub target: Loopback,
    /// Connections, one after another, 1..=[`MAX_COUNT`].
    pub count: u32,
    /// Bytes each connection sends and expects back.
    pub bytes: usize,
    /// Deadline for each connection's whole exchange.
    pub timeout: Duration,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct TcpChurnReport {
    /// The run's parameters.
    pub params: TcpChurn,
    /// Each echoed connection's time, in order.
    pub times: Vec<Duration>,
    /// The connection that failed, with how, if one did.
    pub failure: Option<(u32, Connection)>,
    /// The whole run's time.
    pub elapsed: Duration,
}

impl TcpChurnReport {
    /// Every connection echoed every byte.
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs the connections one after another.
pub fn run(params: TcpChurn) -> Result<TcpChurnReport, Error> {
    if !(1..=MAX_COUNT).contains(&params.count) {
        return Err(Error::Limit(format!("--count must be 1..={MAX_COUNT}, got {}", params.count)));
    }
    let single = TcpEcho { target: params.target, connections: 1, bytes: params.bytes, timeout: params.timeout, one_at_a_time: false, again_after_hold: false };
    let started = Instant::now();
    let mut times = Vec::with_capacity(params.count as usize);
    let mut failure = None;
    for index in 0..params.count {
        match echo_once(single, index) {
            Connection::Echoed { elapsed, .. } => times.push(elapsed),
            other => {
                failure = Some((index, other));
                break;
            }
        }
    }
    Ok(TcpChurnReport { params, times, failure, elapsed: started.elapsed() })
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted.get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

impl fmt::Display for TcpChurnReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted = self.times.clone();
        sorted.sort();
        let done = self.times.len();
        let rate = done as f64 / self.elapsed.as_secs_f64().max(1e-9);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let summary = format!(
            "{done} connections of {} bytes in {:.1} s ({rate:.1}/s), each: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.params.bytes,
            self.elapsed.as_secs_f64(),
            ms(percentile(&sorted, 50)),
            ms(percentile(&sorted, 99)),
            ms(sorted.last().copied().unwrap_or_default()),
        );
        match &self.failure {
            None => write!(f, "tcp-churn: {summary}, every byte matched"),
            Some((index, how)) => write!(f, "tcp-churn: FAILED at connection #{index}: {how:?}; before it: {summary}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_counts_are_refused() {
        let target: Loopback = "127.0.0.1:9".parse().unwrap();
        for count in [0, MAX_COUNT + 1] {
            let params = TcpChurn { target, count, bytes: 1, timeout: Duration::from_millis(10) };
            assert!(matches!(run(params), Err(Error::Limit(_))));
        }
    }

    #[test]
    fn a_refused_connection_stops_the_run_and_is_reported() {
        // Nothing listens on this port: the first connection fails.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let target: Loopback = format!("127.0.0.1:{port}").parse().unwrap();
        let report = run(TcpChurn { target, count: 5, bytes: 10, timeout: Duration::from_millis(500) }).unwrap();
        assert!(!report.success());
        assert_eq!(report.failure.as_ref().map(|(i, _)| *i), Some(0));
        assert!(report.to_string().starts_with("tcp-churn: FAILED at connection #0"), "{report}");
    }
}
