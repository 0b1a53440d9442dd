//! The incremental request parser: one command line, plus its data block
//! for storage commands, out of the front of a byte buffer.
//!
//! The parser holds no state: it is called again on the same (grown)
//! buffer until it returns more than [`Parsed::Incomplete`], and the
//! verdict does not depend on how the bytes were split into segments.

use crate::number::{parse_i32, parse_u64};
use crate::store::{Key, StoreOp};

/// The longest command line accepted, `\r` included. memcached reads lines
/// into a 2 KiB buffer and only lets multi-key gets grow past it; a fixed
/// 4 KiB bound keeps gets of about 16 long keys working without a heap.
pub const MAX_LINE: usize = 4096;

/// Words kept per line for the fixed-arity commands; the longest (`cas`
/// with `noreply`) has 7, so any line with more is an arity error anyway.
const MAX_WORDS: usize = 8;

/// memcached's reply to a line with the wrong number of words, or an
/// unknown command.
pub const ERROR: &str = "ERROR";
/// memcached's reply to a malformed argument or over-long key.
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
/// memcached's reply to `delete <key> <time>` with a non-zero time.
pub const BAD_DELETE: &str = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
/// memcached's reply to a non-numeric `incr`/`decr` delta.
pub const BAD_DELTA: &str = "CLIENT_ERROR invalid numeric delta argument";
/// memcached's reply to a non-numeric `touch`/`gat` exptime.
pub const BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";

/// One complete request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `get`/`gets <key>*`; `keys` is the rest of the line, unvalidated.
    Get {
        /// The space-separated keys.
        keys: &'a [u8],
        /// `gets`: replies carry the CAS unique.
        cas: bool,
    },
    /// `gat`/`gats <exptime> <key>*`.
    Gat {
        /// The new expiry for every hit.
        exptime: i64,
        /// The space-separated keys.
        keys: &'a [u8],
        /// `gats`: replies carry the CAS unique.
        cas: bool,
    },
    /// A storage command with its data block.
    Store {
        /// Which command.
        op: StoreOp,
        /// The key.
        key: Key<'a>,
        /// The client's flags.
        flags: u32,
        /// The expiry, as sent.
        exptime: i64,
        /// The value (the block without its `\r\n`).
        data: &'a [u8],
        /// Suppress the reply.
        noreply: bool,
    },
    /// A storage command whose data block is still arriving (only from
    /// [`parse_streaming`]): its `bytes` of value and `\r\n` follow.
    Receive {
        /// Which command.
        op: StoreOp,
        /// The key.
        key: Key<'a>,
        /// The client's flags.
        flags: u32,
        /// The expiry, as sent.
        exptime: i64,
        /// Bytes of value to come.
        bytes: usize,
        /// Suppress the reply.
        noreply: bool,
    },
    /// A storage command whose value is over the item size limit: its
    /// `swallow` bytes (data plus `\r\n`) follow and are to be skipped.
    TooLarge {
        /// Which command (a refused `set` drops the old item).
        op: StoreOp,
        /// The key.
        key: Key<'a>,
        /// Bytes to skip after the line.
        swallow: usize,
        /// Suppress the reply.
        noreply: bool,
    },
    /// A storage command whose block did not end in `\r\n` (consumed whole).
    BadChunk {
        /// Suppress the reply.
        noreply: bool,
    },
    /// `delete <key> [0] [noreply]`.
    Delete {
        /// The key.
        key: Key<'a>,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `incr`/`decr <key> <delta> [noreply]`.
    Delta {
        /// The key.
        key: Key<'a>,
        /// The amount.
        delta: u64,
        /// `incr` (else `decr`).
        incr: bool,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `touch <key> <exptime> [noreply]`.
    Touch {
        /// The key.
        key: Key<'a>,
        /// The new expiry.
        exptime: i64,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `flush_all [delay] [noreply]`.
    FlushAll {
        /// Seconds (or a unix time) until the flush; 0 at once.
        delay: i64,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `stats`.
    Stats,
    /// `stats reset`.
    StatsReset,
    /// `version`.
    Version,
    /// `verbosity <level> [noreply]` (accepted, no effect).
    Verbosity {
        /// Suppress the reply.
        noreply: bool,
    },
    /// `quit`: close the connection.
    Quit,
    /// A malformed request: reply with this line.
    Error {
        /// The reply line, without `\r\n`.
        reply: &'static str,
        /// Suppress the reply (memcached has read `noreply` by then).
        noreply: bool,
    },
}

/// What the front of the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not a whole request yet: call again with more bytes.
    Incomplete,
    /// No line end within [`MAX_LINE`] bytes (memcached closes here).
    LineTooLong,
    /// A request and how many bytes of the buffer it took.
    Request {
        /// The request.
        request: Request<'a>,
        /// Bytes taken from the front of the buffer.
        consumed: usize,
    },
}

/// The rest of `line` after `word` (a sub-slice of it).
fn after<'a>(line: &'a [u8], word: &[u8]) -> &'a [u8] {
    let start = word.as_ptr() as usize - line.as_ptr() as usize + word.len();
    &line[start..]
}

