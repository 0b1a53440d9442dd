//! `tenant_memcache`: the memcached template, run as a template PD and as
//! FWP slots (`edgeos_memcache_server`). The template PD builds the
//! interface, the listening sockets and the empty store once and
//! checkpoints them; every spawn restores that state, so a new FWP starts
//! from an empty store. A per-flow template's FWP serves one connection
//! and exits when it ended. The lifecycle is the echo template's (see
//! `tenant_echo` and `docs/fwp.md`).
//!
//! The private region (system.toml's `store_mb`, plus the connection area
//! and the store's index that `sysdesc` adds) is split here, in that
//! order: connection area, index, arena. The index and the arena are given
//! to the template's state once (the checkpoint holds the store's empty
//! state; a spawned FWP clears the index's buckets); the connection area
//! is laid out by every FWP when it starts serving (`connection_area`),
//! because no checkpoint holds it.
#![no_std]
#![no_main]

use core::mem::{align_of, size_of};
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};

use edgeos_fwp_rt::{self as rt, Parked};
use edgeos_memcache_server::{Connection, ConnectionArea, Index, IndexSlot, Memcached, PacketMetadata, SocketStorage};
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
    /// The connection area: its address and size in the private region.
    area: (usize, usize),
}

static mut TEMPLATE: Option<Template> = None;
static mut HOPS: rt::Hops = rt::Hops::new();

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> Parked {
    // A slot: it runs only what the mux restores into it.
    let Some(config) = rt::template_config_or_park() else { return Parked };
    let mut dev = rt::ring_device();
    let Some((area, index, arena)) = take_private_memory(config.store_size as usize) else {
        debug_println!("tmpl: ERROR: memcached on port {} has no store: give its template a store_mb", config.port);
        return Parked;
    };
    let memcached = match Memcached::new(&config, &mut dev, arena, index, now()) {
        Ok(memcached) => memcached,
        Err(e) => {
            // Never reported ready: the mux spawns nothing of this template.
            debug_println!("tmpl: ERROR: memcached on port {}: {e}", config.port);
            return Parked;
        }
    };
    // Checked once here, so an FWP cannot meet it: the area must hold the
    // configured connections.
    let needed = edgeos_memcache_server::connection_memory(memcached.max_connections());
    if area.1 < needed {
        let e = edgeos_memcache_server::AreaTooSmall { connections: memcached.max_connections() };
        debug_println!("tmpl: ERROR: memcached on port {}: {e}", config.port);
        return Parked;
    }
    let store = memcached.store().stats().limit_maxbytes;
    let connections = memcached.max_connections();
    unsafe { *addr_of_mut!(TEMPLATE) = Some(Template { dev, memcached, per_connection: config.per_flow, area }) };
    rt::checkpoint_and_report(
        fwp_serve,
        format_args!("memcached on port {} ({} KiB store, {connections} connections)", config.port, store / 1024),
    );
    Parked
}

/// This PD's private memory region (mapped at the same address in the
/// template PD and its slots), split once: the connection area (address,
/// size) at its start, then the store's index (laid out empty here), then
/// the store's arena, its last `store_size` bytes. `None` without a region
/// that holds them, or on a second call.
fn take_private_memory(store_size: usize) -> Option<((usize, usize), Index<'static>, &'static mut [u8])> {
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let vaddr = *var!(fwp_mem_vaddr: usize = 0);
    let size = *var!(fwp_mem_size: usize = 0);
    let index_bytes = edgeos_memcache_server::index_memory(store_size);
    let before_store = size.checked_sub(store_size)?;
    let area = before_store.checked_sub(index_bytes)?;
    if vaddr == 0 || store_size == 0 || TAKEN.swap(true, Ordering::Relaxed) {
        return None;
    }
    let items = edgeos_memcache_server::index_items(store_size);
    let (mut cursor, index_end) = (vaddr + area, vaddr + before_store);
    // SAFETY: system.xml maps `size` bytes here, read-write, in this PD
    // alone; TAKEN makes these the only references to the index's and the
    // store's parts, and the area's part is only reached through
    // `connection_area`. A slot the index never handed out is never read
    // (a restored store takes its slots afresh), so what an earlier FWP
    // of this slot left there is never looked at.
    let slots = unsafe { carve(&mut cursor, index_end, items, || IndexSlot::EMPTY) }?;
    let buckets = unsafe { carve(&mut cursor, index_end, items, || 0u32) }?;
    let arena = unsafe { core::slice::from_raw_parts_mut((vaddr + before_store) as *mut u8, store_size) };
    Some(((vaddr, area), Index::new(slots, buckets)?, arena))
}

