//! The packed spec, as the root task reads it: objects by id, the slot in
//! the root task's CNode that holds each object's original capability, and
//! the shapes the allocation planner needs.

use core::ops::Range;

use rkyv::Archive;
use sel4::{cap_type, init_thread::Slot, CapTypeForFrameObjectOfFixedSize};
use sel4_capdl_initializer_types::{
    ArchivedFrameInit, ArchivedNamedObject, ArchivedObject, FrameInit, IsArchivedObject,
    SpecForInitializer,
};

use crate::static_system::BuildError;

pub type Spec = <SpecForInitializer as Archive>::Archived;
pub type Object = ArchivedObject<FrameInit>;

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
            size_bits: object
                .blueprint()
                .map(|blueprint| blueprint.physical_size_bits() as u8)
                .filter(|&bits| bits > 0),
            paddr: object.paddr().as_ref().map(|paddr| paddr.0.to_native()),
            embedded: matches!(object, ArchivedObject::Frame(frame) if frame.init.is_embedded()),
        }
    }
}
