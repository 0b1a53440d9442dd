//! Building the static system from the packed spec, in the order seL4's
//! object model needs: objects, IRQ handlers, ASIDs, frame contents,
//! address spaces, scheduling contexts, threads, CSpaces, then start.
//!
//! Objects are carved out of untyped memory in the order
//! `edgeos_boot_plan::plan` gives, the one the Microkit tool replays when
//! it checks that the system fits (and writes into its report).

use core::fmt;
use core::ops::Range;

use sel4::{cap_type, init_thread, CapRights, FrameObjectType, ObjectBlueprint, TranslationTableObjectType};
use sel4_capdl_initializer_types::{
    object, ArchivedFrameInit, ArchivedObject, HasArchivedCapTable, HasVmAttributes,
    PageTableEntry,
};

use crate::frames::FillWindows;
use crate::slots::{absolute, Slots};
use crate::spec::{index_of, Objects, Spec};

pub enum BuildError {
    Kernel(sel4::Error),
    Plan(edgeos_boot_plan::PlanError<sel4::Error>),
    OutOfSlots { wanted: usize, left: usize },
    NoSlotNumbering,
    NoSlot { object: usize },
    RootObjectsNotFirst,
    EmbeddedFrameOutsideImage { object: usize },
    Unsupported { object: usize, what: &'static str },
    UnsupportedSpec(&'static str),
    NoLargeFillWindow,
    UnsupportedFillSize { bytes: usize },
    FillOutOfFrame { start: usize, end: usize },
    ManagerConfig(edgeos_config::ConfigError),
    ImagePageOutsideImage { vaddr: usize },
}

impl From<crate::manager::CreateError> for BuildError {
    fn from(err: crate::manager::CreateError) -> Self {
        match err {
            crate::manager::CreateError::Kernel(err) => Self::Kernel(err),
            crate::manager::CreateError::NoMemory => Self::OutOfSlots { wanted: 1, left: 0 },
        }
    }
}

impl From<sel4::Error> for BuildError {
    fn from(err: sel4::Error) -> Self {
        Self::Kernel(err)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kernel(err) => write!(f, "kernel refused an invocation: {err:?}"),
            Self::Plan(edgeos_boot_plan::PlanError::Step(err)) => write!(f, "a retype failed: {err:?}"),
            Self::Plan(err) => write!(f, "the spec does not fit the boot untypeds: {err:?}"),
            Self::OutOfSlots { wanted, left } => write!(f, "out of CNode slots ({wanted} wanted, {left} left)"),
            Self::NoSlotNumbering => write!(f, "the spec carries no original-cap slot numbering"),
            Self::NoSlot { object } => write!(f, "object {object} has no original-cap slot"),
            Self::RootObjectsNotFirst => write!(f, "the spec's root objects do not start at id 0"),
            Self::EmbeddedFrameOutsideImage { object } => write!(f, "embedded frame {object} lies outside the image"),
            Self::Unsupported { object, what } => write!(f, "object {object}: {what} are not supported"),
            Self::UnsupportedSpec(what) => write!(f, "{what} are not supported"),
            Self::NoLargeFillWindow => write!(f, "no large-page window for filling frames"),
            Self::UnsupportedFillSize { bytes } => write!(f, "cannot fill a frame of {bytes} bytes"),
            Self::FillOutOfFrame { start, end } => write!(f, "fill entry {start:#x}..{end:#x} outside its frame"),
            Self::ManagerConfig(err) => write!(f, "the FWP manager's configuration: {err}"),
            Self::ImagePageOutsideImage { vaddr } => write!(f, "{vaddr:#x} is not a page of the root task's image"),
        }
    }
}

/// The system as built: the spec's objects and where their caps are, the
/// free CNode slots, and what it took. The FWP manager goes on from here.
pub struct StaticSystem {
    pub objects: Objects<'static>,
    pub slots: Slots,
    /// The root task's own image (its pages' caps are in bootinfo).
    pub image: Range<usize>,
    pub totals: Totals,
}

pub struct Totals {
    pub objects: usize,
    pub retypes: usize,
    pub threads_started: usize,
    pub slots_left: usize,
    /// RAM in the boot untypeds that no static object took.
    pub free_ram_bytes: u64,
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        write!(
            f,
            "static system up: {} objects ({} retypes), {} threads started; {} MiB of RAM and {} CNode slots left",
            s.objects,
            s.retypes,
            s.threads_started,
            s.free_ram_bytes >> 20,
            s.slots_left
        )
    }
}

struct Builder<'a> {
    bootinfo: &'a sel4::BootInfoPtr,
    spec: &'static Spec,
    objects: Objects<'static>,
    slots: Slots,
    fill: FillWindows,
}

