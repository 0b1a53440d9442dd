//! What a run found, and how it is printed.

use std::fmt;
use std::time::Duration;

/// How one expectation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A console line matched; `after` is counted from the start of the run,
    /// since "the MAC appeared 3.2 s into boot" is what a reader compares
    /// across runs.
    Passed {
        /// Time from the start of the run to the matching line.
        after: Duration,
    },
    /// The expectation was the one being waited for when the run failed.
    Failed {
        /// Why, possibly over several lines.
        reason: String,
    },
    /// An earlier expectation failed, so this one was never waited for.
    NotReached,
}

/// One expectation's description and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectationResult {
    /// The expectation's description from the spec.
    pub description: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl ExpectationResult {
    /// Whether the expectation passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }
}

impl fmt::Display for ExpectationResult {
    /// The report line: `PASS <description> (after X.XXs)` or
    /// `FAIL <description>: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report_line(f, &self.description, &self.outcome, "not reached")
    }
}

/// One client's description and outcome. [`Outcome::NotReached`] means the
/// client never started because the run ended before its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResult {
    /// The client's description from the spec.
    pub description: String,
    /// How it ended; `Passed { after }` counts to when it exited.
    pub outcome: Outcome,
}

impl ClientResult {
    /// Whether the client ran and exited with status 0.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }
}

impl fmt::Display for ClientResult {
    /// The report line: `PASS <description> (after X.XXs)`,
    /// `FAIL <description>: <reason>` or `FAIL <description>: not run`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report_line(f, &self.description, &self.outcome, "not run")
    }
}

fn report_line(
    f: &mut fmt::Formatter<'_>,
    description: &str,
    outcome: &Outcome,
    not_reached: &str,
) -> fmt::Result {
    match outcome {
        Outcome::Passed { after } => {
            write!(f, "PASS {description} (after {:.2}s)", after.as_secs_f64())
        }
        Outcome::Failed { reason } => write!(f, "FAIL {description}: {reason}"),
        Outcome::NotReached => write!(f, "FAIL {description}: {not_reached}"),
    }
}

/// The process the runner started and how it ended once stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// PID of the started command, which was also its process group id.
    pub pid: u32,
    /// How it ended, as [`describe_status`] puts it.
    pub status: String,
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The spec's name.
    pub name: String,
    /// One entry per expectation, in spec order.
    pub results: Vec<ExpectationResult>,
    /// One entry per client, in spec order.
    pub clients: Vec<ClientResult>,
    /// The process that was stopped at the end of the run.
    pub stopped: Stopped,
}

impl Report {
    /// Number of expectations and clients that passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
            + self.clients.iter().filter(|c| c.passed()).count()
    }

    /// Number of expectations and clients that did not pass.
    pub fn failed(&self) -> usize {
        self.results.len() + self.clients.len() - self.passed()
    }

    /// Whether every expectation and every client passed.
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// The closing line, `N passed, N failed`: the CI harness looks for
    /// exactly this form, so it must stay alone on its line.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Renders a wait status to follow the word "status": `3` for an exit code,
/// `signal 9 (SIGKILL)` for a signal.
pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        code.to_string()
    } else if let Some(signal) = status.signal() {
        describe_signal(signal)
    } else {
        status.to_string()
    }
}

/// Names a signal number, keeping the number for signals without a name here.
pub(crate) fn describe_signal(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: Outcome) -> ExpectationResult {
        ExpectationResult {
            description: "driver up".into(),
            outcome,
        }
    }

    #[test]
    fn lines_have_the_documented_form() {
        assert_eq!(
            result(Outcome::Passed {
                after: Duration::from_millis(3217)
            })
            .to_string(),
            "PASS driver up (after 3.22s)"
        );
        assert_eq!(
            result(Outcome::Failed {
                reason: "boom".into()
            })
            .to_string(),
            "FAIL driver up: boom"
        );
        assert_eq!(
            result(Outcome::NotReached).to_string(),
            "FAIL driver up: not reached"
        );
    }

    #[test]
    fn summary_counts() {
        let report = Report {
            name: "boot".into(),
            results: vec![
                result(Outcome::Passed {
                    after: Duration::ZERO,
                }),
                result(Outcome::Failed { reason: "x".into() }),
                result(Outcome::NotReached),
            ],
            clients: vec![],
            stopped: Stopped {
                pid: 1,
                status: "0".into(),
            },
        };
        assert_eq!(report.summary(), "1 passed, 2 failed");
        assert!(!report.success());
    }

    #[test]
    fn clients_are_reported_and_counted() {
        let client = |outcome| ClientResult {
            description: "udp echo".into(),
            outcome,
        };
        assert_eq!(
            client(Outcome::Passed {
                after: Duration::from_millis(12_345)
            })
            .to_string(),
            "PASS udp echo (after 12.35s)"
        );
        assert_eq!(
            client(Outcome::Failed {
                reason: "exit status 3".into()
            })
            .to_string(),
            "FAIL udp echo: exit status 3"
        );
        assert_eq!(
            client(Outcome::NotReached).to_string(),
            "FAIL udp echo: not run"
        );
        let report = Report {
            name: "net".into(),
            results: vec![result(Outcome::Passed {
                after: Duration::ZERO,
            })],
            clients: vec![
                client(Outcome::Passed {
                    after: Duration::ZERO,
                }),
                client(Outcome::NotReached),
            ],
            stopped: Stopped {
                pid: 1,
                status: "0".into(),
            },
        };
        assert_eq!(report.summary(), "2 passed, 1 failed");
        assert!(!report.success());
    }

    #[test]
    fn statuses_read_naturally() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe_status(std::process::ExitStatus::from_raw(3 << 8)),
            "3"
        );
        assert_eq!(
            describe_status(std::process::ExitStatus::from_raw(9)),
            "signal 9 (SIGKILL)"
        );
    }
}
