//! The checkpoint image: a template's writable memory right after its
//! initialisation, which every spawn of the template copies back over a
//! slot's writable segments.
//!
//! Why not `sel4-reset`: it restores the segments as the ELF file has them
//! (before `init` ran) and re-enters `_start`, so every spawn would re-run
//! initialisation. A template's point is the opposite: initialise once,
//! checkpoint, and start each FWP from the initialised state. The template
//! PD writes this image into its `tmpl_image` region (read-only in its
//! slots, at the same address); a slot restores itself with a copy loop
//! that uses registers only, because the loop overwrites the stack, the
//! heap and the TLS block along with everything else.
//!
//! Layout (little endian):
//!
//! ```text
//!  0      4        8      12    16                                  80      128
//!  magic  version  count  pad   MAX_RANGES x (dst: u64, len: u64)   unused  data...
//! ```
//!
//! Every range starts on a 16-byte boundary and is a multiple of 16 bytes
//! long (the copy moves 16 bytes at a time); unused ranges have length 0.
//! The data is the ranges' bytes, one after another, from [`IMAGE_DATA_AT`].

/// The image's magic number ("FWPI" as little-endian bytes); the restore
/// routine refuses (faults on) an image without it.
pub const IMAGE_MAGIC: u32 = u32::from_le_bytes(*b"FWPI");
/// The image format's version.
pub const IMAGE_VERSION: u32 = 1;
/// Writable segments an image can hold.
pub const MAX_RANGES: usize = 4;
/// Where the ranges' bytes start in the image.
pub const IMAGE_DATA_AT: usize = 128;
/// The restore routine's copy granule.
pub const GRANULE: u64 = 16;

const RANGES_AT: usize = 16;

/// Why a checkpoint cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// No writable segment at all.
    Empty,
    /// More writable segments than [`MAX_RANGES`].
    TooManyRanges(usize),
    /// Ranges that overlap once rounded to [`GRANULE`].
    Overlap,
    /// The image needs `needed` bytes; the region has `available`.
    TooLarge {
        /// Header plus data.
        needed: usize,
        /// The region's length.
        available: usize,
    },
    /// Bytes that are not an image (bad magic, version or count).
    NotAnImage,
}

impl core::fmt::Display for ImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("no writable segment to checkpoint"),
            Self::TooManyRanges(n) => write!(f, "{n} writable segments, an image holds {MAX_RANGES}"),
            Self::Overlap => f.write_str("writable segments overlap"),
            Self::TooLarge { needed, available } => {
                write!(f, "checkpoint needs {needed} bytes, the image region has {available}")
            }
            Self::NotAnImage => f.write_str("not a checkpoint image"),
        }
    }
}

/// The ranges a checkpoint covers, rounded out to [`GRANULE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    ranges: [(u64, u64); MAX_RANGES],
    count: usize,
}

