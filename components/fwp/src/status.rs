//! The block a spawned FWP keeps in its control region, after the ready
//! block: when its serving loop started, which spawn it is, and whether it
//! asks to be torn down. The mux treats every field as untrusted.
//!
//! ```text
//!  48          56           60      64        68
//!  started_at  generation   flags   wakeups   frames_in
//! ```

/// Where the block starts in the control region.
pub const STATUS_AT: usize = 48;
/// Bytes the block occupies.
pub const STATUS_LEN: usize = 24;

/// `flags` bit: the FWP's work is done (its flow closed); tear it down.
const EXIT_REQUESTED: u32 = 1;
const PARKED: u32 = 2;

/// A spawned FWP's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SlotStatus {
    /// The counter (`CNTPCT_EL0`) read by the serving loop's first
    /// instruction; in a parked report, by the restore's first instruction.
    pub started_at: u64,
    /// The generation the FWP was started with (x1).
    pub generation: u32,
    /// The FWP asks the mux to tear it down.
    pub exit_requested: bool,
    /// Times its serving loop woke up (wrapping).
    pub wakeups: u32,
    /// Frames it received (wrapping).
    pub frames_in: u32,
    /// A restore finished and the FWP parked, waiting to be spawned
    /// (`generation` is the restore's): its signal means "restored". The
    /// mux checks this rather than trust the signal, which several FWPs
    /// may share.
    pub parked: bool,
}

impl SlotStatus {
    /// Reads the block from the first [`STATUS_LEN`] bytes of `bytes`; `None`
    /// if there are fewer.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.get(..STATUS_LEN)?;
        let started_at = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
        let generation = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let flags = u32::from_le_bytes(bytes[12..16].try_into().ok()?);
        let wakeups = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
        let frames_in = u32::from_le_bytes(bytes[20..24].try_into().ok()?);
        Some(Self {
            started_at,
            generation,
            exit_requested: flags & EXIT_REQUESTED != 0,
            wakeups,
            frames_in,
            parked: flags & PARKED != 0,
        })
    }

    /// Writes the block into the first [`STATUS_LEN`] bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`STATUS_LEN`].
    pub fn emit(&self, out: &mut [u8]) {
        let out = &mut out[..STATUS_LEN];
        out.fill(0);
        out[0..8].copy_from_slice(&self.started_at.to_le_bytes());
        out[8..12].copy_from_slice(&self.generation.to_le_bytes());
        let flags = if self.exit_requested { EXIT_REQUESTED } else { 0 } | if self.parked { PARKED } else { 0 };
        out[12..16].copy_from_slice(&flags.to_le_bytes());
        out[16..20].copy_from_slice(&self.wakeups.to_le_bytes());
        out[20..24].copy_from_slice(&self.frames_in.to_le_bytes());
    }

    /// Whether this report says the restore of `generation` is done.
    pub fn parked_for(&self, generation: u32) -> bool {
        self.parked && self.generation == generation
    }

    /// Whether this report belongs to spawn `generation` and asks for exit.
    pub fn exits(&self, generation: u32) -> bool {
        self.exit_requested && self.generation == generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let status =
            SlotStatus { started_at: 0x1234_5678_9abc, generation: 7, exit_requested: true, wakeups: 9, frames_in: 12, parked: false };
        let mut out = [0xff; STATUS_LEN + 4];
        status.emit(&mut out);
        assert_eq!(SlotStatus::parse(&out), Some(status));
        assert_eq!(SlotStatus::parse(&out[..STATUS_LEN - 1]), None);
        assert!(status.exits(7));
        assert!(!status.exits(8), "a stale report from an earlier spawn is ignored");
        assert!(!SlotStatus { exit_requested: false, ..status }.exits(7));
        let parked = SlotStatus { exit_requested: false, parked: true, ..status };
        status.emit(&mut out);
        parked.emit(&mut out);
        assert_eq!(SlotStatus::parse(&out), Some(parked));
        assert!(parked.parked_for(7));
        assert!(!parked.parked_for(6), "an earlier restore's report is not this one's");
        assert!(!status.parked_for(7), "serving is not parked");
        assert!(!SlotStatus::parse(&[0; STATUS_LEN]).unwrap().parked_for(0), "a zeroed block reports nothing");
    }
}
