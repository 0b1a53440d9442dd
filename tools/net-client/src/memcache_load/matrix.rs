//! `memcache-load --matrix`: get and set over every combination of value
//! size and connection count in one run, one CSV line per cell.
//!
//! The connections are opened once, one after another, each after its
//! `version` reply (QEMU's forwarded ports accept with a listen backlog of
//! one), and held for the whole run; a cell of `n` connections uses the
//! first `n`. Opening them afresh per cell would race the server's
//! teardown of the previous cell's: at a tenant's connection limit, a
//! connection that arrives before an old one's close was seen is turned
//! away.
//!
//! Keys are shared by all connections: one pool per value size, stored
//! before that size's cells and small enough ([`Matrix::pool_bytes`]) that
//! the pools of every size fit the store together, so every get is a hit.
//! (Keys of their own would not fit: 1,024 connections with one 500 KiB
//! value each are 500 MiB.) A key's value depends on the key alone, so
//! concurrent sets of one key leave it with the value a get expects.
//! Each cell's connections start together and each sends its share of the
//! cell's requests, one at a time; a cell's rate is its good replies over
//! the time from the first connection's start to the last one's end.

use std::fmt;
use std::sync::RwLock;
use std::thread;
use std::time::{Duration, Instant};

use super::{measure, spawn, Connection, Item, Op, Share, Totals, Values, Work, MAX_CONNECTIONS, MAX_KEYS, MAX_REQUESTS, MAX_VALUE};
use crate::{check_timeout, percentile, Error, Loopback};

/// Most value sizes, and most connection counts, a matrix has: 16 × 16 × 2
/// cells bounds a run's time.
pub const MAX_AXIS: usize = 16;

/// The CSV header [`Cell`]'s lines follow.
pub const CSV_HEADER: &str = "op,value_bytes,connections,requests,errors,req_per_s,p50_us,p99_us,first_error";

/// What to run.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The tenant's TCP port.
    pub target: Loopback,
    /// Bytes of each value, one cell of each op per size and count.
    pub sizes: Vec<usize>,
    /// Connections at once, each one request in flight.
    pub connection_counts: Vec<u32>,
    /// Requests per cell over all its connections (at least one each).
    pub requests: u32,
    /// Most keys in a size's pool.
    pub pool_keys: u32,
    /// Most bytes of values in a size's pool (a pool has at least one key).
    pub pool_bytes: usize,
    /// Deadline for each reply.
    pub timeout: Duration,
}

impl Matrix {
    /// Keys in the pool of `size`-byte values.
    pub fn pool_len(&self, size: usize) -> u32 {
        let fit = self.pool_bytes / size.max(1);
        u32::try_from(fit).unwrap_or(u32::MAX).clamp(1, self.pool_keys)
    }

    /// Requests a cell of `connections` sends.
    pub fn cell_requests(&self, connections: u32) -> u32 {
        self.requests.max(connections)
    }
}

/// One (op, value size, connections) cell's outcome.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The request measured.
    pub op: Op,
    /// Bytes of each value.
    pub value_size: usize,
    /// Connections at once.
    pub connections: u32,
    /// Requests sent or meant to be.
    pub requests: u32,
    /// Every request that got its expected reply: its latency.
    pub latencies: Vec<Duration>,
    /// From the first connection's start to the last one's end.
    pub elapsed: Duration,
    /// Requests without their expected reply, unsent ones of failed
    /// connections included.
    pub errors: u32,
    /// The first failure.
    pub failure: Option<String>,
}

impl Cell {
    /// Every request got its expected reply.
    pub fn success(&self) -> bool {
        self.errors == 0 && self.failure.is_none()
    }

    /// Good replies per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Cell {
    /// One line under [`CSV_HEADER`]: `get,100,64,2000,0,1234.5,812,2480,`
    /// (the failure quoted, when there is one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |q| percentile(&self.latencies, q).map_or(0, |d| d.as_micros());
        write!(
            f,
            "{},{},{},{},{},{:.1},{},{},",
            self.op,
            self.value_size,
            self.connections,
            self.requests,
            self.errors,
            self.rate(),
            us(50),
            us(99)
        )?;
        if let Some(failure) = &self.failure {
            write!(f, "\"{}\"", failure.replace('"', "\"\""))?;
        }
        Ok(())
    }
}

/// Opens a connection and waits for its `version` reply.
fn open(matrix: &Matrix, conn: usize) -> Result<Connection, String> {
    let mut connection = Connection::open(matrix.target.addr(), matrix.timeout).map_err(|e| format!("connection {conn}: {e}"))?;
    connection.version().map_err(|e| format!("connection {conn}: {}", e.message()))?;
    Ok(connection)
}

