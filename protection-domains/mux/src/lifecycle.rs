//! The FWP lifecycle's side of the mux PD: template checkpoints, slot
//! signals, applying spawn plans and scrubs, idle-timeout wake-ups, and the
//! latency samples of it all. The decisions are `edgeos_mux::Multiplexer`'s.

use edgeos_cycles::Samples;
use edgeos_fwp::timing::{Latency, Refilled, Start};
use edgeos_fwp_manager::timing::RenewalTimes;
use edgeos_fwp::{SlotState, TeardownReason, TemplateId};
use edgeos_pd_ring::{counter, now_ns, ticks_to_ns};
use edgeos_mux::MAX_TEMPLATES;
use edgeos_timer::WallClock;
use heapless::Vec;
use sel4_microkit::{debug_println, Channel, MessageInfo};

use crate::{MuxPd, HOP_SAMPLES, MAX_SLOTS};

/// Per-frame time samples and the FWP lifecycle's: kept out of the handler
/// struct, which `init` returns on the stack.
pub(crate) struct Timings {
    pub(crate) hops: Samples<HOP_SAMPLES>,
    pub(crate) lifecycle: [Samples<LIFECYCLE_SAMPLES>; LIFECYCLE.len()],
    /// When each pending renewal was asked of the FWP manager.
    pub(crate) renewals: RenewalTimes<MAX_SLOTS>,
    /// The counter at the last start of this event, for `handoff`.
    last_start: Option<u64>,
    /// Per template: from the packet that spawned an FWP to its first
    /// frame out (`edgeos_mux::first_reply`).
    pub(crate) first_reply: [Samples<FIRST_REPLY_SAMPLES>; MAX_TEMPLATES],
}

/// Spawn-to-first-reply samples kept per template.
const FIRST_REPLY_SAMPLES: usize = 4 * 1024;

/// Samples kept per lifecycle step.
const LIFECYCLE_SAMPLES: usize = 16 * 1024;
/// Their names in the hops line, in `Timings::lifecycle` order: spawns
/// (start to the serving loop's first instruction), refills (start to
/// "restored"), teardowns (scrubs); a renewal by the FWP manager (destroy
/// and create, from the request going on the comm page to the creation's
/// completion read); and a start to the restore's first instruction, of a
/// newly created FWP (its first start) and of any other refill. A created
/// FWP's request to first instruction is `renew` plus `created_entry` when
/// the mux starts it at once. `handoff`: from an event's last start to
/// the end of the mux's handling of that event, the part of every start's
/// latency that is the mux's own (the FWP, at a lower priority, runs after).
/// `event`: the whole handling of one event, from its start to its end
/// (what the mux's budget pays for; a higher-priority PD that preempts it
/// is counted in, as the driver's frames are in the hops).
pub(crate) const LIFECYCLE: [&str; 9] =
    ["spawn_warm", "spawn_cold", "refill", "teardown", "renew", "created_entry", "refill_entry", "handoff", "event"];
const TEARDOWN: usize = 3;
pub(crate) const RENEW: usize = 4;
const CREATED_ENTRY: usize = 5;
const REFILL_ENTRY: usize = 6;
const HANDOFF: usize = 7;
const EVENT: usize = 8;

static mut TIMINGS: Timings = Timings {
    hops: Samples::new(),
    lifecycle: [const { Samples::new() }; LIFECYCLE.len()],
    renewals: RenewalTimes::new(),
    last_start: None,
    first_reply: [const { Samples::new() }; MAX_TEMPLATES],
};

pub(crate) fn timings() -> &'static mut Timings {
    // SAFETY: the PD is single-threaded and only the handler touches TIMINGS.
    unsafe { &mut *core::ptr::addr_of_mut!(TIMINGS) }
}

pub(crate) fn hops() -> &'static mut Samples<HOP_SAMPLES> {
    &mut timings().hops
}

/// Records a lifecycle step's latency.
fn record(latency: Latency) {
    let index = match latency.how {
        Start::Warm => 0,
        Start::Cold => 1,
        Start::Refill => 2,
    };
    record_ticks(index, latency.ticks);
}

/// Records `ticks` as a sample of lifecycle step `index`.
pub(crate) fn record_ticks(index: usize, ticks: u64) {
    timings().lifecycle[index].record_batch(ticks_to_ns(ticks), 1);
}

/// Ends the handling of an event that began at counter `began`: records
/// its time, and the hand-off if it started an FWP.
pub(crate) fn event_handled(began: u64) {
    let now = counter();
    if let Some(at) = timings().last_start.take() {
        record_ticks(HANDOFF, now.saturating_sub(at));
    }
    record_ticks(EVENT, now.saturating_sub(began));
}

