//! The FWP runtime: what a template program links to run as a template PD
//! (initialise, checkpoint, report ready) and as a slot (park at boot, be
//! restored, serve, ask to exit).
//!
//! ```text
//!  template PD: init ──▶ checkpoint() ──▶ ready block ──▶ notify mux ──▶ park
//!  slot, boot:  init finds no configuration ──▶ parks (never touches its rings)
//!  slot, spawn: mux writes pc = fwp_restore, sp, x0 = slot, x1 = generation, x2 = next, x3 = image
//!               fwp_restore reads the counter (x4), copies the image over the writable segments ──▶ br x2
//!               x2 = the template's serve entry (cold spawn) or fwp_park (refill)
//! ```
//!
//! After a restore the slot's memory is the template PD's, byte for byte,
//! at the moment it checkpointed: `.data`, `.bss`, the heap, the boot stack
//! and the TLS block, and with them the `sel4` crate's IPC-buffer state.
//! The only thing that differs is the registers the mux wrote, so the entry
//! points below never return into code that ran before the spawn, and use
//! an explicit IPC buffer (a spawn can land while the parked handler loop
//! is inside a system call; see REFERENCE.md).
#![no_std]

mod checkpoint;
mod hops;
mod restore;

use core::ptr::{addr_of_mut, NonNull};

use edgeos_config::TenantConfig;
use edgeos_fwp::control;
use edgeos_fwp::{SlotStatus, CTRL_READ_LEN, WALL_CLOCK_AT};
use edgeos_pd_ring::{reader, region, ring_at, writer, ReadEnd, SharedRegion, WriteEnd};
use edgeos_tenant_net::{RingDevice, RxSide, TxSide};
use sel4_microkit::{debug_println, var, Channel, ChannelSet, Handler, Infallible};
use sel4_shared_memory::SharedMemoryRef;

pub use checkpoint::checkpoint;
pub use hops::{serve_batch, Batch, Hops};
pub use restore::restore_entry;

/// Microkit's fixed capability slots (libmicrokit's INPUT_CAP and REPLY_CAP).
const INPUT_CAP: sel4::cap::Endpoint = sel4::Cap::from_bits(1);
const REPLY_CAP: sel4::cap::Reply = sel4::Cap::from_bits(4);

/// The stack the restore routine, the park loop and the serving loop run on:
/// in `.bss`, so a restore resets it with everything else, and never the boot
/// stack, whose state at the checkpoint belongs to initialisation.
const SERVE_STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct ServeStack([u8; SERVE_STACK_SIZE]);

static mut SERVE_STACK: ServeStack = ServeStack([0; SERVE_STACK_SIZE]);

/// The top of the serving stack (16-byte aligned).
pub fn serve_stack_top() -> u64 {
    (addr_of_mut!(SERVE_STACK) as usize + SERVE_STACK_SIZE) as u64
}

/// The channel to the mux.
pub fn mux() -> Channel {
    Channel::new(*var!(mux_channel: usize = 0))
}

/// The template's configuration, in a template PD; `None` in a slot, which
/// the system description gives no configuration region (see `sysdesc`).
pub fn template_config() -> Option<Result<TenantConfig, edgeos_config::ConfigError>> {
    let vaddr = config_region_vaddr();
    let ptr = NonNull::slice_from_raw_parts(NonNull::new(vaddr as *mut u8)?, TenantConfig::BUFFER_LEN);
    // SAFETY: the template PD's prefilled, read-only configuration region.
    let region = unsafe { SharedMemoryRef::<'static, [u8]>::new_read_only(ptr) };
    let mut blob = [0u8; TenantConfig::BUFFER_LEN];
    region.as_ptr().copy_into_slice(&mut blob);
    Some(TenantConfig::parse(&blob))
}

/// Where the template PD's configuration region is mapped (0 in a slot).
fn config_region_vaddr() -> usize {
    *var!(tenant_config_vaddr: usize = 0)
}

/// A Click template's configuration text, copied out of the template PD's
/// configuration region into `buf` (which must hold it): `None` in a slot
/// or when the template has none.
pub fn template_click_text<'a>(
    config: &TenantConfig,
    buf: &'a mut [u8],
) -> Option<Result<&'a str, edgeos_config::ConfigError>> {
    if config.click_len == 0 {
        return None;
    }
    let vaddr = config_region_vaddr();
    let Some(len) = TenantConfig::BUFFER_LEN.checked_add(config.click_len as usize).filter(|&len| len <= buf.len()) else {
        return Some(Err(edgeos_config::ConfigError::NoRoom));
    };
    let ptr = NonNull::slice_from_raw_parts(NonNull::new(vaddr as *mut u8)?, len);
    // SAFETY: the template PD's prefilled, read-only configuration region,
    // which sysdesc sizes to hold the blob and the text.
    let region = unsafe { SharedMemoryRef::<'static, [u8]>::new_read_only(ptr) };
    region.as_ptr().copy_into_slice(&mut buf[..len]);
    config.click_text(&buf[..len])
}

