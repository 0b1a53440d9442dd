//! Writing initial contents into frames the root task created (the
//! `prefill_path` data and patched variables the tool could not embed).
//!
//! A frame is filled through a window in the root task's own address
//! space: a 4 KiB window is a page of this program's image, unmapped at
//! start so other frames can be mapped there; a large-page window is the
//! first large-page-aligned address past the image and bootinfo (still in
//! the level-2 table the image's mappings already use).

use core::ops::Range;
use core::ptr::addr_of;

use sel4::{cap_type, init_thread, CapRights, CapTypeForFrameObjectOfFixedSize, FrameObjectType};
use sel4_capdl_initializer_types::{
    vm_attributes_from_whether_cached_and_exec, ArchivedFillEntry, ArchivedFillEntryContent, Content,
};

use crate::static_system::BuildError;

const GRANULE: usize = cap_type::Granule::FRAME_OBJECT_TYPE.bytes();
const LARGE_PAGE: usize = cap_type::LargePage::FRAME_OBJECT_TYPE.bytes();

#[repr(C, align(4096))]
struct Window(#[allow(dead_code)] [u8; GRANULE]);

/// In `.rodata`, so it is backed by a frame of the image the kernel gave us.
static SMALL_WINDOW: Window = Window([0; GRANULE]);

/// Unmaps the page of the root task's own image at `vaddr` (a page-aligned
/// static nothing reads), so another frame can be mapped at its address.
pub fn give_up_image_page(bootinfo: &sel4::BootInfoPtr, image: &Range<usize>, vaddr: usize) -> Result<(), BuildError> {
    let image_start = image.start - image.start % GRANULE;
    if vaddr % GRANULE != 0 || !(image_start..image.end).contains(&vaddr) {
        return Err(BuildError::ImagePageOutsideImage { vaddr });
    }
    bootinfo.user_image_frames().index((vaddr - image_start) / GRANULE).cap().frame_unmap()?;
    Ok(())
}

pub struct FillWindows {
    small: usize,
    large: usize,
}

impl FillWindows {
    pub fn new(bootinfo: &sel4::BootInfoPtr, image: &Range<usize>) -> Result<Self, BuildError> {
        let small = addr_of!(SMALL_WINDOW) as usize;
        give_up_image_page(bootinfo, image, small)?;
        let used_end = image.end + bootinfo.footprint_size();
        let large = used_end.next_multiple_of(LARGE_PAGE);
        // The window must share the image's 1 GiB level-2 table: no page
        // tables exist for it otherwise.
        if large / (1 << 30) != image.start / (1 << 30) {
            return Err(BuildError::NoLargeFillWindow);
        }
        Ok(Self { small, large })
    }

    /// Maps `frame` at the window for its size, writes its fill entries,
    /// and unmaps it again.
    pub fn fill(
        &self,
        bootinfo: &sel4::BootInfoPtr,
        frame: sel4::cap::UnspecifiedPage,
        size: FrameObjectType,
        entries: &[ArchivedFillEntry<Content>],
    ) -> Result<(), BuildError> {
        let window = match size.bytes() {
            GRANULE => self.small,
            LARGE_PAGE => self.large,
            bytes => return Err(BuildError::UnsupportedFillSize { bytes }),
        };
        let attributes = vm_attributes_from_whether_cached_and_exec(true, false, false);
        frame.frame_map(init_thread::slot::VSPACE.cap(), window, CapRights::read_write(), attributes)?;
        for entry in entries {
            let range = entry.range.start.to_native() as usize..entry.range.end.to_native() as usize;
            if range.end > size.bytes() || range.start > range.end {
                frame.frame_unmap()?;
                return Err(BuildError::FillOutOfFrame { start: range.start, end: range.end });
            }
            // SAFETY: the window maps this frame alone, read-write, and
            // nothing else in the root task refers to those addresses.
            let bytes = unsafe { core::slice::from_raw_parts_mut((window + range.start) as *mut u8, range.len()) };
            match &entry.content {
                ArchivedFillEntryContent::Data(data) => data.copy_out(bytes),
                ArchivedFillEntryContent::BootInfo(from) => {
                    let id = from.id.to_sel4();
                    let offset = from.offset.to_native() as usize;
                    for extra in bootinfo.extra().filter(|extra| extra.id == id) {
                        let source = extra.content_with_header().get(offset..).unwrap_or(&[]);
                        let n = source.len().min(bytes.len());
                        bytes[..n].copy_from_slice(&source[..n]);
                    }
                }
            }
        }
        frame.frame_unmap()?;
        Ok(())
    }
}
