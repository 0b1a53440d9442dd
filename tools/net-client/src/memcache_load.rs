//! `memcache-load`: a closed-loop load generator for a memcached tenant.
//! Each of `connections` TCP connections (its own thread) sends one
//! request, reads its whole reply, checks it, and sends the next: the
//! latency of every request and the run's requests per second come out.
//!
//! ```text
//!   memcache_load   one run (`--op`), or the matrix (`--matrix`): connections, keys, measuring
//!        │
//!   memcache_load::matrix   cells of (op, value size, connections) over one set of held connections
//!        │
//!   memcache_load::client   one connection: requests out, replies parsed and checked as they arrive
//! ```
//!
//! `get` runs against keys the run stores first (so every get is a hit
//! whose value is checked byte for byte); `set` stores values of
//! `value_size` bytes and expects `STORED`. Keys are `load:<conn>:<i>`,
//! cycled over `keys` per connection. A value is its key's name and `:`,
//! then random bytes from an offset that depends on the key: a reply with
//! another key's value, or with shifted bytes, never compares equal.
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
//! With `port_span`, connection `c` goes to the target's port + `c`: one
//! server per connection, as N memcached processes on N consecutive
//! ports are N tenants. (Against EdgeOS's per-connection template every
//! connection goes to the one port, which spawns a tenant for each.)
//!
//! A request whose reply is not the expected one is an error. A whole
//! reply that is merely wrong (a miss, a wrong byte, `SERVER_ERROR`)
//! leaves its connection going; a timeout or a close ends the connection,
//! and its requests not yet sent count as errors too. Bounded by
//! [`MAX_REQUESTS`] requests and a per-reply timeout.

mod client;
pub mod matrix;

use std::fmt;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::{check_timeout, pattern, percentile, Error, Loopback};
use client::{Connection, Failure, Value};

/// Most requests a run sends (all connections together).
pub const MAX_REQUESTS: u32 = 1_000_000;
/// Most connections a run opens: memcached's `-c 1024`, the most a
/// memcached tenant serves at once (tenant A's `max_connections`), and the
/// FWPs a per-connection template can have (1,018 dynamic ones).
pub const MAX_CONNECTIONS: u32 = 1024;
/// Largest value: memcached's `-I 1m`, tenant A's `item_size_max`. (The
/// tenant counts the key too, and memcached an item header of 59 bytes, so
/// a value this size is refused: useful to time the refusal.)
pub const MAX_VALUE: usize = 1024 * 1024;
/// Most keys per connection (or in a matrix's pool); each key is a small
/// allocation on the client, and 10,000 cycle far past any cache's reuse.
pub const MAX_KEYS: u32 = 10_000;

/// A client thread reads into a heap buffer; its stack only holds frames.
/// 1,024 threads with the default 2 MiB would reserve 2 GiB of address
/// space for nothing.
const THREAD_STACK: usize = 256 * 1024;

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
    /// Connection `c` goes to the target's port + `c` instead of the port.
    pub port_span: bool,
}

impl MemcacheLoad {
    /// Where connection `conn` connects. (`run` has checked that the
    /// last port of a span exists.)
    fn target_of(&self, conn: u32) -> SocketAddr {
        let mut addr = self.target.addr();
        if self.port_span {
            addr.set_port(addr.port() + conn as u16);
        }
        addr
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct MemcacheLoadReport {
    /// The run's parameters.
    pub params: MemcacheLoad,
    /// Every request that got its expected reply: its latency.
    pub latencies: Vec<Duration>,
    /// With `one_at_a_time`: each connection's connect to its first reply.
    pub opens: Vec<Duration>,
    /// The measured phase's wall time.
    pub elapsed: Duration,
    /// Requests that did not get their expected reply, those never sent
    /// because their connection had failed included.
    pub errors: u32,
    /// The first failure: which connection, and what went wrong.
    pub failure: Option<String>,
}

impl MemcacheLoadReport {
    /// Every request got its expected reply.
    pub fn success(&self) -> bool {
        self.errors == 0 && self.failure.is_none()
    }

    /// Requests per second that got their expected reply.
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
            write!(f, "; FAILED: {} errors, the first: {failure}", self.errors)?;
        }
        Ok(())
    }
}

