//! Per-hop time samples kept in a protection domain, and their summary.
//!
//! Under QEMU `-icount shift=0` one guest instruction is one virtual
//! nanosecond, so a PD that stamps its work with the generic timer's counter
//! measures instructions, deterministically. Samples are kept in a fixed
//! array (the first `N`; later ones only count), summarised on demand, and
//! travel as four words: over a protected procedure call or in a control
//! region.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

/// The first `N` samples of one hop, in nanoseconds of guest time.
#[derive(Debug)]
pub struct Samples<const N: usize> {
    data: [u32; N],
    kept: usize,
    seen: u64,
}

/// Order statistics of a hop's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Samples summarised (at most `N`).
    pub count: u32,
    /// Smallest sample.
    pub min: u32,
    /// Median (the lower one for an even count).
    pub median: u32,
    /// 99th percentile (nearest rank).
    pub p99: u32,
}

impl<const N: usize> Default for Samples<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Samples<N> {
    /// No samples yet.
    pub const fn new() -> Self {
        Self { data: [0; N], kept: 0, seen: 0 }
    }

    /// Records `count` frames handled in `elapsed_ns` as that many samples
    /// of the per-frame share (a batch's cost spread over its frames).
    pub fn record_batch(&mut self, elapsed_ns: u64, count: usize) {
        if count == 0 {
            return;
        }
        let share = u32::try_from(elapsed_ns / count as u64).unwrap_or(u32::MAX);
        for _ in 0..count {
            self.seen += 1;
            if self.kept < N {
                self.data[self.kept] = share;
                self.kept += 1;
            }
        }
    }

    /// Every sample recorded, kept or not.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The summary of the kept samples, `None` before the first one. Sorts
    /// the kept samples in place (their order carries no meaning).
    pub fn summary(&mut self) -> Option<Summary> {
        let kept = &mut self.data[..self.kept];
        if kept.is_empty() {
            return None;
        }
        kept.sort_unstable();
        let rank = |p: usize| kept[((kept.len() * p).div_ceil(100)).saturating_sub(1)];
        Some(Summary { count: kept.len() as u32, min: kept[0], median: rank(50), p99: rank(99) })
    }
}

impl Summary {
    /// Packs the summary into two message-register words.
    pub fn to_words(self) -> [u64; 2] {
        [
            u64::from(self.count) | u64::from(self.min) << 32,
            u64::from(self.median) | u64::from(self.p99) << 32,
        ]
    }

    /// Unpacks [`to_words`](Self::to_words); `None` for an empty summary.
    pub fn from_words(words: [u64; 2]) -> Option<Self> {
        let summary = Self {
            count: words[0] as u32,
            min: (words[0] >> 32) as u32,
            median: words[1] as u32,
            p99: (words[1] >> 32) as u32,
        };
        (summary.count > 0).then_some(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics_of_known_samples() {
        let mut s = Samples::<1000>::new();
        assert_eq!(s.summary(), None);
        for v in (1..=100u64).rev() {
            s.record_batch(v, 1);
        }
        let sum = s.summary().unwrap();
        assert_eq!(sum, Summary { count: 100, min: 1, median: 50, p99: 99 });
        assert_eq!(Summary::from_words(sum.to_words()), Some(sum));
    }

    #[test]
    fn batches_spread_their_cost_and_capacity_bounds_what_is_kept() {
        let mut s = Samples::<4>::new();
        s.record_batch(3000, 3);
        s.record_batch(500, 0);
        s.record_batch(100, 2);
        assert_eq!(s.seen(), 5);
        let sum = s.summary().unwrap();
        assert_eq!((sum.count, sum.min, sum.median, sum.p99), (4, 50, 1000, 1000));
        assert_eq!(Summary::from_words([0, 0]), None);
    }
}
