//! `tenant_echo`: an FWP slot program running the echo template.
//!
//! At boot it runs the template's initialisation once (configuration, the
//! ring device, the smoltcp interface and sockets), publishes a
//! `TemplateReady` block in its control region, notifies the multiplexer
//! and parks. The multiplexer spawns it by writing PC/SP/x0/x1 into its TCB,
//! which lands in [`fwp_serve`]: the serving loop, which never re-runs
//! initialisation.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use edgeos_config::{Protocol, TenantConfig};
use edgeos_echo::{Echo, EchoStorage};
use edgeos_cycles::Samples;
use edgeos_fwp::{TemplateReady, CTRL_READ_LEN, HOP_SUMMARY_AT, READY_BLOCK_LEN};
use edgeos_pd_ring::{now, now_ns, ring_at, reader, region, writer, ReadEnd, SharedRegion, WriteEnd};
use edgeos_tenant_net::{RingDevice, RxSide, TxSide};
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, Handler, Infallible,
};
use sel4_shared_memory::SharedMemoryRef;

/// Microkit's fixed capability slots (libmicrokit's INPUT_CAP and REPLY_CAP).
const INPUT_CAP: sel4::cap::Endpoint = sel4::Cap::from_bits(1);
const REPLY_CAP: sel4::cap::Reply = sel4::Cap::from_bits(4);
/// Buffer size in the slot's regions; the multiplexer uses the same.
const BUFFER_SIZE: usize = 2048;
/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;
/// Per-frame time samples kept (the first ones; later frames only count).
const HOP_SAMPLES: usize = 16 * 1024;
/// The summary is republished every this many samples: sorting the samples
/// takes time the tenant would rather spend serving.
const HOP_PUBLISH_EVERY: u64 = 1000;

/// The serving loop's own stack, so a spawn never depends on where the boot
/// stack was when the slot parked.
const SERVE_STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct ServeStack([u8; SERVE_STACK_SIZE]);

type Device = RingDevice<ReadEnd<'static>, WriteEnd<'static>, SharedRegion, TX_BUFFERS>;

/// The template's whole writable state after initialisation.
struct Template {
    dev: Device,
    echo: Echo<'static>,
    mux: Channel,
}

static mut SERVE_STACK: ServeStack = ServeStack([0; SERVE_STACK_SIZE]);
static mut STORAGE: EchoStorage<'static> = EchoStorage::new();
static mut TEMPLATE: Option<Template> = None;
static mut HOPS: Samples<HOP_SAMPLES> = Samples::new();

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // SAFETY: `tenant_config` is this slot's prefilled, read-only config region.
    let config_region = unsafe {
        SharedMemoryRef::<'static, [u8]>::new_read_only(memory_region_symbol!(
            tenant_config_vaddr: *mut [u8],
            n = TenantConfig::BUFFER_LEN
        ))
    };
    let mut blob = [0u8; TenantConfig::BUFFER_LEN];
    config_region.as_ptr().copy_into_slice(&mut blob);
    let config = match TenantConfig::parse(&blob) {
        Ok(config) => config,
        Err(e) => {
            debug_println!("fwp: ERROR: bad tenant configuration: {e}");
            return Parked;
        }
    };
    // SAFETY: the buffer regions are this slot's own, shared with the mux only.
    let (rx_mem, tx_mem) = unsafe {
        (
            region(*var!(rx_buf_vaddr: usize = 0), *var!(rx_buf_size: usize = 0)),
            region(*var!(tx_buf_vaddr: usize = 0), *var!(tx_buf_size: usize = 0)),
        )
    };
    let mut dev = RingDevice::new(
        RxSide {
            filled: reader(ring_at(*var!(rx_used_vaddr: usize = 0))),
            empty: writer(ring_at(*var!(rx_free_vaddr: usize = 0))),
            mem: rx_mem,
        },
        TxSide {
            outgoing: writer(ring_at(*var!(tx_free_vaddr: usize = 0))),
            done: reader(ring_at(*var!(tx_used_vaddr: usize = 0))),
            mem: tx_mem,
        },
        BUFFER_SIZE,
    );
    // SAFETY: init runs once, before anything else touches these statics;
    // afterwards only the serving loop does.
    let storage = unsafe { &mut *addr_of_mut!(STORAGE) };
    let echo = Echo::new(&config, &mut dev, storage, now());
    let mux = Channel::new(*var!(mux_channel: usize = 0));
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, echo, mux }) };

    publish_ready();
    let protocol = match config.protocol {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
    };
    debug_println!("fwp: template initialised ({protocol} echo on port {}), parked", config.port);
    mux.notify();
    Parked
}

