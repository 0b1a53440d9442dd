//! A real service's startup (issue 12): exec of memcached until its first
//! reply to `version` over loopback TCP. Each run starts memcached with
//! posix_spawn on a port of its own, connects until the port accepts, sends
//! `version\r\n` and reads the `VERSION ...\r\n` line. The span runs from
//! just before posix_spawn to just after that read; killing and reaping
//! memcached afterwards is untimed, so every run starts with none running.

use crate::counter;
use crate::spawn::{self, Child};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::thread;
use std::time::Duration;

pub struct Options<'a> {
    pub program: &'a str,
    pub runs: usize,
    pub warmup: usize,
    /// Run n listens on `first_port + n % PORTS`.
    pub first_port: u16,
    /// Guest time a run may take to get its reply before it fails.
    pub deadline_ms: u64,
}

/// A new port per run, so a run never meets the previous run's connection
/// in TIME_WAIT. After PORTS runs ports are reused, which memcached's
/// SO_REUSEADDR on its listening socket allows.
const PORTS: usize = 1000;

/// memcached's flags: TCP on loopback only, no UDP, one worker thread, the
/// default 64 MiB item memory (allocated as items arrive, not at start),
/// and `-u root`, without which memcached refuses to start as root (the
/// guest's init is root).
fn memcached_args(port: u16) -> Vec<String> {
    format!("-p {port} -U 0 -l 127.0.0.1 -t 1 -m 64 -u root")
        .split(' ')
        .map(String::from)
        .collect()
}

/// Per timed run: counter ticks from spawn to reply, and the connects
/// refused before memcached listened (their cost is inside the span). And
/// the version the last run's memcached reported.
pub struct Startups {
    pub ticks: Vec<u64>,
    pub refused: Vec<u64>,
    pub version: String,
}

/// Runs `warmup` untimed and `runs` timed startups; stops at the first
/// failure, with the run and the reason.
pub fn measure(options: &Options, hz: u64) -> Result<Startups, String> {
    let budget = options.deadline_ms * hz / 1000;
    let mut startups = Startups {
        ticks: Vec::with_capacity(options.runs),
        refused: Vec::with_capacity(options.runs),
        version: String::new(),
    };
    for run in 0..options.warmup + options.runs {
        let port = options.first_port.wrapping_add((run % PORTS) as u16);
        // A thread per run, because each lowers its own priority for good
        // (see timed_startup); created before the clock starts.
        let startup = thread::scope(|scope| {
            let timed = scope.spawn(|| timed_startup(options.program, port, budget, hz));
            timed.join().expect("a startup's thread panicked")
        });
        let (ticks, reply) = startup.map_err(|e| format!("run {run}: {e}"))?;
        startups.version = reply.version;
        if run >= options.warmup {
            startups.ticks.push(ticks);
            startups.refused.push(reply.refused);
        }
    }
    Ok(startups)
}

/// One run: spawns memcached on `port` and returns the ticks until its
/// first reply, with the reply. Once memcached is started the thread drops
/// to SCHED_IDLE, so on the guest's one CPU its connect retries run only
/// when memcached's threads leave the CPU idle instead of taking turns
/// with them (at normal priority a run made about 250 refused connects and
/// the median span doubled, 17.2 ms against 8.7 ms).
/// The drop is one way for an unprivileged thread, hence a thread per run.
/// memcached is killed and reaped after the clock stops.
fn timed_startup(
    program: &str,
    port: u16,
    budget: u64,
    hz: u64,
) -> Result<(u64, FirstReply), String> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let command = Child::with_args(program, &memcached_args(port));
    let start = counter::ticks();
    let deadline = Deadline::after(start, budget);
    let mut server = Server::spawn(&command).map_err(|e| format!("posix_spawn {program}: {e}"))?;
    lower_to_idle_priority().map_err(|e| format!("SCHED_IDLE: {e}"))?;
    let reply = first_reply(addr, deadline, hz, || server.exit_status())?;
    Ok((counter::ticks() - start, reply))
}

/// Puts the calling thread in SCHED_IDLE. (musl's sched_setscheduler is a
/// stub; its pthread_setschedparam makes the system call for the thread.)
fn lower_to_idle_priority() -> io::Result<()> {
    // Priority 0, the only one SCHED_IDLE takes. Zeroed, not a struct
    // literal: musl's sched_param has more (integer) fields than glibc's.
    // SAFETY: all-zero bytes are a valid sched_param.
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: `param` is a valid sched_param for the call to read.
    match unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_IDLE, &param) } {
        0 => Ok(()),
        error => Err(io::Error::from_raw_os_error(error)),
    }
}

/// A spawned server, killed (SIGKILL) and reaped when dropped unless it has
/// already exited and been reaped.
struct Server {
    pid: libc::pid_t,
    reaped: bool,
}