/// Records a refill and how long its start took to reach the restore.
fn record_refill(refilled: Refilled) {
    record(refilled.latency);
    if let Some(ticks) = refilled.entry_ticks {
        record_ticks(if refilled.fresh { CREATED_ENTRY } else { REFILL_ENTRY }, ticks);
    }
}

impl MuxPd {
    /// Template `t`'s PD reports its checkpoint: every slot of the template
    /// gets the template PD's ring state, then warm pools start filling.
    pub(crate) fn template_ready(&mut self, t: usize) {
        let ready = match self.children.ready_block(t) {
            Ok(ready) => ready,
            Err(e) => return debug_println!("mux: ERROR: template {t} not spawnable: {e}"),
        };
        // Only slots that run nothing: a second report (which a stopped
        // template PD cannot send, but a confused one might) must not touch
        // a serving FWP.
        let pool = self.mux.fwps().pool();
        let slots: Vec<usize, MAX_SLOTS> = (0..self.children.len())
            .filter(|s| pool.template_of(*s) == Ok(TemplateId(t as u8)) && pool.state(*s) == Ok(SlotState::Free))
            .collect();
        for slot in &slots {
            if let Err(e) = self.mux.reset_ports(*slot, self.children.reset(*slot)) {
                debug_println!("mux: ERROR: slot {slot} not reset: {e}");
            }
        }
        match self.mux.set_checkpoint(TemplateId(t as u8), ready) {
            // All its slots, including dynamic FWPs the manager is still creating.
            Ok(()) => debug_println!("mux: template {t} ready ({} slots)", self.children.slots_of(t)),
            Err(e) => debug_println!("mux: ERROR: template {t}'s checkpoint refused: {e}"),
        }
        self.children.stop_template(t);
    }

    /// A notification from slot `slot`: restored (it parked), frames to
    /// send, or a request to exit.
    /// Tears down FWP `slot` (of `generation`) once it has exited and the
    /// multiplexer has sent every frame it left (a FIN among them).
    pub(crate) fn end_if_exited(&mut self, slot: usize, generation: u32) {
        if !self.mux.tx_waiting(slot) && self.children.status(slot).is_some_and(|s| s.exits(generation)) {
            let _ = self.mux.teardown(slot, TeardownReason::Closed);
        }
    }

    /// Slots whose waiting frames went out on a driver event: the ones
    /// that exited meanwhile end now.
    pub(crate) fn resumed(&mut self, slots: edgeos_mux::SlotSet) {
        for slot in slots.iter() {
            if let Ok(SlotState::Active { generation, .. }) = self.mux.fwps().pool().state(slot) {
                self.end_if_exited(slot, generation);
            }
        }
    }

    pub(crate) fn slot_signalled(&mut self, slot: usize, busy: &mut u64) {
        match self.mux.fwps().pool().state(slot) {
            Ok(SlotState::Restoring) => {
                // Only its own report counts: a signal may be another
                // FWP's on a shared channel bit.
                let generation = self.mux.fwps().pool().generation(slot).unwrap_or(u32::MAX);
                if !self.children.status(slot).is_some_and(|s| s.parked_for(generation)) {
                    return;
                }
                let now = counter();
                if self.mux.restored(slot).is_ok() {
                    let refilled = self.children.status(slot).and_then(|status| self.times.restored(slot, now, &status));
                    if let Some(refilled) = refilled {
                        record_refill(refilled);
                    }
                }
            }
            Ok(SlotState::Active { generation, .. }) => {
                let faults = self.mux.fwps().stats().fault_teardowns;
                // Its first signal after a spawn: it runs, so a restore
                // behind it can no longer delay its start. Later signals
                // (every frame it sends) skip this.
                if self.times.awaits(slot) {
                    self.observe(slot);
                    self.mux.refill_pools();
                }
                loop {
                    let start = now_ns();
                    let wake = self.mux.on_tenant(slot);
                    *busy += now_ns() - start;
                    self.wake(wake);
                    if self.mux.tenant_idle(slot) {
                        break;
                    }
                }
                if self.mux.fwps().stats().fault_teardowns > faults {
                    debug_println!("mux: fwp slot {slot} broke the ring protocol, torn down");
                } else {
                    self.end_if_exited(slot, generation);
                }
            }
            // Anything else is stale (a slot torn down since it signalled).
            _ => {}
        }
    }

