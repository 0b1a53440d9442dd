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
use edgeos_echo::{Echo, EchoStorage};
use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_pd_ring::now;
use sel4_microkit::{debug_println, protection_domain};

/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;

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
static mut HOPS: rt::Hops = rt::Hops::new();

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
        // Per frame received, for UDP and TCP alike (TCP's echo count is bytes).
        hops.record(rt::serve_batch(&mut template.dev, |dev| {
            template.echo.serve(dev, now());
            if let Some(p) = template.echo.take_probe() {
                probe::misbehave(p, template.outgoing_ring);
            }
        }));
        if template.per_connection {
            let echo = &template.echo;
            rt::exit_once_connection_ended(hops, echo.connections_closed(), echo.has_open_connections(), generation, started_at);
        }
        rt::serving(generation, started_at, wakeups, template.dev.frames().0 as u32);
        rt::wait();
        wakeups = wakeups.wrapping_add(1);
    }
}