/// The template's configuration in a template PD (an unreadable one is
/// reported); `None` in a slot, or after that report: the PD parks.
pub fn template_config_or_park() -> Option<TenantConfig> {
    match template_config()? {
        Ok(config) => Some(config),
        Err(e) => {
            debug_println!("tmpl: ERROR: bad template configuration: {e}");
            None
        }
    }
}

/// Buffer size in a slot's regions; the multiplexer uses the same.
pub const BUFFER_SIZE: usize = 2048;

/// A template's network device over its rings and buffer regions.
pub type Device<const TX: usize> = RingDevice<ReadEnd<'static>, WriteEnd<'static>, SharedRegion, TX>;

/// This PD's outgoing (tx) ring's address.
pub fn outgoing_ring() -> usize {
    *var!(tx_free_vaddr: usize = 0)
}

/// The device over this PD's rings and buffer regions (the setvars the
/// system description patches); its construction offers the rx buffers.
pub fn ring_device<const TX: usize>() -> Device<TX> {
    // SAFETY: the buffer regions are this PD's own, shared with the mux only.
    let (rx_mem, tx_mem) = unsafe {
        (
            region(*var!(rx_buf_vaddr: usize = 0), *var!(rx_buf_size: usize = 0)),
            region(*var!(tx_buf_vaddr: usize = 0), *var!(tx_buf_size: usize = 0)),
        )
    };
    RingDevice::new(
        RxSide {
            filled: reader(ring_at(*var!(rx_used_vaddr: usize = 0))),
            empty: writer(ring_at(*var!(rx_free_vaddr: usize = 0))),
            mem: rx_mem,
        },
        TxSide { outgoing: writer(ring_at(outgoing_ring())), done: reader(ring_at(*var!(tx_used_vaddr: usize = 0))), mem: tx_mem },
        BUFFER_SIZE,
    )
}

/// Checkpoints this template PD (`what` names it on the console) and tells
/// the mux its template is ready; reports a failure instead.
pub fn checkpoint_and_report(serve: extern "C" fn(usize, usize) -> !, what: core::fmt::Arguments<'_>) {
    let (image, ready) = match checkpoint(serve) {
        Ok(done) => done,
        Err(e) => return debug_println!("tmpl: ERROR: no checkpoint: {e}"),
    };
    debug_println!("tmpl: {what} initialised, checkpoint of {} bytes", image.data_len());
    control::report_ready(&mut SharedRegion(ctrl()), &ready, || mux().notify());
}

/// A template PD after its checkpoint, or a slot before its first restore:
/// notifications carry no work.
pub struct Parked;

impl Handler for Parked {
    type Error = Infallible;

    fn notified(&mut self, _: ChannelSet) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// This PD's control region: the ready block (template PD), the status
/// block, the hop summary and the wall clock (slot).
pub fn ctrl() -> SharedMemoryRef<'static, [u8]> {
    let vaddr = *var!(fwp_ctrl_vaddr: usize = 0);
    let ptr = NonNull::slice_from_raw_parts(
        NonNull::new(vaddr as *mut u8).expect("fwp_ctrl_vaddr set by system.xml"),
        CTRL_READ_LEN,
    );
    // SAFETY: this PD's own control region (read-only in the mux).
    unsafe { SharedMemoryRef::new(ptr) }
}

/// Unix time now, in ns, from what the mux wrote into this slot's control
/// region before starting it (`WALL_CLOCK_AT`) and the counter; `None`
/// when the system has no wall clock.
pub fn unix_now_ns() -> Option<u64> {
    let mut word = [0u8; 8];
    ctrl().as_ptr().index(WALL_CLOCK_AT..WALL_CLOCK_AT + 8).copy_into_slice(&mut word);
    let at_counter_zero = u64::from_le_bytes(word);
    (at_counter_zero != 0).then(|| at_counter_zero.saturating_add(edgeos_pd_ring::now_ns()))
}

