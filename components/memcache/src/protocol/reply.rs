//! A bounded writer over the caller's output buffer.

use crate::number::format_u64;

/// The output buffer did not have room; nothing past its end was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Appends reply bytes to a caller's buffer, refusing to overrun it.
pub struct Writer<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'o mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Appends `bytes` whole, or nothing.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let dst = self
            .buf
            .get_mut(self.len..self.len + bytes.len())
            .ok_or(Full)?;
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// Appends `v` in decimal.
    pub fn num(&mut self, v: u64) -> Result<(), Full> {
        let mut buf = [0u8; 20];
        self.put(format_u64(v, &mut buf))
    }

    /// Lets `fill` write into the room left; it returns how many bytes it
    /// wrote, which are appended.
    pub fn fill_with(&mut self, fill: impl FnOnce(&mut [u8]) -> usize) -> usize {
        let n = fill(&mut self.buf[self.len..]).min(self.remaining());
        self.len += n;
        n
    }

    /// Appends `line` and `\r\n`.
    pub fn line(&mut self, line: &[u8]) -> Result<(), Full> {
        self.put(line)?;
        self.put(b"\r\n")
    }
}

/// Bytes `u64` may take in decimal.
pub const NUM_MAX: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overrun() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        w.line(b"STORED").unwrap();
        assert_eq!(w.put(b"x"), Err(Full));
        assert_eq!(w.len(), 8);
        assert_eq!(&buf, b"STORED\r\n");
    }
}
