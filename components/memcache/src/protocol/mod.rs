//! The memcached text protocol over the store: [`Conn`] for a TCP byte
//! stream, [`udp`] for memcached's datagram framing around the same.
//!
//! ```text
//!   bytes ──► parse (one request, stateless) ──► execute (store) ──► reply bytes
//!               ▲ Conn: swallow state, output room, pipelining loop
//! ```
//!
//! Replies are written byte for byte as memcached 1.6 writes them. A
//! request is executed only once its whole reply fits the output space
//! left, so a full output buffer never leaves a command half done.

mod execute;
pub mod parse;
mod reply;
mod stream;
pub mod udp;

pub use parse::{parse, Parsed, Request, MAX_LINE};
pub use reply::{Full, Writer};

use crate::store::Store;

/// The smallest output buffer a [`Conn`] works with: room for the longest
/// non-`get` reply (`stats`). A `get` reply larger than the whole buffer
/// is refused with memcached's `SERVER_ERROR out of memory writing get
/// response`.
pub const OUT_MIN: usize = 2048;

/// The version string `version` and `stats` report: memcached's protocol
/// level, marked as this implementation.
pub const VERSION: &str = "1.6.21-edgeos";

/// How far one [`Conn::process`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Input bytes used up; the caller drops them and keeps the rest.
    pub consumed: usize,
    /// Reply bytes written to the front of the output buffer.
    pub written: usize,
    /// The client sent `quit` or an over-long line: send the replies, then
    /// close the connection (as memcached does).
    pub close: bool,
}

/// One connection's protocol state between calls: where the request
/// stream stands.
///
/// A TCP connection streams values ([`Conn::new`]): a storage command's
/// data block goes into the store as it arrives, and a `get` reply larger
/// than the output room goes out in pieces, so neither needs a buffer the
/// size of an item. The store holds what a stream holds (a reservation, a
/// reading) until the stream ends: a connection that ends early must be
/// [`abandon`](Conn::abandon)ed.
#[derive(Debug, PartialEq, Eq)]
pub struct Conn {
    state: State,
    /// Values stream (TCP); else every request is whole in the input
    /// (a UDP datagram).
    streams: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Ready,
    /// Data bytes still to skip after a refused value.
    Swallow(usize),
    Receiving(stream::Receiving),
    Sending(stream::Sending),
}

impl Conn {
    /// A fresh TCP connection, which streams values.
    pub const fn new() -> Self {
        Conn { state: State::Ready, streams: true }
    }

    /// For one request that is whole in its input (a UDP datagram): a
    /// storage command must carry its whole block, and a `get` reply must
    /// fit the output.
    pub const fn datagram() -> Self {
        Conn { state: State::Ready, streams: false }
    }

    /// Whether a value is half received or half sent: the connection is
    /// between two requests only when not.
    pub fn is_streaming(&self) -> bool {
        matches!(self.state, State::Receiving(_) | State::Sending(_))
    }

    /// Gives back what the store holds for an unfinished stream (the
    /// connection ended): a reservation is cancelled, a reading released.
    pub fn abandon(&mut self, store: &mut Store<'_>) {
        match core::mem::replace(&mut self.state, State::Ready) {
            State::Receiving(r) => store.cancel(r.reservation),
            State::Sending(s) => s.release(store),
            State::Ready | State::Swallow(_) => {}
        }
    }

    /// Runs every request at the front of `input` (pipelined requests
    /// included) as far as `out` has room for the replies.
    ///
    /// The caller keeps `input[consumed..]` and appends the next bytes to
    /// it. Streaming, it must be able to hold [`MAX_LINE`] plus 2 bytes
    /// (a `get` being sent keeps its line at the front of `input` until
    /// its reply is done); a whole-request connection needs the longest
    /// request. `out` should be at least [`OUT_MIN`] bytes; when it fills
    /// up, processing stops and resumes on the next call once the caller
    /// has sent the replies.
    pub fn process(
        &mut self,
        store: &mut Store<'_>,
        input: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Progress {
        let mut w = Writer::new(out);
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            match &mut self.state {
                State::Swallow(left) => {
                    let skip = (*left).min(rest.len());
                    *left -= skip;
                    consumed += skip;
                    if *left > 0 {
                        break;
                    }
                    self.state = State::Ready;
                }
                State::Receiving(r) => {
                    consumed += r.take(store, rest);
                    if !r.ready(&input[consumed..], &w) {
                        break;
                    }
                    let State::Receiving(r) = core::mem::replace(&mut self.state, State::Ready) else {
                        unreachable!("matched above")
                    };
                    consumed += r.finish(store, &input[consumed..], now, &mut w);
                }
                State::Sending(s) => {
                    if !s.send(store, rest, now, &mut w) {
                        break;
                    }
                    consumed += s.line_len();
                    self.state = State::Ready;
                }
                State::Ready => match self.next_request(store, input, consumed, now, &mut w) {
                    Some(Next::Took(len)) => consumed += len,
                    Some(Next::Close(len)) => {
                        return Progress {
                            consumed: consumed + len,
                            written: w.len(),
                            close: true,
                        }
                    }
                    None => break,
                },
            }
        }
        Progress {
            consumed,
            written: w.len(),
            close: false,
        }
    }

    /// Parses and runs, or starts streaming, the request at
    /// `input[at..]`; `None` when it has to wait (more input, or room).
    fn next_request(
        &mut self,
        store: &mut Store<'_>,
        input: &[u8],
        at: usize,
        now: u64,
        w: &mut Writer<'_>,
    ) -> Option<Next> {
        let rest = &input[at..];
        let parsed = if self.streams {
            parse::parse_streaming(rest, store.item_size_max())
        } else {
            parse(rest, store.item_size_max())
        };
        let (request, len) = match parsed {
            Parsed::Incomplete => return None,
            Parsed::LineTooLong => {
                w.line(b"CLIENT_ERROR line too long").ok()?;
                return Some(Next::Close(rest.len()));
            }
            Parsed::Request { request, consumed } => (request, consumed),
        };
        if let Request::Receive { .. } = request {
            if w.remaining() < execute::SHORT_MAX {
                return None;
            }
            let (state, took) = stream::receive(store, &request, len, now, w);
            self.state = state;
            return Some(Next::Took(took));
        }
        let need = execute::reply_bound(store, &request, now);
        if need > w.remaining() {
            if !w.is_empty() {
                return None;
            }
            match request {
                Request::Get { keys, cas } if self.streams => {
                    self.state = State::Sending(stream::Sending::new(rest, keys, len, None, cas));
                    return Some(Next::Took(0));
                }
                Request::Gat { exptime, keys, cas } if self.streams => {
                    self.state = State::Sending(stream::Sending::new(rest, keys, len, Some(exptime), cas));
                    return Some(Next::Took(0));
                }
                Request::Get { .. } | Request::Gat { .. } => {
                    // Could never fit: memcached's answer to a get reply
                    // too big for its buffers.
                    w.line(b"SERVER_ERROR out of memory writing get response").ok()?;
                    return Some(Next::Took(len));
                }
                _ => return None,
            }
        }
        let outcome = execute::execute(store, &request, now, w);
        self.state = match outcome.swallow {
            0 => State::Ready,
            n => State::Swallow(n),
        };
        Some(if outcome.close { Next::Close(len) } else { Next::Took(len) })
    }
}

impl Default for Conn {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`Conn::next_request`] did with the input.
enum Next {
    /// Took this many bytes (0: a `get` started sending, its line stays).
    Took(usize),
    /// Took this many, and the connection closes after the replies.
    Close(usize),
}

#[cfg(test)]
mod tests;
