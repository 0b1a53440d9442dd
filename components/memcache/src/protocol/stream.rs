//! The two states of a TCP connection in the middle of a value: a
//! storage command's data block arriving into a store reservation, and a
//! `get` reply leaving piecewise from store readings. Either holds store
//! bytes until it ends (or the connection is abandoned).

use super::execute::{self, reply};
use super::parse::Request;
use super::reply::{Writer, NUM_MAX};
use super::State;
use crate::store::{Key, Reading, Reservation, ReserveError, Store, StoreOp, Stored, TooLarge};

/// The longest `VALUE <key> <flags> <bytes> <cas>\r\n` line.
const VALUE_LINE_MAX: usize = 6 + crate::store::KEY_MAX + 1 + NUM_MAX + 1 + NUM_MAX + 1 + NUM_MAX + 2;

/// Starts a storage command whose block is still arriving: reserves the
/// store's room for it, or refuses it as memcached does (the reply, and
/// the block skipped). The line (`line_len` bytes) is taken either way.
pub(super) fn receive(
    store: &mut Store<'_>,
    request: &Request<'_>,
    line_len: usize,
    now: u64,
    w: &mut Writer<'_>,
) -> (State, usize) {
    let Request::Receive { op, key, flags, exptime, bytes, noreply } = *request else {
        unreachable!("receive is called for Request::Receive only")
    };
    match store.reserve(op, key, bytes, now) {
        Ok(reservation) => {
            let receiving = Receiving { reservation, op, flags, exptime, noreply, got: 0 };
            (State::Receiving(receiving), line_len)
        }
        Err(error) => {
            let line = match error {
                ReserveError::TooLarge => "SERVER_ERROR object too large for cache",
                ReserveError::OutOfMemory => {
                    // memcached drops the old item of a failed set, so
                    // stale data does not outlive the update.
                    if op == StoreOp::Set {
                        store.forget(key, now);
                    }
                    "SERVER_ERROR out of memory storing object"
                }
            };
            let _ = reply(w, line, noreply);
            (State::Swallow(bytes + 2), line_len)
        }
    }
}

/// A storage command's value arriving into its reservation.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Receiving {
    pub(super) reservation: Reservation,
    op: StoreOp,
    flags: u32,
    exptime: i64,
    noreply: bool,
    /// Value bytes written so far.
    got: usize,
}

impl Receiving {
    /// Writes what `input` has of the value; how many bytes it took.
    pub(super) fn take(&mut self, store: &mut Store<'_>, input: &[u8]) -> usize {
        let n = (self.reservation.len() - self.got).min(input.len());
        store.write_value(&self.reservation, self.got, &input[..n]);
        self.got += n;
        n
    }

    /// Whether the command can finish: the whole value and the two bytes
    /// after it are in (`after` starts after the value) and the reply has
    /// room.
    pub(super) fn ready(&self, after: &[u8], w: &Writer<'_>) -> bool {
        self.got == self.reservation.len() && after.len() >= 2 && w.remaining() >= execute::SHORT_MAX
    }

    /// Runs the command (or refuses a block that does not end in `\r\n`)
    /// and replies; the 2 bytes it took after the value. Call once
    /// [`ready`](Self::ready).
    pub(super) fn finish(self, store: &mut Store<'_>, after: &[u8], now: u64, w: &mut Writer<'_>) -> usize {
        let line = if &after[..2] == b"\r\n" {
            match store.commit(self.reservation, self.op, self.flags, self.exptime, now) {
                Ok(Stored::Stored) => "STORED",
                Ok(Stored::NotStored) => "NOT_STORED",
                Ok(Stored::Exists) => "EXISTS",
                Ok(Stored::NotFound) => "NOT_FOUND",
                Err(TooLarge) => "SERVER_ERROR object too large for cache",
            }
        } else {
            store.cancel(self.reservation);
            "CLIENT_ERROR bad data chunk"
        };
        let _ = reply(w, line, self.noreply);
        2
    }
}

/// A `get`/`gat` reply going out piecewise. Its line stays at the front
/// of the connection's input until the reply is done, so the keys are
/// read from there and only offsets are kept.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Sending {
    line_len: usize,
    /// Where the keys not yet looked up start, and where the keys end.
    next: usize,
    keys_end: usize,
    /// `gat`'s new expiry.
    touch: Option<i64>,
    cas: bool,
    /// The value being sent and how much of it is out.
    value: Option<(Reading, usize)>,
}

impl Sending {
    /// For the request at the front of `input`, `line_len` bytes long,
    /// whose keys are the sub-slice `keys`.
    pub(super) fn new(input: &[u8], keys: &[u8], line_len: usize, touch: Option<i64>, cas: bool) -> Self {
        let next = keys.as_ptr() as usize - input.as_ptr() as usize;
        Sending { line_len, next, keys_end: next + keys.len(), touch, cas, value: None }
    }

    /// Bytes of the request's line, taken once the reply is done.
    pub(super) fn line_len(&self) -> usize {
        self.line_len
    }

    /// Ends the reading in progress, if any.
    pub(super) fn release(self, store: &mut Store<'_>) {
        if let Some((reading, _)) = self.value {
            store.release(reading);
        }
    }

    /// Writes as much of the reply as `w` has room for; true once it is
    /// whole (`END` written). `input` starts with the request's line.
    pub(super) fn send(&mut self, store: &mut Store<'_>, input: &[u8], now: u64, w: &mut Writer<'_>) -> bool {
        if input.len() < self.line_len {
            // The caller must keep the line; without it, wait.
            return false;
        }
        loop {
            if let Some((reading, sent)) = &mut self.value {
                if *sent < reading.len {
                    *sent += w.fill_with(|room| store.read(reading, *sent, room));
                    if *sent < reading.len {
                        return false;
                    }
                }
                if w.put(b"\r\n").is_err() {
                    return false;
                }
                if let Some((reading, _)) = self.value.take() {
                    store.release(reading);
                }
            }
            let keys = &input[self.next..self.keys_end];
            let Some(k) = execute::keys(keys).next() else {
                return w.line(b"END").is_ok();
            };
            if w.remaining() < VALUE_LINE_MAX {
                return false;
            }
            self.next = k.as_ptr() as usize - input.as_ptr() as usize + k.len();
            let Some(key) = Key::new(k) else { continue };
            let Some(reading) = store.get_reading(key, self.touch, now) else { continue };
            let header = value_line(w, k, &reading, self.cas);
            debug_assert!(header.is_ok(), "VALUE_LINE_MAX bounds the line");
            self.value = Some((reading, 0));
        }
    }
}

fn value_line(w: &mut Writer<'_>, key: &[u8], reading: &Reading, cas: bool) -> Result<(), super::Full> {
    w.put(b"VALUE ")?;
    w.put(key)?;
    w.put(b" ")?;
    w.num(reading.flags as u64)?;
    w.put(b" ")?;
    w.num(reading.len as u64)?;
    if cas {
        w.put(b" ")?;
        w.num(reading.cas)?;
    }
    w.put(b"\r\n")
}
