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

/// One TCP connection's protocol state: only the count of data bytes
/// still to skip after a refused oversize value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conn {
    swallow: usize,
}

impl Conn {
    /// A fresh connection.
    pub const fn new() -> Self {
        Conn { swallow: 0 }
    }

    /// Runs every whole request at the front of `input` (pipelined requests
    /// included) whose reply fits in `out`.
    ///
    /// The caller keeps `input[consumed..]` and appends the next segment
    /// to it; it must be able to hold [`MAX_LINE`] plus the store's
    /// `item_size_max` plus 2 bytes, or a maximal `set` never completes.
    /// `out` should be at least [`OUT_MIN`] bytes; when it fills up,
    /// processing stops before the next request and resumes on the next
    /// call once the caller has sent the replies.
    pub fn process<const N: usize>(
        &mut self,
        store: &mut Store<'_, N>,
        input: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Progress {
        let mut w = Writer::new(out);
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            if self.swallow > 0 {
                let skip = self.swallow.min(rest.len());
                self.swallow -= skip;
                consumed += skip;
                if self.swallow > 0 {
                    break;
                }
                continue;
            }
            match parse(rest, store.item_size_max()) {
                Parsed::Incomplete => break,
                Parsed::LineTooLong => {
                    if w.line(b"CLIENT_ERROR line too long").is_err() {
                        break;
                    }
                    return Progress {
                        consumed: input.len(),
                        written: w.len(),
                        close: true,
                    };
                }
                Parsed::Request {
                    request,
                    consumed: len,
                } => {
                    let need = execute::reply_bound(store, &request, now);
                    if need > w.remaining() {
                        if !w.is_empty()
                            || !matches!(request, Request::Get { .. } | Request::Gat { .. })
                        {
                            break;
                        }
                        // Could never fit: memcached's answer to a get reply
                        // too big for its buffers.
                        let _ = w.line(b"SERVER_ERROR out of memory writing get response");
                        consumed += len;
                        continue;
                    }
                    consumed += len;
                    let outcome = execute::execute(store, &request, now, &mut w);
                    self.swallow = outcome.swallow;
                    if outcome.close {
                        return Progress {
                            consumed,
                            written: w.len(),
                            close: true,
                        };
                    }
                }
            }
        }
        Progress {
            consumed,
            written: w.len(),
            close: false,
        }
    }
}

#[cfg(test)]
mod tests;
