//! Executing one parsed request against the store, writing memcached's
//! reply bytes.

use super::parse::{Request, BAD_FORMAT};
use super::reply::{Full, Writer, NUM_MAX};
use super::VERSION;
use crate::store::{DeltaError, Item, Key, Store, StoreOp, Stored, TooLarge};

/// What the connection must do after a request.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Data bytes to skip (a refused oversize value).
    pub swallow: usize,
    /// Close after sending the replies.
    pub close: bool,
}

/// Upper bound of a `stats` reply: ~30 lines of at most ~45 bytes.
const STATS_MAX: usize = 1536;
/// Upper bound of every other fixed reply (the longest is the delete
/// usage error, 70 bytes with `\r\n`).
pub(super) const SHORT_MAX: usize = 96;

/// The keys of a get line.
pub(super) fn keys(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|k| !k.is_empty())
}

/// Bytes of one `VALUE` entry.
fn value_len(key: &[u8], item: &Item<'_>, cas: bool) -> usize {
    let digits = |v: u64| {
        let mut b = [0u8; NUM_MAX];
        crate::number::format_u64(v, &mut b).len()
    };
    let cas = if cas { 1 + digits(item.cas) } else { 0 };
    b"VALUE ".len()
        + key.len()
        + 1
        + digits(item.flags as u64)
        + 1
        + digits(item.value.len() as u64)
        + cas
        + 2
        + item.value.len()
        + 2
}

/// The most bytes `request`'s reply can take, given the store as it is.
pub(super) fn reply_bound(
    store: &Store<'_>,
    request: &Request<'_>,
    now: u64,
) -> usize {
    match *request {
        Request::Get { keys: line, cas }
        | Request::Gat {
            keys: line, cas, ..
        } => {
            let mut total = b"END\r\n".len();
            for k in keys(line) {
                match Key::new(k) {
                    Some(key) => {
                        total += store
                            .peek(key, now)
                            .map_or(0, |item| value_len(k, &item, cas))
                    }
                    None => return SHORT_MAX,
                }
            }
            total
        }
        Request::Stats => STATS_MAX,
        _ => SHORT_MAX,
    }
}

/// Runs `request`; `w` has room for [`reply_bound`] bytes.
pub(super) fn execute(
    store: &mut Store<'_>,
    request: &Request<'_>,
    now: u64,
    w: &mut Writer<'_>,
) -> Outcome {
    // The bound was checked, so a Full here is a bound bug; the reply is
    // then cut short rather than the connection state corrupted.
    let mut outcome = Outcome::default();
    store.note_time(now);
    let _ = run(store, request, now, w, &mut outcome);
    outcome
}

pub(super) fn reply(w: &mut Writer<'_>, line: &str, noreply: bool) -> Result<(), Full> {
    if noreply {
        return Ok(());
    }
    w.line(line.as_bytes())
}

fn run(
    store: &mut Store<'_>,
    request: &Request<'_>,
    now: u64,
    w: &mut Writer<'_>,
    outcome: &mut Outcome,
) -> Result<(), Full> {
    match *request {
        Request::Get { keys: line, cas } => get(store, line, None, cas, now, w),
        Request::Gat {
            exptime,
            keys: line,
            cas,
        } => get(store, line, Some(exptime), cas, now, w),
        Request::Store {
            op,
            key,
            flags,
            exptime,
            data,
            noreply,
        } => {
            let word = match store.store(op, key, flags, exptime, data, now) {
                Ok(Stored::Stored) => "STORED",
                Ok(Stored::NotStored) => "NOT_STORED",
                Ok(Stored::Exists) => "EXISTS",
                Ok(Stored::NotFound) => "NOT_FOUND",
                Err(TooLarge) => "SERVER_ERROR object too large for cache",
            };
            reply(w, word, noreply)
        }
        Request::TooLarge {
            op,
            key,
            swallow,
            noreply,
        } => {
            outcome.swallow = swallow;
            if op == StoreOp::Set {
                // memcached unlinks the old item so stale data does not
                // outlive a failed update.
                store.forget(key, now);
            }
            reply(w, "SERVER_ERROR object too large for cache", noreply)
        }
        // The connection streams such a value into the store itself
        // (`Conn`); whole-request callers never parse one.
        Request::Receive { noreply, .. } => {
            debug_assert!(false, "a streamed storage command reached execute");
            reply(w, "SERVER_ERROR out of memory storing object", noreply)
        }
        Request::BadChunk { noreply } => reply(w, "CLIENT_ERROR bad data chunk", noreply),
        Request::Delete { key, noreply } => {
            let word = if store.delete(key, now) {
                "DELETED"
            } else {
                "NOT_FOUND"
            };
            reply(w, word, noreply)
        }
        Request::Delta {
            key,
            delta,
            incr,
            noreply,
        } => match store.incr_decr(key, delta, incr, now) {
            Ok(v) if !noreply => {
                w.num(v)?;
                w.put(b"\r\n")
            }
            Ok(_) => Ok(()),
            Err(DeltaError::NotFound) => reply(w, "NOT_FOUND", noreply),
            Err(DeltaError::NonNumeric) => reply(
                w,
                "CLIENT_ERROR cannot increment or decrement non-numeric value",
                noreply,
            ),
            // memcached's out_of_memory ignores noreply.
            Err(DeltaError::OutOfMemory) => reply(w, "SERVER_ERROR out of memory", false),
        },
        Request::Touch {
            key,
            exptime,
            noreply,
        } => {
            let word = if store.touch(key, exptime, now) {
                "TOUCHED"
            } else {
                "NOT_FOUND"
            };
            reply(w, word, noreply)
        }
        Request::FlushAll { delay, noreply } => {
            store.flush_all(delay, now);
            reply(w, "OK", noreply)
        }
        Request::Stats => stats(store, now, w),
        Request::StatsReset => {
            store.reset_stats();
            w.line(b"RESET")
        }
        Request::Version => {
            w.put(b"VERSION ")?;
            w.line(VERSION.as_bytes())
        }
        Request::Verbosity { noreply } => reply(w, "OK", noreply),
        Request::Quit => {
            outcome.close = true;
            Ok(())
        }
        Request::Error {
            reply: line,
            noreply,
        } => reply(w, line, noreply),
    }
}

