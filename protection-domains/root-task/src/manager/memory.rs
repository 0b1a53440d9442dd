//! The manager's memory: the boot untypeds' RAM that the static system
//! left, carved into one slab untyped per FWP (teardown is one revoke, and
//! the slab is reused for the template's next FWP), plus ASID pools and
//! the odd persistent object (the multiplexer's window page tables).

use alloc::vec::Vec;

use edgeos_config::MAX_TEMPLATES;
use edgeos_fwp_manager::admission;
use sel4::{cap, init_thread, init_thread::Slot, ObjectBlueprint};

use super::clone::CreateError;
use crate::slots::{absolute, Slots};

/// Objects of at most this size (the multiplexer's window page tables,
/// ASID pools' untypeds, the manager's notification) come from chunks of
/// their own, never from the boot RAM between slabs: a 4 KiB table
/// retyped after a slab pushes the next slab to its next alignment
/// boundary, and wastes up to a slab each time. With 1 MiB slabs that was
/// half the RAM: the 756th of 1,003 memcached FWPs found no room with 800
/// MiB counted free (memcached-tenants variant, 2026-12-03).
const SMALL_OBJECT_MAX_BITS: usize = 16;
/// Each chunk of small objects: 2 MiB, room for 512 page tables.
const SMALL_CHUNK_BITS: usize = 21;

pub struct Memory {
    /// Boot RAM untypeds, largest first: where new objects come from.
    ram: Vec<cap::Untyped>,
    /// The untyped the last allocation succeeded in (tried first next).
    cursor: usize,
    /// The chunk small objects are retyped from now.
    small_chunk: Option<cap::Untyped>,
    /// Free slabs per template (each an untyped cap whose children were revoked).
    free_slabs: [Vec<Slot>; MAX_TEMPLATES],
    asid_pools: Vec<cap::AsidPool>,
    sched_control: cap::SchedControl,
    free_bytes: u64,
}

impl Memory {
    pub fn new(bootinfo: &sel4::BootInfoPtr, free_bytes: u64) -> Self {
        let mut ram: Vec<(usize, cap::Untyped)> = bootinfo
            .untyped_list()
            .iter()
            .enumerate()
            .filter(|(_, ut)| !ut.is_device())
            .map(|(i, ut)| (ut.size_bits(), bootinfo.untyped().index(i).cap()))
            .collect();
        ram.sort_by(|a, b| b.0.cmp(&a.0));
        Self {
            ram: ram.into_iter().map(|(_, ut)| ut).collect(),
            cursor: 0,
            small_chunk: None,
            free_slabs: core::array::from_fn(|_| Vec::new()),
            asid_pools: alloc::vec![init_thread::slot::ASID_POOL.cap()],
            sched_control: bootinfo.sched_control().index(0).cap(),
            free_bytes,
        }
    }

    /// Has the kernel clear every RAM untyped now, while the root task
    /// still runs at its boot priority and budget. seL4 hands out boot
    /// untypeds as used up to their end, so their first retype zeroes
    /// all of it (`resetUntypedCap`): 252 ms of guest time for the first
    /// 512 MiB at boot, and 857 ms for each 256 MiB met later, when the
    /// manager runs on 1.5 ms per 10 ms (measured 2026-12-03; the creation
    /// that met it stalled as long). One retype and delete of a
    /// notification per untyped leaves each childless and clear but for
    /// that object, so later first retypes reset a few bytes.
    pub fn clear_untypeds(&mut self, slots: &mut Slots) -> Result<(), CreateError> {
        let slot = slots.take().map_err(|_| CreateError::NoMemory)?;
        let into = init_thread::slot::CNODE.cap().absolute_cptr_for_self();
        for ut in &self.ram {
            match ut.untyped_retype(&ObjectBlueprint::Notification, &into, slot.index(), 1) {
                Ok(()) => absolute(slot).delete().map_err(CreateError::Kernel)?,
                // Used up by the static system: nothing left to clear.
                Err(sel4::Error::NotEnoughMemory) => {}
                Err(err) => return Err(CreateError::Kernel(err)),
            }
        }
        Ok(())
    }

    pub fn sched_control(&self) -> cap::SchedControl {
        self.sched_control
    }

    /// ASID pools made so far (the boot one included).
    pub fn asid_pools(&self) -> usize {
        self.asid_pools.len()
    }

    /// Slabs kept for the next FWPs, over every template.
    pub fn free_slabs(&self) -> usize {
        self.free_slabs.iter().map(Vec::len).sum()
    }