/// This slot's control region: the ready block, then the hop summary.
fn ctrl_region() -> SharedMemoryRef<'static, [u8]> {
    // SAFETY: `fwp_ctrl` is this slot's control region (rw here, read-only in the mux).
    unsafe {
        SharedMemoryRef::new(memory_region_symbol!(fwp_ctrl_vaddr: *mut [u8], n = CTRL_READ_LEN))
    }
}

fn publish_ready() {
    let mut ctrl = ctrl_region();
    let stack_top = addr_of_mut!(SERVE_STACK) as usize + SERVE_STACK_SIZE;
    let mut block = [0u8; READY_BLOCK_LEN];
    TemplateReady { serve_entry: fwp_serve as *const () as u64, stack_top: stack_top as u64 }
        .emit(&mut block);
    ctrl.as_mut_ptr().index(..READY_BLOCK_LEN).copy_from_slice(&block);
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
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let Some(template) = (unsafe { (*addr_of_mut!(TEMPLATE)).as_mut() }) else {
        debug_println!("fwp[{slot}]: ERROR: spawned without an initialised template");
        loop {
            sel4::r#yield();
        }
    };
    debug_println!("fwp[{slot}]: serving (spawn {generation})");
    // SAFETY: Microkit maps this PD's IPC buffer at the last page below
    // seL4_UserVSpaceTop, and nothing else touches it on this path.
    let ipc_buffer = unsafe { &mut *ipc_buffer_ptr() };
    let mux = template.mux.notification();
    // SAFETY: only the serving loop touches HOPS.
    let hops = unsafe { &mut *addr_of_mut!(HOPS) };
    loop {
        // Time is counted up to the hand-off to the mux, which preempts us
        // (higher priority): its work is its own hop.
        let (mut busy, (received, _)) = (0, template.dev.frames());
        loop {
            let start = now_ns();
            template.echo.serve(&mut template.dev, now());
            let notify = template.dev.take_notify();
            busy += now_ns() - start;
            if notify {
                mux.with(&mut *ipc_buffer).signal();
            }
            if template.dev.ready_to_sleep() {
                break;
            }
        }
        let before = hops.seen();
        // Per frame received, for UDP and TCP alike (TCP's echo count is bytes).
        hops.record_batch(busy, (template.dev.frames().0 - received) as usize);
        if hops.seen() / HOP_PUBLISH_EVERY != before / HOP_PUBLISH_EVERY {
            publish_hops(hops);
        }
        let _ = INPUT_CAP.with(&mut *ipc_buffer).recv(REPLY_CAP);
    }
}

/// Writes the per-frame summary after the ready block, for the mux's stats.
fn publish_hops(hops: &mut Samples<HOP_SAMPLES>) {
    let Some(summary) = hops.summary() else { return };
    let mut bytes = [0u8; 16];
    for (i, word) in summary.to_words().into_iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    ctrl_region().as_mut_ptr().index(HOP_SUMMARY_AT..HOP_SUMMARY_AT + 16).copy_from_slice(&bytes);
}

fn ipc_buffer_ptr() -> *mut sel4::IpcBuffer {
    (sel4::sys::seL4_UserVSpaceTop & !((1 << sel4::sys::seL4_PageBits) - 1)) as *mut _
}
