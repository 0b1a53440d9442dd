//! The run loop: start the command, feed its console to the matcher and run
//! the clients as their turns come until the run is decided, stop the
//! client and the command, and print the report.

use std::ffi::OsString;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clients::Clients;
use crate::matcher::{trim_line_end, Matcher};
use crate::process::{kill_group, lock, Event, Group, Slot, Source};
use crate::report::Report;
use crate::spec::Spec;

/// How long to keep collecting output after the command was killed. Killing
/// the group closes its pipes at once, so this bound is only reached when a
/// process that escaped the group (e.g. via `setsid`) still holds them.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Failure to run the command at all, as opposed to a failed test.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command could not be started.
    #[error("cannot start {command:?}: {source}")]
    Spawn {
        /// The program that was to be run.
        command: String,
        /// Why starting it failed.
        source: io::Error,
    },
}

/// Where console output goes besides the matcher.
#[derive(Default)]
pub struct Console<'a> {
    /// Receives each console line prefixed with `"  | "` (the CLI passes
    /// stderr here unless `--quiet`).
    pub echo: Option<&'a mut dyn Write>,
    /// Receives every console line exactly as read, line ending included.
    pub log: Option<&'a mut dyn Write>,
}

/// Stops a run from another thread, typically a signal handler: it kills the
/// command's process group (and a running client's) at once and makes the
/// run report the interruption.
#[derive(Clone)]
pub struct Interrupter {
    tx: Sender<Event>,
    slots: [Slot; 2],
}

impl Interrupter {
    /// Kills the running command's process group, and a running client's,
    /// and ends the run with the pending step failed as interrupted.
    pub fn interrupt(&self) {
        // Queued before the kill so the run loop sees the interruption
        // before the exit the kill causes, and reports the right reason.
        let _ = self.tx.send(Event::Interrupted);
        for slot in &self.slots {
            if let Some(pid) = *lock(slot) {
                kill_group(pid);
            }
        }
    }
}