/// Parses the request at the front of `input`. Values longer than
/// `item_size_max` (with their key) are not waited for but reported as
/// [`Request::TooLarge`].
pub fn parse(input: &[u8], item_size_max: usize) -> Parsed<'_> {
    parse_request(input, item_size_max, false)
}

/// [`parse`], except that a storage command whose data block is not all in
/// `input` yet is reported at once, as [`Request::Receive`]: its value
/// then streams into the store (a TCP connection does not buffer it).
pub fn parse_streaming(input: &[u8], item_size_max: usize) -> Parsed<'_> {
    parse_request(input, item_size_max, true)
}

fn parse_request(input: &[u8], item_size_max: usize, stream_values: bool) -> Parsed<'_> {
    let window = &input[..input.len().min(MAX_LINE + 1)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        return if input.len() > MAX_LINE {
            Parsed::LineTooLong
        } else {
            Parsed::Incomplete
        };
    };
    let line = &input[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let consumed = nl + 1;
    let mut words: [&[u8]; MAX_WORDS] = [&[]; MAX_WORDS];
    let mut n = 0;
    for w in line.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if n < MAX_WORDS {
            words[n] = w;
        }
        n += 1;
    }
    let done = |request| Parsed::Request { request, consumed };
    let error = |reply, noreply| done(Request::Error { reply, noreply });
    if n == 0 {
        return error(ERROR, false);
    }
    // memcached's set_noreply_maybe: the last word, once arity is checked.
    let noreply = (2..=MAX_WORDS).contains(&n) && words[n - 1] == b"noreply";
    let op = match words[0] {
        b"set" => Some(StoreOp::Set),
        b"add" => Some(StoreOp::Add),
        b"replace" => Some(StoreOp::Replace),
        b"append" => Some(StoreOp::Append),
        b"prepend" => Some(StoreOp::Prepend),
        b"cas" => Some(StoreOp::Cas(0)),
        _ => None,
    };
    if let Some(op) = op {
        return storage(
            input,
            consumed,
            op,
            &words[..n.min(MAX_WORDS)],
            n,
            noreply,
            item_size_max,
            stream_values,
        );
    }
    match (words[0], n) {
        (b"get" | b"gets", 2..) => done(Request::Get {
            keys: after(line, words[0]),
            cas: words[0] == b"gets",
        }),
        (b"gat" | b"gats", 3..) => match parse_i32(words[1]) {
            Some(exptime) => done(Request::Gat {
                exptime,
                keys: after(line, words[1]),
                cas: words[0] == b"gats",
            }),
            None => error(BAD_EXPTIME, false),
        },
        (b"delete", 2..=4) => {
            if n > 2 {
                let hold_is_zero = words[2] == b"0";
                let valid =
                    (n == 3 && (hold_is_zero || noreply)) || (n == 4 && hold_is_zero && noreply);
                if !valid {
                    return error(BAD_DELETE, noreply);
                }
            }
            match Key::new(words[1]) {
                Some(key) => done(Request::Delete { key, noreply }),
                None => error(BAD_FORMAT, noreply),
            }
        }
        (b"incr" | b"decr", 3 | 4) => {
            let Some(key) = Key::new(words[1]) else {
                return error(BAD_FORMAT, noreply);
            };
            match parse_u64(words[2]) {
                Some(delta) => done(Request::Delta {
                    key,
                    delta,
                    incr: words[0] == b"incr",
                    noreply,
                }),
                None => error(BAD_DELTA, noreply),
            }
        }
        (b"touch", 3 | 4) => {
            let Some(key) = Key::new(words[1]) else {
                return error(BAD_FORMAT, noreply);
            };
            match parse_i32(words[2]) {
                Some(exptime) => done(Request::Touch {
                    key,
                    exptime,
                    noreply,
                }),
                None => error(BAD_EXPTIME, noreply),
            }
        }
        (b"flush_all", 1..=3) => {
            if n == 1 + noreply as usize {
                return done(Request::FlushAll { delay: 0, noreply });
            }
            match parse_i32(words[1]) {
                Some(delay) => done(Request::FlushAll { delay, noreply }),
                None => error(BAD_FORMAT, noreply),
            }
        }
        (b"stats", 1) => done(Request::Stats),
        (b"stats", 2) if words[1] == b"reset" => done(Request::StatsReset),
        (b"version", _) => done(Request::Version),
        (b"verbosity", 2 | 3) => done(Request::Verbosity { noreply }),
        (b"quit", _) => done(Request::Quit),
        _ => error(ERROR, false),
    }
}