    /// RAM not yet given to the manager's objects (slabs count as used
    /// while they exist, free or not).
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes
    }

    /// Retypes one `blueprint` object from the boot RAM into `slot`.
    fn retype_from_ram(&mut self, blueprint: ObjectBlueprint, slot: Slot) -> Result<(), CreateError> {
        let into = init_thread::slot::CNODE.cap().absolute_cptr_for_self();
        for attempt in 0..self.ram.len() {
            let i = (self.cursor + attempt) % self.ram.len();
            match self.ram[i].untyped_retype(&blueprint, &into, slot.index(), 1) {
                Ok(()) => {
                    self.cursor = i;
                    self.free_bytes = self.free_bytes.saturating_sub(1 << blueprint.physical_size_bits());
                    return Ok(());
                }
                Err(sel4::Error::NotEnoughMemory) => continue,
                Err(err) => return Err(CreateError::Kernel(err)),
            }
        }
        Err(CreateError::NoMemory)
    }

    /// Retypes one small `blueprint` object into `slot` from the current
    /// chunk, or from a new chunk when that one is full.
    fn retype_small(&mut self, slots: &mut Slots, blueprint: ObjectBlueprint, slot: Slot) -> Result<(), CreateError> {
        let into = init_thread::slot::CNODE.cap().absolute_cptr_for_self();
        if let Some(chunk) = self.small_chunk {
            match chunk.untyped_retype(&blueprint, &into, slot.index(), 1) {
                Ok(()) => return Ok(()),
                Err(sel4::Error::NotEnoughMemory) => {}
                Err(err) => return Err(CreateError::Kernel(err)),
            }
        }
        let chunk_slot = slots.take().map_err(|_| CreateError::NoMemory)?;
        self.retype_from_ram(ObjectBlueprint::Untyped { size_bits: SMALL_CHUNK_BITS }, chunk_slot)?;
        let chunk: cap::Untyped = chunk_slot.cap().downcast();
        self.small_chunk = Some(chunk);
        chunk.untyped_retype(&blueprint, &into, slot.index(), 1).map_err(CreateError::Kernel)
    }

    /// Retypes one `blueprint` object into a fresh slot: a small one from
    /// a chunk of small objects, a larger one from the boot RAM.
    pub fn retype(&mut self, slots: &mut Slots, blueprint: ObjectBlueprint) -> Result<Slot, CreateError> {
        let slot = slots.take().map_err(|_| CreateError::NoMemory)?;
        if blueprint.physical_size_bits() <= SMALL_OBJECT_MAX_BITS {
            self.retype_small(slots, blueprint, slot)?;
        } else {
            self.retype_from_ram(blueprint, slot)?;
        }
        Ok(slot)
    }

    /// A slab of `2^bits` bytes for an FWP of `template`: a freed one, or a
    /// new one while the free RAM stays above the manager's reserve.
    pub fn slab(&mut self, slots: &mut Slots, template: usize, bits: u32) -> Result<Slot, CreateError> {
        match self.free_slabs[template].pop() {
            Some(slab) => Ok(slab),
            None if !admission::admits(self.free_bytes, 1 << bits, admission::RESERVE_BYTES) => Err(CreateError::NoMemory),
            None => self.retype(slots, ObjectBlueprint::Untyped { size_bits: bits as usize }),
        }
    }

    /// Takes `slab` back after its FWP was destroyed: revoking it deletes
    /// every object made from it, and every copy of their caps anywhere.
    pub fn release_slab(&mut self, template: usize, slab: Slot) -> Result<(), sel4::Error> {
        absolute(slab).revoke()?;
        self.free_slabs[template].push(slab);
        Ok(())
    }

    /// Gives `vspace` an ASID, from a new pool when the existing ones are full.
    pub fn assign_asid(&mut self, slots: &mut Slots, vspace: cap::VSpace) -> Result<(), CreateError> {
        for pool in self.asid_pools.iter().rev() {
            match pool.asid_pool_assign(vspace) {
                Ok(()) => return Ok(()),
                Err(sel4::Error::DeleteFirst) => continue,
                Err(err) => return Err(CreateError::Kernel(err)),
            }
        }
        // A pool is made from a 4 KiB untyped with no children.
        let untyped = self.retype(slots, ObjectBlueprint::Untyped { size_bits: 12 })?;
        let pool = slots.take().map_err(|_| CreateError::NoMemory)?;
        init_thread::slot::ASID_CONTROL
            .cap()
            .asid_control_make_pool(untyped.cap().downcast(), &absolute(pool))
            .map_err(|err| match err {
                sel4::Error::DeleteFirst => CreateError::NoMemory,
                err => CreateError::Kernel(err),
            })?;
        let pool: cap::AsidPool = pool.cap().downcast();
        self.asid_pools.push(pool);
        pool.asid_pool_assign(vspace).map_err(CreateError::Kernel)
    }
}
