//! `tenant_memcache`: the memcached template, run as a template PD and as
//! FWP slots (`edgeos_memcache_server`). The template PD builds the
//! interface, the listening sockets and the empty store once and
//! checkpoints them; every spawn restores that state, so a new FWP starts
//! from an empty store. The lifecycle is the echo template's (see
//! `tenant_echo` and `docs/fwp.md`).
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_memcache_server::{Memcached, MemcachedStorage};
use edgeos_pd_ring::{now, now_ns};
use sel4_microkit::protection_domain;

/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;

/// The template's whole state after initialisation.
struct Template {
    dev: rt::Device<TX_BUFFERS>,
    memcached: Memcached<'static>,
}

static mut STORAGE: MemcachedStorage<'static> = MemcachedStorage::new();
static mut TEMPLATE: Option<Template> = None;

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // A slot: it runs only what the mux restores into it.
    let Some(config) = rt::template_config_or_park() else { return Parked };
    let mut dev = rt::ring_device();
    // SAFETY: init runs once, before anything else touches these statics;
    // afterwards only a spawned FWP's serving loop does.
    let storage = unsafe { &mut *addr_of_mut!(STORAGE) };
    let memcached = Memcached::new(&config, &mut dev, storage, now());
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, memcached }) };
    rt::checkpoint_and_report(fwp_serve, format_args!("memcached on port {}", config.port));
    Parked
}

/// The serving entry point: the mux starts a restored slot here with
/// `slot` in x0 and `generation` in x1.
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let (template, started_at) = rt::start_serving(slot, generation, unsafe { &mut *addr_of_mut!(TEMPLATE) });
    let mut wakeups = 0u32;
    loop {
        loop {
            // Expiry times count in seconds of guest time since boot: the
            // store only compares them (memcached's relative times).
            template.memcached.serve(&mut template.dev, now(), now_ns() / 1_000_000_000);
            if template.dev.take_notify() {
                rt::signal_mux();
            }
            if template.dev.ready_to_sleep() {
                break;
            }
        }
        rt::serving(generation, started_at, wakeups, template.dev.frames().0 as u32);
        rt::wait();
        wakeups = wakeups.wrapping_add(1);
    }
}
