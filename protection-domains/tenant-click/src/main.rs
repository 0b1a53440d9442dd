//! `tenant_click`: the Click template, a middlebox run as a template PD and
//! as FWP slots.
//!
//! In the template PD, `init` builds the graph from the template's Click
//! configuration (`edgeos_click::Middlebox`), checkpoints it and reports
//! ready. sysdesc checked the same text when it built the image, so a
//! configuration error here is the last line of defence: it is reported,
//! and the template never becomes ready. A slot parks at boot; the mux
//! restores the checkpoint into it and starts it at [`fwp_serve`], which
//! forwards its flow's frames through the graph. A per-flow FWP asks to
//! exit once its flow has ended (`edgeos_click::FlowEnd`).
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use edgeos_click::Middlebox;
use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_pd_ring::now;
use sel4_microkit::{debug_println, protection_domain};

/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;

/// The largest configuration region sysdesc gives a template: the
/// configuration blob and the Click text after it.
const CONFIG_REGION_MAX: usize = 16 * 1024;

/// The template's state after initialisation, besides the middlebox.
struct Template {
    dev: rt::Device<TX_BUFFERS>,
    /// One flow per FWP: exit when it ended.
    per_flow: bool,
}

/// The graph and its scratch buffer, about 42 KiB: a static of its own,
/// configured in place, so it never passes through a stack.
static mut MIDDLEBOX: Middlebox = Middlebox::new();
static mut TEMPLATE: Option<Template> = None;
static mut HOPS: rt::Hops = rt::Hops::new();

// The boot stack is Microkit's stack region, not part of the checkpoint: a
// restored slot never returns to it. The heap is the smallest the PDs use
// (the workspace links `alloc`, which needs an allocator); nothing here
// allocates, and the heap is part of every checkpoint.
#[protection_domain(heap_size = 4096)]
fn init() -> Parked {
    // A slot: it runs only what the mux restores into it.
    let Some(config) = rt::template_config_or_park() else { return Parked };
    let (first, last) = (config.port, config.last_port);
    // The Click text, copied out of the configuration region for
    // `configure`, on the boot stack (the template's `stack_size` makes
    // room): only init uses it, so it stays out of the checkpoint that
    // every cold spawn copies.
    let mut buf = [0u8; CONFIG_REGION_MAX];
    // SAFETY: init runs once, before anything else touches these statics;
    // afterwards only a spawned FWP's serving loop touches MIDDLEBOX.
    let middlebox = unsafe { &mut *addr_of_mut!(MIDDLEBOX) };
    let text = match rt::template_click_text(&config, &mut buf) {
        Some(Ok(text)) => text,
        Some(Err(e)) => {
            debug_println!("tmpl: ERROR: click middlebox on ports {first}-{last}: unreadable Click configuration: {e}");
            return Parked;
        }
        None => {
            debug_println!("tmpl: ERROR: click middlebox on ports {first}-{last}: no Click configuration");
            return Parked;
        }
    };
    if let Err(e) = middlebox.configure(text) {
        // Never reported ready: the mux spawns nothing of this template.
        debug_println!("tmpl: ERROR: click middlebox on ports {first}-{last}: {} at line {}, column {}", e.message(), e.line, e.column);
        return Parked;
    }
    let dev = rt::ring_device();
    // SAFETY: as above.
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, per_flow: config.per_flow }) };
    rt::checkpoint_and_report(fwp_serve, format_args!("click middlebox on ports {first}-{last}"));
    Parked
}

/// The serving entry point: the mux starts a restored slot here with
/// `slot` in x0 and `generation` in x1.
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let (template, started_at) = rt::start_serving(slot, generation, unsafe { &mut *addr_of_mut!(TEMPLATE) });
    // No console line per spawn or per frame: in the debug kernel every
    // character is a system call. The mux's counters show both.
    // SAFETY: only the serving loop touches MIDDLEBOX and HOPS.
    let (middlebox, hops) = unsafe { (&mut *addr_of_mut!(MIDDLEBOX), &mut *addr_of_mut!(HOPS)) };
    let mut wakeups = 0u32;
    loop {
        hops.record(rt::serve_batch(&mut template.dev, |dev| middlebox.serve(dev, now())));
        if template.per_flow {
            // The flow is this FWP's one connection; once it ended and no
            // frame of it waits in a Queue, nothing stays open (what it sent
            // is on the tx ring, which the mux drains before the teardown).
            let ended = middlebox.flow_ended();
            rt::exit_once_connection_ended(hops, u64::from(ended), false, generation, started_at);
        }
        rt::serving(generation, started_at, wakeups, template.dev.frames().0 as u32);
        rt::wait();
        wakeups = wakeups.wrapping_add(1);
    }
}
