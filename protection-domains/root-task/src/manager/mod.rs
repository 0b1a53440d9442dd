//! The FWP manager: what the root task becomes once the static system
//! runs. It serves the multiplexer's requests (`edgeos_fwp_manager::comm`)
//! to create and destroy FWPs at run time, as clones of each template's
//! prototype slot PD (`clone.rs`), from untyped memory no PD can reach
//! (`memory.rs`).
//!
//! It runs below the multiplexer and above the FWPs, on a bounded budget,
//! so creating FWPs never delays the data path and a busy tenant never
//! delays creation.

mod clone;
mod memory;
mod mux;
mod prototype;

use alloc::vec::Vec;
use core::ops::Range;

use edgeos_config::{ManagerConfig, MAX_TEMPLATES};
use edgeos_fwp_manager::comm::{self, Completion, Figures, Request, Status};
use sel4::init_thread::{self, Slot};
use sel4_root_task::debug_println;

use crate::static_system::{BuildError, StaticSystem};

pub use self::clone::CreateError;
use self::clone::{Fwp, NewFwp};
use self::memory::Memory;
use self::mux::MuxLink;
use self::prototype::Prototype;

use edgeos_fwp_manager::schedule::{BUDGET_US, PERIOD_US, PRIORITY};

pub struct Manager {
    system: StaticSystem,
    memory: Memory,
    config: ManagerConfig,
    mux: MuxLink,
    prototypes: Vec<Prototype>,
    fwps: Vec<Option<Fwp>>,
    /// Per dynamic FWP, the slot of the manager's CNode for its store:
    /// taken at its first creation, reused by every later one.
    stores: Vec<Option<Slot>>,
    /// Where FWPs are built before their caps move to their store: room
    /// for the largest template's.
    scratch: Range<usize>,
    created: u64,
    destroyed: u64,
}

impl Manager {
    /// The manager of `system`, when its spec carries a manager
    /// configuration (a system without dynamic FWPs has none).
    pub fn new(system: StaticSystem, bootinfo: &sel4::BootInfoPtr) -> Result<Option<Self>, BuildError> {
        let Some(config) = mux::find_config(&system.objects)? else { return Ok(None) };
        let mut system = system;
        let mut memory = Memory::new(bootinfo, system.totals.free_ram_bytes);
        let started = counter();
        if let Err(err) = memory.clear_untypeds(&mut system.slots) {
            debug_println!("root task: ERROR: clearing the RAM untypeds failed ({err:?}); first retypes will clear them");
        }
        debug_println!("root task: RAM untypeds cleared in {} us", ticks_to_us(counter() - started));
        let mux = MuxLink::connect(&mut system, &mut memory, bootinfo, &config)?;
        let mut prototypes = Vec::with_capacity(MAX_TEMPLATES);
        for template in &config.templates {
            prototypes.push(Prototype::read(&system.objects, template, &mux)?);
        }
        let fwps = (0..config.fwps.len()).map(|_| None).collect();
        let stores = (0..config.fwps.len()).map(|_| None).collect();
        let scratch = system.slots.take_many(prototypes.iter().map(|p| p.caps).max().unwrap_or(0))?;
        Ok(Some(Self { system, memory, config, mux, prototypes, fwps, stores, scratch, created: 0, destroyed: 0 }))
    }

    /// Steps down to the manager's priority and budget, then serves
    /// requests for ever.
    pub fn serve(mut self) -> ! {
        // Printed before stepping down: lines cut by the budget's end
        // would interleave with the PDs' own.
        for (t, prototype) in self.prototypes.iter().enumerate() {
            let shared = prototype.pages.len() - prototype.objects.fresh_pages;
            debug_println!(
                "root task: template {t}'s clones: {} KiB slab each ({} fresh pages, {} shared with the prototype, {} caps in a {} KiB store)",
                (1u64 << prototype.objects.slab_bits()) >> 10,
                prototype.objects.fresh_pages,
                shared,
                prototype.caps,
                (1u64 << prototype.objects.store_bits) >> 10
            );
        }
        let own_sc = init_thread::slot::SC.cap();
        let control = self.memory.sched_control();
        let demoted = control
            .sched_control_configure_flags(own_sc, BUDGET_US, PERIOD_US, 0, 0, 0)
            .and_then(|()| init_thread::slot::TCB.cap().tcb_set_priority(init_thread::slot::TCB.cap(), PRIORITY.into()));
        if let Err(err) = demoted {
            panic!("root task: cannot step down to the manager's priority: {err:?}");
        }
        debug_println!(
            "root task: FWP manager serving: {} templates, {} dynamic FWPs, {} MiB of RAM free",
            self.prototypes.len(),
            self.fwps.len(),
            self.memory.free_bytes() >> 20
        );
        self.publish_figures();
        loop {
            self.mux.wait();
            let mut answered = false;
            let mut batch = Batch::default();
            loop {
                if !comm::completion_room(self.mux.page()) {
                    // Every request taken gets its answer: wait for the
                    // multiplexer to read some (it signals when it has).
                    break;
                }
                let word = match comm::next_request(self.mux.page()) {
                    Ok(Some(word)) => word,
                    Ok(None) => break,
                    Err(comm::Broken) => {
                        debug_println!("root task: ERROR: the multiplexer broke the request ring; requests ignored");
                        break;
                    }
                };
                let started = counter();
                let status = match Request::decode(word) {
                    Some(request) => self.handle(request),
                    None => Status::BadRequest,
                };
                batch.record(Request::decode(word), status, counter() - started);
                if comm::send_completion(self.mux.page(), Completion { request: word, status }).is_err() {
                    debug_println!("root task: ERROR: the completion ring is full; the multiplexer stopped reading it");
                }
                answered = true;
            }
            if answered {
                self.publish_figures();
                self.mux.signal();
                batch.report(self.memory.free_bytes());
            }
        }
    }

