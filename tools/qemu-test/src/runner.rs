//! The run loop: start the command, feed its console to the matcher until the
//! run is decided, stop the command, and print the report.

use std::ffi::OsString;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::matcher::{trim_line_end, Matcher};
use crate::process::{kill_group, lock, Event, Group, Slot};
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
/// command's process group at once and makes the run report the
/// interruption.
#[derive(Clone)]
pub struct Interrupter {
    tx: Sender<Event>,
    slot: Slot,
}

impl Interrupter {
    /// Kills the running command's process group, if one is running, and
    /// ends the run with the pending expectation failed as interrupted.
    pub fn interrupt(&self) {
        // Queued before the kill so the run loop sees the interruption
        // before the exit the kill causes, and reports the right reason.
        let _ = self.tx.send(Event::Interrupted);
        if let Some(pid) = *lock(&self.slot) {
            kill_group(pid);
        }
    }
}

/// Runs one spec against one command. Create it first, hand its
/// [`Interrupter`] to a signal handler, then call [`Runner::run`].
pub struct Runner {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    slot: Slot,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner that has not started anything yet.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Runner {
            tx,
            rx,
            slot: Arc::new(Mutex::new(None)),
        }
    }

    /// A handle that can interrupt this runner's run from another thread.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            tx: self.tx.clone(),
            slot: Arc::clone(&self.slot),
        }
    }

    /// Starts `command`, checks its console against `spec`, and always kills
    /// and reaps its process group before returning. Report lines (`PASS`
    /// as they happen, then the stopped PID, the failures and the
    /// `N passed, N failed` summary) are written to `out`.
    pub fn run(
        self,
        spec: &Spec,
        command: &[OsString],
        mut console: Console<'_>,
        out: &mut dyn Write,
    ) -> Result<Report, RunError> {
        let Runner { tx, rx, slot } = self;
        let shown = show_command(command);
        let start = Instant::now();
        let mut group = Group::spawn(command, &tx, &slot).map_err(|source| RunError::Spawn {
            command: shown.clone(),
            source,
        })?;
        drop(tx);
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
        let mut sink = Sink {
            console: &mut console,
            out,
            start,
            log_failed: false,
        };
        let mut open_streams = 2;
        let mut exited = None;
        while !matcher.is_finished() {
            let now = start.elapsed();
            if matcher.check_deadline(now) {
                break;
            }
            let deadline = matcher.deadline().expect("an undecided run has a deadline");
            match rx.recv_timeout(deadline - now) {
                Ok(Event::Line(raw)) => sink.line(&mut matcher, &raw),
                Ok(Event::Eof) => open_streams -= 1,
                Ok(Event::Exited(status)) => {
                    exited = Some(status);
                    break;
                }
                Ok(Event::Interrupted) => {
                    matcher.abort("interrupted: the runner got a termination signal");
                    break;
                }
                // The loop condition re-checks the deadline.
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    matcher.abort(
                        "lost contact with the process (its output and exit watchers ended)",
                    );
                    break;
                }
            }
        }

        let stopped = group.stop();
        // Output already written before the kill (a panic's backtrace after
        // a fail_on line, or the last lines before an early exit) is still
        // in the pipes: collect it for the log, and, after an exit, for the
        // matcher, since those lines were printed in time.
        let drain_until = Instant::now() + DRAIN_LIMIT;
        while open_streams > 0 {
            let left = drain_until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Event::Line(raw)) => sink.line(&mut matcher, &raw),
                Ok(Event::Eof) => open_streams -= 1,
                Ok(Event::Exited(_) | Event::Interrupted) => {}
                Err(_) => break,
            }
        }
        if let Some(status) = exited {
            matcher.exited(&status);
        }

        let report = Report {
            name: spec.name.clone(),
            results: matcher.results(),
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
        let _ = writeln!(out, "{}", report.summary());
        let _ = out.flush();
        Ok(report)
    }
}

/// Routes one console line to the log, the echo and the matcher.
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
            let _ = writeln!(self.out, "{result}");
            let _ = self.out.flush();
        }
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
