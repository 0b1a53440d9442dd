//! One connection's side of the memcached text protocol as the load
//! generator speaks it: requests written out, replies read as they arrive
//! and compared byte for byte with what they must be, without ever holding
//! a whole value (a 1 MiB value held per connection would be a GiB of
//! buffers over 1,024 connections).
//!
//! Every reply is parsed far enough to know where it ends, so one that is
//! well formed but not the expected one (a miss, `SERVER_ERROR ...`, a
//! value with a wrong byte) leaves the connection in step and usable:
//! [`Failure::Wrong`]. Anything else (a timeout, a close, a reply that
//! cannot be delimited) ends the connection: [`Failure::Broken`].

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::pattern;

/// Bytes read from the socket at a time.
const INBOX: usize = 64 * 1024;
/// Longest reply line accepted. The longest a server sends us is
/// `VALUE <key> <flags> <bytes>`, and keys are at most 250 bytes.
const MAX_LINE: usize = 1024;
/// Requests up to this size go out in one write (one segment with
/// `TCP_NODELAY`, as a client library sends a small request); longer ones
/// are written part by part, straight from the shared value bytes.
const COALESCE: usize = 16 * 1024;

/// A value as the run makes it: `tag` then `rest`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Value<'a> {
    /// The value's first bytes, which name its key.
    pub tag: &'a [u8],
    /// The remaining bytes.
    pub rest: &'a [u8],
}

impl Value<'_> {
    pub fn len(&self) -> usize {
        self.tag.len() + self.rest.len()
    }
}

/// Why an exchange did not get its expected reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// A whole, well-formed reply that is not the expected one; the
    /// connection can go on.
    Wrong(String),
    /// The connection cannot go on.
    Broken(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Wrong(why) | Failure::Broken(why) => why,
        }
    }
}

/// A reply line for a message: whole when it is short text (memcached's
/// error lines are), else its start.
fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.len() <= 100 => format!("{text:?}"),
        _ => pattern::preview(bytes),
    }
}

pub(super) struct Connection {
    stream: TcpStream,
    /// Received bytes not yet consumed: `inbox[start..end]`.
    inbox: Box<[u8]>,
    start: usize,
    end: usize,
    /// A small request is assembled here before its one write.
    outbox: Vec<u8>,
    timeout: Duration,
}

