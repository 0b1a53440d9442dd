//! `memcache-load`: a closed-loop load generator for a memcached tenant.
//! Each of `connections` TCP connections (its own thread) sends one
//! request, reads its whole reply, checks it, and sends the next: the
//! latency of every request and the run's requests per second come out.
//!
//! `get` runs against keys the run stores first (so every get is a hit
//! whose value is checked byte for byte); `set` stores values of
//! `value_size` bytes and expects `STORED`. Keys are `load:<conn>:<i>`,
//! cycled over `keys` per connection.
//!
//! With `rate`, the connections share one total rate: connection `c` of
//! `n` sends its `i`-th request at `c / rate + i * n / rate` seconds after
//! the start, or as soon as its previous reply is in when that is later,
//! so the node sees the same load whatever the number of connections.
//! With `one_at_a_time`, the connections are opened one after another,
//! each once the one before has its first reply (QEMU's forwarded ports
//! accept with a listen backlog of one), and the time from each connect
//! to its first reply is measured too: against a per-connection template,
//! that is an FWP's spawn and its first reply. All stay open until the
//! measured phase, which they start together, has ended.
//!
//! Bounded by [`MAX_REQUESTS`] requests and a per-request timeout; it stops
//! at the first reply that is wrong or late.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::{check_timeout, percentile, Error, Loopback};

/// Most requests a run sends (all connections together).
pub const MAX_REQUESTS: u32 = 1_000_000;
/// Most connections a run opens (one memcached tenant serves 8 at once; a
/// per-connection template serves one per FWP, up to its FWP count).
pub const MAX_CONNECTIONS: u32 = 1024;
/// Largest value (the tenant's item limit is 8 KiB, key included).
pub const MAX_VALUE: usize = 8000;

/// The request a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `get <key>`, of a stored key.
    Get,
    /// `set <key> 0 0 <n>`.
    Set,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Get => "get",
            Op::Set => "set",
        })
    }
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct MemcacheLoad {
    /// The tenant's TCP port.
    pub target: Loopback,
    /// The request measured.
    pub op: Op,
    /// Requests measured, over all connections.
    pub requests: u32,
    /// Connections at once, each one request in flight.
    pub connections: u32,
    /// Bytes of each value.
    pub value_size: usize,
    /// Distinct keys per connection.
    pub keys: u32,
    /// Deadline for each reply.
    pub timeout: Duration,
    /// Requests per second over all connections; `None`: each connection
    /// sends its next request as soon as its reply is in.
    pub rate: Option<f64>,
    /// Open the connections one after another, each after the previous
    /// one's first reply, and measure connect to first reply.
    pub one_at_a_time: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct MemcacheLoadReport {
    /// The run's parameters.
    pub params: MemcacheLoad,
    /// Every measured request's latency.
    pub latencies: Vec<Duration>,
    /// With `one_at_a_time`: each connection's connect to its first reply.
    pub opens: Vec<Duration>,
    /// The measured phase's wall time.
    pub elapsed: Duration,
    /// The first failure: which connection, and what went wrong.
    pub failure: Option<String>,
}

impl MemcacheLoadReport {
    /// Every request got its expected reply.
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }

    /// Measured requests per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for MemcacheLoadReport {
    /// `memcache-load: get 2000 requests, 2 connections, 100-byte values:
    /// 812.3 req/s, latency p50 2410 us p99 4890 us`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        let us = |q| percentile(&self.latencies, q).map_or(0, |d| d.as_micros());
        write!(
            f,
            "memcache-load: {} {} requests, {} connections, {}-byte values: {:.1} req/s, latency p50 {} us p99 {} us",
            p.op,
            self.latencies.len(),
            p.connections,
            p.value_size,
            self.rate(),
            us(50),
            us(99)
        )?;
        if let Some(rate) = p.rate {
            write!(f, " (paced at {rate} req/s)")?;
        }
        if !self.opens.is_empty() {
            let open = |q| percentile(&self.opens, q).map_or(0, |d| d.as_micros());
            write!(f, "; connect to first reply p50 {} us p99 {} us", open(50), open(99))?;
        }
        if let Some(failure) = &self.failure {
            write!(f, "; FAILED: {failure}")?;
        }
        Ok(())
    }
}