impl Server {
    fn spawn(command: &Child) -> io::Result<Server> {
        let pid = spawn::posix_spawn(command)?;
        Ok(Server { pid, reaped: false })
    }

    /// Its wait status once it has exited; never blocks.
    fn exit_status(&mut self) -> Option<libc::c_int> {
        let mut status = 0;
        // SAFETY: `status` is a valid int for waitpid to fill.
        if !self.reaped
            && unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid
        {
            self.reaped = true;
            return Some(status);
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: the pid is our unreaped child, so it names no other process.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = spawn::wait(self.pid);
        }
    }
}

#[derive(Debug)]
struct FirstReply {
    version: String,
    /// Connects refused before the server listened.
    refused: u64,
}

/// Connects to `addr` until it accepts, then asks for the version. `exited`
/// gives the server's wait status once it has exited, so a server that dies
/// before it listens fails the run at once, not at the deadline.
fn first_reply(
    addr: SocketAddrV4,
    deadline: Deadline,
    hz: u64,
    exited: impl FnMut() -> Option<libc::c_int>,
) -> Result<FirstReply, String> {
    let (mut stream, refused) = connect_when_listening(addr, deadline, exited)?;
    let version = read_version(&mut stream, addr, deadline, hz)?;
    Ok(FirstReply { version, refused })
}

/// The connected stream, and how many connects were refused first.
fn connect_when_listening(
    addr: SocketAddrV4,
    deadline: Deadline,
    mut exited: impl FnMut() -> Option<libc::c_int>,
) -> Result<(TcpStream, u64), String> {
    let mut refused = 0;
    loop {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok((stream, refused)),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => refused += 1,
            Err(e) => return Err(format!("connect to {addr}: {e}")),
        }
        if let Some(status) = exited() {
            return Err(format!(
                "server exited (wait status {status:#x}) before accepting on {addr}"
            ));
        }
        if deadline.remaining(counter::ticks()).is_none() {
            return Err(format!("nothing accepted on {addr} within the deadline"));
        }
        // Lets the server's threads have the CPU between tries.
        thread::yield_now();
    }
}

/// Sends `version` and reads the reply's first line, by the deadline.
fn read_version(
    stream: &mut TcpStream,
    addr: SocketAddrV4,
    deadline: Deadline,
    hz: u64,
) -> Result<String, String> {
    let late = || format!("no reply from {addr} within the deadline");
    stream
        .write_all(b"version\r\n")
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut received = [0u8; 64];
    let mut length = 0;
    loop {
        let remaining = deadline.remaining(counter::ticks()).ok_or_else(late)?;
        let timeout = Duration::from_nanos(counter::ticks_to_ns(remaining, hz).max(1_000));
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| format!("{addr}: {e}"))?;
        let read = match stream.read(&mut received[length..]) {
            Ok(0) => return Err(format!("{addr} closed the connection before replying")),
            Ok(read) => read,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read from {addr}: {e}")),
        };
        length += read;
        match parse_version_reply(&received[..length]) {
            Reply::Version(version) => return Ok(version.to_string()),
            Reply::Unexpected(line) => return Err(format!("{addr} replied {line:?}, not VERSION")),
            Reply::Incomplete if length == received.len() => {
                return Err(format!("{addr} sent {length} bytes without a line end"))
            }
            Reply::Incomplete => {}
        }
    }
}

/// The end of a run's time, in counter ticks.
#[derive(Clone, Copy)]
struct Deadline {
    end: u64,
}

impl Deadline {
    fn after(start: u64, budget: u64) -> Deadline {
        Deadline {
            end: start.saturating_add(budget),
        }
    }

    /// Ticks left at `now`; `None` once the deadline has passed.
    fn remaining(self, now: u64) -> Option<u64> {
        self.end.checked_sub(now).filter(|&left| left > 0)
    }
}

#[derive(Debug, PartialEq)]
enum Reply<'a> {
    /// No complete line yet.
    Incomplete,
    /// The text after `VERSION `.
    Version(&'a str),
    /// A first line that is not a version, e.g. `ERROR`.
    Unexpected(String),
}

/// memcached's reply to `version` is one line: `VERSION <version>\r\n`.
fn parse_version_reply(received: &[u8]) -> Reply<'_> {
    let Some(end) = received.windows(2).position(|pair| pair == b"\r\n") else {
        return Reply::Incomplete;
    };
    let line = &received[..end];
    match std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.strip_prefix("VERSION "))
    {
        Some(version) if !version.is_empty() => Reply::Version(version),
        _ => Reply::Unexpected(String::from_utf8_lossy(line).into_owned()),
    }
}

#[cfg(test)]
mod tests;