/// The CSV header of [`MemcacheLoadReport::csv_row`] (`memcache-load
/// --csv`): a run's figures for a script to file, the minimum included.
pub const CSV_HEADER: &str = "op,value_bytes,connections,requests,errors,req_per_s,min_us,p50_us,p99_us,first_error";

impl MemcacheLoadReport {
    /// One line under [`CSV_HEADER`]: `get,100,8,4000,0,400.1,612,790,2410,`
    /// (`requests` counts the good replies; the failure quoted, when there
    /// is one).
    pub fn csv_row(&self) -> String {
        let us = |q| percentile(&self.latencies, q).map_or(0, |d| d.as_micros());
        let p = &self.params;
        let mut row = format!(
            "{},{},{},{},{},{:.1},{},{},{},",
            p.op,
            p.value_size,
            p.connections,
            self.latencies.len(),
            self.errors,
            self.rate(),
            us(0),
            us(50),
            us(99)
        );
        if let Some(failure) = &self.failure {
            row.push_str(&format!("\"{}\"", failure.replace('"', "\"\"")));
        }
        row
    }
}

/// Values are cut from this stream of [`pattern`] (apart from the TCP
/// echo's connection streams, `1 << 40` on, and the datagrams').
const VALUE_STREAM: u64 = 1 << 48;
/// Offsets a key's random bytes may start at: a prime, so keys that hash
/// alike in the low bits still start apart.
const SHIFTS: usize = 4093;

/// A key, and what makes its value its own.
#[derive(Debug, Clone)]
struct Item {
    key: String,
    /// `<key>:`, the value's first bytes.
    tag: Vec<u8>,
    /// Where in the random bytes the rest of the value starts.
    shift: usize,
}

impl Item {
    fn new(key: String) -> Self {
        // FNV-1a: any spread will do, as long as it is the same every run.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let tag = format!("{key}:").into_bytes();
        Self { key, tag, shift: (hash % SHIFTS as u64) as usize }
    }
}

/// Every value of one size, without a copy per key: one run of random
/// bytes that each key's value is a window of.
struct Values {
    size: usize,
    random: Vec<u8>,
}

impl Values {
    fn new(size: usize) -> Self {
        Self { size, random: pattern::stream(VALUE_STREAM, 0, size + SHIFTS) }
    }

    fn of<'a>(&'a self, item: &'a Item) -> Value<'a> {
        let tag = &item.tag[..item.tag.len().min(self.size)];
        Value { tag, rest: &self.random[item.shift..item.shift + self.size - tag.len()] }
    }
}

/// The request a connection sends, over which keys, starting where.
#[derive(Clone, Copy)]
struct Work<'a> {
    op: Op,
    items: &'a [Item],
    /// The index in `items` of the connection's first request.
    first: usize,
    values: &'a Values,
}

impl Work<'_> {
    fn send(&self, connection: &mut Connection, i: u32) -> Result<(), Failure> {
        let item = &self.items[(self.first + i as usize) % self.items.len()];
        let value = self.values.of(item);
        match self.op {
            Op::Get => connection.get(&item.key, value),
            Op::Set => connection.set(&item.key, value),
        }
    }
}

/// What one connection measured: latencies, errors, its measured phase's
/// start and end, and its first failure if it had one.
struct Share {
    latencies: Vec<Duration>,
    errors: u32,
    phase: (Instant, Instant),
    failure: Option<String>,
}

impl Share {
    /// A connection that could not take part: all its requests failed.
    fn failed(requests: u32, failure: String) -> Self {
        let now = Instant::now();
        Self { latencies: Vec::new(), errors: requests, phase: (now, now), failure: Some(failure) }
    }
}

