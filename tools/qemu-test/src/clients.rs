//! The spec's `[[client]]` steps: which one runs next, the one running,
//! and how each ended.
//!
//! Clients run one at a time, in spec order. A client's turn comes when the
//! previous client has finished and its own `after` expectation has passed.
//! The run loop in [`crate::runner`] feeds this state events and deadlines;
//! the rules about processes (own process group, killed on timeout, reaped)
//! are [`Group`]'s.

use std::ffi::OsString;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::matcher::Matcher;
use crate::process::{Event, Group, Slot, Source};
use crate::report::{ClientResult, Outcome};
use crate::spec::{Client, Spec};

/// The client that is running (or has exited and is being drained).
pub(crate) struct Running {
    /// Index into the spec's clients.
    pub(crate) index: usize,
    /// Its process group; stopped as soon as it exits or must die.
    pub(crate) group: Group,
    /// When it must have exited, counted from the start of the run.
    pub(crate) deadline: Duration,
    /// Output streams not yet at end of file.
    pub(crate) open_streams: u8,
    /// Its exit status and when it exited, once it has.
    pub(crate) exited: Option<(String, Duration)>,
    /// Until when its remaining output is collected after it exited.
    pub(crate) drain_until: Option<Duration>,
}

/// A client stopped by [`Clients::stop_running`].
pub(crate) struct Stopped {
    /// Its index in the spec.
    pub(crate) index: usize,
    /// Its output streams not yet at end of file, whose last lines the
    /// caller may still collect.
    pub(crate) open_streams: u8,
    /// How it ended.
    pub(crate) result: ClientResult,
}

/// Every client's state.
pub(crate) struct Clients<'s> {
    spec: &'s [Client],
    /// Index of the first client that has not started.
    next: usize,
    running: Option<Running>,
    outcomes: Vec<Option<Outcome>>,
}

impl<'s> Clients<'s> {
    pub(crate) fn new(spec: &'s Spec) -> Self {
        Clients {
            spec: &spec.clients,
            next: 0,
            running: None,
            outcomes: vec![None; spec.clients.len()],
        }
    }

    /// The client whose turn has come, if any: none is running, one is
    /// left, and its `after` expectation has passed.
    pub(crate) fn due(&self, matcher: &Matcher<'_>) -> Option<usize> {
        if self.running.is_some() {
            return None;
        }
        let client = self.spec.get(self.next)?;
        matcher.has_passed(client.after).then_some(self.next)
    }

    /// The spec entry of client `index`.
    pub(crate) fn spec(&self, index: usize) -> &'s Client {
        &self.spec[index]
    }

    /// Starts the client whose turn has come ([`Clients::due`]). Returns
    /// its PID, or why it could not start (then it has failed).
    pub(crate) fn start(
        &mut self,
        index: usize,
        now: Duration,
        tx: &Sender<Event>,
        slot: &Slot,
    ) -> Result<u32, String> {
        let client = &self.spec[index];
        self.next = index + 1;
        let command: Vec<OsString> = client.command.iter().map(OsString::from).collect();
        match Group::spawn(&command, Source::Client(index), tx, slot) {
            Ok(group) => {
                let pid = group.pid();
                self.running = Some(Running {
                    index,
                    group,
                    deadline: now + client.timeout,
                    open_streams: 2,
                    exited: None,
                    drain_until: None,
                });
                Ok(pid)
            }
            Err(e) => {
                let reason = format!("cannot start {:?}: {e}", client.command[0]);
                self.outcomes[index] = Some(Outcome::Failed {
                    reason: reason.clone(),
                });
                Err(reason)
            }
        }
    }

    pub(crate) fn running(&mut self) -> Option<&mut Running> {
        self.running.as_mut()
    }

    /// The running client, if it is `index` (events from an earlier client
    /// that arrive late are for nobody).
    pub(crate) fn running_is(&mut self, index: usize) -> Option<&mut Running> {
        self.running.as_mut().filter(|r| r.index == index)
    }

    /// Whether every client has run, and the last one has been decided.
    pub(crate) fn all_done(&self) -> bool {
        self.running.is_none() && self.next == self.spec.len()
    }

    /// Whether some client has failed.
    pub(crate) fn any_failed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o, Some(Outcome::Failed { .. })))
    }

    /// Records how the running client, which has exited and been drained,
    /// ended. Returns its result for the report.
    pub(crate) fn finish_exited(&mut self) -> Option<ClientResult> {
        let running = self.running.take()?;
        let (status, at) = running.exited?;
        let outcome = if status == "0" {
            Outcome::Passed { after: at }
        } else {
            Outcome::Failed {
                reason: describe_exit(&status),
            }
        };
        self.outcomes[running.index] = Some(outcome.clone());
        Some(ClientResult {
            description: self.spec[running.index].description.clone(),
            outcome,
        })
    }

    /// Kills the running client and fails it with `reason`, unless it has
    /// already exited, in which case its exit status decides. `None` if no
    /// client was running.
    pub(crate) fn stop_running(&mut self, reason: &str) -> Option<Stopped> {
        let running = self.running.as_mut()?;
        running.group.stop();
        let (index, open_streams) = (running.index, running.open_streams);
        let result = if running.exited.is_some() {
            self.finish_exited()?
        } else {
            let outcome = Outcome::Failed {
                reason: reason.to_owned(),
            };
            self.outcomes[index] = Some(outcome.clone());
            self.running = None;
            ClientResult {
                description: self.spec[index].description.clone(),
                outcome,
            }
        };
        Some(Stopped {
            index,
            open_streams,
            result,
        })
    }

    /// Fails the first client that has not started with `reason`, for a run
    /// that ended before its turn with nothing else to blame.
    pub(crate) fn fail_next(&mut self, reason: &str) {
        if let Some(outcome) = self.outcomes.get_mut(self.next) {
            *outcome = Some(Outcome::Failed {
                reason: reason.to_owned(),
            });
        }
    }

    /// One result per client, in spec order; clients that never ran are
    /// [`Outcome::NotReached`].
    pub(crate) fn results(&self) -> Vec<ClientResult> {
        self.spec
            .iter()
            .zip(&self.outcomes)
            .map(|(client, outcome)| ClientResult {
                description: client.description.clone(),
                outcome: outcome.clone().unwrap_or(Outcome::NotReached),
            })
            .collect()
    }
}

/// The failure reason for a client's non-zero exit status (as
/// [`crate::report::describe_status`] words it).
fn describe_exit(status: &str) -> String {
    if status.starts_with("signal ") {
        format!("killed by {status}")
    } else {
        format!("exit status {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_naturally() {
        assert_eq!(describe_exit("3"), "exit status 3");
        assert_eq!(
            describe_exit("signal 11 (SIGSEGV)"),
            "killed by signal 11 (SIGSEGV)"
        );
    }
}
