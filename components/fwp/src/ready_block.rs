//! The block a template writes into its slot's control region when its
//! initialisation is done, telling the multiplexer where to start it.
//!
//! Layout (little endian), in the style of smoltcp's `wire` formats:
//!
//! ```text
//!  0      4        8            16             24           32          40      48
//!  magic  version  serve_entry  restore_entry  park_entry   stack_top   image
//! ```
//!
//! Every address is the same in each slot of the template: the slots run
//! the template's ELF and map its regions where the template does.

/// Bytes the block occupies at the start of the control region.
pub const READY_BLOCK_LEN: usize = 48;

const MAGIC: u32 = 0x5046_5745; // "EWFP" read as little-endian bytes
const VERSION: u32 = 3;

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: Range<usize> = 4..8;
    pub const SERVE: Range<usize> = 8..16;
    pub const RESTORE: Range<usize> = 16..24;
    pub const PARK: Range<usize> = 24..32;
    pub const STACK_TOP: Range<usize> = 32..40;
    pub const IMAGE: Range<usize> = 40..48;
}

/// Where a template's slots are started, and the stack they run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateReady {
    /// Address of the `extern "C" fn(slot, generation) -> !` serving loop.
    pub serve_entry: u64,
    /// Address of the restore routine: it copies the checkpoint image over
    /// the slot's writable segments (see [`crate::image`]) and branches to
    /// x2 with x0/x1 untouched.
    pub restore_entry: u64,
    /// Address of the `extern "C" fn(slot, generation) -> !` that reports
    /// "restored" to the mux and parks until spawned.
    pub park_entry: u64,
    /// Initial stack pointer for all three (16-byte aligned).
    pub stack_top: u64,
    /// Where the slots map the checkpoint image: the restore routine gets it
    /// in x3 from the mux, never from the slot's own memory, which the last
    /// tenant may have corrupted.
    pub image: u64,
}

/// Why a control region does not hold a usable ready block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyBlockError {
    /// Fewer than [`READY_BLOCK_LEN`] bytes.
    Truncated,
    /// No magic: the template has not (or not correctly) finished initialising.
    NotReady,
    /// Written by a template built for another block version.
    Version(u32),
    /// A null entry point or a misaligned stack: starting there would fault at once.
    BadAddress,
}

impl core::fmt::Display for ReadyBlockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("control region shorter than a ready block"),
            Self::NotReady => f.write_str("no ready block (bad magic)"),
            Self::Version(v) => write!(f, "ready block version {v}, expected {VERSION}"),
            Self::BadAddress => f.write_str("null entry point or misaligned stack"),
        }
    }
}

fn word<const N: usize>(bytes: &[u8], range: core::ops::Range<usize>) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[range]);
    out
}

impl TemplateReady {
    /// Parses the block at the start of `bytes`: untrusted input from the slot.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReadyBlockError> {
        if bytes.len() < READY_BLOCK_LEN {
            return Err(ReadyBlockError::Truncated);
        }
        if u32::from_le_bytes(word(bytes, field::MAGIC)) != MAGIC {
            return Err(ReadyBlockError::NotReady);
        }
        let version = u32::from_le_bytes(word(bytes, field::VERSION));
        if version != VERSION {
            return Err(ReadyBlockError::Version(version));
        }
        let ready = Self {
            serve_entry: u64::from_le_bytes(word(bytes, field::SERVE)),
            restore_entry: u64::from_le_bytes(word(bytes, field::RESTORE)),
            park_entry: u64::from_le_bytes(word(bytes, field::PARK)),
            stack_top: u64::from_le_bytes(word(bytes, field::STACK_TOP)),
            image: u64::from_le_bytes(word(bytes, field::IMAGE)),
        };
        let entries = [ready.serve_entry, ready.restore_entry, ready.park_entry, ready.image];
        if entries.contains(&0) || ready.stack_top == 0 || ready.stack_top & 0xf != 0 {
            return Err(ReadyBlockError::BadAddress);
        }
        Ok(ready)
    }

    /// Writes the block into the first [`READY_BLOCK_LEN`] bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`READY_BLOCK_LEN`] (a layout error in the template).
    pub fn emit(&self, out: &mut [u8]) {
        out[field::MAGIC].copy_from_slice(&MAGIC.to_le_bytes());
        out[field::VERSION].copy_from_slice(&VERSION.to_le_bytes());
        out[field::SERVE].copy_from_slice(&self.serve_entry.to_le_bytes());
        out[field::RESTORE].copy_from_slice(&self.restore_entry.to_le_bytes());
        out[field::PARK].copy_from_slice(&self.park_entry.to_le_bytes());
        out[field::STACK_TOP].copy_from_slice(&self.stack_top.to_le_bytes());
        out[field::IMAGE].copy_from_slice(&self.image.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: TemplateReady =
        TemplateReady { serve_entry: 0x20_1234, restore_entry: 0x20_2000, park_entry: 0x20_3000, stack_top: 0x30_0000, image: 0x7800_0000 };

    #[test]
    fn round_trip() {
        let mut bytes = [0u8; 48];
        READY.emit(&mut bytes);
        assert_eq!(TemplateReady::parse(&bytes), Ok(READY));
    }

    #[test]
    fn untrusted_blocks_are_refused() {
        let mut bytes = [0u8; READY_BLOCK_LEN];
        assert_eq!(TemplateReady::parse(&bytes), Err(ReadyBlockError::NotReady));
        assert_eq!(TemplateReady::parse(&bytes[..READY_BLOCK_LEN - 1]), Err(ReadyBlockError::Truncated));
        READY.emit(&mut bytes);
        bytes[4] = 9;
        assert_eq!(TemplateReady::parse(&bytes), Err(ReadyBlockError::Version(9)));
        TemplateReady { stack_top: 0x30_0008, ..READY }.emit(&mut bytes);
        assert_eq!(TemplateReady::parse(&bytes), Err(ReadyBlockError::BadAddress));
        for broken in [
            TemplateReady { serve_entry: 0, ..READY },
            TemplateReady { restore_entry: 0, ..READY },
            TemplateReady { park_entry: 0, ..READY },
            TemplateReady { image: 0, ..READY },
        ] {
            broken.emit(&mut bytes);
            assert_eq!(TemplateReady::parse(&bytes), Err(ReadyBlockError::BadAddress));
        }
    }
}