/// One connection's share of a measured phase that starts at `start`:
/// `requests` requests, request `i` sent at `send_at(i)` if that is given.
/// Gives the connection back unless it broke, for the caller to close when
/// every connection is done (a tenant whose connection closed early would
/// be torn down while others are still measured).
fn measure(
    work: Work,
    conn: u32,
    mut connection: Connection,
    requests: u32,
    start: Instant,
    send_at: impl Fn(u32) -> Option<Duration>,
) -> (Share, Option<Connection>) {
    let mut share = Share { latencies: Vec::with_capacity(requests as usize), errors: 0, phase: (start, start), failure: None };
    for i in 0..requests {
        if let Some(at) = send_at(i) {
            thread::sleep((start + at).saturating_duration_since(Instant::now()));
        }
        let started = Instant::now();
        match work.send(&mut connection, i) {
            Ok(()) => share.latencies.push(started.elapsed()),
            Err(failure) => {
                share.errors += 1;
                share.failure.get_or_insert_with(|| format!("connection {conn}, request {i}: {}", failure.message()));
                if let Failure::Broken(_) = failure {
                    share.errors += requests - i - 1;
                    share.phase.1 = Instant::now();
                    return (share, None);
                }
            }
        }
    }
    share.phase.1 = Instant::now();
    (share, Some(connection))
}

/// Every connection's share of a measured phase, added up.
#[derive(Default)]
struct Totals {
    latencies: Vec<Duration>,
    errors: u32,
    failure: Option<String>,
    /// The measured phases of all connections, from the first start to
    /// the last end.
    span: Option<(Instant, Instant)>,
}

impl Totals {
    fn add(&mut self, mut share: Share) {
        self.latencies.append(&mut share.latencies);
        self.errors += share.errors;
        self.failure = self.failure.take().or(share.failure);
        let (start, end) = share.phase;
        self.span = Some(self.span.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
    }

    fn elapsed(&self) -> Duration {
        self.span.map_or(Duration::ZERO, |(start, end)| end - start)
    }
}

/// Starts a client thread within `scope`.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    task: impl FnOnce() -> T + Send + 'scope,
) -> Result<thread::ScopedJoinHandle<'scope, T>, Error> {
    thread::Builder::new().stack_size(THREAD_STACK).spawn_scoped(scope, task).map_err(|e| Error::io("start a client thread", e))
}

/// A connection's keys in a run of per-connection keys.
fn keys_of(params: &MemcacheLoad, conn: u32) -> Vec<Item> {
    (0..params.keys).map(|i| Item::new(format!("load:{conn}:{i}"))).collect()
}

