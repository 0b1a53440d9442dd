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

/// A refill's report: its latency, and how long its start took to reach
/// the FWP's first instruction (the restore's, read into its parked
/// report; `None` when that time is before the start, i.e. not this
/// restore's). `fresh`: the FWP's first start since the FWP manager
/// created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refilled {
    /// Start to "restored".
    pub latency: Latency,
    /// Start to the restore's first instruction, in counter ticks.
    pub entry_ticks: Option<u64>,
    /// The first start of a newly created FWP.
    pub fresh: bool,
}

/// The starts awaiting their report, one per slot.
#[derive(Debug)]
pub struct SpawnTimes<const N: usize> {
    pending: [Option<Started>; N],
    /// Slots whose FWP was created and has not been started since.
    fresh: [bool; N],
}

impl<const N: usize> Default for SpawnTimes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SpawnTimes<N> {
    /// Nothing pending.
    pub const fn new() -> Self {
        Self { pending: [None; N], fresh: [false; N] }
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

    /// Slot `slot` holds a newly created FWP: its next start is its first.
    pub fn created(&mut self, slot: usize) {
        if let Some(fresh) = self.fresh.get_mut(slot) {
            *fresh = true;
        }
    }

    /// Slot `slot` reported its refill restored at counter `now`, with
    /// its parked report `status` (whose `started_at` is the restore's
    /// first instruction).
    pub fn restored(&mut self, slot: usize, now: u64, status: &SlotStatus) -> Option<Refilled> {
        let entry = self.pending.get_mut(slot)?;
        let started = (*entry).filter(|s| s.how == Start::Refill)?;
        *entry = None;
        let fresh = core::mem::take(&mut self.fresh[slot]);
        let ticks = now.checked_sub(started.at)?;
        let entry_ticks = status.started_at.checked_sub(started.at).filter(|t| *t <= ticks);
        Some(Refilled { latency: Latency { how: Start::Refill, ticks }, entry_ticks, fresh })
    }

    /// Slot `slot` was torn down: whatever was pending for it is void.
    pub fn forget(&mut self, slot: usize) {
        if let Some(entry) = self.pending.get_mut(slot) {
            *entry = None;
        }
    }

    /// Slot `slot` was started some other way than a refill (a cold
    /// spawn): it is no longer fresh, and its first start is not timed as
    /// a refill's.
    pub fn started_otherwise(&mut self, slot: usize) {
        if let Some(fresh) = self.fresh.get_mut(slot) {
            *fresh = false;
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
        let refill = Latency { how: Start::Refill, ticks: 80 };
        assert_eq!(
            times.restored(0, 180, &status(4, 130)),
            Some(Refilled { latency: refill, entry_ticks: Some(30), fresh: false })
        );
        assert_eq!(times.restored(0, 190, &status(4, 130)), None);
        times.started(0, Start::Warm, 5, 200);
        assert_eq!(times.restored(0, 250, &status(5, 210)), None, "a spawn is not a refill");
    }

    #[test]
    fn a_restore_entry_outside_the_start_and_its_report_is_not_this_restores() {
        let mut times = SpawnTimes::<1>::new();
        times.started(0, Start::Refill, 1, 1_000);
        let report = times.restored(0, 1_100, &status(1, 900)).unwrap();
        assert_eq!(report.entry_ticks, None, "before the start: an older restore's");
        times.started(0, Start::Refill, 2, 2_000);
        assert_eq!(times.restored(0, 2_100, &status(2, 2_500)).unwrap().entry_ticks, None, "after the report");
    }

    #[test]
    fn only_the_first_start_of_a_created_fwp_is_fresh() {
        let mut times = SpawnTimes::<2>::new();
        times.created(1);
        times.started(1, Start::Refill, 1, 10);
        assert!(times.restored(1, 50, &status(1, 20)).unwrap().fresh);
        times.started(1, Start::Refill, 2, 100);
        assert!(!times.restored(1, 150, &status(2, 110)).unwrap().fresh, "its second start");
        times.created(0);
        times.started_otherwise(0);
        times.started(0, Start::Refill, 1, 10);
        assert!(!times.restored(0, 50, &status(1, 20)).unwrap().fresh, "first started cold");
        times.created(5);
        times.started_otherwise(5);
    }
}