fn write_status(status: SlotStatus) {
    control::write_status(&mut SharedRegion(ctrl()), &status);
}

pub use edgeos_pd_ring::counter;

/// Records that spawn `generation` started serving at counter `started_at`
/// (read as the serving loop's first instruction; the mux measures spawn
/// latency from it), and its activity so far.
pub fn serving(generation: usize, started_at: u64, wakeups: u32, frames_in: u32) {
    let generation = generation as u32;
    write_status(SlotStatus { started_at, generation, exit_requested: false, wakeups, frames_in, parked: false });
}

/// A serving loop's first steps: read the counter (the spawn's end, for the
/// mux's latency figure), report serving, and take the template's state,
/// which only the serving loop touches from now on. A slot spawned without
/// one (its template PD failed) asks to exit. Returns the state and the
/// counter reading.
pub fn start_serving<T>(slot: usize, generation: usize, state: &'static mut Option<T>) -> (&'static mut T, u64) {
    let started_at = counter();
    serving(generation, started_at, 0, 0);
    match state.as_mut() {
        Some(state) => (state, started_at),
        None => {
            debug_println!("fwp[{slot}]: ERROR: spawned without an initialised template");
            exit(generation, started_at)
        }
    }
}

/// The end of a per-connection FWP's spawn: once the one connection it
/// serves was open and has ended (`closed` connections ended since the
/// start, none `open` now), it publishes its hop figures and asks to exit.
/// Returns while the connection is still to come or still open.
pub fn exit_once_connection_ended(hops: &mut Hops, closed: u64, open: bool, generation: usize, started_at: u64) {
    if closed > 0 && !open {
        hops.publish();
        exit(generation, started_at);
    }
}

/// Asks the mux to tear this FWP down (its work is done), then waits for it.
pub fn exit(generation: usize, started_at: u64) -> ! {
    let generation = generation as u32;
    let mut status = SlotStatus { started_at, generation, exit_requested: true, wakeups: 0, frames_in: 0, parked: false };
    control::report_status(&mut SharedRegion(ctrl()), &status, signal_mux);
    loop {
        wait();
        status.wakeups = status.wakeups.wrapping_add(1);
        write_status(status);
    }
}

/// This PD's IPC buffer, used explicitly: Microkit maps it at the last page
/// below `seL4_UserVSpaceTop`.
///
/// # Safety
/// Only one reference may be live; on the serving path nothing else
/// touches the IPC buffer.
pub unsafe fn ipc_buffer() -> &'static mut sel4::IpcBuffer {
    let page = (sel4::sys::seL4_UserVSpaceTop & !((1 << sel4::sys::seL4_PageBits) - 1)) as *mut sel4::IpcBuffer;
    // SAFETY: the caller holds the only reference.
    unsafe { &mut *page }
}

/// Notifies the mux, through the explicit IPC buffer.
pub fn signal_mux() {
    // SAFETY: transient, the only reference on this path.
    let ipc = unsafe { ipc_buffer() };
    mux().notification().with(ipc).signal();
}

/// Blocks until a notification arrives (the mux's), through the explicit
/// IPC buffer.
pub fn wait() {
    // SAFETY: transient, the only reference on this path.
    let ipc = unsafe { ipc_buffer() };
    let _ = INPUT_CAP.with(ipc).recv(REPLY_CAP);
}

/// Where a refill's restore continues: report "restored" to the mux (in
/// the status block, which the mux checks: its channel bit may be shared
/// with other FWPs) with the counter the restore read as its first
/// instruction (x4), and park until it writes the serving entry point into
/// this TCB. x2 and x3 are the restore's own inputs.
pub extern "C" fn fwp_park(_slot: usize, generation: usize, _next: usize, _image: usize, restore_entered_at: u64) -> ! {
    let generation = generation as u32;
    let parked = SlotStatus { started_at: restore_entered_at, generation, parked: true, ..SlotStatus::default() };
    control::report_status(&mut SharedRegion(ctrl()), &parked, signal_mux);
    loop {
        wait();
    }
}