impl ImageLayout {
    /// The layout for writable segments `(vaddr, memsz)` (a PD's PT_LOAD
    /// headers with the write flag). Zero-length segments are skipped.
    pub fn new(segments: impl IntoIterator<Item = (u64, u64)>) -> Result<Self, ImageError> {
        let mut ranges = [(0, 0); MAX_RANGES];
        let mut count = 0;
        for (vaddr, len) in segments.into_iter().filter(|(_, len)| *len > 0) {
            if count == MAX_RANGES {
                return Err(ImageError::TooManyRanges(count + 1));
            }
            let start = vaddr & !(GRANULE - 1);
            let end = vaddr.checked_add(len).and_then(|e| e.checked_next_multiple_of(GRANULE)).ok_or(ImageError::Overlap)?;
            ranges[count] = (start, end - start);
            count += 1;
        }
        if count == 0 {
            return Err(ImageError::Empty);
        }
        let used = &mut ranges[..count];
        used.sort_unstable();
        if used.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(ImageError::Overlap);
        }
        Ok(Self { ranges, count })
    }

    /// The covered ranges, `(start, len)`, in address order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges[..self.count]
    }

    /// Bytes of the ranges together.
    pub fn data_len(&self) -> usize {
        self.ranges().iter().map(|(_, len)| *len as usize).sum()
    }

    /// Bytes of the whole image: header and data.
    pub fn image_len(&self) -> usize {
        IMAGE_DATA_AT + self.data_len()
    }

    /// Checks that the image fits a region of `available` bytes.
    pub fn fits(&self, available: usize) -> Result<(), ImageError> {
        match self.image_len() {
            needed if needed > available => Err(ImageError::TooLarge { needed, available }),
            _ => Ok(()),
        }
    }

    /// Writes the header into the first [`IMAGE_DATA_AT`] bytes of `out`;
    /// the caller copies the ranges' bytes after it, in [`Self::ranges`] order.
    ///
    /// # Panics
    /// If `out` is shorter than [`IMAGE_DATA_AT`].
    pub fn emit_header(&self, out: &mut [u8]) {
        let out = &mut out[..IMAGE_DATA_AT];
        out.fill(0);
        out[0..4].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&IMAGE_VERSION.to_le_bytes());
        out[8..12].copy_from_slice(&(self.count as u32).to_le_bytes());
        for (i, (start, len)) in self.ranges().iter().enumerate() {
            let at = RANGES_AT + i * 16;
            out[at..at + 8].copy_from_slice(&start.to_le_bytes());
            out[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        }
    }

    /// Reads a header written by [`Self::emit_header`].
    pub fn parse_header(bytes: &[u8]) -> Result<Self, ImageError> {
        let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let dword = |at: usize| {
            bytes.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        };
        if word(0) != Some(IMAGE_MAGIC) || word(4) != Some(IMAGE_VERSION) {
            return Err(ImageError::NotAnImage);
        }
        let count = word(8).ok_or(ImageError::NotAnImage)? as usize;
        if count == 0 || count > MAX_RANGES {
            return Err(ImageError::NotAnImage);
        }
        let mut segments = [(0, 0); MAX_RANGES];
        for (i, segment) in segments.iter_mut().enumerate().take(count) {
            let at = RANGES_AT + i * 16;
            *segment = (dword(at).ok_or(ImageError::NotAnImage)?, dword(at + 8).ok_or(ImageError::NotAnImage)?);
            if segment.1 == 0 || segment.0 % GRANULE != 0 || segment.1 % GRANULE != 0 {
                return Err(ImageError::NotAnImage);
            }
        }
        Self::new(segments.into_iter().take(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_out_to_the_granule_and_sort() {
        let layout = ImageLayout::new([(0x30_0008, 0x100), (0x20_0000, 0x7f1), (0x40_0000, 0)]).unwrap();
        assert_eq!(layout.ranges(), &[(0x20_0000, 0x800), (0x30_0000, 0x110)]);
        assert_eq!(layout.data_len(), 0x910);
        assert_eq!(layout.image_len(), IMAGE_DATA_AT + 0x910);
        assert_eq!(layout.fits(IMAGE_DATA_AT + 0x910), Ok(()));
        assert_eq!(
            layout.fits(0x900),
            Err(ImageError::TooLarge { needed: IMAGE_DATA_AT + 0x910, available: 0x900 })
        );
    }

    #[test]
    fn header_round_trip_and_untrusted_headers() {
        let layout = ImageLayout::new([(0x20_0000, 0x1000), (0x21_0000, 0x2345)]).unwrap();
        let mut out = [0xaa; IMAGE_DATA_AT];
        layout.emit_header(&mut out);
        assert_eq!(ImageLayout::parse_header(&out), Ok(layout));
        for cut in 0..40 {
            assert!(ImageLayout::parse_header(&out[..cut]).is_err(), "prefix of {cut}");
        }
        let mut bad = out;
        bad[0] ^= 1;
        assert_eq!(ImageLayout::parse_header(&bad), Err(ImageError::NotAnImage));
        let mut bad = out;
        bad[8] = 5;
        assert_eq!(ImageLayout::parse_header(&bad), Err(ImageError::NotAnImage));
        let mut bad = out;
        bad[RANGES_AT] = 8; // misaligned start
        assert_eq!(ImageLayout::parse_header(&bad), Err(ImageError::NotAnImage));
    }

    #[test]
    fn bad_segment_sets_are_refused() {
        assert_eq!(ImageLayout::new([]), Err(ImageError::Empty));
        assert_eq!(ImageLayout::new([(0x1000, 0)]), Err(ImageError::Empty));
        let five = (0..5u64).map(|i| (i * 0x1000, 0x10));
        assert_eq!(ImageLayout::new(five), Err(ImageError::TooManyRanges(5)));
        assert_eq!(ImageLayout::new([(0x1000, 0x18), (0x1010, 0x10)]), Err(ImageError::Overlap));
        assert_eq!(ImageLayout::new([(u64::MAX - 4, 0x10)]), Err(ImageError::Overlap));
    }
}
