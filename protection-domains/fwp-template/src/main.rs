//! `fwp_template`: a slot program. At boot it runs the template's
//! initialisation once, publishes a `TemplateReady` block in its control
//! region, notifies the multiplexer and parks. The multiplexer spawns it by
//! writing PC/SP/x0/x1 into its TCB, which lands in [`fwp_serve`]: the
//! serving loop, which never re-runs initialisation.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use edgeos_fwp::{TemplateReady, READY_BLOCK_LEN};
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, Handler, Infallible,
};
use sel4_shared_memory::SharedMemoryRef;

/// Microkit's fixed capability slots (libmicrokit's INPUT_CAP and REPLY_CAP).
const INPUT_CAP: sel4::cap::Endpoint = sel4::Cap::from_bits(1);
const REPLY_CAP: sel4::cap::Reply = sel4::Cap::from_bits(4);

/// The serving loop's own stack, so a spawn never depends on where the boot
/// stack was when the slot parked.
const SERVE_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct ServeStack([u8; SERVE_STACK_SIZE]);

static mut SERVE_STACK: ServeStack = ServeStack([0; SERVE_STACK_SIZE]);

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // SAFETY: `fwp_ctrl` is this slot's control region (rw here, read-only in the mux).
    let mut ctrl = unsafe {
        SharedMemoryRef::<'static, [u8]>::new(memory_region_symbol!(
            fwp_ctrl_vaddr: *mut [u8],
            n = READY_BLOCK_LEN
        ))
    };
    let stack_top = addr_of_mut!(SERVE_STACK) as usize + SERVE_STACK_SIZE;
    let mut block = [0u8; READY_BLOCK_LEN];
    TemplateReady { serve_entry: fwp_serve as *const () as u64, stack_top: stack_top as u64 }
        .emit(&mut block);
    ctrl.as_mut_ptr().copy_from_slice(&block);
    debug_println!("fwp: template initialised, parked");
    Channel::new(*var!(mux_channel: usize = 0)).notify();
    Parked
}

/// A parked template waits to be spawned; notifications before then carry no work.
struct Parked;

impl Handler for Parked {
    type Error = Infallible;

    fn notified(&mut self, _: sel4_microkit::ChannelSet) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The serving entry point the multiplexer starts a spawned FWP at, with
/// `slot` in x0 and `generation` in x1.
///
/// The spawn may have interrupted the parked handler loop inside a system
/// call, leaving the `sel4` crate's global IPC-buffer borrow flag set, so
/// this loop only uses an explicit IPC buffer (see REFERENCE.md).
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    debug_println!("fwp[{slot}]: serving (spawn {generation})");
    // SAFETY: Microkit maps this PD's IPC buffer at the last page below
    // seL4_UserVSpaceTop, and nothing else touches it on this path.
    let ipc_buffer = unsafe { &mut *ipc_buffer_ptr() };
    loop {
        let (_, badge) = INPUT_CAP.with(&mut *ipc_buffer).recv(REPLY_CAP);
        // Later templates turn ring notifications into work here.
        let _ = badge;
    }
}

fn ipc_buffer_ptr() -> *mut sel4::IpcBuffer {
    (sel4::sys::seL4_UserVSpaceTop & !((1 << sel4::sys::seL4_PageBits) - 1)) as *mut _
}