impl StaticSystem {
    pub fn build(
        bootinfo: &sel4::BootInfoPtr,
        image: Range<usize>,
        spec: &'static Spec,
        frame_data: usize,
    ) -> Result<Self, BuildError> {
        if spec.root_objects.start.0.to_native() != 0 {
            return Err(BuildError::RootObjectsNotFirst);
        }
        if spec.domain_schedule.is_some() {
            return Err(BuildError::UnsupportedSpec("domain schedules"));
        }
        let mut slots = Slots::new(bootinfo.empty().range());
        let numbering = spec.cached_orig_cap_slots.as_ref().ok_or(BuildError::NoSlotNumbering)?;
        let orig = slots.take_many(numbering.num_occupied.to_native() as usize)?;
        let mut builder = Builder {
            bootinfo,
            spec,
            objects: Objects::new(spec, orig.start, frame_data, bootinfo, &image),
            slots,
            fill: FillWindows::new(bootinfo, &image)?,
        };
        let (retypes, taken_ram) = builder.create_objects()?;
        builder.create_irq_handlers()?;
        builder.assign_asids()?;
        builder.fill_frames()?;
        builder.map_address_spaces()?;
        builder.configure_sched_contexts()?;
        builder.configure_threads()?;
        builder.fill_cspaces()?;
        let threads_started = builder.start_threads()?;
        let totals = Totals {
            objects: spec.objects.len(),
            retypes,
            threads_started,
            slots_left: builder.slots.left(),
            free_ram_bytes: bootinfo
                .untyped_list()
                .iter()
                .filter(|ut| !ut.is_device())
                .map(|ut| 1u64 << ut.size_bits())
                .sum::<u64>()
                - taken_ram,
        };
        Ok(StaticSystem { objects: builder.objects, slots: builder.slots, image, totals })
    }
}