fn get(
    store: &mut Store<'_>,
    line: &[u8],
    touch: Option<i64>,
    cas: bool,
    now: u64,
    w: &mut Writer<'_>,
) -> Result<(), Full> {
    // Validate every key first, so a bad key yields only the error.
    if keys(line).any(|k| Key::new(k).is_none()) {
        return w.line(BAD_FORMAT.as_bytes());
    }
    for k in keys(line) {
        let Some(key) = Key::new(k) else { continue };
        let item = match touch {
            Some(exptime) => store.gat(key, exptime, now),
            None => store.get(key, now),
        };
        if let Some(item) = item {
            w.put(b"VALUE ")?;
            w.put(k)?;
            w.put(b" ")?;
            w.num(item.flags as u64)?;
            w.put(b" ")?;
            w.num(item.value.len() as u64)?;
            if cas {
                w.put(b" ")?;
                w.num(item.cas)?;
            }
            w.put(b"\r\n")?;
            w.line(item.value)?;
        }
    }
    w.line(b"END")
}

fn stats(store: &Store<'_>, now: u64, w: &mut Writer<'_>) -> Result<(), Full> {
    let s = store.stats();
    let mut stat = |name: &str, v: u64| -> Result<(), Full> {
        w.put(b"STAT ")?;
        w.put(name.as_bytes())?;
        w.put(b" ")?;
        w.num(v)?;
        w.put(b"\r\n")
    };
    stat("uptime", store.uptime(now))?;
    stat("time", now)?;
    stat("pointer_size", usize::BITS as u64)?;
    stat("curr_connections", s.curr_connections)?;
    stat("total_connections", s.total_connections)?;
    stat("rejected_connections", s.rejected_connections)?;
    stat("cmd_get", s.cmd_get)?;
    stat("cmd_set", s.cmd_set)?;
    stat("cmd_flush", s.cmd_flush)?;
    stat("cmd_touch", s.cmd_touch)?;
    stat("get_hits", s.get_hits)?;
    stat("get_misses", s.get_misses)?;
    stat("get_expired", s.get_expired)?;
    stat("get_flushed", s.get_flushed)?;
    stat("delete_misses", s.delete_misses)?;
    stat("delete_hits", s.delete_hits)?;
    stat("incr_misses", s.incr_misses)?;
    stat("incr_hits", s.incr_hits)?;
    stat("decr_misses", s.decr_misses)?;
    stat("decr_hits", s.decr_hits)?;
    stat("cas_misses", s.cas_misses)?;
    stat("cas_hits", s.cas_hits)?;
    stat("cas_badval", s.cas_badval)?;
    stat("touch_hits", s.touch_hits)?;
    stat("touch_misses", s.touch_misses)?;
    stat("limit_maxbytes", s.limit_maxbytes)?;
    stat("bytes", s.bytes)?;
    stat("curr_items", s.curr_items)?;
    stat("total_items", s.total_items)?;
    stat("evictions", s.evictions)?;
    stat("reclaimed", s.reclaimed)?;
    w.put(b"STAT version ")?;
    w.line(VERSION.as_bytes())?;
    w.line(b"END")
}
