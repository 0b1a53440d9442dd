//! The FWP side of the multiplexer: which template answers which service,
//! the slot pool, and what the PD glue must do next (spawn plans to apply,
//! slots to scrub). The routing decision that uses it is
//! [`Multiplexer`](crate::Multiplexer)'s `route`.

use edgeos_flow::{FiveTuple, Protocol, ServiceKey};
use edgeos_fwp::{SlotError, SlotPool, SlotState, SpawnPlan, TeardownReason, TemplateId};
use heapless::{Deque, Vec};

use crate::first_reply::{FirstReplies, FirstReply};
use crate::slot_set::SlotSet;

/// Templates one multiplexer routes to (`edgeos_config::MAX_TEMPLATES`).
pub const MAX_TEMPLATES: usize = edgeos_config::MAX_TEMPLATES;

/// Services one template answers at most: one port (or range) over TCP and UDP.
pub const MAX_SERVICES: usize = 2;

/// A template's services and how flows map to its FWPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateRoute {
    services: [Option<ServiceKey>; MAX_SERVICES],
    /// The last port of each service's range (its own port for one port).
    last_port: u16,
    /// One FWP per flow (5-tuple); otherwise one FWP serves all the
    /// template's services.
    pub per_flow: bool,
    /// Its FWPs forward what they receive (a Click template): their
    /// output passes the forwarding policy, not a tenant's.
    pub middlebox: bool,
    /// A new flow that finds no FWP to spawn shares one of the template's
    /// serving FWPs (its fallback) instead of being dropped (per-flow
    /// templates only).
    pub share_overflow: bool,
}

impl TemplateRoute {
    /// A route for packets to `services` of ours (the first
    /// [`MAX_SERVICES`] of them), one port each.
    pub fn new(services: impl IntoIterator<Item = ServiceKey>, per_flow: bool) -> Self {
        let mut route =
            Self { services: [None; MAX_SERVICES], last_port: 0, per_flow, middlebox: false, share_overflow: false };
        for (at, service) in route.services.iter_mut().zip(services) {
            *at = Some(service);
            route.last_port = service.port;
        }
        route
    }

    /// The same services over the ports from each one's port to
    /// `last_port`: flows to any of them spawn an FWP each. Only a per-flow
    /// route may span ports (one FWP answering a range would need an
    /// entry per port); others keep their one port.
    pub fn with_ports_to(mut self, last_port: u16) -> Self {
        if self.per_flow {
            self.last_port = self.last_port.max(last_port);
        }
        self
    }

    /// Marks the route a middlebox's (see [`middlebox`](Self::middlebox)).
    pub fn as_middlebox(mut self) -> Self {
        self.middlebox = true;
        self
    }

    /// Has a new flow that finds no FWP share a serving one (see
    /// [`share_overflow`](Self::share_overflow)); only a per-flow route.
    pub fn sharing_overflow(mut self) -> Self {
        self.share_overflow = self.per_flow;
        self
    }

    /// The services routed to the template (each the first port of its range).
    pub fn services(&self) -> impl Iterator<Item = ServiceKey> + '_ {
        self.services.iter().flatten().copied()
    }

    /// Whether a packet to `key` is for the template.
    pub fn answers(&self, key: ServiceKey) -> bool {
        self.services().any(|s| s.protocol == key.protocol && (s.port..=self.last_port.max(s.port)).contains(&key.port))
    }

    /// Flow table entries one of its FWPs takes: its flow's, or one per
    /// service.
    pub fn entries(&self) -> usize {
        if self.per_flow {
            1
        } else {
            self.services().count()
        }
    }
}

/// What happened to FWPs, for the stats line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FwpStats {
    /// Spawns that took a parked, restored slot.
    pub spawned_warm: u64,
    /// Spawns that had to restore the slot first.
    pub spawned_cold: u64,
    /// Restores started ahead of demand (warm-pool refills).
    pub refills: u64,
    /// Spawns refused: the template serves its `max_active` FWPs already.
    pub refused_limit: u64,
    /// Spawns refused: every slot of the template is busy.
    pub refused_exhausted: u64,
    /// Spawns refused for any other reason (no checkpoint yet, table full).
    pub refused_other: u64,
    /// Teardowns after the idle timeout.
    pub idle_teardowns: u64,
    /// Teardowns the FWP asked for (its flow closed).
    pub closed_teardowns: u64,
    /// Teardowns after a fault or ring misbehaviour.
    pub fault_teardowns: u64,
    /// Slots scrubbed and returned to the pool.
    pub scrubbed: u64,
    /// Faulted dynamic FWPs destroyed and created anew instead of scrubbed.
    pub replaced: u64,
    /// Dynamic FWPs of a renewing template destroyed and created anew when
    /// they ended (closed or idle), instead of scrubbed.
    pub renewed: u64,
    /// New flows given to an FWP already serving (a sharing template's
    /// fallback) because no FWP could be spawned for them.
    pub shared: u64,
}

/// The multiplexer's FWP bookkeeping.
#[derive(Debug)]
pub struct Fwps<const N: usize> {
    pub(crate) pool: SlotPool<N, MAX_TEMPLATES>,
    routes: Vec<Option<TemplateRoute>, MAX_TEMPLATES>,
    /// A queue, not a list taken whole: a `heapless` collection of N plans
    /// is 48 KiB at N = 1,024, and moving one out per event cost the mux
    /// more than the spawn it carried.
    plans: Deque<SpawnPlan, N>,
    draining: SlotSet,
    /// Each sharing template's fallback FWP, while it serves.
    fallback: [Option<usize>; MAX_TEMPLATES],
    pub(crate) first_replies: FirstReplies<N>,
    pub(crate) stats: FwpStats,
}