impl Builder<'_> {
    /// Returns the number of retypes and the bytes of RAM untypeds they took.
    fn create_objects(&mut self) -> Result<(usize, u64), BuildError> {
        let untypeds: alloc::vec::Vec<edgeos_boot_plan::Untyped> = self
            .bootinfo
            .untyped_list()
            .iter()
            .map(|ut| edgeos_boot_plan::Untyped {
                paddr: ut.paddr() as u64,
                size_bits: ut.size_bits() as u8,
                is_device: ut.is_device(),
            })
            .collect();
        let into_root_cnode = init_thread::slot::CNODE.cap().absolute_cptr_for_self();
        let untyped_cap = |i: usize| self.bootinfo.untyped().index(i).cap();
        let objects = &self.objects;
        let slots = &mut self.slots;
        let mut taken_ram = 0;
        let retypes = edgeos_boot_plan::plan(&untypeds, objects, |step| {
            let (untyped, blueprint, slot) = match step {
                edgeos_boot_plan::Step::Object { untyped, object, .. } => {
                    let blueprint = crate::spec::blueprint(objects.object(object)).expect("planned objects have blueprints");
                    (untyped, blueprint, objects.slot(object).map_err(|_| sel4::Error::FailedLookup)?)
                }
                // Kept for good: a padding holds its untyped's watermark in place.
                edgeos_boot_plan::Step::Padding { untyped, size_bits, .. } => (
                    untyped,
                    ObjectBlueprint::Untyped { size_bits: size_bits as usize },
                    slots.take().map_err(|_| sel4::Error::NotEnoughMemory)?,
                ),
            };
            if !untypeds[untyped].is_device {
                taken_ram += 1u64 << blueprint.physical_size_bits();
            }
            untyped_cap(untyped).untyped_retype(&blueprint, &into_root_cnode, slot.index(), 1)
        })
        .map_err(BuildError::Plan)?;

        // Objects the spec carves from untyped objects of its own.
        for cover in self.spec.untyped_covers.iter() {
            let parent = self.objects.cap::<cap_type::Untyped>(index_of(&cover.parent))?;
            for child in cover.children.start.0.to_native()..cover.children.end.0.to_native() {
                let child = child as usize;
                let blueprint = crate::spec::blueprint(self.objects.object(child)).ok_or(BuildError::NoSlot { object: child })?;
                parent.untyped_retype(&blueprint, &into_root_cnode, self.objects.slot(child)?.index(), 1)?;
            }
        }

        // ASID pools, in the spec's order: each replaces its untyped.
        for pool in self.spec.asid_slots.iter() {
            let orig = absolute(self.objects.slot(index_of(pool))?);
            let copy = self.slots.take()?;
            absolute(copy).copy(&orig, CapRights::all())?;
            orig.delete()?;
            init_thread::slot::ASID_CONTROL.cap().asid_control_make_pool(copy.cap().downcast(), &orig)?;
        }
        Ok((retypes, taken_ram))
    }

    fn create_irq_handlers(&mut self) -> Result<(), BuildError> {
        for entry in self.spec.irqs.iter() {
            let handler = index_of(&entry.handler);
            let irq = entry.irq.to_sel4();
            let slot = absolute(self.objects.slot(handler)?);
            match self.objects.object(handler) {
                ArchivedObject::ArmIrq(arm) => {
                    init_thread::slot::IRQ_CONTROL.cap().irq_control_get_trigger(irq, arm.extra.trigger != 0, &slot)?;
                }
                ArchivedObject::Irq(_) => init_thread::slot::IRQ_CONTROL.cap().irq_control_get(irq, &slot)?,
                _ => return Err(BuildError::Unsupported { object: handler, what: "IRQs of this kind" }),
            }
        }
        for (id, irq) in self.objects.all::<object::ArchivedArmIrq>() {
            let handler = self.objects.cap::<cap_type::IrqHandler>(id)?;
            if let Some(notification) = irq.notification() {
                let object = index_of(&notification.object);
                let target = self.badged(object, CapRights::all(), notification.badge.to_sel4())?;
                handler.irq_handler_set_notification(target.cast())?;
            }
        }
        Ok(())
    }

    /// The original cap of `object`, or a fresh copy with `rights` and `badge` when they differ from it.
    fn badged(&mut self, object: usize, rights: CapRights, badge: sel4::Word) -> Result<sel4::cap::Unspecified, BuildError> {
        let orig = self.objects.cap::<cap_type::Unspecified>(object)?;
        if badge == 0 && rights == CapRights::all() {
            return Ok(orig);
        }
        let slot = self.slots.take()?;
        absolute(slot).mint(&absolute(self.objects.slot(object)?), rights, badge)?;
        Ok(slot.cap().downcast())
    }

    fn assign_asids(&mut self) -> Result<(), BuildError> {
        for (id, _) in self.objects.all::<object::ArchivedPageTable>().filter(|(_, table)| table.is_root) {
            init_thread::slot::ASID_POOL.cap().asid_pool_assign(self.objects.cap(id)?)?;
        }
        Ok(())
    }

    fn fill_frames(&mut self) -> Result<(), BuildError> {
        for (id, frame) in self.objects.all::<object::ArchivedFrame<sel4_capdl_initializer_types::FrameInit>>() {
            let ArchivedFrameInit::Fill(fill) = &frame.init else { continue };
            if fill.entries.is_empty() {
                continue;
            }
            let size = FrameObjectType::from_bits(frame.size_bits.into())
                .ok_or(BuildError::UnsupportedFillSize { bytes: 1 << frame.size_bits })?;
            self.fill.fill(self.bootinfo, self.objects.cap(id)?, size, &fill.entries)?;
        }
        Ok(())
    }

    fn map_address_spaces(&mut self) -> Result<(), BuildError> {
        for (id, root) in self.objects.all::<object::ArchivedPageTable>().filter(|(_, table)| table.is_root) {
            let vspace = self.objects.cap::<cap_type::VSpace>(id)?;
            let level = root.level.as_ref().copied().unwrap_or(0) as usize;
            self.map_table(vspace, root, level, 0)?;
        }
        Ok(())
    }

    /// Maps every entry of `table`, a table of `level` covering the
    /// address space from `base`, into `vspace`, depth first.
    fn map_table(
        &mut self,
        vspace: sel4::cap::VSpace,
        table: &object::ArchivedPageTable,
        level: usize,
        base: usize,
    ) -> Result<(), BuildError> {
        for (slot, entry) in table.entries() {
            let vaddr = base + ((slot.0.to_native() as usize) << sel4::vspace_levels::step_bits(level));
            match entry {
                PageTableEntry::Frame(cap) => {
                    // A frame is mapped once per cap: every mapping gets a copy.
                    let object = index_of(&cap.object);
                    let copy = self.slots.take()?;
                    absolute(copy).copy(&absolute(self.objects.slot(object)?), CapRights::all())?;
                    copy.cap().downcast::<cap_type::UnspecifiedPage>().frame_map(
                        vspace,
                        vaddr,
                        cap.rights.to_sel4(),
                        cap.vm_attributes(false),
                    )?;
                }
                PageTableEntry::PageTable(cap) => {
                    let object = index_of(&cap.object);
                    let kind = TranslationTableObjectType::from_level(level + 1)
                        .ok_or(BuildError::Unsupported { object, what: "page tables this deep" })?;
                    self.objects
                        .cap::<cap_type::UnspecifiedIntermediateTranslationTable>(object)?
                        .generic_intermediate_translation_table_map(kind, vspace, vaddr, cap.vm_attributes(false))?;
                    let ArchivedObject::PageTable(next) = self.objects.object(object) else {
                        return Err(BuildError::Unsupported { object, what: "page-table caps to other objects" });
                    };
                    self.map_table(vspace, next, level + 1, vaddr)?;
                }
            }
        }
        Ok(())
    }

    fn configure_sched_contexts(&mut self) -> Result<(), BuildError> {
        // One core: every scheduling context is configured on SchedControl 0.
        let control = self.bootinfo.sched_control().index(0).cap();
        for (id, sc) in self.objects.all::<object::ArchivedSchedContext>() {
            let (budget, period) = (sc.extra.budget.to_native(), sc.extra.period.to_native());
            let bits = crate::spec::sched_context_bits(usize::from(sc.size_bits));
            let extra_refills = crate::spec::extra_refills(bits, budget, period);
            control.sched_control_configure_flags(
                self.objects.cap(id)?,
                budget,
                period,
                extra_refills,
                sc.extra.badge.to_sel4(),
                0,
            )?;
        }
        Ok(())
    }

    fn configure_threads(&mut self) -> Result<(), BuildError> {
        for (id, tcb) in self.objects.all::<object::ArchivedTcb>() {
            let thread = self.objects.cap::<cap_type::Tcb>(id)?;
            if let Some(notification) = tcb.bound_notification() {
                thread.tcb_bind_notification(self.objects.cap(index_of(&notification.object))?)?;
            }
            if let Some(vcpu) = tcb.vcpu() {
                self.objects.cap::<cap_type::VCpu>(index_of(&vcpu.object))?.vcpu_set_tcb(thread)?;
            }
            let cspace = tcb.cspace();
            thread.tcb_configure(
                self.objects.cap(index_of(&cspace.object))?,
                sel4::CNodeCapData::new(cspace.guard.to_sel4(), cspace.guard_size.into()),
                self.objects.cap(index_of(&tcb.vspace().object))?,
                tcb.extra.ipc_buffer_addr.to_sel4(),
                self.objects.cap(index_of(&tcb.ipc_buffer().object))?,
            )?;
            let sc = match tcb.sc() {
                Some(sc) => self.objects.cap(index_of(&sc.object))?,
                None => init_thread::slot::NULL.cap().cast(),
            };
            let fault_endpoint = match tcb.mcs_fault_ep() {
                Some(ep) => self
                    .badged(index_of(&ep.object), ep.rights.to_sel4(), ep.badge.to_sel4())?
                    .cast(),
                None => init_thread::slot::NULL.cap().cast(),
            };
            thread.tcb_set_sched_params(
                init_thread::slot::TCB.cap(),
                tcb.extra.max_prio.into(),
                tcb.extra.prio.into(),
                sc,
                fault_endpoint,
            )?;
            thread.tcb_set_flags(0, sel4::TcbFlagsBuilder::new().fpu_disabled(tcb.extra.fpu_disabled).build())?;
            let timeout_endpoint = match tcb.temp_fault_ep() {
                Some(ep) if ep.badge.to_sel4() != 0 => {
                    return Err(BuildError::Unsupported { object: id, what: "badged timeout endpoints" });
                }
                Some(ep) => self.objects.cap(index_of(&ep.object))?,
                None => init_thread::slot::NULL.cap().cast(),
            };
            thread.tcb_set_timeout_endpoint(timeout_endpoint)?;

            let mut registers = sel4::UserContext::default();
            *registers.pc_mut() = tcb.extra.ip.to_sel4();
            *registers.sp_mut() = tcb.extra.sp.to_sel4();
            for (i, value) in tcb.extra.gprs.iter().enumerate() {
                *registers.c_param_mut(i) = value.to_sel4();
            }
            thread.tcb_write_all_registers(false, &mut registers)?;
            sel4::sel4_cfg_if! {
                if #[sel4_cfg(DEBUG_BUILD)] {
                    thread.debug_name(self.objects.name(id).as_bytes());
                }
            }
        }
        Ok(())
    }

    fn fill_cspaces(&mut self) -> Result<(), BuildError> {
        for (id, cnode) in self.objects.all::<object::ArchivedCNode>() {
            let target = self.objects.cap::<cap_type::CNode>(id)?;
            for entry in cnode.slots() {
                let source = absolute(self.objects.slot(index_of(&entry.cap.obj()))?);
                let destination =
                    target.absolute_cptr_from_bits_with_depth(entry.slot.0.to_native().into(), cnode.size_bits.into());
                let rights = entry.cap.rights().unwrap_or(CapRights::all());
                match entry.cap.badge() {
                    Some(badge) => destination.mint(&source, rights, badge)?,
                    None => destination.copy(&source, rights)?,
                }
            }
        }
        Ok(())
    }

    fn start_threads(&mut self) -> Result<usize, BuildError> {
        let mut started = 0;
        for (id, tcb) in self.objects.all::<object::ArchivedTcb>() {
            if tcb.extra.resume {
                self.objects.cap::<cap_type::Tcb>(id)?.tcb_resume()?;
                started += 1;
            }
        }
        Ok(started)
    }
}
