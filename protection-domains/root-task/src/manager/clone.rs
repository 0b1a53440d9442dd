//! Creating an FWP as a clone of its template's prototype, and destroying
//! it. Everything the clone owns is made from its slab, its caps end in a
//! store CNode made from the slab too, so destroying it is one revoke.

use core::ops::Range;

use edgeos_config::ManagedFwp;
use edgeos_fwp_manager::caps;
use edgeos_fwp_manager::clone::{page_source, PageSource};
use sel4::{cap, cap_type, init_thread, init_thread::Slot, CNodeCapData, CapRights, ObjectBlueprint};

use super::memory::Memory;
use super::mux::MuxLink;
use super::prototype::{Entry, Prototype};
use crate::slots::absolute;
use crate::static_system::{BuildError, StaticSystem};

#[derive(Debug)]
pub enum CreateError {
    /// No memory, ASID or CNode slot left for another FWP.
    NoMemory,
    Kernel(sel4::Error),
}

impl From<sel4::Error> for CreateError {
    fn from(err: sel4::Error) -> Self {
        Self::Kernel(err)
    }
}

impl From<BuildError> for CreateError {
    fn from(err: BuildError) -> Self {
        match err {
            BuildError::Kernel(err) => Self::Kernel(err),
            _ => Self::NoMemory,
        }
    }
}

const RETYPE_FAN_OUT_LIMIT: usize = sel4::sel4_cfg_usize!(RETYPE_FAN_OUT_LIMIT);

/// A live clone: its slab, from which everything it has was made,
/// including its store (the CNode that keeps its caps).
pub struct Fwp {
    slab: Slot,
}

/// What one creation needs to know besides the manager's own state.
pub struct NewFwp<'a> {
    /// The dynamic FWP's index.
    pub k: usize,
    pub config: &'a ManagedFwp,
    pub prototype: &'a Prototype,
    /// The manager's slot for its store CNode.
    pub store: Slot,
    /// Empty slots of the manager's CNode, at least `prototype.caps`, where
    /// it is built before its caps move to the store.
    pub scratch: Range<usize>,
}

/// Hands out consecutive slots of the scratch range.
struct Cursor {
    next: usize,
    end: usize,
}

impl Cursor {
    fn take(&mut self, n: usize) -> Result<usize, CreateError> {
        if self.next + n > self.end {
            return Err(CreateError::NoMemory);
        }
        self.next += n;
        Ok(self.next - n)
    }
}

impl Fwp {
    /// Creates `new.k`: builds it with its caps in `new.scratch`, then moves
    /// them into its store.
    pub fn create(new: NewFwp<'_>, system: &mut StaticSystem, memory: &mut Memory, mux: &MuxLink) -> Result<Self, CreateError> {
        let template = usize::from(new.config.template);
        let slab = memory.slab(&mut system.slots, template, new.prototype.objects.slab_bits())?;
        let fwp = Self { slab };
        let scratch = new.scratch.clone();
        match fwp.build(new, system, memory, mux) {
            Ok(()) => Ok(fwp),
            Err(err) => {
                // Roll back: nothing of a half-built FWP may survive. The
                // scratch slots may hold copies that are not the slab's.
                for slot in scratch {
                    let _ = absolute(Slot::from_index(slot)).delete();
                }
                let _ = fwp.destroy(memory, template);
                Err(err)
            }
        }
    }