/// Opens every missing connection of `held[..n]` in turn; stops at the
/// first that fails (one more attempt per cell bounds a dead server's
/// cost), and says why.
fn reopen(matrix: &Matrix, held: &mut [Option<Connection>]) -> Option<String> {
    for (conn, slot) in held.iter_mut().enumerate().filter(|(_, slot)| slot.is_none()) {
        match open(matrix, conn) {
            Ok(connection) => *slot = Some(connection),
            Err(e) => return Some(e),
        }
    }
    None
}

/// Runs the matrix; hands each cell to `report` as it completes.
pub fn run(matrix: &Matrix, mut report: impl FnMut(&Cell)) -> Result<Vec<Cell>, Error> {
    check_timeout(matrix.timeout)?;
    let axis_ok = |len: usize| (1..=MAX_AXIS).contains(&len);
    if !axis_ok(matrix.sizes.len())
        || !axis_ok(matrix.connection_counts.len())
        || matrix.sizes.iter().any(|&s| s > MAX_VALUE)
        || matrix.connection_counts.iter().any(|c| !(1..=MAX_CONNECTIONS).contains(c))
        || !(1..=MAX_REQUESTS).contains(&matrix.requests)
        || !(1..=MAX_KEYS).contains(&matrix.pool_keys)
    {
        return Err(Error::Limit(format!(
            "--sizes 1..={MAX_AXIS} of 0..={MAX_VALUE}, --connection-counts 1..={MAX_AXIS} of 1..={MAX_CONNECTIONS}, \
             --requests 1..={MAX_REQUESTS}, --pool-keys 1..={MAX_KEYS}"
        )));
    }
    let most = matrix.connection_counts.iter().copied().max().unwrap_or(1) as usize;
    let mut held: Vec<Option<Connection>> = (0..most).map(|_| None).collect();
    let mut cells = Vec::with_capacity(2 * matrix.sizes.len() * matrix.connection_counts.len());
    for &size in &matrix.sizes {
        let values = Values::new(size);
        let pool: Vec<Item> = (0..matrix.pool_len(size)).map(|i| Item::new(format!("load:{size}:{i}"))).collect();
        store(matrix, &mut held[..1], &pool, &values);
        for &n in &matrix.connection_counts {
            for op in [Op::Get, Op::Set] {
                let cell = run_cell(matrix, op, &mut held[..n as usize], &pool, &values)?;
                report(&cell);
                cells.push(cell);
            }
        }
    }
    Ok(cells)
}

/// Stores `pool` through the first held connection. A failure shows as
/// the get cells' misses.
fn store(matrix: &Matrix, held: &mut [Option<Connection>], pool: &[Item], values: &Values) {
    if reopen(matrix, held).is_some() {
        return;
    }
    let Some(connection) = held[0].as_mut() else { return };
    for item in pool {
        if let Err(super::Failure::Broken(_)) = connection.set(&item.key, values.of(item)) {
            held[0] = None;
            return;
        }
    }
}

/// One cell over `held`'s connections, all started at once.
fn run_cell(matrix: &Matrix, op: Op, held: &mut [Option<Connection>], pool: &[Item], values: &Values) -> Result<Cell, Error> {
    let n = held.len() as u32;
    let requests = matrix.cell_requests(n);
    let unopened = reopen(matrix, held);
    let share_of = |conn: u32| requests / n + u32::from(conn < requests % n);
    let mut totals = Totals::default();
    // Held for writing while the threads start; each waits to read it.
    let gate = RwLock::new(());
    thread::scope(|scope| -> Result<(), Error> {
        let mut threads = Vec::with_capacity(held.len());
        let hold = gate.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (conn, slot) in (0..).zip(held.iter_mut()) {
            let Some(connection) = slot.take() else {
                let why = unopened.clone().unwrap_or_else(|| format!("connection {conn} is not open"));
                totals.add(Share::failed(share_of(conn), why));
                continue;
            };
            let work = Work { op, items: pool, first: conn as usize % pool.len(), values };
            let gate = &gate;
            let task = move || {
                drop(gate.read());
                measure(work, conn, connection, share_of(conn), Instant::now(), |_| None)
            };
            threads.push((conn, spawn(scope, task)?));
        }
        drop(hold);
        for (conn, thread) in threads {
            match thread.join() {
                Ok((share, connection)) => {
                    totals.add(share);
                    held[conn as usize] = connection;
                }
                Err(_) => totals.failure = totals.failure.take().or(Some(format!("connection {conn}'s thread panicked"))),
            }
        }
        Ok(())
    })?;
    let elapsed = totals.elapsed();
    Ok(Cell { op, value_size: values.size, connections: n, requests, latencies: totals.latencies, elapsed, errors: totals.errors, failure: totals.failure })
}