/// Lays out the connection area at `(address, size)` for `connections`:
/// every socket and connection slot empty, the rest bytes.
///
/// # Safety
/// The area must be mapped read-write and used by nothing else while the
/// returned references live: each FWP calls it once, as it starts
/// serving, after which only its `Memcached` reaches the area (which
/// [`Memcached::open`] checks holds the connections).
unsafe fn connection_area(
    (address, size): (usize, usize),
    connections: usize,
) -> Result<ConnectionArea<'static>, edgeos_memcache_server::AreaTooSmall> {
    let too_small = edgeos_memcache_server::AreaTooSmall { connections };
    let mut cursor = address;
    let end = address + size;
    // SAFETY (all four): carve stays within [address, end), the caller's
    // exclusive area, and writes every element before handing it out.
    let sockets = unsafe { carve(&mut cursor, end, connections + 2, || SocketStorage::EMPTY) }.ok_or(too_small)?;
    let slots = unsafe { carve(&mut cursor, end, connections + 1, || Connection::EMPTY) }.ok_or(too_small)?;
    let udp_meta = unsafe { carve(&mut cursor, end, 2 * edgeos_memcache_server::DATAGRAMS, || PacketMetadata::EMPTY) }
        .ok_or(too_small)?;
    // Bytes need no initial value: a socket buffer is written before read.
    let bytes = unsafe { core::slice::from_raw_parts_mut(cursor as *mut u8, end - cursor) };
    Ok(ConnectionArea { sockets, connections: slots, udp_meta, bytes })
}

/// `n` values of `T` from `make`, at the next `T`-aligned address from
/// `cursor`, which moves past them; `None` if they do not fit before `end`.
///
/// # Safety
/// `[cursor, end)` must be mapped read-write and unused by anything else.
unsafe fn carve<T>(cursor: &mut usize, end: usize, n: usize, make: impl Fn() -> T) -> Option<&'static mut [T]> {
    let start = cursor.checked_next_multiple_of(align_of::<T>())?;
    let stop = start.checked_add(n.checked_mul(size_of::<T>())?)?;
    if stop > end {
        return None;
    }
    let first = start as *mut T;
    for i in 0..n {
        // SAFETY: within [start, stop), inside the caller's area, aligned.
        unsafe { first.add(i).write(make()) };
    }
    *cursor = stop;
    // SAFETY: n initialised, aligned values the caller owns alone.
    Some(unsafe { core::slice::from_raw_parts_mut(first, n) })
}

/// The serving entry point: the mux starts a restored slot here with
/// `slot` in x0 and `generation` in x1.
extern "C" fn fwp_serve(slot: usize, generation: usize) -> ! {
    // SAFETY: the serving loop is the only code running in this PD from now on.
    let (template, started_at) = rt::start_serving(slot, generation, unsafe { &mut *addr_of_mut!(TEMPLATE) });
    // SAFETY: the area is this FWP's alone from here on; init checked it
    // holds the connections (the same region and configuration).
    let opened = unsafe { connection_area(template.area, template.memcached.max_connections()) }
        .and_then(|area| template.memcached.open(area));
    if let Err(e) = opened {
        debug_println!("fwp: ERROR: memcached cannot serve: {e}");
    }
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