    /// Tells the multiplexer what is left and held, for its stats line.
    fn publish_figures(&self) {
        let figures = Figures {
            ram_free_mib: (self.memory.free_bytes() >> 20) as u32,
            live_fwps: self.fwps.iter().filter(|f| f.is_some()).count() as u32,
            asid_pools: self.memory.asid_pools() as u32,
            cnode_slots_free: self.system.slots.left() as u32,
            free_slabs: self.memory.free_slabs() as u32,
            created: self.created as u32,
            destroyed: self.destroyed as u32,
        };
        comm::publish_figures(self.mux.page(), figures);
    }

    fn handle(&mut self, request: Request) -> Status {
        let k = usize::from(request.fwp());
        let Some(fwp_config) = self.config.fwps.get(k).copied() else { return Status::NoSuchFwp };
        match (request, self.fwps[k].is_some()) {
            (Request::Create(_), false) => {
                let prototype = &self.prototypes[usize::from(fwp_config.template)];
                let store = match self.stores[k] {
                    Some(slot) => slot,
                    None => match self.system.slots.take() {
                        Ok(slot) => *self.stores[k].insert(slot),
                        Err(_) => return Status::NoMemory,
                    },
                };
                let new = NewFwp { k, config: &fwp_config, prototype, store, scratch: self.scratch.clone() };
                match Fwp::create(new, &mut self.system, &mut self.memory, &self.mux) {
                    Ok(fwp) => {
                        self.fwps[k] = Some(fwp);
                        self.created += 1;
                        Status::Done
                    }
                    Err(clone::CreateError::NoMemory) => Status::NoMemory,
                    Err(clone::CreateError::Kernel(err)) => {
                        debug_println!("root task: creating FWP {k} failed: {err:?}");
                        Status::Kernel(err as u8)
                    }
                }
            }
            (Request::Destroy(_), true) => {
                let fwp = self.fwps[k].take().expect("checked live");
                let template = usize::from(fwp_config.template);
                if let Err(err) = fwp.destroy(&mut self.memory, template) {
                    debug_println!("root task: ERROR: destroying FWP {k} left caps behind: {err:?}");
                    return Status::Kernel(err as u8);
                }
                self.destroyed += 1;
                Status::Done
            }
            _ => Status::WrongState,
        }
    }
}

/// The generic counter (user-readable on the SDK's kernels): under QEMU
/// `-icount shift=0` its ticks follow guest instructions.
fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading CNTPCT_EL0 has no side effects.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) ticks) };
    ticks
}

fn ticks_to_us(ticks: u64) -> u64 {
    let hz: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz) };
    ticks * 1_000_000 / hz.max(1)
}

/// What one wake-up's requests did, for its console line.
#[derive(Default)]
struct Batch {
    created: usize,
    destroyed: usize,
    failed: usize,
    create_ticks: Vec<u64>,
    destroy_ticks: Vec<u64>,
}

impl Batch {
    fn record(&mut self, request: Option<Request>, status: Status, ticks: u64) {
        match (request, status) {
            (Some(Request::Create(_)), Status::Done) => {
                self.created += 1;
                self.create_ticks.push(ticks);
            }
            (Some(Request::Destroy(_)), Status::Done) => {
                self.destroyed += 1;
                self.destroy_ticks.push(ticks);
            }
            _ => self.failed += 1,
        }
    }

    fn report(mut self, free_bytes: u64) {
        // Median and p99 (nearest rank) in µs.
        let figures = |ticks: &mut Vec<u64>| {
            ticks.sort_unstable();
            let at = |rank: usize| ticks.get(rank).map_or(0, |t| ticks_to_us(*t));
            (at(ticks.len() / 2), at((ticks.len() * 99).div_ceil(100).saturating_sub(1)))
        };
        let (create, destroy) = (figures(&mut self.create_ticks), figures(&mut self.destroy_ticks));
        debug_println!(
            "root task: FWP manager: {} created (median {} us, p99 {} us), {} destroyed (median {} us, p99 {} us), {} refused; {} MiB of RAM free",
            self.created,
            create.0,
            create.1,
            self.destroyed,
            destroy.0,
            destroy.1,
            self.failed,
            free_bytes >> 20
        );
    }
}
