use crate::TemplateReady;

/// Where a slot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Booted but its template has not reported ready yet.
    Initialising,
    /// Template initialised and parked: ready to be spawned.
    Ready(TemplateReady),
    /// Spawned and serving; `generation` counts spawns of this slot.
    Active {
        /// Where it was started, kept for the next spawn.
        ready: TemplateReady,
        /// The spawn number, passed to the FWP so it can tell spawns apart.
        generation: u32,
    },
    /// Stopped after a fault; it waits for a scrub and restore (issue-level
    /// work) before it can serve again.
    Faulted,
}

/// Why the pool refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotError {
    /// No slot with that index.
    NoSuchSlot(usize),
    /// The slot is not in a state that allows the operation.
    WrongState(usize, SlotState),
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSuchSlot(i) => write!(f, "no FWP slot {i}"),
            Self::WrongState(i, s) => write!(f, "FWP slot {i} is {s:?}"),
        }
    }
}

/// What the PD glue must do to start a slot: write these registers into the
/// child's TCB and resume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnPlan {
    /// Index of the slot (also the FWP's first argument, x0).
    pub slot: usize,
    /// Program counter: the template's serving entry point.
    pub pc: u64,
    /// Stack pointer for the serving loop.
    pub sp: u64,
    /// The spawn number for this slot (the FWP's second argument, x1).
    pub generation: u32,
}

/// The multiplexer's table of FWP slots. `N` is the slot count, fixed by
/// the system description.
#[derive(Debug)]
pub struct SlotPool<const N: usize> {
    slots: [SlotState; N],
    generations: [u32; N],
}

impl<const N: usize> Default for SlotPool<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SlotPool<N> {
    /// All slots initialising, as at boot.
    pub const fn new() -> Self {
        Self { slots: [SlotState::Initialising; N], generations: [0; N] }
    }

    /// The state of slot `slot`.
    pub fn state(&self, slot: usize) -> Result<SlotState, SlotError> {
        self.slots.get(slot).copied().ok_or(SlotError::NoSuchSlot(slot))
    }

    /// Records that slot `slot`'s template finished initialising.
    ///
    /// Only an initialising slot can report ready: a template that signals
    /// again later gains nothing.
    pub fn template_ready(&mut self, slot: usize, ready: TemplateReady) -> Result<(), SlotError> {
        match self.state(slot)? {
            SlotState::Initialising => {
                self.slots[slot] = SlotState::Ready(ready);
                Ok(())
            }
            other => Err(SlotError::WrongState(slot, other)),
        }
    }

    /// The first ready slot, if any.
    pub fn first_ready(&self) -> Option<usize> {
        self.slots.iter().position(|s| matches!(s, SlotState::Ready(_)))
    }

    /// Marks a ready slot active and says how to start it.
    pub fn spawn(&mut self, slot: usize) -> Result<SpawnPlan, SlotError> {
        match self.state(slot)? {
            SlotState::Ready(ready) => {
                let generation = self.generations[slot].wrapping_add(1);
                self.generations[slot] = generation;
                self.slots[slot] = SlotState::Active { ready, generation };
                Ok(SpawnPlan { slot, pc: ready.serve_entry, sp: ready.stack_top, generation })
            }
            other => Err(SlotError::WrongState(slot, other)),
        }
    }

    /// Records a fault of slot `slot`; returns the state it was in.
    pub fn fault(&mut self, slot: usize) -> Result<SlotState, SlotError> {
        let before = self.state(slot)?;
        self.slots[slot] = SlotState::Faulted;
        Ok(before)
    }

    /// Number of slots currently serving.
    pub fn active(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, SlotState::Active { .. })).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: TemplateReady = TemplateReady { serve_entry: 0x1000, stack_top: 0x8000 };

    #[test]
    fn ready_then_spawn_yields_the_template_entry_and_counts_generations() {
        let mut pool = SlotPool::<2>::new();
        assert_eq!(pool.first_ready(), None);
        pool.template_ready(1, READY).unwrap();
        assert_eq!(pool.first_ready(), Some(1));
        let plan = pool.spawn(1).unwrap();
        assert_eq!(plan, SpawnPlan { slot: 1, pc: 0x1000, sp: 0x8000, generation: 1 });
        assert_eq!(pool.active(), 1);
        assert_eq!(pool.state(1), Ok(SlotState::Active { ready: READY, generation: 1 }));
    }

    #[test]
    fn wrong_order_and_bad_indices_are_refused() {
        let mut pool = SlotPool::<1>::new();
        assert_eq!(pool.spawn(0), Err(SlotError::WrongState(0, SlotState::Initialising)));
        assert_eq!(pool.spawn(1), Err(SlotError::NoSuchSlot(1)));
        pool.template_ready(0, READY).unwrap();
        assert!(matches!(pool.template_ready(0, READY), Err(SlotError::WrongState(0, _))));
        pool.spawn(0).unwrap();
        assert!(matches!(pool.spawn(0), Err(SlotError::WrongState(0, SlotState::Active { .. }))));
    }

    #[test]
    fn a_fault_takes_the_slot_out_of_service() {
        let mut pool = SlotPool::<1>::new();
        pool.template_ready(0, READY).unwrap();
        pool.spawn(0).unwrap();
        assert!(matches!(pool.fault(0), Ok(SlotState::Active { .. })));
        assert_eq!(pool.active(), 0);
        assert!(pool.spawn(0).is_err());
        assert!(pool.template_ready(0, READY).is_err(), "a faulted slot cannot re-register itself");
    }
}
