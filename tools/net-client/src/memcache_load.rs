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
/// Most connections a run opens (the tenant serves 8 at once).
pub const MAX_CONNECTIONS: u32 = 8;
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
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct MemcacheLoadReport {
    /// The run's parameters.
    pub params: MemcacheLoad,
    /// Every measured request's latency.
    pub latencies: Vec<Duration>,
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

/// One connection's share: stores its keys (for get), then measures.
fn drive(params: MemcacheLoad, conn: u32, requests: u32) -> Share {
    let mut share = Share { latencies: Vec::with_capacity(requests as usize), phase: (Instant::now(), Instant::now()), failure: None };
    let mut connection = match Connection::open(&params) {
        Ok(c) => c,
        Err(e) => {
            share.failure = Some(format!("connection {conn}: {e}"));
            return share;
        }
    };
    let keys: Vec<(String, Vec<u8>)> =
        (0..params.keys).map(|i| (key(conn, i), value(conn, i, params.value_size))).collect();
    if params.op == Op::Get {
        for (k, v) in &keys {
            if let Err(e) = connection.exchange(&set_request(k, v), b"STORED\r\n") {
                share.failure = Some(format!("connection {conn}, storing {k}: {e}"));
                return share;
            }
        }
    }
    share.phase.0 = Instant::now();
    for i in 0..requests {
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
    share
}

/// Runs the load: `requests` spread over `connections` threads.
pub fn run(params: MemcacheLoad) -> Result<MemcacheLoadReport, Error> {
    check_timeout(params.timeout)?;
    if !(1..=MAX_REQUESTS).contains(&params.requests)
        || !(1..=MAX_CONNECTIONS).contains(&params.connections)
        || params.value_size > MAX_VALUE
        || params.keys == 0
    {
        return Err(Error::Limit(format!(
            "--requests 1..={MAX_REQUESTS}, --connections 1..={MAX_CONNECTIONS}, --value-size 0..={MAX_VALUE}, --keys at least 1"
        )));
    }
    let per_connection = params.requests / params.connections;
    let threads: Vec<_> = (0..params.connections)
        .map(|conn| {
            let share = per_connection + u32::from(conn < params.requests % params.connections);
            thread::spawn(move || drive(params, conn, share))
        })
        .collect();
    let mut latencies = Vec::with_capacity(params.requests as usize);
    let mut failure = None;
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for thread in threads {
        let Ok(mut share) = thread.join() else {
            failure = failure.or(Some("a client thread panicked".to_string()));
            continue;
        };
        latencies.append(&mut share.latencies);
        failure = failure.or(share.failure);
        first = Some(first.map_or(share.phase.0, |f| f.min(share.phase.0)));
        last = Some(last.map_or(share.phase.1, |l| l.max(share.phase.1)));
    }
    // The measured phases of all connections, from the first start to the
    // last end (the get run's stores before them are not counted).
    let elapsed = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    Ok(MemcacheLoadReport { params, latencies, elapsed, failure })
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
        MemcacheLoad { target, op, requests: 101, connections: 2, value_size: 300, keys: 7, timeout: Duration::from_secs(5) }
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
        ] {
            assert!(matches!(run(bad), Err(Error::Limit(_))), "{bad:?}");
        }
    }
}