/// set/add/replace/append/prepend/cas: the line is whole; wait for the block.
fn storage<'a>(
    input: &'a [u8],
    line_len: usize,
    op: StoreOp,
    words: &[&'a [u8]],
    n: usize,
    noreply: bool,
    item_size_max: usize,
    stream_values: bool,
) -> Parsed<'a> {
    let is_cas = op == StoreOp::Cas(0);
    let arity = if is_cas { 6 } else { 5 };
    let error = |reply, noreply| Parsed::Request {
        request: Request::Error { reply, noreply },
        consumed: line_len,
    };
    if n != arity && n != arity + 1 {
        return error(ERROR, false);
    }
    let Some(key) = Key::new(words[1]) else {
        return error(BAD_FORMAT, noreply);
    };
    let flags = parse_u64(words[2]).and_then(|f| u32::try_from(f).ok());
    let (Some(flags), Some(exptime), Some(bytes)) =
        (flags, parse_i32(words[3]), parse_i32(words[4]))
    else {
        return error(BAD_FORMAT, noreply);
    };
    let Ok(bytes) = usize::try_from(bytes) else {
        return error(BAD_FORMAT, noreply);
    };
    let op = if is_cas {
        match parse_u64(words[5]) {
            Some(unique) => StoreOp::Cas(unique),
            None => return error(BAD_FORMAT, noreply),
        }
    } else {
        op
    };
    if key.as_bytes().len() + bytes > item_size_max {
        let request = Request::TooLarge {
            op,
            key,
            swallow: bytes + 2,
            noreply,
        };
        return Parsed::Request {
            request,
            consumed: line_len,
        };
    }
    let end = line_len + bytes + 2;
    let Some(block) = input.get(line_len..end) else {
        if !stream_values {
            return Parsed::Incomplete;
        }
        let request = Request::Receive {
            op,
            key,
            flags,
            exptime,
            bytes,
            noreply,
        };
        return Parsed::Request {
            request,
            consumed: line_len,
        };
    };
    let request = match block.split_at(bytes) {
        (data, b"\r\n") => Request::Store {
            op,
            key,
            flags,
            exptime,
            data,
            noreply,
        },
        _ => Request::BadChunk { noreply },
    };
    Parsed::Request {
        request,
        consumed: end,
    }
}

#[cfg(test)]
mod tests;
