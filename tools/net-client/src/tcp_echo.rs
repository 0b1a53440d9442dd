//! `tcp-echo`: several concurrent connections, each sending its own bytes
//! in several writes and checking that the same bytes come back.
//!
//! Each connection has one thread writing and one reading, so an echo
//! server that answers while the client is still sending cannot deadlock
//! the two against full socket buffers. The writes have varied sizes
//! ([`CHUNKS`]) and `TCP_NODELAY` is set, so the guest sees several
//! segments. The whole exchange of one connection (connect, every write,
//! reading all bytes back) must finish within the timeout; connections run
//! in parallel, so the command ends within about one timeout.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::pattern::{self, compare, Difference};
use crate::target::Loopback;
use crate::Error;

/// Most concurrent connections: each costs two threads and a socket (a
/// per-connection TCP echo template gives each its own FWP; the system
/// tests open a thousand at once).
pub const MAX_CONNECTIONS: u32 = 2048;
/// Most bytes per connection: 16 MiB keeps a run under a second on loopback
/// and within a few seconds through QEMU's user-mode network.
pub const MAX_BYTES: usize = 16 << 20;
/// Write sizes, used in turn (each connection starts at a different one):
/// a lone byte, odd sizes, a full Ethernet segment, several segments.
pub const CHUNKS: [usize; 6] = [1, 13, 512, 1460, 4096, 65_536];
/// Stream ids of connections live apart from those of datagrams.
const CONNECTION_IDS: u64 = 1 << 40;

/// What to send, and where.
#[derive(Debug, Clone, Copy)]
pub struct TcpEcho {
    /// The echo service.
    pub target: Loopback,
    /// Concurrent connections, 1..=[`MAX_CONNECTIONS`].
    pub connections: u32,
    /// Bytes each connection sends and expects back, 1..=[`MAX_BYTES`].
    pub bytes: usize,
    /// Deadline for each connection's whole exchange.
    pub timeout: Duration,
    /// Open each connection only once the one before has had its bytes
    /// back (all stay open as usual). QEMU's user-mode network accepts a
    /// forwarded port's connections with a listen backlog of one: a
    /// thousand connect()s at once overflow the host's accept queue, and
    /// the kernel drops and resets them before the guest sees any.
    pub one_at_a_time: bool,
    /// After the hold, every connection echoes a second `bytes` bytes (the
    /// stream's continuation) on the same connection before it closes:
    /// what happened during the hold left each server able to serve.
    pub again_after_hold: bool,
}

/// Lets connections start in index order, each after the last one's exchange.
struct Turns {
    next: Mutex<u32>,
    changed: Condvar,
}

impl Turns {
    fn wait_for(&self, index: u32) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while *next < index {
            next = self.changed.wait(next).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn pass(&self, index: u32) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(index + 1);
        self.changed.notify_all();
    }
}

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Every byte came back as sent.
    Echoed {
        /// From connecting to the last byte read back.
        elapsed: Duration,
        /// How many writes the bytes went out in.
        writes: usize,
    },
    /// All bytes came back, but some differ.
    Differed(Difference),
    /// The exchange did not complete.
    Failed(String),
}

/// The outcome of a run: one entry per connection, in index order.
#[derive(Debug, Clone)]
pub struct TcpEchoReport {
    /// The run's parameters.
    pub params: TcpEcho,
    /// How each connection ended.
    pub connections: Vec<Connection>,
}

impl TcpEchoReport {
    /// Every connection echoed every byte.
    pub fn success(&self) -> bool {
        self.connections
            .iter()
            .all(|c| matches!(c, Connection::Echoed { .. }))
    }
}

/// The bytes connection `index` sends: `len` bytes from `start`.
pub fn contents(index: u32, start: usize, len: usize) -> Vec<u8> {
    pattern::stream(CONNECTION_IDS + u64::from(index), start as u64, len)
}

/// Write sizes for connection `index` sending `bytes` in total.
pub fn write_sizes(index: u32, bytes: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = bytes;
    let mut next = index as usize % CHUNKS.len();
    while left > 0 {
        let size = CHUNKS[next].min(left);
        sizes.push(size);
        left -= size;
        next = (next + 1) % CHUNKS.len();
    }
    sizes
}