/// Runs one spec against one command. Create it first, hand its
/// [`Interrupter`] to a signal handler, then call [`Runner::run`].
pub struct Runner {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    /// The emulator's PID while it runs.
    slot: Slot,
    /// The running client's PID.
    client_slot: Slot,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the run loop stopped.
#[derive(Debug)]
enum Stop {
    /// Every expectation and every client passed.
    Done,
    /// An expectation failed (the matcher holds the reason).
    Expectation,
    /// A client failed (its outcome holds the reason).
    Client,
    /// The emulator exited, with this status.
    EmulatorExited(String),
    /// The runner got a termination signal.
    Interrupted,
    /// A failure not tied to an expectation (a `fail_on` line after every
    /// expectation passed, the run's deadline while a client ran, lost
    /// contact): the running or next client carries it.
    Other(String),
}

impl Runner {
    /// A runner that has not started anything yet.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Runner {
            tx,
            rx,
            slot: Arc::new(Mutex::new(None)),
            client_slot: Arc::new(Mutex::new(None)),
        }
    }

    /// A handle that can interrupt this runner's run from another thread.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            tx: self.tx.clone(),
            slots: [Arc::clone(&self.slot), Arc::clone(&self.client_slot)],
        }
    }

    /// Starts `command`, checks its console against `spec`, runs the spec's
    /// clients as their turns come, and always kills and reaps every process
    /// group it started before returning. Report lines (`PASS` as they
    /// happen, clients' output prefixed `  client| `, then the stopped PID,
    /// the failures and the `N passed, N failed` summary) are written to
    /// `out`.
    pub fn run(
        self,
        spec: &Spec,
        command: &[OsString],
        mut console: Console<'_>,
        out: &mut dyn Write,
    ) -> Result<Report, RunError> {
        let Runner {
            tx,
            rx,
            slot,
            client_slot,
        } = self;
        let shown = show_command(command);
        let start = Instant::now();
        let mut group = Group::spawn(command, Source::Emulator, &tx, &slot).map_err(|source| {
            RunError::Spawn {
                command: shown.clone(),
                source,
            }
        })?;
        // Report writes are best effort throughout: a closed stdout must not
        // keep the group from being stopped.
        let _ = writeln!(
            out,
            "qemu-test: {}: started pid {}: {shown}",
            spec.name,
            group.pid()
        );
        let _ = out.flush();

        let mut matcher = Matcher::new(spec);
        let mut clients = Clients::new(spec);
        let mut sink = Sink {
            console: &mut console,
            out,
            start,
            log_failed: false,
        };
        let mut open_streams = 2;
        // A client stopped early: its index and output streams still open.
        let mut client_left = None;
        let stop = loop {
            if matcher.failed() {
                break Stop::Expectation;
            }
            if let Some(reason) = matcher.fail_on_seen() {
                // Every expectation passed (else the matcher failed), so the
                // line is a client's to answer for.
                break Stop::Other(reason.to_owned());
            }
            // A client whose turn came starts before anything else is read,
            // so it runs while the console is watched.
            if let Some(index) = clients.due(&matcher) {
                let client = clients.spec(index);
                let shown = show_command(
                    &client
                        .command
                        .iter()
                        .map(OsString::from)
                        .collect::<Vec<_>>(),
                );
                match clients.start(index, start.elapsed(), &tx, &client_slot) {
                    Ok(pid) => sink.report(&format!(
                        "qemu-test: client {:?}: started pid {pid}: {shown}",
                        client.description
                    )),
                    Err(_) => break Stop::Client,
                }
            }
            if matcher.is_finished() && clients.all_done() {
                break Stop::Done;
            }

            let now = start.elapsed();
            if matcher.check_deadline(now) {
                break Stop::Expectation;
            }
            if matcher.is_finished() && now >= spec.timeout {
                break Stop::Other(format!(
                    "the whole run reached timeout_secs = {}",
                    spec.timeout.as_secs_f64()
                ));
            }
            let mut wake = matcher.deadline().unwrap_or(spec.timeout);
            if let Some(running) = clients.running() {
                match (running.exited.is_some(), running.drain_until) {
                    (true, Some(until)) if running.open_streams == 0 || now >= until => {
                        if let Some(result) = clients.finish_exited() {
                            if result.passed() {
                                sink.report(&result.to_string());
                                continue;
                            }
                        }
                        break Stop::Client;
                    }
                    (true, Some(until)) => wake = wake.min(until),
                    _ if now >= running.deadline => {
                        let index = running.index;
                        let secs = clients.spec(index).timeout.as_secs_f64();
                        client_left = clients
                            .stop_running(&format!("timed out after {secs}s"))
                            .map(|c| (c.index, c.open_streams));
                        break Stop::Client;
                    }
                    _ => wake = wake.min(running.deadline),
                }
            }

            match rx.recv_timeout(wake.saturating_sub(now)) {
                Ok(Event::Line(Source::Emulator, raw)) => sink.line(&mut matcher, &raw),
                Ok(Event::Line(Source::Client(_), raw)) => sink.client_line(&raw),
                Ok(Event::Eof(Source::Emulator)) => open_streams -= 1,
                Ok(Event::Eof(Source::Client(index))) => {
                    if let Some(running) = clients.running_is(index) {
                        running.open_streams = running.open_streams.saturating_sub(1);
                    }
                }
                Ok(Event::Exited(Source::Emulator, status)) => break Stop::EmulatorExited(status),
                Ok(Event::Exited(Source::Client(index), status)) => {
                    if let Some(running) = clients.running_is(index) {
                        let now = start.elapsed();
                        // Kills whatever it left behind in its group, which
                        // also closes the pipes they held.
                        running.group.stop();
                        running.exited = Some((status, now));
                        running.drain_until = Some(now + DRAIN_LIMIT);
                    }
                }
                Ok(Event::Interrupted) => break Stop::Interrupted,
                // The loop re-checks every deadline.
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    break Stop::Other(
                        "lost contact with the processes (their output and exit watchers ended)"
                            .into(),
                    )
                }
            }
        };

        // Blame: the pending expectation if there is one, else the running
        // client, else the client whose turn it would have been.
        let interrupted = "interrupted: the runner got a termination signal";
        let client_reason = match &stop {
            Stop::Done | Stop::Client => None,
            Stop::Expectation => Some(match matcher.failed_at() {
                Some(index) => format!(
                    "stopped: expectation {:?} failed",
                    spec.expect[index].description
                ),
                None => "stopped: an expectation failed".to_owned(),
            }),
            Stop::EmulatorExited(status) => {
                Some(format!("the emulator exited with status {status}"))
            }
            Stop::Interrupted => {
                matcher.abort(interrupted);
                Some(interrupted.to_owned())
            }
            Stop::Other(reason) => Some(reason.clone()),
        };
        // A client is stopped before the emulator it talks to.
        if let Some(reason) = &client_reason {
            if let Some(client) = clients.stop_running(reason) {
                if client.result.passed() {
                    // It had exited with status 0 before the run stopped.
                    sink.report(&client.result.to_string());
                }
                client_left = Some((client.index, client.open_streams));
            }
        }
        let stopped = group.stop();
        // Output already written before the kill (a panic's backtrace after
        // a fail_on line, or the last lines before an early exit) is still
        // in the pipes: collect it for the log, and, after an exit, for the
        // matcher, since those lines were printed in time.
        let drain_until = Instant::now() + DRAIN_LIMIT;
        let mut client_open = client_left.map_or(0, |(_, open)| open);
        while open_streams > 0 || client_open > 0 {
            let left = drain_until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Event::Line(Source::Emulator, raw)) => sink.line(&mut matcher, &raw),
                Ok(Event::Line(Source::Client(_), raw)) => sink.client_line(&raw),
                Ok(Event::Eof(Source::Emulator)) => open_streams -= 1,
                Ok(Event::Eof(Source::Client(index))) => {
                    if client_left.is_some_and(|(i, _)| i == index) {
                        client_open = client_open.saturating_sub(1);
                    }
                }
                Ok(Event::Exited(..) | Event::Interrupted) => {}
                Err(_) => break,
            }
        }
        if let Stop::EmulatorExited(status) = &stop {
            matcher.exited(status);
        }
        if let Some(reason) = &client_reason {
            // Nothing carries the failure yet (say the emulator exited after
            // every expectation passed, between two clients): the client
            // whose turn it was does, so the report says why the run failed.
            if !matcher.failed() && !clients.any_failed() {
                clients.fail_next(&format!("{reason}, before it ran"));
            }
        }

        let report = Report {
            name: spec.name.clone(),
            results: matcher.results(),
            clients: clients.results(),
            stopped,
        };
        let out = sink.out;
        let _ = writeln!(
            out,
            "qemu-test: stopped pid {}, status {}",
            report.stopped.pid, report.stopped.status
        );
        for result in report.results.iter().filter(|r| !r.passed()) {
            let _ = writeln!(out, "{result}");
        }
        for result in report.clients.iter().filter(|r| !r.passed()) {
            let _ = writeln!(out, "{result}");
        }
        let _ = writeln!(out, "{}", report.summary());
        let _ = out.flush();
        Ok(report)
    }
}

