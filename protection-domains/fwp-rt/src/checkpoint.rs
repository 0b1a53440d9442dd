//! The template PD's side: copy its writable segments into the image region
//! and say where its slots start.

use core::ptr::NonNull;

use edgeos_fwp::image::{ImageError, ImageLayout, IMAGE_DATA_AT};
use edgeos_fwp::TemplateReady;
use sel4_microkit::var;
use sel4_phdrs::{locate_phdrs, PT_LOAD};
use sel4_shared_memory::SharedMemoryRef;

use crate::{fwp_park, restore::restore_entry, serve_stack_top};

/// Program header flag: writable.
const PF_W: u32 = 2;

/// Writes this PD's writable segments into its `tmpl_image` region; the
/// template's initialisation must be complete, and nothing after this may
/// change state the slots need. Returns the image's layout and the ready
/// block (entry points and stack) to report to the mux.
pub fn checkpoint(serve: extern "C" fn(usize, usize) -> !) -> Result<(ImageLayout, TemplateReady), ImageError> {
    let phdrs = locate_phdrs().map_err(|_| ImageError::Empty)?;
    let writable = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_flags & PF_W != 0)
        .map(|p| (p.p_vaddr as u64, p.p_memsz as u64));
    let layout = ImageLayout::new(writable)?;
    let size = *var!(tmpl_image_size: usize = 0);
    layout.fits(size)?;
    let vaddr = *var!(tmpl_image_vaddr: usize = 0);
    let ptr = NonNull::slice_from_raw_parts(NonNull::new(vaddr as *mut u8).ok_or(ImageError::Empty)?, size);
    // SAFETY: the template PD's own image region, mapped rw here only.
    let mut image = unsafe { SharedMemoryRef::<'static, [u8]>::new(ptr) };
    let mut header = [0u8; IMAGE_DATA_AT];
    layout.emit_header(&mut header);
    image.as_mut_ptr().index(..IMAGE_DATA_AT).copy_from_slice(&header);
    let mut at = IMAGE_DATA_AT;
    for (start, len) in layout.ranges() {
        // SAFETY: a writable PT_LOAD segment of this PD (rounded to 16 bytes
        // within its pages), read while nothing else runs here.
        let bytes = unsafe { core::slice::from_raw_parts(*start as usize as *const u8, *len as usize) };
        image.as_mut_ptr().index(at..at + bytes.len()).copy_from_slice(bytes);
        at += bytes.len();
    }
    let ready = TemplateReady {
        serve_entry: serve as *const () as u64,
        restore_entry: restore_entry(),
        park_entry: fwp_park as *const () as u64,
        stack_top: serve_stack_top(),
        image: vaddr as u64,
    };
    Ok((layout, ready))
}