/// Opens connection `conn` and, for a get run, stores its keys (the first
/// store is its first reply). Returns the connection and the time from
/// connect to its first reply.
fn open(params: &MemcacheLoad, conn: u32, items: &[Item], values: &Values) -> Result<(Connection, Duration), String> {
    let started = Instant::now();
    let mut connection = Connection::open(params.target_of(conn), params.timeout).map_err(|e| format!("connection {conn}: {e}"))?;
    let mut first_reply = None;
    let stored = if params.op == Op::Get { items } else { &items[..1] };
    for item in stored {
        connection
            .set(&item.key, values.of(item))
            .map_err(|e| format!("connection {conn}, storing {}: {}", item.key, e.message()))?;
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

/// Runs the load: `requests` spread over `connections` threads.
pub fn run(params: MemcacheLoad) -> Result<MemcacheLoadReport, Error> {
    check_timeout(params.timeout)?;
    if !(1..=MAX_REQUESTS).contains(&params.requests)
        || !(1..=MAX_CONNECTIONS).contains(&params.connections)
        || params.value_size > MAX_VALUE
        || !(1..=MAX_KEYS).contains(&params.keys)
        || params.rate.is_some_and(|r| !(r.is_finite() && r > 0.0))
    {
        return Err(Error::Limit(format!(
            "--requests 1..={MAX_REQUESTS}, --connections 1..={MAX_CONNECTIONS}, --value-size 0..={MAX_VALUE}, --keys 1..={MAX_KEYS}, --rate above 0"
        )));
    }
    let last_port = u32::from(params.target.addr().port()) + params.connections - 1;
    if params.port_span && last_port > u32::from(u16::MAX) {
        return Err(Error::Limit(format!("--port-span: {} connections from port {} end past port 65535", params.connections, params.target.addr().port())));
    }
    let per_connection = params.requests / params.connections;
    let share_of = |conn: u32| per_connection + u32::from(conn < params.requests % params.connections);
    let values = Values::new(params.value_size);
    let items: Vec<Vec<Item>> = (0..params.connections).map(|conn| keys_of(&params, conn)).collect();
    let (items, values) = (&items, &values);
    let work = |conn: u32| Work { op: params.op, items: &items[conn as usize], first: 0, values };
    let mut opens = Vec::new();
    let mut totals = Totals::default();
    // Every connection stays open until all are done, then all close.
    let mut open_connections = Vec::with_capacity(params.connections as usize);
    thread::scope(|scope| -> Result<(), Error> {
        let mut threads = Vec::with_capacity(params.connections as usize);
        if params.one_at_a_time {
            let mut connections = Vec::with_capacity(params.connections as usize);
            for conn in 0..params.connections {
                match open(&params, conn, &items[conn as usize], values) {
                    Ok((connection, first_reply)) => {
                        connections.push(connection);
                        opens.push(first_reply);
                    }
                    Err(e) => {
                        totals.add(Share::failed(params.requests, e));
                        return Ok(());
                    }
                }
            }
            // Every connection starts the measured phase at once.
            let start = Instant::now();
            for (connection, conn) in connections.into_iter().zip(0..) {
                let task = move || measure(work(conn), conn, connection, share_of(conn), start, |i| send_at(&params, conn, i));
                threads.push(spawn(scope, task)?);
            }
        } else {
            for conn in 0..params.connections {
                let task = move || match open(&params, conn, &items[conn as usize], values) {
                    Ok((connection, _)) => {
                        measure(work(conn), conn, connection, share_of(conn), Instant::now(), |i| send_at(&params, conn, i))
                    }
                    Err(e) => (Share::failed(share_of(conn), e), None),
                };
                threads.push(spawn(scope, task)?);
            }
        }
        for thread in threads {
            match thread.join() {
                Ok((share, connection)) => {
                    totals.add(share);
                    open_connections.extend(connection);
                }
                Err(_) => totals.failure = totals.failure.take().or(Some("a client thread panicked".to_string())),
            }
        }
        Ok(())
    })?;
    drop(open_connections);
    let elapsed = totals.elapsed();
    Ok(MemcacheLoadReport { params, latencies: totals.latencies, opens, elapsed, errors: totals.errors, failure: totals.failure })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::matrix::{self, Matrix};
    use super::*;

    /// How the stand-in server misbehaves.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Fault {
        None,
        /// Every value a get returns has its middle byte changed.
        Corrupt,
        /// Every second set on a connection is refused as too large, after
        /// its data has been read (as memcached does).
        RefuseEverySecondSet,
        /// A connection is closed after this many requests.
        CloseAfter(usize),
    }

    type Store = Arc<Mutex<HashMap<String, Vec<u8>>>>;

    /// A memcached stand-in on loopback: set, get and version, over one
    /// store that every connection shares.
    fn server(fault: Fault) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        serve_on(listener, fault);
        Loopback::new(addr).unwrap()
    }

    /// Serves `listener` as [`server`] does; gives its store, to see
    /// which keys reached it.
    fn serve_on(listener: TcpListener, fault: Fault) -> Store {
        let store = Store::default();
        let shared = Arc::clone(&store);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = Arc::clone(&shared);
                thread::spawn(move || serve(stream, &store, fault));
            }
        });
        store
    }

    /// Listeners on `n` consecutive free ports, the first one the OS's
    /// choice (tried again where a port after it is taken).
    fn consecutive_listeners(n: u16) -> Vec<TcpListener> {
        for _ in 0..100 {
            let first = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = first.local_addr().unwrap().port();
            if base > u16::MAX - n {
                continue;
            }
            let rest: Option<Vec<TcpListener>> = (1..n).map(|i| TcpListener::bind(("127.0.0.1", base + i)).ok()).collect();
            if let Some(rest) = rest {
                return std::iter::once(first).chain(rest).collect();
            }
        }
        panic!("no {n} consecutive free ports on 127.0.0.1");
    }

    fn serve(stream: std::net::TcpStream, store: &Mutex<HashMap<String, Vec<u8>>>, fault: Fault) -> Option<()> {
        let mut writer = stream.try_clone().ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut sets = 0;
        for served in 0.. {
            line.clear();
            if reader.read_line(&mut line).ok()? == 0 || fault == Fault::CloseAfter(served) {
                return None;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let reply = match words[..] {
                ["set", key, _, _, len] => {
                    let mut data = vec![0; len.parse::<usize>().ok()? + 2];
                    reader.read_exact(&mut data).ok()?;
                    data.truncate(data.len() - 2);
                    sets += 1;
                    if fault == Fault::RefuseEverySecondSet && sets % 2 == 0 {
                        b"SERVER_ERROR object too large for cache\r\n".to_vec()
                    } else {
                        store.lock().unwrap().insert(key.to_owned(), data);
                        b"STORED\r\n".to_vec()
                    }
                }
                ["get", key] => {
                    let mut reply = Vec::new();
                    if let Some(mut value) = store.lock().unwrap().get(key).cloned() {
                        if fault == Fault::Corrupt && !value.is_empty() {
                            let middle = value.len() / 2;
                            value[middle] ^= 1;
                        }
                        reply.extend_from_slice(format!("VALUE {key} 0 {}\r\n", value.len()).as_bytes());
                        reply.extend_from_slice(&value);
                        reply.extend_from_slice(b"\r\n");
                    }
                    reply.extend_from_slice(b"END\r\n");
                    reply
                }
                ["version"] => b"VERSION 1.6.21-fake\r\n".to_vec(),
                _ => return None,
            };
            writer.write_all(&reply).ok()?;
        }
        None
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
            port_span: false,
        }
    }

    #[test]
    fn every_request_is_measured_and_its_reply_checked() {
        let target = server(Fault::None);
        for op in [Op::Set, Op::Get] {
            let report = run(params(target, op)).unwrap();
            assert!(report.success(), "{report}");
            assert_eq!((report.latencies.len(), report.errors), (101, 0), "50 + 51 requests over 2 connections");
            assert!(report.rate() > 0.0);
            assert!(report.to_string().starts_with(&format!("memcache-load: {op} 101 requests, 2 connections, 300-byte values: ")));
        }
    }

    #[test]
    fn a_port_span_sends_each_connection_to_its_own_server() {
        let listeners = consecutive_listeners(3);
        let first = Loopback::new(listeners[0].local_addr().unwrap()).unwrap();
        let stores: Vec<Store> = listeners.into_iter().map(|l| serve_on(l, Fault::None)).collect();
        for one_at_a_time in [false, true] {
            let spread = MemcacheLoad { connections: 3, keys: 2, port_span: true, one_at_a_time, ..params(first, Op::Get) };
            let report = run(spread).unwrap();
            assert!(report.success(), "{report}");
            assert_eq!(report.latencies.len(), 101);
        }
        // Server i holds connection i's keys and no other's.
        for (i, store) in stores.iter().enumerate() {
            let mut keys: Vec<String> = store.lock().unwrap().keys().cloned().collect();
            keys.sort();
            assert_eq!(keys, [format!("load:{i}:0"), format!("load:{i}:1")]);
        }
    }

    #[test]
    fn the_csv_row_has_the_headers_columns_and_quotes_the_failure() {
        let report = run(params(server(Fault::None), Op::Get)).unwrap();
        let row = report.csv_row();
        assert!(row.starts_with("get,300,2,101,0,"), "{row}");
        assert!(row.ends_with(','), "no failure, an empty last column: {row}");
        assert_eq!(row.split(',').count(), CSV_HEADER.split(',').count());
        let us: Vec<u128> = row.split(',').skip(6).take(3).map(|f| f.parse().unwrap()).collect();
        assert!(us[0] <= us[1] && us[1] <= us[2], "min <= p50 <= p99: {row}");
        let row = run(params(server(Fault::Corrupt), Op::Get)).unwrap().csv_row();
        assert!(row.starts_with("get,300,2,0,101,0.0,0,0,0,\"connection "), "{row}");
        assert!(row.ends_with("byte 150 of the 300-byte value differs\""), "{row}");
    }

    #[test]
    fn values_up_to_a_mebibyte_stream_through_and_are_checked_whole() {
        let target = server(Fault::None);
        let large = MemcacheLoad { requests: 6, keys: 2, value_size: MAX_VALUE, ..params(target, Op::Get) };
        let report = run(large).unwrap();
        assert!(report.success(), "{report}");
        let report = run(MemcacheLoad { value_size: MAX_VALUE, ..params(server(Fault::Corrupt), Op::Get) }).unwrap();
        assert_eq!(report.errors, 101);
        assert!(report.to_string().contains(&format!("byte {} of the {MAX_VALUE}-byte value differs", MAX_VALUE / 2)), "{report}");
    }

    #[test]
    fn a_wrong_value_is_an_error_and_the_connection_goes_on() {
        let report = run(params(server(Fault::Corrupt), Op::Get)).unwrap();
        assert!(!report.success());
        // Every get came back whole with one wrong byte: each is an error,
        // and none broke its connection.
        assert_eq!((report.latencies.len(), report.errors), (0, 101));
        assert!(report.to_string().contains("; FAILED: 101 errors, the first: connection "), "{report}");
        assert!(report.to_string().contains("byte 150 of the 300-byte value differs"), "{report}");
    }

    #[test]
    fn a_refused_set_is_an_error_that_leaves_the_connection_in_step() {
        let one = MemcacheLoad { connections: 1, requests: 100, ..params(server(Fault::RefuseEverySecondSet), Op::Set) };
        let report = run(one).unwrap();
        // The store before the measured phase was set 1; sets 2, 4, ... are
        // refused, so every second measured one.
        assert_eq!((report.latencies.len(), report.errors), (50, 50), "{report}");
        assert!(report.to_string().contains("SERVER_ERROR object too large for cache"), "{report}");
    }

    #[test]
    fn a_closed_connection_fails_the_requests_it_can_no_longer_send() {
        let one = MemcacheLoad { connections: 1, requests: 20, ..params(server(Fault::CloseAfter(8)), Op::Set) };
        let report = run(one).unwrap();
        // One store before the measured phase, 7 measured, then the close.
        assert_eq!((report.latencies.len(), report.errors), (7, 13), "{report}");
        assert!(report.to_string().contains("connection 0, request 7: the server closed the connection"), "{report}");
    }

    #[test]
    fn paced_connections_opened_one_at_a_time_share_the_rate() {
        let target = server(Fault::None);
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
    fn values_differ_per_key_and_start_with_its_name() {
        let values = Values::new(64);
        let bytes = |key: &str| {
            let item = Item::new(key.to_owned());
            let value = values.of(&item);
            [value.tag, value.rest].concat()
        };
        assert_eq!(bytes("load:0:1").len(), 64);
        assert!(bytes("load:0:1").starts_with(b"load:0:1:"));
        assert_eq!(bytes("load:0:1"), bytes("load:0:1"));
        assert_ne!(bytes("load:0:1")[9..], bytes("load:0:2")[9..], "not only the names differ");
        // Values shorter than their key's name are a prefix of it.
        assert_eq!(Values::new(3).of(&Item::new("load:0:1".into())).tag, b"loa");
        assert_eq!(Values::new(0).of(&Item::new("k".into())).len(), 0);
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
            MemcacheLoad { keys: MAX_KEYS + 1, ..ok },
            MemcacheLoad { timeout: Duration::ZERO, ..ok },
            MemcacheLoad { rate: Some(0.0), ..ok },
            MemcacheLoad { rate: Some(f64::NAN), ..ok },
            MemcacheLoad { port_span: true, connections: 2, target: "127.0.0.1:65535".parse().unwrap(), ..ok },
        ] {
            assert!(matches!(run(bad), Err(Error::Limit(_))), "{bad:?}");
        }
    }

    fn small_matrix(target: Loopback) -> Matrix {
        Matrix {
            target,
            sizes: vec![100, 20_000],
            connection_counts: vec![1, 3],
            requests: 12,
            pool_keys: 5,
            pool_bytes: 16 << 20,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_matrix_measures_every_op_size_and_count_over_held_connections() {
        let mut lines = Vec::new();
        let cells = matrix::run(&small_matrix(server(Fault::None)), |cell| lines.push(cell.to_string())).unwrap();
        let shape: Vec<(Op, usize, u32)> = cells.iter().map(|c| (c.op, c.value_size, c.connections)).collect();
        assert_eq!(
            shape,
            [
                (Op::Get, 100, 1),
                (Op::Set, 100, 1),
                (Op::Get, 100, 3),
                (Op::Set, 100, 3),
                (Op::Get, 20_000, 1),
                (Op::Set, 20_000, 1),
                (Op::Get, 20_000, 3),
                (Op::Set, 20_000, 3)
            ]
        );
        for cell in &cells {
            assert!(cell.success(), "{cell}");
            assert_eq!(cell.latencies.len(), 12);
        }
        assert_eq!(lines.len(), 8, "each cell reported as it completes");
        assert!(lines[0].starts_with("get,100,1,12,0,"), "{}", lines[0]);
        assert!(lines[0].ends_with(','), "no failure, an empty last column: {}", lines[0]);
        assert_eq!(lines[0].split(',').count(), matrix::CSV_HEADER.split(',').count());
    }

    #[test]
    fn a_cell_sends_at_least_one_request_per_connection() {
        let m = Matrix { connection_counts: vec![20], sizes: vec![10], ..small_matrix(server(Fault::None)) };
        let cells = matrix::run(&m, |_| {}).unwrap();
        assert!(cells.iter().all(|c| c.requests == 20 && c.latencies.len() == 20 && c.success()), "{cells:?}");
    }

    #[test]
    fn matrix_errors_are_counted_per_cell_and_quoted() {
        let m = Matrix { sizes: vec![100], connection_counts: vec![2], ..small_matrix(server(Fault::Corrupt)) };
        let cells = matrix::run(&m, |_| {}).unwrap();
        let (get, set) = (&cells[0], &cells[1]);
        assert_eq!((get.errors, get.latencies.len()), (12, 0));
        assert!(set.success(), "{set}");
        let line = get.to_string();
        assert!(line.starts_with("get,100,2,12,12,0.0,0,0,\"connection "), "{line}");
        assert!(line.ends_with("byte 50 of the 100-byte value differs\""), "{line}");
    }

    #[test]
    fn pools_fit_their_byte_budget() {
        let m = Matrix { pool_keys: 1024, pool_bytes: 16 << 20, ..small_matrix("127.0.0.1:9".parse().unwrap()) };
        assert_eq!([100, 10_240, 512_000, 32 << 20].map(|size| m.pool_len(size)), [1024, 1024, 32, 1]);
        assert_eq!(m.pool_len(0), 1024);
        assert_eq!((m.cell_requests(1), m.cell_requests(1024)), (12, 1024));
    }

    #[test]
    fn an_unreachable_server_fails_every_cell_without_waiting_on_each_connection() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Loopback::new(closed.local_addr().unwrap()).unwrap();
        drop(closed);
        let m = Matrix { sizes: vec![10], connection_counts: vec![4], ..small_matrix(target) };
        let cells = matrix::run(&m, |_| {}).unwrap();
        assert!(cells.iter().all(|c| c.errors == 12 && c.failure.as_deref().is_some_and(|f| f.contains("connect"))), "{cells:?}");
    }

    /// The default matrix (`net-client memcache-load --matrix`) against a
    /// real memcached, e.g. `memcached -p 15311 -m 64 -c 1054 -I 1m` (-c
    /// counts memcached's own connections too: 1,054 serves 1,024); needs
    /// `ulimit -n` above 1,024:
    /// `EDGEOS_MEMCACHED=127.0.0.1:15311 cargo test -p edgeos-net-client -- --ignored`
    #[test]
    #[ignore = "needs a memcached -m 64 -c 1054 -I 1m at $EDGEOS_MEMCACHED"]
    fn the_default_matrix_against_a_real_memcached() {
        let addr = std::env::var("EDGEOS_MEMCACHED").unwrap_or_else(|_| "127.0.0.1:15311".into());
        let m = Matrix {
            target: Loopback::new(addr.parse().unwrap()).unwrap(),
            sizes: vec![100, 10 * 1024, 500 * 1024],
            connection_counts: vec![1, 64, 1024],
            requests: 2048,
            pool_keys: 1024,
            pool_bytes: 16 << 20,
            timeout: Duration::from_secs(30),
        };
        let cells = matrix::run(&m, |cell| eprintln!("{cell}")).unwrap();
        assert_eq!(cells.len(), 18);
        assert!(cells.iter().all(matrix::Cell::success), "{cells:#?}");
    }
}
