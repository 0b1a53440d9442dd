//! Starting the command in its own process group, turning its output and its
//! exit into events, and making sure the whole group is dead afterwards.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use crate::report::{describe_signal, describe_status, Stopped};

/// Which started process an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The command under test (normally QEMU); its output is the console.
    Emulator,
    /// The spec's client with this index.
    Client(usize),
}

/// Everything the run loop waits for arrives on one channel, so a single
/// `recv_timeout` covers output, exits, interruption and deadlines.
#[derive(Debug)]
pub(crate) enum Event {
    /// One raw output line, line ending included (the last line of a stream
    /// may lack one).
    Line(Source, Vec<u8>),
    /// One of the process's two output streams reached end of file.
    Eof(Source),
    /// The process exited (it is not reaped yet); the text follows the
    /// word "status".
    Exited(Source, String),
    /// The runner got SIGINT/SIGTERM/SIGHUP.
    Interrupted,
}

/// The PID of the running group leader, shared with the signal handler.
/// It is `Some` only between spawning and reaping: once reaped, the PID and
/// with it the group id may be reused, and killing it would hit a stranger.
pub(crate) type Slot = Arc<Mutex<Option<i32>>>;

pub(crate) fn lock(slot: &Slot) -> MutexGuard<'_, Option<i32>> {
    // A panic while holding the lock must not stop a later kill.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends SIGKILL to every process in the group led by `pid`.
pub(crate) fn kill_group(pid: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions. ESRCH (the group is
    // already gone) is the desired state, so the result is not checked.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// A started command (the emulator or a client), which leads its own
/// process group. Dropping it kills and reaps the group, so no return path
/// (error, panic) can leak QEMU or a client.
pub(crate) struct Group {
    child: Child,
    slot: Slot,
    stopped: Option<Stopped>,
}

impl Group {
    /// Starts `command` with stdin null and stdout/stderr piped, and starts
    /// threads that turn its output and exit into [`Event`]s from `source`
    /// on `tx`. `slot` holds its PID while it runs, for the signal handler.
    pub(crate) fn spawn(
        command: &[OsString],
        source: Source,
        tx: &Sender<Event>,
        slot: &Slot,
    ) -> io::Result<Group> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        become_subreaper();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so one kill(-pgid) also reaches whatever it
            // started, and a terminal's Ctrl-C reaches only the runner, which
            // then stops the group itself.
            .process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe
        // and touches no memory of the parent.
        unsafe {
            // If the runner is SIGKILLed it cannot clean up; this at least
            // takes the group leader (usually QEMU itself) down with it.
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Held across spawn so a signal arriving meanwhile waits until the
        // handler can see (and kill) the new PID.
        let mut guard = lock(slot);
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        *guard = Some(pid);
        drop(guard);

        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let who = match source {
            Source::Emulator => "qemu-test".to_owned(),
            Source::Client(index) => format!("client-{index}"),
        };
        spawn_reader(format!("{who}-stdout"), source, stdout, tx.clone());
        spawn_reader(format!("{who}-stderr"), source, stderr, tx.clone());
        spawn_waiter(format!("{who}-waiter"), source, pid, tx.clone());
        Ok(Group {
            child,
            slot: Arc::clone(slot),
            stopped: None,
        })
    }

    /// The leader's PID, which is also the group id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the whole group and reaps it. Safe to call more than once; later
    /// calls return the first result.
    pub(crate) fn stop(&mut self) -> Stopped {
        if let Some(stopped) = &self.stopped {
            return stopped.clone();
        }
        let pid = self.child.id();
        // Holding the slot until the leader is reaped means the signal
        // handler either kills a live group or finds `None`, never a PID that
        // has been reused.
        let mut slot = lock(&self.slot);
        kill_group(pid as i32);
        let status = match self.child.wait() {
            Ok(status) => describe_status(status),
            Err(e) => format!("unknown ({e})"),
        };
        *slot = None;
        drop(slot);
        reap_group(pid as i32);
        let stopped = Stopped { pid, status };
        self.stopped = Some(stopped.clone());
        stopped
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes orphaned descendants (the emulator's own children once it dies)
/// children of the runner, so [`reap_group`] can wait until they are really
/// gone instead of leaving that to an init that may never reap them.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(2) with these arguments only sets a flag on this process.
    // Failure just means grandchildren are reaped by init instead.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Waits for every already-killed member of group `pgid` that is our child.
/// Descendants are re-parented to us (see [`become_subreaper`]) before their
/// parent can be reaped, so once the leader is reaped this catches them all.
fn reap_group(pgid: i32) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) writes only to `status`.
        let r = unsafe { libc::waitpid(-pgid, &mut status, 0) };
        if r == -1 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            // ECHILD: none of our children is left in the group.
            return;
        }
    }
}

fn spawn_reader(
    name: String,
    source: Source,
    stream: impl Read + Send + 'static,
    tx: Sender<Event>,
) {
    let fallback = tx.clone();
    let spawned = thread::Builder::new().name(name).spawn(move || {
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if tx.send(Event::Line(source, line)).is_err() {
                        // The run is over and nobody listens any more.
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::Eof(source));
    });
    if spawned.is_err() {
        // Without a reader this stream is never seen; count it as closed
        // so a drain does not wait for it.
        let _ = fallback.send(Event::Eof(source));
    }
}

/// Reports the leader's exit without reaping it (WNOWAIT): while it is an
/// unreaped zombie its PID, and so the group id, cannot be reused, which
/// keeps the later kill(-pgid) aimed at the right group.
fn spawn_waiter(name: String, source: Source, pid: i32, tx: Sender<Event>) {
    let _ = thread::Builder::new().name(name).spawn(move || loop {
        // SAFETY: siginfo_t is plain data; all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid(2) writes only to `info`.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == -1 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // ECHILD: already reaped by `Group::stop`; nothing to report.
            return;
        }
        // SAFETY: waitid succeeded with WEXITED, so si_status is set.
        let value = unsafe { info.si_status() };
        let status = match info.si_code {
            libc::CLD_EXITED => value.to_string(),
            libc::CLD_KILLED | libc::CLD_DUMPED => describe_signal(value),
            code => format!("unknown (si_code {code}, si_status {value})"),
        };
        let _ = tx.send(Event::Exited(source, status));
        return;
    });
}
