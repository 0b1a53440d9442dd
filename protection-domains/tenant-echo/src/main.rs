//! `tenant_echo`: the echo template, run as a template PD and as FWP slots.
//!
//! In the template PD, `init` builds the template's state once
//! (configuration, ring device, smoltcp interface and sockets), checkpoints
//! it (`edgeos_fwp_rt::checkpoint`) and reports ready. In a slot, `init`
//! finds no configuration and parks; the mux restores the checkpoint into
//! the slot and starts it at [`fwp_serve`], which never re-runs
//! initialisation. A per-flow FWP asks to exit when its connection closed.
#![no_std]
#![no_main]

mod probe;

use core::ptr::addr_of_mut;

use edgeos_config::Protocol;
use edgeos_cycles::Samples;
use edgeos_echo::{Echo, EchoStorage};
use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_pd_ring::{now, now_ns};
use sel4_microkit::{debug_println, protection_domain};

/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;
/// Per-frame time samples kept (the first ones; later frames only count).
/// Kept small: the samples are part of the state every spawn restores.
const HOP_SAMPLES: usize = 1024;
/// The summary is republished every this many samples: sorting the samples
/// takes time the tenant would rather spend serving.
const HOP_PUBLISH_EVERY: u64 = 256;

/// The template's whole state after initialisation.
struct Template {
    dev: rt::Device<TX_BUFFERS>,
    echo: Echo<'static>,
    /// One connection per FWP: exit when it closed.
    per_connection: bool,
    /// The outgoing ring's address (for the bad-ring probe).
    outgoing_ring: usize,
}

static mut STORAGE: EchoStorage<'static> = EchoStorage::new();
static mut TEMPLATE: Option<Template> = None;
static mut HOPS: Samples<HOP_SAMPLES> = Samples::new();

// The boot stack is Microkit's stack region, not part of the checkpoint: a
// restored slot never returns to it.
#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // A slot: it runs only what the mux restores into it.
    let Some(config) = rt::template_config_or_park() else { return Parked };
    let mut dev = rt::ring_device();
    // SAFETY: init runs once, before anything else touches these statics;
    // afterwards only a spawned FWP's serving loop does.
    let storage = unsafe { &mut *addr_of_mut!(STORAGE) };
    let protocol = match Echo::protocol_of(&config) {
        Ok(protocol) => protocol,
        Err(e) => {
            // Never reported ready: the mux spawns nothing of this template.
            debug_println!("tmpl: {e} (port {}): not ready", config.port);
            return Parked;
        }
    };
    let echo = Echo::new(&config, protocol, &mut dev, storage, now());
    let per_connection = protocol == Protocol::Tcp;
    let outgoing_ring = rt::outgoing_ring();
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, echo, per_connection, outgoing_ring }) };
    rt::checkpoint_and_report(fwp_serve, format_args!("{} echo on port {}", config.protocols, config.port));
    Parked
}

/// The serving entry point: the mux starts a restored slot here with
/// `slot` in x0 and `generation` in x1.
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let (template, started_at) = rt::start_serving(slot, generation, unsafe { &mut *addr_of_mut!(TEMPLATE) });
    // No console line per spawn: in the debug kernel every character is a
    // system call, and a few dozen of them cost more of the FWP's budget
    // than serving a connection does. The mux's counters show the spawns.
    // SAFETY: only the serving loop touches HOPS.
    let hops = unsafe { &mut *addr_of_mut!(HOPS) };
    let mut wakeups = 0u32;
    loop {
        // Time is counted up to the hand-off to the mux, which preempts us
        // (higher priority): its work is its own hop.
        let (mut busy, (received, _)) = (0, template.dev.frames());
        loop {
            let start = now_ns();
            template.echo.serve(&mut template.dev, now());
            if let Some(p) = template.echo.take_probe() {
                probe::misbehave(p, template.outgoing_ring);
            }
            let notify = template.dev.take_notify();
            busy += now_ns() - start;
            if notify {
                rt::signal_mux();
            }
            if template.dev.ready_to_sleep() {
                break;
            }
        }
        let before = hops.seen();
        // Per frame received, for UDP and TCP alike (TCP's echo count is bytes).
        hops.record_batch(busy, (template.dev.frames().0 - received) as usize);
        if hops.seen() / HOP_PUBLISH_EVERY != before / HOP_PUBLISH_EVERY {
            rt::publish_hop_summary(hops);
        }
        let echo = &template.echo;
        if template.per_connection && echo.connections_closed() > 0 && !echo.has_open_connections() {
            rt::publish_hop_summary(hops);
            rt::exit(generation, started_at);
        }
        rt::serving(generation, started_at, wakeups, template.dev.frames().0 as u32);
        rt::wait();
        wakeups = wakeups.wrapping_add(1);
    }
}
