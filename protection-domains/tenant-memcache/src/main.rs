//! `tenant_memcache`: the memcached template, run as a template PD and as
//! FWP slots (`edgeos_memcache_server`). The template PD builds the
//! interface, the listening sockets and the empty store once and
//! checkpoints them; every spawn restores that state, so a new FWP starts
//! from an empty store. A per-flow template's FWP serves one connection
//! and exits when it ended. The lifecycle is the echo template's (see
//! `tenant_echo` and `docs/fwp.md`).
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};

use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_memcache_server::{Memcached, MemcachedStorage};
use edgeos_pd_ring::{now, now_ns};
use sel4_microkit::{debug_println, protection_domain, var};

/// Upper bound on tx buffers the device tracks.
const TX_BUFFERS: usize = 64;

/// The template's whole state after initialisation.
struct Template {
    dev: rt::Device<TX_BUFFERS>,
    memcached: Memcached<'static>,
    /// One connection per FWP (`per_flow` in system.toml): exit when it ended.
    per_connection: bool,
}

static mut STORAGE: MemcachedStorage<'static> = MemcachedStorage::new();
static mut TEMPLATE: Option<Template> = None;
static mut HOPS: rt::Hops = rt::Hops::new();

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // A slot: it runs only what the mux restores into it.
    let Some(config) = rt::template_config_or_park() else { return Parked };
    let mut dev = rt::ring_device();
    // SAFETY: init runs once, before anything else touches these statics;
    // afterwards only a spawned FWP's serving loop does.
    let storage = unsafe { &mut *addr_of_mut!(STORAGE) };
    let Some(arena) = take_private_memory() else {
        debug_println!("tmpl: ERROR: memcached on port {} has no store: give its template a memory_size", config.port);
        return Parked;
    };
    let memcached = match Memcached::new(&config, &mut dev, storage, arena, now()) {
        Ok(memcached) => memcached,
        Err(e) => {
            // Never reported ready: the mux spawns nothing of this template.
            debug_println!("tmpl: ERROR: memcached on port {}: {e}", config.port);
            return Parked;
        }
    };
    let store = memcached.store().stats().limit_maxbytes;
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, memcached, per_connection: config.per_flow }) };
    rt::checkpoint_and_report(fwp_serve, format_args!("memcached on port {} ({} KiB store)", config.port, store / 1024));
    Parked
}

/// This PD's private memory region, the store's arena (`memory_size` in
/// system.toml, mapped at the same address in the template PD and its
/// slots), handed out once; `None` without one, or on a second call.
fn take_private_memory() -> Option<&'static mut [u8]> {
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let vaddr = *var!(fwp_mem_vaddr: usize = 0);
    let size = *var!(fwp_mem_size: usize = 0);
    if vaddr == 0 || size == 0 || TAKEN.swap(true, Ordering::Relaxed) {
        return None;
    }
    // SAFETY: system.xml maps `size` bytes here, read-write, in this PD
    // alone; TAKEN makes this the only reference to them.
    Some(unsafe { core::slice::from_raw_parts_mut(vaddr as *mut u8, size) })
}

/// The serving entry point: the mux starts a restored slot here with
/// `slot` in x0 and `generation` in x1.
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let (template, started_at) = rt::start_serving(slot, generation, unsafe { &mut *addr_of_mut!(TEMPLATE) });
    // SAFETY: only the serving loop touches HOPS.
    let hops = unsafe { &mut *addr_of_mut!(HOPS) };
    let mut wakeups = 0u32;
    loop {
        hops.record(rt::serve_batch(&mut template.dev, |dev| {
            // Expiry times are unix seconds, as memcached's absolute
            // exptimes need; without a wall clock, seconds since boot
            // (relative exptimes still hold).
            let unix_now = rt::unix_now_ns().unwrap_or_else(now_ns) / 1_000_000_000;
            template.memcached.serve(dev, now(), unix_now);
        }));
        if template.per_connection {
            let memcached = &template.memcached;
            rt::exit_once_connection_ended(hops, memcached.connections_closed(), memcached.has_open_connections(), generation, started_at);
        }
        rt::serving(generation, started_at, wakeups, template.dev.frames().0 as u32);
        rt::wait();
        wakeups = wakeups.wrapping_add(1);
    }
}