/// One connection's client: requests out, replies read whole and checked.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    fn open(params: &MemcacheLoad) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&params.target.addr(), params.timeout)
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(params.timeout)).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self { stream, buffer: Vec::with_capacity(2 * MAX_VALUE) })
    }

    /// Sends `request` and reads until the reply is `expected` long;
    /// anything else is a failure.
    fn exchange(&mut self, request: &[u8], expected: &[u8]) -> Result<(), String> {
        self.stream.write_all(request).map_err(|e| format!("send: {e}"))?;
        self.buffer.clear();
        let mut chunk = [0u8; 16 * 1024];
        while self.buffer.len() < expected.len() {
            let n = self.stream.read(&mut chunk).map_err(|e| format!("reply: {e}"))?;
            if n == 0 {
                return Err("the tenant closed the connection".into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
        if self.buffer != expected {
            return Err(format!(
                "reply to {:?}: {:?}, expected {:?}",
                crate::pattern::preview(request),
                crate::pattern::preview(&self.buffer),
                crate::pattern::preview(expected)
            ));
        }
        Ok(())
    }
}

fn key(conn: u32, i: u32) -> String {
    format!("load:{conn}:{i}")
}

fn value(conn: u32, i: u32, size: usize) -> Vec<u8> {
    // Printable bytes that differ per key: a reply with another key's
    // value does not compare equal.
    (0..size).map(|j| b'a' + ((conn as usize * 7 + i as usize * 13 + j) % 26) as u8).collect()
}

fn set_request(key: &str, value: &[u8]) -> Vec<u8> {
    let mut request = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    request
}

/// What one connection measured: latencies, its measured phase's start
/// and end, and its failure if it had one.
struct Share {
    latencies: Vec<Duration>,
    phase: (Instant, Instant),
    failure: Option<String>,
}

/// A connection's keys and their values.
fn keys_of(params: &MemcacheLoad, conn: u32) -> Vec<(String, Vec<u8>)> {
    (0..params.keys).map(|i| (key(conn, i), value(conn, i, params.value_size))).collect()
}

/// Opens connection `conn` and, for a get run, stores its keys (the first
/// store is its first reply). Returns the connection and the time from
/// connect to its first reply.
fn open(params: &MemcacheLoad, conn: u32) -> Result<(Connection, Duration), String> {
    let started = Instant::now();
    let mut connection = Connection::open(params).map_err(|e| format!("connection {conn}: {e}"))?;
    let mut first_reply = None;
    let keys = keys_of(params, conn);
    let stored = if params.op == Op::Get { &keys[..] } else { &keys[..1] };
    for (k, v) in stored {
        connection.exchange(&set_request(k, v), b"STORED\r\n").map_err(|e| format!("connection {conn}, storing {k}: {e}"))?;
        first_reply.get_or_insert_with(|| started.elapsed());
    }
    Ok((connection, first_reply.unwrap_or_default()))
}

/// When connection `conn` sends request `i`, counted from the start of
/// the measured phase; `None` without a rate (at once).
fn send_at(params: &MemcacheLoad, conn: u32, i: u32) -> Option<Duration> {
    let rate = params.rate?;
    let slot = f64::from(conn) + f64::from(i) * f64::from(params.connections);
    Some(Duration::from_secs_f64(slot / rate))
}

/// One connection's share of the measured phase, which starts at `start`;
/// gives the connection back, for the caller to close when every
/// connection is done (a tenant whose connection closed early would be
/// torn down while others are still measured).
fn measure(params: MemcacheLoad, conn: u32, mut connection: Connection, requests: u32, start: Instant) -> (Share, Connection) {
    let mut share = Share { latencies: Vec::with_capacity(requests as usize), phase: (start, start), failure: None };
    let keys = keys_of(&params, conn);
    for i in 0..requests {
        if let Some(at) = send_at(&params, conn, i) {
            thread::sleep((start + at).saturating_duration_since(Instant::now()));
        }
        let (k, v) = &keys[(i % params.keys) as usize];
        let (request, expected) = match params.op {
            Op::Set => (set_request(k, v), b"STORED\r\n".to_vec()),
            Op::Get => {
                let mut reply = format!("VALUE {k} 0 {}\r\n", v.len()).into_bytes();
                reply.extend_from_slice(v);
                reply.extend_from_slice(b"\r\nEND\r\n");
                (format!("get {k}\r\n").into_bytes(), reply)
            }
        };
        let started = Instant::now();
        if let Err(e) = connection.exchange(&request, &expected) {
            share.failure = Some(format!("connection {conn}, request {i}: {e}"));
            break;
        }
        share.latencies.push(started.elapsed());
    }
    share.phase.1 = Instant::now();
    (share, connection)
}

/// One connection opened by its own thread, then measured.
fn drive(params: MemcacheLoad, conn: u32, requests: u32) -> (Share, Option<Connection>) {
    match open(&params, conn) {
        Ok((connection, _)) => {
            let (share, connection) = measure(params, conn, connection, requests, Instant::now());
            (share, Some(connection))
        }
        Err(e) => {
            let now = Instant::now();
            (Share { latencies: Vec::new(), phase: (now, now), failure: Some(e) }, None)
        }
    }
}

/// Runs the load: `requests` spread over `connections` threads.
pub fn run(params: MemcacheLoad) -> Result<MemcacheLoadReport, Error> {
    check_timeout(params.timeout)?;
    if !(1..=MAX_REQUESTS).contains(&params.requests)
        || !(1..=MAX_CONNECTIONS).contains(&params.connections)
        || params.value_size > MAX_VALUE
        || params.keys == 0
        || params.rate.is_some_and(|r| !(r.is_finite() && r > 0.0))
    {
        return Err(Error::Limit(format!(
            "--requests 1..={MAX_REQUESTS}, --connections 1..={MAX_CONNECTIONS}, --value-size 0..={MAX_VALUE}, --keys at least 1, --rate above 0"
        )));
    }
    let per_connection = params.requests / params.connections;
    let share_of = move |conn: u32| per_connection + u32::from(conn < params.requests % params.connections);
    let mut opens = Vec::new();
    let threads: Vec<_> = if params.one_at_a_time {
        let mut connections = Vec::with_capacity(params.connections as usize);
        for conn in 0..params.connections {
            match open(&params, conn) {
                Ok((connection, first_reply)) => {
                    connections.push(connection);
                    opens.push(first_reply);
                }
                Err(e) => return Ok(MemcacheLoadReport { params, latencies: Vec::new(), opens, elapsed: Duration::ZERO, failure: Some(e) }),
            }
        }
        // Every connection starts the measured phase at once.
        let start = Instant::now();
        connections
            .into_iter()
            .zip(0..)
            .map(|(connection, conn)| {
                thread::spawn(move || {
                    let (share, connection) = measure(params, conn, connection, share_of(conn), start);
                    (share, Some(connection))
                })
            })
            .collect()
    } else {
        (0..params.connections).map(|conn| thread::spawn(move || drive(params, conn, share_of(conn)))).collect()
    };
    let mut latencies = Vec::with_capacity(params.requests as usize);
    let mut failure = None;
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    // Every connection stays open until all are done, then all close.
    let mut open_connections = Vec::with_capacity(params.connections as usize);
    for thread in threads {
        let Ok((mut share, connection)) = thread.join() else {
            failure = failure.or(Some("a client thread panicked".to_string()));
            continue;
        };
        open_connections.extend(connection);
        latencies.append(&mut share.latencies);
        failure = failure.or(share.failure);
        first = Some(first.map_or(share.phase.0, |f| f.min(share.phase.0)));
        last = Some(last.map_or(share.phase.1, |l| l.max(share.phase.1)));
    }
    drop(open_connections);
    // The measured phases of all connections, from the first start to the
    // last end (the get run's stores before them are not counted).
    let elapsed = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    Ok(MemcacheLoadReport { params, latencies, opens, elapsed, failure })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;

    /// A memcached stand-in on loopback: answers set and get from a map;
    /// with `corrupt`, every get's value comes back with its first byte
    /// changed.
    fn server(corrupt: bool) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut store: HashMap<String, Vec<u8>> = HashMap::new();
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                        line.clear();
                        match words.first().map(String::as_str) {
                            Some("set") => {
                                let mut data = vec![0; words[4].parse::<usize>().unwrap() + 2];
                                reader.read_exact(&mut data).unwrap();
                                data.truncate(data.len() - 2);
                                store.insert(words[1].clone(), data);
                                writer.write_all(b"STORED\r\n").unwrap();
                            }
                            Some("get") => {
                                let mut value = store.get(&words[1]).cloned().unwrap_or_default();
                                if corrupt && !value.is_empty() {
                                    value[0] ^= 1;
                                }
                                let mut reply = format!("VALUE {} 0 {}\r\n", words[1], value.len()).into_bytes();
                                reply.extend_from_slice(&value);
                                reply.extend_from_slice(b"\r\nEND\r\n");
                                writer.write_all(&reply).unwrap();
                            }
                            _ => return,
                        }
                    }
                });
            }
        });
        Loopback::new(addr).unwrap()
    }

    fn params(target: Loopback, op: Op) -> MemcacheLoad {
        MemcacheLoad {
            target,
            op,
            requests: 101,
            connections: 2,
            value_size: 300,
            keys: 7,
            timeout: Duration::from_secs(5),
            rate: None,
            one_at_a_time: false,
        }
    }

    #[test]
    fn every_request_is_measured_and_its_reply_checked() {
        let target = server(false);
        for op in [Op::Set, Op::Get] {
            let report = run(params(target, op)).unwrap();
            assert!(report.success(), "{report}");
            assert_eq!(report.latencies.len(), 101, "50 + 51 requests over 2 connections");
            assert!(report.rate() > 0.0);
            assert!(report.to_string().starts_with(&format!("memcache-load: {op} 101 requests, 2 connections, 300-byte values: ")));
        }
    }

    #[test]
    fn a_wrong_value_fails_the_run() {
        let report = run(params(server(true), Op::Get)).unwrap();
        assert!(!report.success());
        assert!(report.to_string().contains("FAILED: connection "), "{report}");
    }

    #[test]
    fn paced_connections_opened_one_at_a_time_share_the_rate() {
        let target = server(false);
        let paced = MemcacheLoad { requests: 60, connections: 20, keys: 2, rate: Some(600.0), one_at_a_time: true, ..params(target, Op::Get) };
        let report = run(paced).unwrap();
        assert!(report.success(), "{report}");
        assert_eq!((report.latencies.len(), report.opens.len()), (60, 20));
        // 60 requests at 600/s: the last (connection 19's third, number 59
        // of the run) is sent 59/600 s after the start, never earlier (a
        // sleep never ends early).
        let last = send_at(&paced, 19, 2).unwrap();
        assert_eq!(last, Duration::from_secs_f64(59.0 / 600.0));
        assert!(report.elapsed >= last, "{:?}", report.elapsed);
        let text = report.to_string();
        assert!(text.contains("(paced at 600 req/s); connect to first reply p50 "), "{text}");
    }

    #[test]
    fn requests_are_spread_evenly_over_connections_and_time() {
        let p = MemcacheLoad { connections: 4, rate: Some(100.0), ..params("127.0.0.1:9".parse().unwrap(), Op::Set) };
        // Request k of the run overall is sent at k / rate.
        let mut times: Vec<Duration> = (0..4).flat_map(|c| (0..3).map(move |i| send_at(&p, c, i).unwrap())).collect();
        times.sort();
        let expected: Vec<Duration> = (0..12).map(|k| Duration::from_millis(10 * k)).collect();
        for (t, e) in times.iter().zip(&expected) {
            assert!(t.abs_diff(*e) < Duration::from_micros(1), "{t:?} vs {e:?}");
        }
        assert_eq!(send_at(&MemcacheLoad { rate: None, ..p }, 1, 1), None);
    }

    #[test]
    fn values_differ_per_key() {
        assert_ne!(value(0, 1, 32), value(0, 2, 32));
        assert_ne!(value(0, 1, 32), value(1, 1, 32));
        assert_eq!(value(3, 4, 100).len(), 100);
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let ok = params("127.0.0.1:9".parse().unwrap(), Op::Set);
        for bad in [
            MemcacheLoad { requests: 0, ..ok },
            MemcacheLoad { connections: 0, ..ok },
            MemcacheLoad { connections: MAX_CONNECTIONS + 1, ..ok },
            MemcacheLoad { value_size: MAX_VALUE + 1, ..ok },
            MemcacheLoad { keys: 0, ..ok },
            MemcacheLoad { timeout: Duration::ZERO, ..ok },
            MemcacheLoad { rate: Some(0.0), ..ok },
            MemcacheLoad { rate: Some(f64::NAN), ..ok },
        ] {
            assert!(matches!(run(bad), Err(Error::Limit(_))), "{bad:?}");
        }
    }
}