    /// Keeps the spawn-to-first-reply times the multiplexer finished in
    /// this event (a first frame may leave on a tenant's signal or, after
    /// waiting for a driver buffer, on the driver's).
    pub(crate) fn record_first_replies(&mut self) {
        while let Some(reply) = self.mux.fwps_mut().take_first_reply() {
            if let Some(samples) = timings().first_reply.get_mut(usize::from(reply.template.0)) {
                samples.record_batch(reply.ns, 1);
            }
        }
    }

    /// Records slot `slot`'s spawn latency, once its FWP reported serving.
    fn observe(&mut self, slot: usize) {
        if let Some(latency) = self.children.status(slot).and_then(|s| self.times.observe(slot, &s)) {
            record(latency);
        }
    }

    /// What kind of start `plan` is: warm, a cold spawn, or a refill
    /// (a restore that continues at the template's park entry point).
    fn start_kind(&self, plan: &edgeos_fwp::SpawnPlan) -> Start {
        let template = self.mux.fwps().pool().template_of(plan.slot).ok();
        let park = template.and_then(|t| self.mux.fwps().pool().checkpoint(t).ok().flatten()).map(|r| r.park_entry);
        match plan.then {
            0 => Start::Warm,
            then if Some(then) == park => Start::Refill,
            _ => Start::Cold,
        }
    }

    /// Asks the timer for unix time once, at start: FWPs get it (as unix
    /// time at the counter's zero) in their control region at every start.
    /// `None`: no timer, or a board without a real-time clock.
    pub(crate) fn wall_clock(timer: Option<Channel>) -> Option<WallClock> {
        let message = edgeos_timer::Request::WallClock.to_message();
        let reply = timer?.pp_call(MessageInfo::new(message.label, 0));
        let words = sel4_microkit::with_msg_regs(|mrs| [mrs[0], mrs[1]]);
        let reply = edgeos_timer::Reply::from_message(edgeos_timer::Request::WallClock, reply.label(), &words[..reply.count().min(2)]);
        let now = now_ns();
        match reply {
            Ok(edgeos_timer::Reply::WallClock { unix_ns }) => Some(WallClock::from_counter_zero(unix_ns.saturating_sub(now))),
            other => {
                debug_println!("mux: no wall clock from the timer ({other:?}): FWPs get none");
                None
            }
        }
    }

    /// Makes sure the timer wakes us by the earliest idle deadline. A wake
    /// already due earlier is kept: deadlines only move later as FWPs get
    /// traffic, and an early wake re-arms for what is due then.
    pub(crate) fn arm_timer(&mut self) {
        let (Some(timer), Some(deadline)) = (self.timer, self.mux.fwps().pool().next_idle_deadline()) else {
            return;
        };
        if self.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        let request = edgeos_timer::Request::SetTimeout { token: 0, ns_from_now: deadline.saturating_sub(now_ns()) };
        let message = request.to_message();
        let words = message.words();
        sel4_microkit::with_msg_regs_mut(|mrs| mrs[..words.len()].copy_from_slice(words));
        let reply = timer.pp_call(MessageInfo::new(message.label, words.len()));
        if reply.label() == edgeos_timer::protocol::LABEL_OK {
            self.armed = Some(deadline);
        } else {
            debug_println!("mux: ERROR: the timer refused a timeout (label {})", reply.label());
        }
    }

    /// Applies what the last events decided: scrubs torn-down slots (which
    /// may start refills) and starts every planned spawn and restore.
    pub(crate) fn apply(&mut self) {
        loop {
            let draining = self.mux.fwps_mut().take_draining();
            for slot in draining.iter() {
                let started = counter();
                self.observe(slot);
                self.times.forget(slot);
                if self.replace_if_due(slot) {
                    continue;
                }
                if let Err(e) = self.mux.scrubbed(slot, self.children.reset(slot)) {
                    debug_println!("mux: ERROR: slot {slot} not scrubbed: {e}");
                }
                record_ticks(TEARDOWN, counter() - started);
            }
            let mut started_any = false;
            while let Some(plan) = self.mux.fwps_mut().next_plan() {
                started_any = true;
                let plan = &plan;
                let how = self.start_kind(plan);
                if how != Start::Refill {
                    self.times.started_otherwise(plan.slot);
                }
                let at = counter();
                self.times.started(plan.slot, how, plan.generation, at);
                timings().last_start = Some(at);
                if let Err(e) = self.children.start(plan, self.wall_clock) {
                    debug_println!("mux: ERROR: starting fwp slot {} failed: {e:?}", plan.slot);
                    self.mux.fault(plan.slot);
                }
            }
            if draining.is_empty() && !started_any {
                break;
            }
        }
    }
}
