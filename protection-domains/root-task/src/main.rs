//! The image's root task. The Microkit tool packs the system's capDL spec
//! into this program's ELF; at boot it builds that static system exactly as
//! `system.xml` says (`StaticSystem::build`), then, instead of suspending
//! like Microkit's own initialiser, it keeps every capability it made and
//! the untyped memory left over, and serves the multiplexer as the FWP
//! manager (`manager`), creating and destroying FWPs at run time.
#![no_std]
#![no_main]

extern crate alloc;

mod frames;
mod manager;
mod slots;
mod spec;
mod static_system;

use sel4_capdl_initializer_types::SpecForInitializer;
use sel4_phdrs::{locate_phdrs, PT_SEL4_CAPDL_FRAME_DATA, PT_SEL4_CAPDL_SPEC};
use sel4_root_task::{debug_println, root_task};

// The Microkit tool patches the location of the rebuilt program header
// table into this crate's symbols; it must be linked in, not only listed.
use sel4_phdrs_patched as _;

use crate::static_system::StaticSystem;

/// The checked spec access (bytecheck) and deflated frame contents use the
/// heap; the stack holds the allocation plan's untyped index and the
/// manager's configuration (up to 1,024 FWPs) while it is parsed.
#[root_task(stack_size = 0x80_000, heap_size = 0x100_000)]
fn main(bootinfo: &sel4::BootInfoPtr) -> ! {
    let phdrs = locate_phdrs().expect("root task: no program headers");
    let spec_segment = phdrs
        .find_by_type(PT_SEL4_CAPDL_SPEC)
        .expect("root task: no capDL spec segment: was this ELF packed by the Microkit tool?");
    // SAFETY: the segment is part of this program's loaded image and is never written.
    let spec_bytes = unsafe { spec_segment.bytes() };
    let spec = SpecForInitializer::access(spec_bytes)
        .unwrap_or_else(|err| panic!("root task: the packed capDL spec does not validate: {err}"));
    let frame_data = phdrs
        .find_by_type(PT_SEL4_CAPDL_FRAME_DATA)
        .expect("root task: no embedded frame data segment")
        .p_vaddr as usize;
    let image = phdrs.footprint().expect("root task: empty image");

    let system = StaticSystem::build(bootinfo, image, spec, frame_data)
        .unwrap_or_else(|err| panic!("root task: building the static system failed: {err}"));
    debug_println!("root task: {}", system.totals);
    match manager::Manager::new(system, bootinfo) {
        Ok(Some(manager)) => manager.serve(),
        // No dynamic FWPs in this system: nothing more to do, ever.
        Ok(None) => sel4::init_thread::suspend_self(),
        Err(err) => panic!("root task: the FWP manager cannot start: {err}"),
    }
}