/// Routes one console line to the log, the echo and the matcher, client
/// output and report lines to the report.
struct Sink<'c, 'a, 'o> {
    console: &'c mut Console<'a>,
    out: &'o mut dyn Write,
    start: Instant,
    log_failed: bool,
}

impl Sink<'_, '_, '_> {
    fn line(&mut self, matcher: &mut Matcher<'_>, raw: &[u8]) {
        let at = self.start.elapsed();
        if let Some(log) = self.console.log.as_deref_mut() {
            if !self.log_failed {
                if let Err(e) = log.write_all(raw).and_then(|()| log.flush()) {
                    // Say so once, and keep testing: the log is an aid, the
                    // verdict does not depend on it.
                    self.log_failed = true;
                    let _ = writeln!(self.out, "qemu-test: warning: writing the log failed: {e}");
                }
            }
        }
        let text = String::from_utf8_lossy(raw);
        let text = trim_line_end(&text);
        if let Some(echo) = self.console.echo.as_deref_mut() {
            let _ = writeln!(echo, "  | {text}");
        }
        if let Some(index) = matcher.line(text, at) {
            let result = &matcher.results()[index];
            self.report(&result.to_string());
        }
    }

    /// A line a client printed (on either stream).
    fn client_line(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        self.report(&format!("  client| {}", trim_line_end(&text)));
    }

    fn report(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

/// The command as a person would type it, for messages.
fn show_command(command: &[OsString]) -> String {
    command
        .iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if !arg.is_empty()
                && !arg.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c))
            {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn commands_are_shown_shell_quoted() {
        let cmd: Vec<OsString> = ["sh", "-c", "echo 'hi'; exit 3", ""]
            .into_iter()
            .map(OsString::from)
            .collect();
        assert_eq!(show_command(&cmd), r"sh -c 'echo '\''hi'\''; exit 3' ''");
    }

    /// One end-to-end run in-process, so the library API itself (not only the
    /// binary) is exercised; the integration tests cover the rest.
    #[test]
    fn library_run_reports_through_the_given_writers() {
        let spec = Spec::parse(
            "timeout_secs = 10\n[[expect]]\ndescription = \"hello\"\npattern = '^hello$'\n",
            Path::new("lib.toml"),
        )
        .unwrap();
        let cmd: Vec<OsString> = ["sh", "-c", "printf 'hello\\r\\n'; exec sleep 1000"]
            .into_iter()
            .map(OsString::from)
            .collect();
        let (mut echo, mut log, mut out) = (Vec::new(), Vec::new(), Vec::new());
        let report = Runner::new()
            .run(
                &spec,
                &cmd,
                Console {
                    echo: Some(&mut echo),
                    log: Some(&mut log),
                },
                &mut out,
            )
            .unwrap();
        assert!(report.success());
        assert_eq!(report.stopped.status, "signal 9 (SIGKILL)");
        assert_eq!(String::from_utf8(echo).unwrap(), "  | hello\n");
        assert_eq!(log, b"hello\r\n");
        let out = String::from_utf8(out).unwrap();
        assert!(out.lines().last() == Some("1 passed, 0 failed"), "{out}");
        assert!(out.contains("PASS hello (after "), "{out}");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let spec = Spec::parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = 'x'\n",
            Path::new("lib.toml"),
        )
        .unwrap();
        let err = Runner::new()
            .run(
                &spec,
                &[OsString::from("/nonexistent/qemu")],
                Console::default(),
                &mut io::sink(),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot start \"/nonexistent/qemu\""),
            "{err}"
        );
    }
}
