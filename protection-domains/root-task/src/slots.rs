//! Free slots of the root task's own CNode: a bump allocator over the
//! empty range the kernel reports in bootinfo (2^17 slots in the SDK's
//! configs; the static system takes a slot per object and one per mapping).

use core::ops::Range;

use sel4::init_thread::Slot;

use crate::static_system::BuildError;

pub struct Slots {
    free: Range<usize>,
}

impl Slots {
    pub fn new(empty: Range<usize>) -> Self {
        Self { free: empty }
    }

    pub fn take(&mut self) -> Result<Slot, BuildError> {
        Ok(Slot::from_index(self.take_many(1)?.start))
    }

    pub fn take_many(&mut self, n: usize) -> Result<Range<usize>, BuildError> {
        if self.free.len() < n {
            return Err(BuildError::OutOfSlots { wanted: n, left: self.free.len() });
        }
        let taken = self.free.start..self.free.start + n;
        self.free.start += n;
        Ok(taken)
    }

    pub fn left(&self) -> usize {
        self.free.len()
    }
}

/// The root task's CNode addressing `slot` as an absolute capability pointer.
pub fn absolute(slot: Slot) -> sel4::AbsoluteCPtr {
    sel4::init_thread::slot::CNODE.cap().absolute_cptr(slot.cptr())
}