impl Connection {
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self { stream, inbox: vec![0; INBOX].into_boxed_slice(), start: 0, end: 0, outbox: Vec::with_capacity(COALESCE), timeout })
    }

    /// `version`: any `VERSION ...` line. A cheap first exchange, which
    /// shows the server took the connection on.
    pub fn version(&mut self) -> Result<(), Failure> {
        self.send(&[b"version\r\n"])?;
        let line = self.line()?;
        if !line.starts_with(b"VERSION ") {
            return Err(Failure::Wrong(format!("version: {}", shown(&line))));
        }
        Ok(())
    }

    /// `set <key> 0 0 <n>`, which must be `STORED`.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), Failure> {
        let header = format!("set {key} 0 0 {}\r\n", value.len());
        self.send(&[header.as_bytes(), value.tag, value.rest, b"\r\n"])?;
        let line = self.line()?;
        if line != b"STORED\r\n" {
            return Err(Failure::Wrong(format!("set {key}: {}, expected \"STORED\\r\\n\"", shown(&line))));
        }
        Ok(())
    }

    /// `get <key>`, which must return exactly `value` with flags 0.
    pub fn get(&mut self, key: &str, value: Value) -> Result<(), Failure> {
        self.send(&[b"get ", key.as_bytes(), b"\r\n"])?;
        let expected = format!("VALUE {key} 0 {}\r\n", value.len());
        let line = self.line()?;
        if line == expected.as_bytes() {
            let differs = self.compare(&[value.tag, value.rest])?;
            self.end_of_value(key)?;
            return match differs {
                Some(at) => Err(Failure::Wrong(format!("get {key}: byte {at} of the {}-byte value differs", value.len()))),
                None => Ok(()),
            };
        }
        if line == b"END\r\n" {
            return Err(Failure::Wrong(format!("get {key}: a miss")));
        }
        if line.starts_with(b"VALUE ") {
            // Another key, flags or length: read past it to stay in step.
            let len = std::str::from_utf8(&line)
                .ok()
                .and_then(|text| text.split_whitespace().nth(3))
                .and_then(|bytes| bytes.parse::<usize>().ok())
                .ok_or_else(|| Failure::Broken(format!("get {key}: {}", shown(&line))))?;
            self.skip(len)?;
            self.end_of_value(key)?;
        }
        Err(Failure::Wrong(format!("get {key}: {}, expected {}", shown(&line), shown(expected.as_bytes()))))
    }

    /// The `\r\n` after a value and the `END` line after it.
    fn end_of_value(&mut self, key: &str) -> Result<(), Failure> {
        if self.compare(&[b"\r\n"])?.is_some() {
            return Err(Failure::Broken(format!("get {key}: the value is not followed by \"\\r\\n\"")));
        }
        let end = self.line()?;
        if end != b"END\r\n" {
            return Err(Failure::Broken(format!("get {key}: {} after the value, expected \"END\\r\\n\"", shown(&end))));
        }
        Ok(())
    }

    fn send(&mut self, parts: &[&[u8]]) -> Result<(), Failure> {
        let broken = |e: std::io::Error| Failure::Broken(format!("send: {e}"));
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total <= COALESCE {
            self.outbox.clear();
            parts.iter().for_each(|p| self.outbox.extend_from_slice(p));
            return self.stream.write_all(&self.outbox).map_err(broken);
        }
        parts.iter().try_for_each(|p| self.stream.write_all(p)).map_err(broken)
    }

    /// Reads more bytes into an empty inbox, or after the unread ones.
    fn fill(&mut self) -> Result<(), Failure> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.inbox.len() {
            self.inbox.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        match self.stream.read(&mut self.inbox[self.end..]) {
            Ok(0) => Err(Failure::Broken("the server closed the connection".into())),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Failure::Broken(format!("no reply within {} ms", self.timeout.as_millis())))
            }
            Err(e) => Err(Failure::Broken(format!("reply: {e}"))),
        }
    }

    /// The next reply line, `\r\n` included.
    fn line(&mut self) -> Result<Vec<u8>, Failure> {
        let mut searched = 0;
        loop {
            let unread = &self.inbox[self.start..self.end];
            if let Some(at) = unread[searched..].iter().position(|&b| b == b'\n') {
                let line = unread[..searched + at + 1].to_vec();
                self.start += line.len();
                return Ok(line);
            }
            if unread.len() >= MAX_LINE {
                return Err(Failure::Broken(format!("a reply line longer than {MAX_LINE} bytes: {}", shown(unread))));
            }
            searched = unread.len();
            self.fill()?;
        }
    }

    /// Consumes as many bytes as `expected` holds, comparing them with it;
    /// the offset of the first that differs, if any does.
    fn compare(&mut self, expected: &[&[u8]]) -> Result<Option<usize>, Failure> {
        let mut first_difference = None;
        let mut offset = 0;
        for part in expected {
            let mut part: &[u8] = part;
            while !part.is_empty() {
                if self.start == self.end {
                    self.fill()?;
                }
                let n = part.len().min(self.end - self.start);
                let got = &self.inbox[self.start..self.start + n];
                if first_difference.is_none() && got != &part[..n] {
                    first_difference = got.iter().zip(part).position(|(a, b)| a != b).map(|at| offset + at);
                }
                self.start += n;
                offset += n;
                part = &part[n..];
            }
        }
        Ok(first_difference)
    }

    /// Consumes `len` bytes unread.
    fn skip(&mut self, mut len: usize) -> Result<(), Failure> {
        while len > 0 {
            if self.start == self.end {
                self.fill()?;
            }
            let n = len.min(self.end - self.start);
            self.start += n;
            len -= n;
        }
        Ok(())
    }
}
