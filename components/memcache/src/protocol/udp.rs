//! memcached's UDP framing: an 8-byte header before the text protocol.
//!
//! ```text
//!   0        2        4        6        8
//!   +--------+--------+--------+--------+------------------
//!   | req id |  seq   | total  |   0    | text protocol ...
//!   +--------+--------+--------+--------+------------------
//! ```
//!
//! All fields are big-endian `u16`. A request must fit one datagram
//! (`total` 1, as memcached insists); a reply is cut into datagrams of at
//! most [`MAX_DATAGRAM`] bytes, each echoing the request id and numbered
//! `seq` 0..`total`.

use super::{Conn, Writer};
use crate::store::Store;
#[cfg(test)]
use crate::store::OwnedIndex;

/// Bytes of the frame header.
pub const HEADER_LEN: usize = 8;

/// The largest reply datagram, header included: memcached's
/// `UDP_MAX_PAYLOAD_SIZE`, chosen to stay under a 1500-byte Ethernet MTU
/// with IP and UDP headers.
pub const MAX_DATAGRAM: usize = 1400;

/// Reply bytes carried per datagram.
pub const CHUNK: usize = MAX_DATAGRAM - HEADER_LEN;

mod field {
    use core::ops::Range;
    pub const REQUEST_ID: Range<usize> = 0..2;
    pub const SEQUENCE: Range<usize> = 2..4;
    pub const TOTAL: Range<usize> = 4..6;
    pub const RESERVED: Range<usize> = 6..8;
}

/// The datagram is shorter than the frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// A view of a framed datagram.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking it (for emitting into a buffer the
    /// caller sized).
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps `buffer`, checking it holds a whole header; after this no
    /// accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Truncated);
        }
        Ok(Frame { buffer })
    }

    fn u16_at(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The client's request id, echoed in every reply datagram.
    pub fn request_id(&self) -> u16 {
        self.u16_at(field::REQUEST_ID)
    }

    /// This datagram's number within the message.
    pub fn sequence(&self) -> u16 {
        self.u16_at(field::SEQUENCE)
    }

    /// How many datagrams the message has.
    pub fn total(&self) -> u16 {
        self.u16_at(field::TOTAL)
    }

    /// The reserved field (0 when memcached sends).
    pub fn reserved(&self) -> u16 {
        self.u16_at(field::RESERVED)
    }

    /// The text-protocol bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    fn set_u16(&mut self, range: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the request id.
    pub fn set_request_id(&mut self, v: u16) {
        self.set_u16(field::REQUEST_ID, v)
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, v: u16) {
        self.set_u16(field::SEQUENCE, v)
    }

    /// Sets the datagram count.
    pub fn set_total(&mut self, v: u16) {
        self.set_u16(field::TOTAL, v)
    }

    /// Sets the reserved field.
    pub fn set_reserved(&mut self, v: u16) {
        self.set_u16(field::RESERVED, v)
    }

    /// The bytes after the header, for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// A frame header's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The request id.
    pub request_id: u16,
    /// The datagram's number.
    pub sequence: u16,
    /// The datagram count.
    pub total: u16,
}

impl Repr {
    /// Reads a checked frame's header (the reserved field is ignored, as
    /// memcached ignores it).
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Self {
        Repr {
            request_id: frame.request_id(),
            sequence: frame.sequence(),
            total: frame.total(),
        }
    }

    /// Writes the header, reserved field 0.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_request_id(self.request_id);
        frame.set_sequence(self.sequence);
        frame.set_total(self.total);
        frame.set_reserved(0);
    }

    /// Bytes of the header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }
}

/// Why a request datagram got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// Shorter than the header: dropped, as memcached drops it.
    Truncated,
    /// The reply needs more than `u16::MAX` datagrams.
    ReplyTooLong,
}