    fn build(&self, new: NewFwp<'_>, system: &mut StaticSystem, memory: &mut Memory, mux: &MuxLink) -> Result<(), CreateError> {
        let NewFwp { k, config, prototype, store, scratch } = new;
        let slab = self.slab;
        let mut cursor = Cursor { next: scratch.start, end: scratch.end };
        let slab_cap: cap::Untyped = slab.cap().downcast();
        let into = init_thread::slot::CNODE.cap().absolute_cptr_for_self();
        // The store first: it is the largest object (`store_radix`).
        slab_cap.untyped_retype(
            &ObjectBlueprint::CNode { size_bits: prototype.store_radix as usize },
            &into,
            store.index(),
            1,
        )?;
        let mut retype = |blueprint: ObjectBlueprint, count: usize| -> Result<usize, CreateError> {
            let first = cursor.take(count)?;
            // The kernel makes at most RETYPE_FAN_OUT_LIMIT objects per call.
            let mut done = 0;
            while done < count {
                let n = (count - done).min(RETYPE_FAN_OUT_LIMIT);
                slab_cap.untyped_retype(&blueprint, &into, first + done, n)?;
                done += n;
            }
            Ok(first)
        };
        // Largest first, so every object lands aligned without a gap.
        let vspace = retype(sel4::ObjectBlueprintSeL4Arch::VSpace.into(), 1)?;
        let cnode = retype(ObjectBlueprint::CNode { size_bits: prototype.cnode_bits as usize }, 1)?;
        let tcb = retype(ObjectBlueprint::Tcb, 1)?;
        let tables = retype(sel4::ObjectBlueprintArch::PT.into(), prototype.page_tables)?;
        let fresh = retype(sel4::FrameObjectType::GRANULE.blueprint(), prototype.objects.fresh_pages)?;
        let sc = retype(ObjectBlueprint::SchedContext { size_bits: prototype.objects.sc_bits as usize }, 1)?;
        let notification = retype(ObjectBlueprint::Notification, 1)?;
        let reply = retype(ObjectBlueprint::Reply, 1)?;

        let vspace_cap: cap::VSpace = Slot::from_index(vspace).cap().downcast();
        memory.assign_asid(&mut system.slots, vspace_cap)?;

        // Pages: shared ones are copies of the prototype's caps, fresh ones
        // come from the slab in the prototype's page order.
        let mut next_table = tables;
        let mut next_fresh = fresh;
        let mut ipc_buffer = None;
        for page in &prototype.pages {
            let source = page_source(&prototype.template, config, page.vaddr, page.writable)
                .map_err(|_| CreateError::Kernel(sel4::Error::InvalidArgument))?;
            let frame = match source {
                PageSource::Shared => {
                    let copy = cursor.take(1)?;
                    absolute(Slot::from_index(copy)).copy(&absolute(system.objects.slot(page.frame)?), page.rights.clone())?;
                    copy
                }
                PageSource::Fresh | PageSource::FreshWithMux { .. } => {
                    next_fresh += 1;
                    next_fresh - 1
                }
            };
            let frame_cap: cap::Granule = Slot::from_index(frame).cap().downcast();
            loop {
                match frame_cap.frame_map(vspace_cap, page.vaddr as usize, page.rights.clone(), page.attributes) {
                    Err(sel4::Error::FailedLookup) if next_table < tables + prototype.page_tables => {
                        Slot::from_index(next_table).cap().downcast::<cap_type::PT>().pt_map(
                            vspace_cap,
                            page.vaddr as usize,
                            sel4::VmAttributes::default(),
                        )?;
                        next_table += 1;
                    }
                    other => break other?,
                }
            }
            if let PageSource::FreshWithMux { mux_vaddr } = source {
                let copy = cursor.take(1)?;
                absolute(Slot::from_index(copy)).copy(&absolute(Slot::from_index(frame)), CapRights::read_write())?;
                mux.map(system, memory, Slot::from_index(copy).cap().downcast(), mux_vaddr)?;
            }
            if page.vaddr == prototype.ipc_buffer & !0xfff {
                ipc_buffer = Some(frame);
            }
        }
        let ipc_buffer = ipc_buffer.ok_or(CreateError::Kernel(sel4::Error::InvalidArgument))?;

        // Its CSpace: the prototype's Microkit CNode, entry by entry, with
        // its own objects and its own badges towards the multiplexer.
        let cnode_cap: cap::CNode = Slot::from_index(cnode).cap().downcast();
        let fault_endpoint = cursor.take(1)?;
        absolute(Slot::from_index(fault_endpoint)).mint(
            &absolute(system.objects.slot(mux.endpoint_object())?),
            CapRights::all(),
            caps::fault_badge(k),
        )?;
        for (slot, entry) in &prototype.entries {
            let to = cnode_cap.absolute_cptr_from_bits_with_depth(*slot, prototype.cnode_bits as usize);
            match entry.clone() {
                Entry::OwnNotification { rights, badge } => to.mint(&absolute(Slot::from_index(notification)), rights, badge)?,
                Entry::FaultEndpoint { rights } => to.copy(&absolute(Slot::from_index(fault_endpoint)), rights)?,
                Entry::VSpace => to.copy(&absolute(Slot::from_index(vspace)), CapRights::all())?,
                Entry::Reply => to.copy(&absolute(Slot::from_index(reply)), CapRights::all())?,
                Entry::MuxNotification { rights } => to.mint(
                    &absolute(system.objects.slot(mux.notification_object())?),
                    rights,
                    1 << config.signal,
                )?,
            }
        }

        // Its thread: the prototype's parameters, its own scheduling
        // context; not started (the multiplexer restores and starts it).
        let tcb_cap: cap::Tcb = Slot::from_index(tcb).cap().downcast();
        let sc_cap: cap::SchedContext = Slot::from_index(sc).cap().downcast();
        // Refills as the static system's scheduling contexts get them.
        let extra_refills =
            crate::spec::extra_refills(prototype.objects.sc_bits as usize, prototype.budget_us, prototype.period_us);
        memory.sched_control().sched_control_configure_flags(
            sc_cap,
            prototype.budget_us,
            prototype.period_us,
            extra_refills,
            0x1_0000 + k as u64,
            0,
        )?;
        tcb_cap.tcb_configure(
            cnode_cap,
            CNodeCapData::new(0, 64 - prototype.cnode_bits as usize),
            vspace_cap,
            prototype.ipc_buffer,
            Slot::from_index(ipc_buffer).cap().downcast(),
        )?;
        tcb_cap.tcb_bind_notification(Slot::from_index(notification).cap().downcast())?;
        tcb_cap.tcb_set_sched_params(
            init_thread::slot::TCB.cap(),
            prototype.max_priority.into(),
            prototype.priority.into(),
            sc_cap,
            Slot::from_index(fault_endpoint).cap().downcast(),
        )?;
        tcb_cap.tcb_set_flags(0, sel4::TcbFlagsBuilder::new().fpu_disabled(prototype.fpu_disabled).build())?;
        sel4::sel4_cfg_if! {
            if #[sel4_cfg(DEBUG_BUILD)] {
                // The kernel names threads in its fault reports.
                let mut name = *b"fwp_dyn_0000\0";
                for (i, digit) in [k / 1000, k / 100 % 10, k / 10 % 10, k % 10].into_iter().enumerate() {
                    name[8 + i] = b'0' + digit as u8;
                }
                tcb_cap.debug_name(&name);
            }
        }

        // The multiplexer's handles on it.
        mux.mounted_entry(caps::tcb(k)).copy(&absolute(Slot::from_index(tcb)), CapRights::all())?;
        mux.mounted_entry(caps::notification(k)).mint(
            &absolute(Slot::from_index(notification)),
            CapRights::write_only(),
            prototype.mux_badge,
        )?;

        // Every cap the manager made for it goes to its store: mapped
        // frames and tables stay mapped, objects stay alive, and the
        // manager's CNode keeps only the slab and the store.
        let store_cap: cap::CNode = store.cap().downcast();
        for (i, slot) in (scratch.start..cursor.next).enumerate() {
            store_cap
                .absolute_cptr_from_bits_with_depth(i as u64, prototype.store_radix as usize)
                .move_(&absolute(Slot::from_index(slot)))?;
        }
        Ok(())
    }

    /// Frees everything the FWP had: revoking its slab deletes every
    /// object made from it and every copy of their caps (the multiplexer's
    /// mappings and handles among them), and its store with every cap in
    /// it (the copies of shared pages, which are not the slab's, too).
    pub fn destroy(self, memory: &mut Memory, template: usize) -> Result<(), sel4::Error> {
        memory.release_slab(template, self.slab)
    }
}
