use core::ops::Range;

use crate::Buf;

/// Why a descriptor from a peer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDescriptor {
    /// The offset is not the start of one of the region's buffer slots.
    Misaligned,
    /// The buffer starts or ends outside the region.
    OutOfRange,
    /// The length is larger than one buffer slot.
    TooLong,
}

impl core::fmt::Display for BadDescriptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Misaligned => "offset is not at a buffer boundary",
            Self::OutOfRange => "buffer lies outside the shared region",
            Self::TooLong => "length exceeds the buffer size",
        })
    }
}

/// The geometry of a shared buffer region: `len` bytes cut into slots of `buf_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    len: usize,
    buf_size: usize,
}

impl Region {
    /// A region of `len` bytes cut into `buf_size`-byte slots.
    ///
    /// # Panics
    /// If `buf_size` is zero or larger than `len`: a configuration error, not peer input.
    pub const fn new(len: usize, buf_size: usize) -> Self {
        assert!(buf_size > 0 && buf_size <= len);
        Self { len, buf_size }
    }

    /// Size of one buffer slot in bytes.
    pub const fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// Number of whole slots in the region.
    pub const fn slots(&self) -> usize {
        self.len / self.buf_size
    }

    /// The descriptor of slot `index` with its full capacity, or `None` past the end.
    pub const fn slot(&self, index: usize) -> Option<Buf> {
        if index < self.slots() {
            Some(Buf { offset: index * self.buf_size, len: self.buf_size, cookie: index })
        } else {
            None
        }
    }

    /// Validates a descriptor a peer handed us and returns the byte range it covers.
    ///
    /// A valid descriptor starts at a slot boundary, stays inside the region and
    /// within one slot. Arithmetic is checked, so no peer value can overflow.
    pub fn check(&self, buf: &Buf) -> Result<Range<usize>, BadDescriptor> {
        if buf.len > self.buf_size {
            return Err(BadDescriptor::TooLong);
        }
        let end = buf.offset.checked_add(buf.len).ok_or(BadDescriptor::OutOfRange)?;
        if buf.offset >= self.slots() * self.buf_size || end > self.len {
            return Err(BadDescriptor::OutOfRange);
        }
        if buf.offset % self.buf_size != 0 {
            return Err(BadDescriptor::Misaligned);
        }
        Ok(buf.offset..end)
    }

    /// The slot index a valid descriptor refers to.
    pub fn slot_index(&self, buf: &Buf) -> Result<usize, BadDescriptor> {
        self.check(buf).map(|range| range.start / self.buf_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Region = Region::new(4 * 2048, 2048);

    fn buf(offset: usize, len: usize) -> Buf {
        Buf { offset, len, cookie: 0 }
    }

    #[test]
    fn accepts_every_slot_at_full_and_partial_length() {
        for i in 0..R.slots() {
            assert_eq!(R.check(&buf(i * 2048, 2048)), Ok(i * 2048..(i + 1) * 2048));
            assert_eq!(R.check(&buf(i * 2048, 60)), Ok(i * 2048..i * 2048 + 60));
            assert_eq!(R.slot_index(&buf(i * 2048, 0)), Ok(i));
        }
    }

    #[test]
    fn refuses_out_of_range_misaligned_and_overlong() {
        assert_eq!(R.check(&buf(4 * 2048, 1)), Err(BadDescriptor::OutOfRange));
        assert_eq!(R.check(&buf(usize::MAX - 10, 100)), Err(BadDescriptor::OutOfRange));
        assert_eq!(R.check(&buf(2048 + 1, 100)), Err(BadDescriptor::Misaligned));
        assert_eq!(R.check(&buf(0, 2049)), Err(BadDescriptor::TooLong));
    }

    #[test]
    fn a_trailing_partial_slot_is_never_handed_out() {
        let r = Region::new(2048 * 2 + 100, 2048);
        assert_eq!(r.slots(), 2);
        assert!(r.slot(2).is_none());
        assert_eq!(r.check(&buf(4096, 50)), Err(BadDescriptor::OutOfRange));
    }
}
