//! Spawn and restore latencies, matched to the spawns they belong to: the
//! mux notes when it started a slot (the counter right before the TCB
//! write), the FWP notes its serving loop's first instruction in its status
//! block, and a report counts only for the spawn that wrote it.

use crate::SlotStatus;

/// How a slot was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A parked slot, at its serving entry point.
    Warm,
    /// A restore, then the serving entry point.
    Cold,
    /// A restore, then park (a warm-pool refill).
    Refill,
}

#[derive(Debug, Clone, Copy)]
struct Started {
    how: Start,
    generation: u32,
    at: u64,
}

/// One measured start: how, and the counter ticks it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Warm, cold or refill.
    pub how: Start,
    /// Counter ticks from the TCB write to the first instruction served (or
    /// to the "restored" signal, for a refill).
    pub ticks: u64,
}

/// The starts awaiting their report, one per slot.
#[derive(Debug)]
pub struct SpawnTimes<const N: usize> {
    pending: [Option<Started>; N],
}

impl<const N: usize> Default for SpawnTimes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SpawnTimes<N> {
    /// Nothing pending.
    pub const fn new() -> Self {
        Self { pending: [None; N] }
    }

    /// Slot `slot` is started (`how`) as spawn `generation` at counter `at`.
    pub fn started(&mut self, slot: usize, how: Start, generation: u32, at: u64) {
        if let Some(entry) = self.pending.get_mut(slot) {
            *entry = Some(Started { how, generation, at });
        }
    }

    /// Whether slot `slot` was spawned and has not been seen serving yet.
    pub fn awaits(&self, slot: usize) -> bool {
        self.pending.get(slot).copied().flatten().is_some_and(|s| s.how != Start::Refill)
    }

    /// Slot `slot`'s status block: the latency of its pending spawn if this
    /// is that spawn's report (a stale block from an
    /// earlier spawn, or a time before the start, counts for nothing).
    pub fn observe(&mut self, slot: usize, status: &SlotStatus) -> Option<Latency> {
        let entry = self.pending.get_mut(slot)?;
        let started = (*entry).filter(|s| s.how != Start::Refill && s.generation == status.generation)?;
        let ticks = status.started_at.checked_sub(started.at)?;
        *entry = None;
        Some(Latency { how: started.how, ticks })
    }

    /// Slot `slot` reported its refill restored at counter `now`.
    pub fn restored(&mut self, slot: usize, now: u64) -> Option<Latency> {
        let entry = self.pending.get_mut(slot)?;
        let started = (*entry).filter(|s| s.how == Start::Refill)?;
        *entry = None;
        Some(Latency { how: Start::Refill, ticks: now.checked_sub(started.at)? })
    }

    /// Slot `slot` was torn down: whatever was pending for it is void.
    pub fn forget(&mut self, slot: usize) {
        if let Some(entry) = self.pending.get_mut(slot) {
            *entry = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(generation: u32, started_at: u64) -> SlotStatus {
        SlotStatus { started_at, generation, ..SlotStatus::default() }
    }

    #[test]
    fn a_report_counts_once_and_only_for_its_spawn() {
        let mut times = SpawnTimes::<2>::new();
        times.started(0, Start::Cold, 3, 1_000);
        assert_eq!(times.observe(0, &status(2, 5_000)), None, "an earlier spawn's block");
        assert_eq!(times.observe(0, &status(3, 900)), None, "a time before the start");
        assert!(times.awaits(0));
        assert_eq!(times.observe(0, &status(3, 1_250)), Some(Latency { how: Start::Cold, ticks: 250 }));
        assert_eq!(times.observe(0, &status(3, 1_250)), None, "counted once");
        assert!(!times.awaits(0));
        times.started(1, Start::Warm, 1, 10);
        times.forget(1);
        assert_eq!(times.observe(1, &status(1, 20)), None, "torn down before it reported");
        assert_eq!(times.observe(7, &status(1, 20)), None, "no such slot");
    }

    #[test]
    fn refills_are_timed_to_their_restored_signal() {
        let mut times = SpawnTimes::<1>::new();
        times.started(0, Start::Refill, 4, 100);
        assert_eq!(times.observe(0, &status(4, 150)), None, "a refill does not serve");
        assert_eq!(times.restored(0, 180), Some(Latency { how: Start::Refill, ticks: 80 }));
        assert_eq!(times.restored(0, 190), None);
        times.started(0, Start::Warm, 5, 200);
        assert_eq!(times.restored(0, 250), None, "a spawn is not a refill");
    }
}