/// Runs every connection in parallel and waits for all of them.
pub fn run(params: TcpEcho) -> Result<TcpEchoReport, Error> {
    run_holding(params, || ()).map(|(report, ())| report)
}

/// As [`run`], but every connection stays open after its echo until all
/// have echoed and `while_open` has run: what the server holds for many
/// live connections at once can be looked at. Returns its result too.
pub fn run_holding<T>(params: TcpEcho, while_open: impl FnOnce() -> T) -> Result<(TcpEchoReport, T), Error> {
    if !(1..=MAX_CONNECTIONS).contains(&params.connections) {
        return Err(Error::Limit(format!(
            "--connections must be 1..={MAX_CONNECTIONS}, got {}",
            params.connections
        )));
    }
    if !(1..=MAX_BYTES).contains(&params.bytes) {
        return Err(Error::Limit(format!(
            "--bytes must be 1..={MAX_BYTES}, got {}",
            params.bytes
        )));
    }
    crate::check_timeout(params.timeout)?;
    // Every connection, and this thread, meet here twice: once all echoed
    // (or failed), and once `while_open` is done.
    let held = Barrier::new(params.connections as usize + 1);
    let turns = Turns { next: Mutex::new(0), changed: Condvar::new() };
    let (connections, result) = thread::scope(|scope| {
        let held = &held;
        let turns = &turns;
        let handles: Vec<_> = (0..params.connections)
            .map(|index| {
                thread::Builder::new()
                    .name(format!("tcp-echo-{index}"))
                    .stack_size(256 << 10)
                    .spawn_scoped(scope, move || one_connection(params, index, held, turns))
            })
            .collect();
        let started = handles.iter().filter(|h| h.is_ok()).count();
        // Threads that did not start never reach the barrier: stand in.
        let stand_ins: Vec<_> =
            (started..params.connections as usize).map(|_| scope.spawn(move || wait_twice(held))).collect();
        held.wait();
        let result = while_open();
        held.wait();
        drop(stand_ins);
        let connections = handles
            .into_iter()
            .map(|handle| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Connection::Failed("its thread panicked".into())),
                Err(e) => Connection::Failed(format!("cannot start a thread: {e}")),
            })
            .collect();
        (connections, result)
    });
    Ok((
        TcpEchoReport {
            params,
            connections,
        },
        result,
    ))
}

fn wait_twice(barrier: &Barrier) {
    barrier.wait();
    barrier.wait();
}

/// One connection's exchange; it then waits at `held` (twice, see
/// [`run_holding`]) before closing, whatever happened.
fn one_connection(params: TcpEcho, index: u32, held: &Barrier, turns: &Turns) -> Connection {
    if params.one_at_a_time {
        turns.wait_for(index);
    }
    let (mut outcome, stream) = exchange(params, index);
    turns.pass(index);
    wait_twice(held);
    if let Some(stream) = stream {
        if params.again_after_hold && matches!(outcome, Connection::Echoed { .. }) {
            outcome = match echo_round(&stream, params, index, params.bytes, Instant::now()) {
                Connection::Failed(why) => Connection::Failed(format!("after the hold: {why}")),
                again => again,
            };
        }
        let _ = stream.shutdown(Shutdown::Both);
    }
    outcome
}

/// One connection's exchange, closed at once.
pub(crate) fn echo_once(params: TcpEcho, index: u32) -> Connection {
    let (outcome, stream) = exchange(params, index);
    if let Some(stream) = stream {
        let _ = stream.shutdown(Shutdown::Both);
    }
    outcome
}

/// Connects, sends, reads back; returns the outcome and the open stream.
fn exchange(params: TcpEcho, index: u32) -> (Connection, Option<TcpStream>) {
    let started = Instant::now();
    let stream = match TcpStream::connect_timeout(&params.target.addr(), params.timeout) {
        Ok(stream) => stream,
        Err(e) => return (Connection::Failed(format!("connect to {}: {e}", params.target)), None),
    };
    let _ = stream.set_nodelay(true);
    let outcome = echo_round(&stream, params, index, 0, started);
    (outcome, Some(stream))
}