/// Answers one request datagram: runs its requests against `store`
/// (replies gathered in `scratch`) and hands each reply datagram to
/// `send`. Returns how many datagrams were sent (0 for `noreply`).
///
/// Requests spanning datagrams (`total` ≠ 1) get memcached's `SERVER_ERROR
/// multi-packet request not supported`. An incomplete request at the end
/// of the datagram is dropped, as are requests whose replies no longer
/// fit `scratch` after earlier ones (a lone `get` too big for `scratch`
/// gets `SERVER_ERROR out of memory writing get response`).
pub fn serve(
    store: &mut Store<'_>,
    datagram: &[u8],
    now: u64,
    scratch: &mut [u8],
    mut send: impl FnMut(&[u8]),
) -> Result<usize, UdpError> {
    let frame = Frame::new_checked(datagram).map_err(|_| UdpError::Truncated)?;
    let header = Repr::parse(&frame);
    let written = if header.total != 1 {
        let mut w = Writer::new(scratch);
        let _ = w.line(b"SERVER_ERROR multi-packet request not supported");
        w.len()
    } else {
        Conn::datagram()
            .process(store, frame.payload(), now, scratch)
            .written
    };
    let reply = &scratch[..written];
    let total = u16::try_from(reply.len().div_ceil(CHUNK)).map_err(|_| UdpError::ReplyTooLong)?;
    let mut datagram = [0u8; MAX_DATAGRAM];
    for (sequence, chunk) in reply.chunks(CHUNK).enumerate() {
        let mut out = Frame::new_unchecked(&mut datagram[..HEADER_LEN + chunk.len()]);
        Repr {
            request_id: header.request_id,
            sequence: sequence as u16,
            total,
        }
        .emit(&mut out);
        out.payload_mut().copy_from_slice(chunk);
        send(&datagram[..HEADER_LEN + chunk.len()]);
    }
    Ok(total as usize)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn request(id: u16, total: u16, text: &[u8]) -> Vec<u8> {
        let mut d = Vec::from([0u8; HEADER_LEN]);
        Repr {
            request_id: id,
            sequence: 0,
            total,
        }
        .emit(&mut Frame::new_unchecked(&mut d[..]));
        d.extend_from_slice(text);
        d
    }

    fn serve_all(store: &mut Store<'_>, datagram: &[u8]) -> Vec<Vec<u8>> {
        let mut scratch = [0u8; 16 * 1024];
        let mut out = Vec::new();
        let n = serve(store, datagram, 100, &mut scratch, |d| out.push(d.to_vec())).unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn header_round_trips() {
        let mut b = [0u8; 8];
        let r = Repr {
            request_id: 0xbeef,
            sequence: 3,
            total: 7,
        };
        r.emit(&mut Frame::new_unchecked(&mut b[..]));
        assert_eq!(b, [0xbe, 0xef, 0, 3, 0, 7, 0, 0]);
        assert_eq!(Repr::parse(&Frame::new_checked(&b[..]).unwrap()), r);
        assert_eq!(Frame::new_checked(&b[..7]).err(), Some(Truncated));
    }

    #[test]
    fn a_short_reply_is_one_datagram() {
        let mut arena = [0u8; 8192];
        let mut index = OwnedIndex::<64>::new();

        let mut store = Store::new(&mut arena, index.index(), 4096);
        let out = serve_all(
            &mut store,
            &request(0x1234, 1, b"set k 5 0 2\r\nhi\r\nget k\r\n"),
        );
        assert_eq!(
            out,
            [b"\x12\x34\x00\x00\x00\x01\x00\x00STORED\r\nVALUE k 5 2\r\nhi\r\nEND\r\n".to_vec()]
        );
    }

    #[test]
    fn a_long_reply_is_split_and_numbered() {
        let mut arena = [0u8; 8192];
        let mut index = OwnedIndex::<64>::new();

        let mut store = Store::new(&mut arena, index.index(), 4096);
        let value = [b'x'; 3000];
        let mut set = Vec::from(&b"set big 0 0 3000\r\n"[..]);
        set.extend_from_slice(&value);
        set.extend_from_slice(b"\r\n");
        assert_eq!(serve_all(&mut store, &request(1, 1, &set)).len(), 1);
        let out = serve_all(&mut store, &request(7, 1, b"get big\r\n"));
        let text: Vec<u8> = [&b"VALUE big 0 3000\r\n"[..], &value, b"\r\nEND\r\n"].concat();
        assert_eq!(out.len(), text.len().div_ceil(CHUNK));
        let mut joined = Vec::new();
        for (seq, d) in out.iter().enumerate() {
            assert!(d.len() <= MAX_DATAGRAM);
            let f = Frame::new_checked(&d[..]).unwrap();
            assert_eq!(
                Repr::parse(&f),
                Repr {
                    request_id: 7,
                    sequence: seq as u16,
                    total: out.len() as u16
                }
            );
            assert_eq!(f.reserved(), 0);
            joined.extend_from_slice(f.payload());
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn multi_datagram_requests_are_refused_and_short_ones_dropped() {
        let mut arena = [0u8; 1024];
        let mut index = OwnedIndex::<64>::new();

        let mut store = Store::new(&mut arena, index.index(), 1024);
        let out = serve_all(&mut store, &request(9, 2, b"get k\r\n"));
        assert_eq!(out, [b"\x00\x09\x00\x00\x00\x01\x00\x00SERVER_ERROR multi-packet request not supported\r\n".to_vec()]);
        let mut scratch = [0u8; 64];
        assert_eq!(
            serve(&mut store, b"\x00\x01\x00", 0, &mut scratch, |_| panic!()),
            Err(UdpError::Truncated)
        );
        assert!(serve_all(&mut store, &request(3, 1, b"set k 0 0 1 noreply\r\nx\r\n")).is_empty());
    }
}
