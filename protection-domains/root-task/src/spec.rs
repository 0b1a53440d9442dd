//! The packed spec, as the root task reads it: objects by id, the slot in
//! the root task's CNode that holds each object's original capability, and
//! the shapes the allocation planner needs.

use core::ops::Range;

use rkyv::Archive;
use sel4::{cap_type, init_thread::Slot, CapTypeForFrameObjectOfFixedSize, ObjectBlueprint};
use sel4_capdl_initializer_types::{
    ArchivedFrameInit, ArchivedObjectId, ArchivedNamedObject, ArchivedObject, FrameInit, IsArchivedObject,
    SpecForInitializer,
};

use crate::static_system::BuildError;

pub type Spec = <SpecForInitializer as Archive>::Archived;

/// An object id of the spec as an index into its objects.
pub fn index_of(object: &ArchivedObjectId) -> usize {
    object.0.to_native() as usize
}
pub type Object = ArchivedObject<FrameInit>;

/// Scheduling contexts are made this big (256 bytes), not the 128 the
/// Microkit tool asks for: room for 8 refills beyond the 2 every sporadic
/// server has. With 2, a PD woken often for short work (the mux, a frame
/// at a time) splits its budget into slivers that the kernel can only
/// merge by pushing them to a later release, and it waits for a refill of
/// a budget it barely used: at 1,000 memcached tenants the mux waited 7.6
/// ms, one period less its budget, for 2 % of the requests.
pub const SCHED_CONTEXT_BITS: usize = 8;

/// The size of a scheduling context the spec asks `spec_bits` for.
pub fn sched_context_bits(spec_bits: usize) -> usize {
    spec_bits.max(SCHED_CONTEXT_BITS)
}

/// The refills to configure a scheduling context of `2^bits` bytes with,
/// beyond the minimum two: all it holds for a sporadic server (libsel4's
/// `seL4_MaxExtraRefills`: the object less its 128-byte core, which holds
/// those two, in 16-byte refills), none for a round-robin one (budget ==
/// period), which never uses them.
pub const fn extra_refills(bits: usize, budget: u64, period: u64) -> u64 {
    const CORE_BYTES: u64 = 128;
    const REFILL_BYTES: u64 = 16;
    if budget < period {
        ((1 << bits) - CORE_BYTES) / REFILL_BYTES
    } else {
        0
    }
}

/// What `object` is retyped as: the spec's blueprint, with scheduling
/// contexts grown to [`SCHED_CONTEXT_BITS`].
pub fn blueprint(object: &Object) -> Option<ObjectBlueprint> {
    match object.blueprint()? {
        ObjectBlueprint::SchedContext { size_bits } => {
            Some(ObjectBlueprint::SchedContext { size_bits: sched_context_bits(size_bits) })
        }
        other => Some(other),
    }
}

const GRANULE: usize = cap_type::Granule::FRAME_OBJECT_TYPE.bytes();

/// Where each object's original capability lives.
pub struct Objects<'a> {
    spec: &'a Spec,
    /// First of the slots the tool's slot numbering (`cached_orig_cap_slots`) is relative to.
    orig_base: usize,
    /// Virtual address of embedded frame 0 (the frame data segment).
    frame_data: usize,
    /// The root task's image frames, as bootinfo lists them, and where they start.
    image_frames: Range<usize>,
    image_start: usize,
}

impl<'a> Objects<'a> {
    pub fn new(
        spec: &'a Spec,
        orig_base: usize,
        frame_data: usize,
        bootinfo: &sel4::BootInfoPtr,
        image: &Range<usize>,
    ) -> Self {
        Self {
            spec,
            orig_base,
            frame_data,
            image_frames: bootinfo.user_image_frames().range(),
            image_start: image.start - image.start % GRANULE,
        }
    }

    pub fn named(&self, id: usize) -> &'a ArchivedNamedObject<FrameInit> {
        &self.spec.objects[id]
    }

    pub fn object(&self, id: usize) -> &'a Object {
        &self.named(id).object
    }

    /// The object's name in the spec (only the debug kernel names threads).
    #[sel4::sel4_cfg(DEBUG_BUILD)]
    pub fn name(&self, id: usize) -> &'a str {
        self.named(id).name.as_ref().map(|name| name.as_str()).unwrap_or("<unnamed>")
    }

    /// Every object of kind `O`, with its id.
    pub fn all<O: IsArchivedObject<FrameInit> + 'a>(&self) -> impl Iterator<Item = (usize, &'a O)> + 'a {
        self.spec.objects.iter().enumerate().filter_map(|(id, named)| Some((id, named.object.as_()?)))
    }

    pub fn slot(&self, id: usize) -> Result<Slot, BuildError> {
        match self.object(id) {
            ArchivedObject::Frame(frame) => match &frame.init {
                ArchivedFrameInit::Embedded(embedded) => {
                    let vaddr = self.frame_data + embedded.index.to_native() as usize * GRANULE;
                    let index = self.image_frames.start + (vaddr - self.image_start) / GRANULE;
                    if !self.image_frames.contains(&index) {
                        return Err(BuildError::EmbeddedFrameOutsideImage { object: id });
                    }
                    Ok(Slot::from_index(index))
                }
                ArchivedFrameInit::Fill(_) => self.counted_slot(id),
            },
            ArchivedObject::ArmSmc | ArchivedObject::DomainSet => {
                Err(BuildError::Unsupported { object: id, what: "SMC and domain-set capabilities" })
            }
            _ => self.counted_slot(id),
        }
    }

    fn counted_slot(&self, id: usize) -> Result<Slot, BuildError> {
        let offsets = self.spec.cached_orig_cap_slots.as_ref().ok_or(BuildError::NoSlotNumbering)?;
        let offset = offsets.offsets_by_object[id].as_ref().ok_or(BuildError::NoSlot { object: id })?;
        Ok(Slot::from_index(self.orig_base + offset.to_native() as usize))
    }

    pub fn cap<T: sel4::CapType>(&self, id: usize) -> Result<sel4::Cap<T>, BuildError> {
        Ok(self.slot(id)?.cap().downcast())
    }
}