/// Sends connection `index`'s `params.bytes` bytes from stream offset
/// `start` and reads them back, within `params.timeout` of `started`.
fn echo_round(stream: &TcpStream, params: TcpEcho, index: u32, start: usize, started: Instant) -> Connection {
    let deadline = started + params.timeout;
    let writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(e) => return Connection::Failed(format!("clone the socket: {e}")),
    };
    let sizes = write_sizes(index, params.bytes);
    let writes = sizes.len();
    let result = thread::scope(|scope| {
        let wrote = scope.spawn(|| write_all(writer, index, start, &sizes, deadline));
        let read = read_back(stream, index, start, params.bytes, deadline);
        if read.is_err() {
            // Unblocks a writer stuck on a full buffer.
            let _ = stream.shutdown(Shutdown::Both);
        }
        let wrote = wrote
            .join()
            .unwrap_or_else(|_| Err("the writer thread panicked".into()));
        (wrote, read)
    });
    match result {
        (Err(write), _) => Connection::Failed(write),
        (Ok(()), Err(read)) => Connection::Failed(read),
        (Ok(()), Ok(None)) => Connection::Echoed {
            elapsed: started.elapsed(),
            writes,
        },
        (Ok(()), Ok(Some(diff))) => Connection::Differed(diff),
    }
}

fn write_all(
    mut stream: TcpStream,
    index: u32,
    start: usize,
    sizes: &[usize],
    deadline: Instant,
) -> Result<(), String> {
    let mut offset = 0;
    for &size in sizes {
        let chunk = contents(index, start + offset, size);
        let mut sent = 0;
        while sent < size {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("write: timed out with {offset} bytes sent"));
            }
            stream
                .set_write_timeout(Some(left))
                .map_err(|e| format!("set the write timeout: {e}"))?;
            match stream.write(&chunk[sent..]) {
                Ok(0) => {
                    return Err(format!(
                        "write: the peer stopped reading after {offset} bytes"
                    ))
                }
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(format!("write after {} bytes: {e}", offset + sent)),
            }
        }
        offset += size;
    }
    Ok(())
}

/// Reads exactly `bytes` bytes (never more) and compares them with what the
/// connection sends; `Ok(None)` if they match.
fn read_back(
    stream: &TcpStream,
    index: u32,
    start: usize,
    bytes: usize,
    deadline: Instant,
) -> Result<Option<Difference>, String> {
    let mut got = vec![0u8; bytes];
    let mut filled = 0;
    let mut stream = stream;
    while filled < bytes {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "read: timed out with {filled} of {bytes} bytes back"
            ));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("set the read timeout: {e}"))?;
        match stream.read(&mut got[filled..]) {
            Ok(0) => {
                return Err(format!(
                    "the peer closed the connection with {filled} of {bytes} bytes back{}",
                    early_difference(index, start, &got[..filled])
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                return Err(format!(
                    "read with {filled} of {bytes} bytes back: {e}{}",
                    early_difference(index, start, &got[..filled])
                ))
            }
        }
    }
    Ok(compare(&contents(index, start, bytes), &got))
}

/// Points out a corruption in the part that did come back before a failure.
fn early_difference(index: u32, start: usize, got: &[u8]) -> String {
    match compare(&contents(index, start, got.len()), got) {
        Some(diff) => format!(" (and those differ: {diff})"),
        None => String::new(),
    }
}