impl<const N: usize> Default for Fwps<N> {
    fn default() -> Self {
        Self::new(SlotPool::new(), Vec::new())
    }
}

impl<const N: usize> Fwps<N> {
    /// Routes `routes[t]` to template `t`'s slots in `pool` (`None`: the
    /// template gets no traffic).
    pub fn new(pool: SlotPool<N, MAX_TEMPLATES>, routes: Vec<Option<TemplateRoute>, MAX_TEMPLATES>) -> Self {
        Self {
            pool,
            routes,
            plans: Deque::new(),
            draining: SlotSet::EMPTY,
            fallback: [None; MAX_TEMPLATES],
            first_replies: FirstReplies::new(),
            stats: FwpStats::default(),
        }
    }

    /// The slot pool (states, counts, deadlines).
    pub fn pool(&self) -> &SlotPool<N, MAX_TEMPLATES> {
        &self.pool
    }

    /// The counters so far.
    pub fn stats(&self) -> FwpStats {
        self.stats
    }

    /// Number of templates.
    pub fn templates(&self) -> usize {
        self.routes.len()
    }

    /// The template answering `tuple`'s service, if any.
    pub fn template_for(&self, tuple: &FiveTuple) -> Option<(TemplateId, TemplateRoute)> {
        let key = tuple.service_key();
        self.routes
            .iter()
            .enumerate()
            .find_map(|(t, r)| r.filter(|r| r.answers(key)).map(|r| (TemplateId(t as u8), r)))
    }

    /// Whether slot `slot`'s template is a middlebox (its output is
    /// forwarded under [`crate::middlebox`]'s policy).
    pub fn is_middlebox(&self, slot: usize) -> bool {
        let Ok(t) = self.pool.template_of(slot) else { return false };
        self.routes.get(usize::from(t.0)).copied().flatten().is_some_and(|r| r.middlebox)
    }

    /// Whether a packet may start an FWP: any UDP datagram, but only a TCP
    /// segment that opens a connection (a stray ACK or FIN of a torn-down
    /// flow must not spawn one).
    pub(crate) fn may_spawn(tuple: &FiveTuple, opens_connection: bool) -> bool {
        tuple.protocol != Protocol::Tcp || opens_connection
    }

    /// The oldest spawn plan or restore the glue must apply (a TCB
    /// write), taken off the queue.
    pub fn next_plan(&mut self) -> Option<SpawnPlan> {
        self.plans.pop_front()
    }

    /// Every waiting plan at once, oldest first (a copy of up to N plans:
    /// for tests and tools; the glue takes them with [`Self::next_plan`]).
    pub fn take_plans(&mut self) -> Vec<SpawnPlan, N> {
        core::iter::from_fn(|| self.plans.pop_front()).collect()
    }

    /// The oldest finished spawn-to-first-frame measurement, taken (the
    /// glue keeps the samples; see [`crate::first_reply`]).
    pub fn take_first_reply(&mut self) -> Option<FirstReply> {
        self.first_replies.take()
    }

    /// Slots torn down since the last call: the glue stops each, resets
    /// its memory and reports it with `scrubbed`.
    pub fn take_draining(&mut self) -> SlotSet {
        core::mem::take(&mut self.draining)
    }

    pub(crate) fn push_plan(&mut self, plan: SpawnPlan) {
        // At most one plan per slot is outstanding: a slot is spawned or
        // restored once per state change, and the glue drains the list
        // after every event.
        let _ = self.plans.push_back(plan);
    }

    /// The FWP of template `t` that takes flows no FWP could be spawned
    /// for: the last one chosen while it still serves, else any serving
    /// FWP of the template (a walk over the slots, only when the fallback
    /// changes). `None`: none serves.
    pub(crate) fn fallback_for(&mut self, t: TemplateId) -> Option<usize> {
        let pool = &self.pool;
        let serving = |slot: usize| pool.template_of(slot) == Ok(t) && matches!(pool.state(slot), Ok(SlotState::Active { .. }));
        let chosen = self.fallback.get(usize::from(t.0)).copied().flatten().filter(|&slot| serving(slot));
        let slot = chosen.or_else(|| (0..N).find(|&slot| serving(slot)))?;
        if let Some(at) = self.fallback.get_mut(usize::from(t.0)) {
            *at = Some(slot);
        }
        Some(slot)
    }

    pub(crate) fn count_refusal(&mut self, e: SlotError) {
        match e {
            SlotError::LimitReached(_) => self.stats.refused_limit += 1,
            SlotError::Exhausted(_) => self.stats.refused_exhausted += 1,
            _ => self.stats.refused_other += 1,
        }
    }

    /// Records teardown of `slot` for `reason` in the pool and the counters,
    /// and marks it for scrubbing.
    pub(crate) fn teardown(&mut self, slot: usize, reason: TeardownReason) -> Result<u32, SlotError> {
        let generation = self.pool.teardown(slot, reason)?;
        self.first_replies.forget(slot);
        match reason {
            TeardownReason::IdleTimeout => self.stats.idle_teardowns += 1,
            TeardownReason::Closed => self.stats.closed_teardowns += 1,
            TeardownReason::Fault => self.stats.fault_teardowns += 1,
        }
        self.draining.insert(slot);
        Ok(generation)
    }

    /// Starts restores towards every warm pool's target.
    pub(crate) fn queue_refills(&mut self) {
        while let Some(plan) = self.pool.next_refill() {
            self.stats.refills += 1;
            self.push_plan(plan);
        }
    }
}