/// The root objects as the allocation planner sees them.
impl edgeos_boot_plan::Objects for Objects<'_> {
    /// Root objects are ids `0..end` (`StaticSystem::build` checks the start).
    fn count(&self) -> usize {
        self.spec.root_objects.end.0.to_native() as usize
    }

    fn shape(&self, id: usize) -> edgeos_boot_plan::Shape {
        let object = self.object(id);
        edgeos_boot_plan::Shape {
            size_bits: blueprint(object)
                .map(|blueprint| blueprint.physical_size_bits() as u8)
                .filter(|&bits| bits > 0),
            paddr: object.paddr().as_ref().map(|paddr| paddr.0.to_native()),
            embedded: matches!(object, ArchivedObject::Frame(frame) if frame.init.is_embedded()),
        }
    }
}

/// A page the spec maps into some address space.
#[derive(Clone, Copy)]
pub struct Mapping<'a> {
    pub vaddr: u64,
    pub frame: usize,
    pub cap: &'a sel4_capdl_initializer_types::cap::ArchivedFrame,
}

impl<'a> Objects<'a> {
    /// The TCB of the PD that `system.xml` lists at `index`: the one whose
    /// scheduling context carries the Microkit tool's badge 0x100 + index
    /// (names do not survive in release images; this marker does).
    pub fn pd_tcb(&self, index: u16) -> Option<(usize, &'a sel4_capdl_initializer_types::object::ArchivedTcb)> {
        let badge = 0x100 + u64::from(index);
        self.all::<sel4_capdl_initializer_types::object::ArchivedTcb>().find(|(_, tcb)| {
            tcb.sc().is_some_and(|sc| match self.object(index_of(&sc.object)) {
                ArchivedObject::SchedContext(sc) => sc.extra.badge.0.to_native() == badge,
                _ => false,
            })
        })
    }

    /// Every page mapped in the address space rooted at `vspace`, in
    /// address order, with its size in `frame` bits ignored (4 KiB pages
    /// only: the callers check).
    pub fn mappings(&self, vspace: usize, mut each: impl FnMut(Mapping<'a>)) {
        let ArchivedObject::PageTable(root) = self.object(vspace) else { return };
        let level = root.level.as_ref().copied().unwrap_or(0) as usize;
        self.walk(root, level, 0, &mut each);
    }

    fn walk(
        &self,
        table: &'a sel4_capdl_initializer_types::object::ArchivedPageTable,
        level: usize,
        base: u64,
        each: &mut impl FnMut(Mapping<'a>),
    ) {
        for (slot, entry) in table.entries() {
            let vaddr = base + ((slot.0.to_native() as u64) << sel4::vspace_levels::step_bits(level));
            match entry {
                sel4_capdl_initializer_types::PageTableEntry::Frame(cap) => {
                    each(Mapping { vaddr, frame: index_of(&cap.object), cap })
                }
                sel4_capdl_initializer_types::PageTableEntry::PageTable(cap) => {
                    if let ArchivedObject::PageTable(next) = self.object(index_of(&cap.object)) {
                        self.walk(next, level + 1, vaddr, each);
                    }
                }
            }
        }
    }

    /// The page tables below the root of the address space `vspace`.
    pub fn page_tables_below(&self, vspace: usize) -> usize {
        fn count(objects: &Objects<'_>, table: &sel4_capdl_initializer_types::object::ArchivedPageTable) -> usize {
            table
                .entries()
                .map(|(_, entry)| match entry {
                    sel4_capdl_initializer_types::PageTableEntry::PageTable(cap) => {
                        match objects.object(index_of(&cap.object)) {
                            ArchivedObject::PageTable(next) => 1 + count(objects, next),
                            _ => 0,
                        }
                    }
                    sel4_capdl_initializer_types::PageTableEntry::Frame(_) => 0,
                })
                .sum()
        }
        match self.object(vspace) {
            ArchivedObject::PageTable(root) => count(self, root),
            _ => 0,
        }
    }

    /// The bytes the spec prefills frame `frame` with (data entries only),
    /// written into `out` (a page); `false` when the frame has no data.
    pub fn prefill(&self, frame: usize, out: &mut [u8]) -> bool {
        let ArchivedObject::Frame(object) = self.object(frame) else { return false };
        let fill = match &object.init {
            ArchivedFrameInit::Fill(fill) => fill,
            ArchivedFrameInit::Embedded(embedded) => {
                // The tool embeds whole pages it has data for: they are
                // pages of this program's image, read where they lie.
                let at = self.frame_data + embedded.index.to_native() as usize * GRANULE;
                let n = out.len().min(GRANULE);
                // SAFETY: embedded frames are pages of the frame data
                // segment, mapped read-only in the root task for its life.
                let page = unsafe { core::slice::from_raw_parts(at as *const u8, n) };
                out[..n].copy_from_slice(page);
                return true;
            }
        };
        let mut any = false;
        for entry in fill.entries.iter() {
            let range = entry.range.start.to_native() as usize..entry.range.end.to_native() as usize;
            if let (sel4_capdl_initializer_types::ArchivedFillEntryContent::Data(data), Some(dst)) =
                (&entry.content, out.get_mut(range))
            {
                data.copy_out(dst);
                any = true;
            }
        }
        any
    }
}