impl fmt::Display for TcpEchoReport {
    /// One line per failed connection, then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, connection) in self.connections.iter().enumerate() {
            match connection {
                Connection::Echoed { .. } => {}
                Connection::Differed(diff) => writeln!(
                    f,
                    "tcp-echo: connection #{index}: the echoed bytes differ: {diff}"
                )?,
                Connection::Failed(why) => writeln!(f, "tcp-echo: connection #{index}: {why}")?,
            }
        }
        let echoed: Vec<(Duration, usize)> = self
            .connections
            .iter()
            .filter_map(|c| match c {
                Connection::Echoed { elapsed, writes } => Some((*elapsed, *writes)),
                _ => None,
            })
            .collect();
        let total = self.connections.len();
        let bytes = self.params.bytes;
        if self.success() {
            let slowest = echoed.iter().map(|e| e.0).max().unwrap_or_default();
            let writes = echoed.iter().map(|e| e.1).max().unwrap_or_default();
            write!(
                f,
                "tcp-echo: {total}/{total} connections echoed {bytes} bytes each (up to {writes} writes), every byte matched, slowest {:.1} ms",
                slowest.as_secs_f64() * 1e3
            )
        } else {
            write!(
                f,
                "tcp-echo: FAILED: {}/{total} connections echoed all {bytes} bytes unchanged",
                echoed.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cover_the_bytes_in_several_sizes() {
        let sizes = write_sizes(0, 2000);
        assert_eq!(sizes, [1, 13, 512, 1460, 14]);
        assert_eq!(write_sizes(2, 600), [512, 88]);
        assert_eq!(write_sizes(5, 10), [10]);
        for index in 0..8 {
            assert_eq!(write_sizes(index, 100_000).iter().sum::<usize>(), 100_000);
        }
    }

    #[test]
    fn contents_are_connection_specific_and_continuous() {
        assert_ne!(contents(0, 0, 64), contents(1, 0, 64));
        let whole = contents(3, 0, 100);
        assert_eq!(contents(3, 40, 60), whole[40..]);
    }

    /// While `while_open` runs, every connection has echoed and none has
    /// closed: a loopback echo server counts them open.
    #[test]
    fn held_connections_stay_open_until_the_check_ran() {
        use std::net::TcpListener;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        // An echo server for 12 connections, counting those open.
        let server = || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let open = Arc::new(AtomicUsize::new(0));
            let server_open = open.clone();
            thread::spawn(move || {
                for stream in listener.incoming().take(12) {
                    let mut stream = stream.unwrap();
                    let open = server_open.clone();
                    open.fetch_add(1, Ordering::SeqCst);
                    thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = stream.read(&mut buf) {
                            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            });
            (format!("127.0.0.1:{port}").parse().unwrap(), open)
        };
        for one_at_a_time in [false, true] {
            let (target, open) = server();
            let params = TcpEcho { target, connections: 12, bytes: 3000, timeout: Duration::from_secs(10), one_at_a_time, again_after_hold: one_at_a_time };
            let (report, seen) = run_holding(params, || open.load(Ordering::SeqCst)).unwrap();
            assert!(report.success(), "{report}");
            assert_eq!(seen, 12, "every connection open while the check ran (one at a time: {one_at_a_time})");
        }
    }

    /// A server that serves each connection's first round and then closes
    /// it: with `again_after_hold`, every connection reports the loss.
    #[test]
    fn a_server_lost_during_the_hold_fails_the_second_round() {
        use std::net::TcpListener;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port()).parse().unwrap();
        let bytes = 3000;
        thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let mut stream = stream.unwrap();
                thread::spawn(move || {
                    let mut left = bytes;
                    let mut buf = [0u8; 4096];
                    while left > 0 {
                        let Ok(n) = stream.read(&mut buf[..left.min(4096)]) else { return };
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        });
        let params = TcpEcho {
            target,
            connections: 4,
            bytes,
            timeout: Duration::from_secs(10),
            one_at_a_time: false,
            again_after_hold: true,
        };
        let report = run(params).unwrap();
        assert!(!report.success());
        for connection in &report.connections {
            assert!(
                matches!(connection, Connection::Failed(why) if why.starts_with("after the hold: ")),
                "{connection:?}"
            );
        }
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let target = "127.0.0.1:9".parse().unwrap();
        let ok = TcpEcho {
            target,
            connections: 1,
            bytes: 1,
            timeout: Duration::from_millis(10),
            one_at_a_time: false,
            again_after_hold: false,
        };
        assert!(matches!(
            run(TcpEcho {
                connections: 0,
                ..ok
            }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(TcpEcho {
                connections: MAX_CONNECTIONS + 1,
                ..ok
            }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(TcpEcho { bytes: 0, ..ok }),
            Err(Error::Limit(_))
        ));
        assert!(matches!(
            run(TcpEcho {
                bytes: MAX_BYTES + 1,
                ..ok
            }),
            Err(Error::Limit(_))
        ));
    }
}
