//! The slot state machine and the template registry.
//!
//! ```text
//!            bind(runs_init)           template_ready
//!  (boot) ──▶ Initialising ───────────────────────────────┐
//!                                                          ▼
//!  Free ──begin_restore / next_refill──▶ Restoring ──restored──▶ Ready
//!   │ ▲                                                     │
//!   │ │                                                     │ take_ready (warm) / spawn
//!   │ │                                                     ▼
//!   └─┼────────── take_ready (cold: restore first) ──────▶ Active ◀── touch (idle deadline)
//!     │                                                     │
//!     │                                                     │ teardown(IdleTimeout | Closed | Fault)
//!     │                                                     ▼
//!     └──────────────────── scrubbed ──────────────────── Draining
//!  any state ──fault──▶ Faulted ──teardown──▶ Draining
//! ```
//!
//! Every slot belongs to one template (its `tmpl_t_image` is mapped into it
//! by the system description), and every operation that does not fit the
//! slot's state is refused with a [`SlotError`]; nothing here panics on a
//! request order a peer or a timer race can produce.

use crate::TemplateReady;

mod deadlines;
mod groups;

use self::deadlines::Deadlines;
use self::groups::Groups;

/// A template's index in the registry (`t` of `tmpl_t_image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateId(pub u8);

impl TemplateId {
    fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl core::fmt::Display for TemplateId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "template {}", self.0)
    }
}

/// How a template's slots are kept between tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnPolicy {
    /// Scrubbed slots go back to Free; a spawn with no Ready slot restores
    /// one on the critical path (a cold spawn).
    OnDemand,
    /// Keep `size` slots restored and parked (Ready, or Restoring towards
    /// it), so spawns are one notification.
    WarmPool {
        /// Target number of Ready slots.
        size: usize,
    },
}

/// A template's configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateConfig {
    /// How slots are kept between tenants.
    pub policy: SpawnPolicy,
    /// Most slots of this template serving at once; spawns beyond it are
    /// refused with [`SlotError::LimitReached`].
    pub max_active: usize,
    /// An active slot not [touched](SlotPool::touch) for this long is due
    /// for teardown ([`SlotPool::idle_expired`]); `None`: never idle.
    pub idle_timeout_ns: Option<u64>,
}

impl TemplateConfig {
    /// On-demand spawning, at most `max_active` slots, no idle timeout.
    pub const fn on_demand(max_active: usize) -> Self {
        Self { policy: SpawnPolicy::OnDemand, max_active, idle_timeout_ns: None }
    }

    /// A warm pool of `size`, at most `max_active` slots, no idle timeout.
    pub const fn warm_pool(size: usize, max_active: usize) -> Self {
        Self { policy: SpawnPolicy::WarmPool { size }, max_active, idle_timeout_ns: None }
    }

    /// The same, with an idle timeout.
    pub const fn with_idle_timeout(self, ns: u64) -> Self {
        Self { idle_timeout_ns: Some(ns), ..self }
    }

    fn warm_target(&self) -> usize {
        match self.policy {
            SpawnPolicy::OnDemand => 0,
            SpawnPolicy::WarmPool { size } => size,
        }
    }
}

/// Why an active slot is being torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeardownReason {
    /// The timer reported its idle deadline passed.
    IdleTimeout,
    /// Its flow closed.
    Closed,
    /// It faulted.
    Fault,
}

/// Where a slot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Stopped, its state not restored: usable only after a restore.
    Free,
    /// Booted and running its template's initialisation.
    Initialising,
    /// Its state is being restored from the template image, off the
    /// critical path.
    Restoring,
    /// Restored and parked: ready to be spawned.
    Ready(TemplateReady),
    /// Spawned and serving; `generation` counts spawns of this slot.
    Active {
        /// Where it was started.
        ready: TemplateReady,
        /// The spawn number, passed to the FWP so it can tell spawns apart.
        generation: u32,
    },
    /// Stopped, its flows removed; waiting for its scrub.
    Draining {
        /// Why it stopped.
        reason: TeardownReason,
        /// The spawn that ended.
        generation: u32,
    },
    /// Stopped after a fault; it must be torn down and scrubbed before it
    /// serves again.
    Faulted,
}

/// A [`SlotState`] without its data, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// [`SlotState::Free`].
    Free,
    /// [`SlotState::Initialising`].
    Initialising,
    /// [`SlotState::Restoring`].
    Restoring,
    /// [`SlotState::Ready`].
    Ready,
    /// [`SlotState::Active`].
    Active,
    /// [`SlotState::Draining`].
    Draining,
    /// [`SlotState::Faulted`].
    Faulted,
}

impl StateKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [Self; 7] =
        [Self::Free, Self::Initialising, Self::Restoring, Self::Ready, Self::Active, Self::Draining, Self::Faulted];
}

impl StateKind {
    /// The kind's name in stats lines: `free`, `initialising`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Initialising => "initialising",
            Self::Restoring => "restoring",
            Self::Ready => "ready",
            Self::Active => "active",
            Self::Draining => "draining",
            Self::Faulted => "faulted",
        }
    }
}

impl SlotState {
    /// The state's kind.
    pub const fn kind(&self) -> StateKind {
        match self {
            Self::Free => StateKind::Free,
            Self::Initialising => StateKind::Initialising,
            Self::Restoring => StateKind::Restoring,
            Self::Ready(_) => StateKind::Ready,
            Self::Active { .. } => StateKind::Active,
            Self::Draining { .. } => StateKind::Draining,
            Self::Faulted => StateKind::Faulted,
        }
    }
}

/// Number of slots in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts([usize; 7]);

impl StateCounts {
    /// Slots in state `kind`.
    pub fn get(&self, kind: StateKind) -> usize {
        self.0[kind as usize]
    }

    /// All slots counted.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

/// Why the pool refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotError {
    /// No slot with that index.
    NoSuchSlot(usize),
    /// The slot is not in a state that allows the operation.
    WrongState(usize, SlotState),
    /// The template is out of range or not configured.
    NoSuchTemplate(TemplateId),
    /// The configuration cannot be met (zero `max_active`, or a warm pool
    /// larger than the slot table).
    BadConfig(TemplateId),
    /// The template has no checkpoint yet: no slot of it finished
    /// initialising, so there is nothing to restore from.
    NoCheckpoint(TemplateId),
    /// A slot reported an entry point or stack other than its template's
    /// checkpoint.
    CheckpointMismatch(usize),
    /// The template already serves its configured `max_active` slots.
    LimitReached(TemplateId),
    /// The template has no Ready or Free slot left.
    Exhausted(TemplateId),
    /// The slot's generation counter would wrap; it cannot be spawned again.
    GenerationsExhausted(usize),
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSuchSlot(i) => write!(f, "no FWP slot {i}"),
            Self::WrongState(i, s) => write!(f, "FWP slot {i} is {s:?}"),
            Self::NoSuchTemplate(t) => write!(f, "{t} is not configured"),
            Self::BadConfig(t) => write!(f, "{t}: configuration cannot be met"),
            Self::NoCheckpoint(t) => write!(f, "{t} has no checkpoint yet"),
            Self::CheckpointMismatch(i) => write!(f, "FWP slot {i} reported a different checkpoint"),
            Self::LimitReached(t) => write!(f, "{t} is at its active-slot limit"),
            Self::Exhausted(t) => write!(f, "{t} has no free slot"),
            Self::GenerationsExhausted(i) => write!(f, "FWP slot {i} spawned too often"),
        }
    }
}

/// What the PD glue must do to start a slot: write these registers into the
/// child's TCB and resume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnPlan {
    /// Index of the slot (also the FWP's first argument, x0).
    pub slot: usize,
    /// Program counter: the serving entry point (warm), or the restore
    /// routine (cold spawns and refills).
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// The spawn number for this slot (the FWP's second argument, x1).
    pub generation: u32,
    /// x2: where the restore routine continues (the serving entry point for
    /// a cold spawn, the park entry point for a refill); 0 for a warm spawn.
    pub then: u64,
    /// x3: the checkpoint image the restore routine copies from (0 for a
    /// warm spawn).
    pub image: u64,
}

impl SpawnPlan {
    fn warm(slot: usize, ready: TemplateReady, generation: u32) -> Self {
        Self { slot, pc: ready.serve_entry, sp: ready.stack_top, generation, then: 0, image: 0 }
    }

    fn restore_then(slot: usize, ready: TemplateReady, generation: u32, then: u64) -> Self {
        Self { slot, pc: ready.restore_entry, sp: ready.stack_top, generation, then, image: ready.image }
    }
}

/// The outcome of [`SlotPool::take_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A parked slot: apply the plan (one register write and resume).
    Warm(SpawnPlan),
    /// No parked slot: restore the slot's state from the template image
    /// first, then apply the plan (a cold spawn, on the critical path).
    Cold(SpawnPlan),
}

impl Take {
    /// The plan, warm or cold.
    pub fn plan(&self) -> SpawnPlan {
        match self {
            Self::Warm(p) | Self::Cold(p) => *p,
        }
    }

    /// Whether the slot's state must be restored before the plan is applied.
    pub fn needs_restore(&self) -> bool {
        matches!(self, Self::Cold(_))
    }
}

#[derive(Debug, Clone, Copy)]
struct Template {
    config: Option<TemplateConfig>,
    checkpoint: Option<TemplateReady>,
}

/// Templates a pool registers by default: the system description's limit on
/// distinct workloads per mux (each costs one `tmpl_t_image` region).
pub const DEFAULT_TEMPLATES: usize = 8;

/// The multiplexer's table of FWP slots and templates. `N` is the slot
/// count, `T` the number of template ids, both fixed by the system
/// description.
#[derive(Debug)]
pub struct SlotPool<const N: usize, const T: usize = DEFAULT_TEMPLATES> {
    slots: [SlotState; N],
    generations: [u32; N],
    template_of: [TemplateId; N],
    /// The slots by template and state kind: counts and picks without a scan.
    groups: Groups<N, T>,
    idle_deadlines: Deadlines<N>,
    templates: [Template; T],
}

impl<const N: usize, const T: usize> Default for SlotPool<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const T: usize> SlotPool<N, T> {
    /// As at boot: every slot initialising for template 0, which spawns on
    /// demand and may have all `N` slots active. [`Self::configure`] and
    /// [`Self::bind`] set up other layouts.
    pub const fn new() -> Self {
        let mut templates = [Template { config: None, checkpoint: None }; T];
        if T > 0 {
            templates[0].config = Some(TemplateConfig::on_demand(N));
        }
        Self {
            slots: [SlotState::Initialising; N],
            generations: [0; N],
            template_of: [TemplateId(0); N],
            groups: Groups::new(),
            idle_deadlines: Deadlines::new(),
            templates,
        }
    }

    /// The state of slot `slot`.
    pub fn state(&self, slot: usize) -> Result<SlotState, SlotError> {
        self.slots.get(slot).copied().ok_or(SlotError::NoSuchSlot(slot))
    }

    /// The template slot `slot` belongs to.
    pub fn template_of(&self, slot: usize) -> Result<TemplateId, SlotError> {
        self.template_of.get(slot).copied().ok_or(SlotError::NoSuchSlot(slot))
    }

    /// The last generation slot `slot` was spawned with (0: never).
    pub fn generation(&self, slot: usize) -> Result<u32, SlotError> {
        self.generations.get(slot).copied().ok_or(SlotError::NoSuchSlot(slot))
    }

    /// Template `t`'s configuration.
    pub fn config(&self, t: TemplateId) -> Result<TemplateConfig, SlotError> {
        self.templates.get(t.index()).and_then(|e| e.config).ok_or(SlotError::NoSuchTemplate(t))
    }

    /// Template `t`'s checkpoint, once one of its slots finished initialising.
    pub fn checkpoint(&self, t: TemplateId) -> Result<Option<TemplateReady>, SlotError> {
        self.config(t)?;
        Ok(self.templates[t.index()].checkpoint)
    }

    /// Registers or reconfigures template `t`. Lowering `max_active` below
    /// the slots serving now refuses new spawns until enough tear down.
    pub fn configure(&mut self, t: TemplateId, config: TemplateConfig) -> Result<(), SlotError> {
        let entry = self.templates.get_mut(t.index()).ok_or(SlotError::NoSuchTemplate(t))?;
        if config.max_active == 0 || config.warm_target() > N {
            return Err(SlotError::BadConfig(t));
        }
        entry.config = Some(config);
        Ok(())
    }

    /// Assigns slot `slot` to template `t` at boot: `runs_init` if the slot
    /// runs the template's initialisation (Initialising), else it waits
    /// Free for a restore. Only a slot that never held a tenant's state
    /// since its last scrub (Free or Initialising) can be rebound.
    pub fn bind(&mut self, slot: usize, t: TemplateId, runs_init: bool) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        self.config(t)?;
        if !matches!(state, SlotState::Free | SlotState::Initialising) {
            return Err(SlotError::WrongState(slot, state));
        }
        let next = if runs_init { SlotState::Initialising } else { SlotState::Free };
        self.groups.regroup(slot, (self.template_of[slot], state.kind()), (t, next.kind()));
        self.template_of[slot] = t;
        self.slots[slot] = next;
        Ok(())
    }

    /// Records template `t`'s checkpoint, reported by its template PD: the
    /// first report counts, a later one must match it.
    pub fn set_checkpoint(&mut self, t: TemplateId, ready: TemplateReady) -> Result<(), SlotError> {
        self.config(t)?;
        let entry = &mut self.templates[t.index()];
        match entry.checkpoint {
            Some(known) if known != ready => Err(SlotError::CheckpointMismatch(usize::MAX)),
            _ => {
                entry.checkpoint = Some(ready);
                Ok(())
            }
        }
    }

    /// Records that slot `slot`'s template finished initialising; the first
    /// report becomes the template's checkpoint, later ones must match it.
    ///
    /// Only an initialising slot can report ready: a template that signals
    /// again later gains nothing.
    pub fn template_ready(&mut self, slot: usize, ready: TemplateReady) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        if state != SlotState::Initialising {
            return Err(SlotError::WrongState(slot, state));
        }
        let t = self.template_of[slot];
        let entry = self.templates.get_mut(t.index()).ok_or(SlotError::NoSuchTemplate(t))?;
        match entry.checkpoint {
            Some(known) if known != ready => return Err(SlotError::CheckpointMismatch(slot)),
            _ => entry.checkpoint = Some(ready),
        }
        self.set_state(slot, SlotState::Ready(ready));
        Ok(())
    }

    /// The first ready slot, if any.
    pub fn first_ready(&self) -> Option<usize> {
        (0..T).filter_map(|t| self.groups.first((TemplateId(t as u8), StateKind::Ready))).min()
    }

    /// Marks ready slot `slot` active and says how to start it. The spawn
    /// path proper is [`Self::take_ready`]; this one sets no idle deadline.
    pub fn spawn(&mut self, slot: usize) -> Result<SpawnPlan, SlotError> {
        match self.state(slot)? {
            SlotState::Ready(ready) => {
                self.check_limit(self.template_of[slot])?;
                self.activate(slot, None, |generation| SpawnPlan::warm(slot, ready, generation))
            }
            other => Err(SlotError::WrongState(slot, other)),
        }
    }

    /// The spawn path: takes a slot of template `t` for a new tenant at time
    /// `now` (ns), preferring a parked one ([`Take::Warm`]); with none, a
    /// Free slot to restore first ([`Take::Cold`]). Refused beyond the
    /// template's `max_active`, or when it has no usable slot.
    pub fn take_ready(&mut self, t: TemplateId, now: u64) -> Result<Take, SlotError> {
        let config = self.config(t)?;
        self.check_limit(t)?;
        let idle = config.idle_timeout_ns.map(|ns| now.saturating_add(ns));
        let warm = self.groups.first((t, StateKind::Ready)).and_then(|s| match self.slots[s] {
            SlotState::Ready(ready) => Some((s, ready)),
            _ => None,
        });
        if let Some((slot, ready)) = warm {
            return self.activate(slot, idle, |generation| SpawnPlan::warm(slot, ready, generation)).map(Take::Warm);
        }
        let Some(cold) = self.groups.first((t, StateKind::Free)) else {
            return Err(SlotError::Exhausted(t));
        };
        let ready = self.templates[t.index()].checkpoint.ok_or(SlotError::NoCheckpoint(t))?;
        self.activate(cold, idle, |generation| SpawnPlan::restore_then(cold, ready, generation, ready.serve_entry))
            .map(Take::Cold)
    }

    /// Starts restoring Free slot `slot` from its template's image, off the
    /// critical path; [`Self::restored`] parks it.
    pub fn begin_restore(&mut self, slot: usize) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        if state != SlotState::Free {
            return Err(SlotError::WrongState(slot, state));
        }
        let t = self.template_of[slot];
        self.checkpoint(t)?.ok_or(SlotError::NoCheckpoint(t))?;
        self.set_state(slot, SlotState::Restoring);
        Ok(())
    }

    /// The next slot to restore towards a warm pool's target, already moved
    /// to Restoring, and how to start its restore (continuing at the park
    /// entry point, which reports back for [`Self::restored`]); `None` when
    /// every pool is at target (or has no Free slot or checkpoint). For the
    /// mux's idle time.
    pub fn next_refill(&mut self) -> Option<SpawnPlan> {
        let slot = (0..T)
            .map(|t| TemplateId(t as u8))
            .filter(|t| self.below_warm_target(*t))
            .find_map(|t| self.groups.first((t, StateKind::Free)))?;
        self.begin_restore(slot).ok()?;
        let ready = self.templates[self.template_of[slot].index()].checkpoint?;
        Some(SpawnPlan::restore_then(slot, ready, self.generations[slot], ready.park_entry))
    }

    /// Slot `slot`'s restore finished: it is parked, Ready.
    pub fn restored(&mut self, slot: usize) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        if state != SlotState::Restoring {
            return Err(SlotError::WrongState(slot, state));
        }
        let t = self.template_of[slot];
        let ready = self.checkpoint(t)?.ok_or(SlotError::NoCheckpoint(t))?;
        self.set_state(slot, SlotState::Ready(ready));
        Ok(())
    }

    /// Stops serving slot `slot` (Active, or Faulted) for `reason`: it goes
    /// Draining until [`Self::scrubbed`]. Returns the generation that ended,
    /// so the caller can drop that spawn's flows.
    pub fn teardown(&mut self, slot: usize, reason: TeardownReason) -> Result<u32, SlotError> {
        let generation = match self.state(slot)? {
            SlotState::Active { generation, .. } => generation,
            SlotState::Faulted => self.generations[slot],
            other => return Err(SlotError::WrongState(slot, other)),
        };
        self.set_state(slot, SlotState::Draining { reason, generation });
        self.idle_deadlines.set(slot, None);
        Ok(generation)
    }

    /// Slot `slot` was scrubbed (stopped, its rings reset to the template's,
    /// its buffers and control region zeroed): it goes Free, to be restored
    /// by the next cold spawn or by [`Self::next_refill`] while its warm pool
    /// is below target. Its writable memory still holds the last tenant's
    /// state, but nothing can reach it (only the slot maps it, and the slot
    /// overwrites it in full before running anything else). Returns the new
    /// state.
    pub fn scrubbed(&mut self, slot: usize) -> Result<SlotState, SlotError> {
        let state = self.state(slot)?;
        if !matches!(state, SlotState::Draining { .. }) {
            return Err(SlotError::WrongState(slot, state));
        }
        self.set_state(slot, SlotState::Free);
        Ok(SlotState::Free)
    }

    /// Slot `slot`, Draining, is not scrubbed but replaced: the FWP behind
    /// it is destroyed and a fresh one created (dynamic FWPs). Until the
    /// new one exists the slot is out of the pool (Initialising), as a
    /// dynamic slot is before its first creation.
    pub fn retire(&mut self, slot: usize) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        if !matches!(state, SlotState::Draining { .. }) {
            return Err(SlotError::WrongState(slot, state));
        }
        self.set_state(slot, SlotState::Initialising);
        Ok(())
    }

    /// Records a fault of slot `slot`, whatever it was doing; returns the
    /// state it was in. [`Self::teardown`] then drains it.
    pub fn fault(&mut self, slot: usize) -> Result<SlotState, SlotError> {
        let before = self.state(slot)?;
        self.set_state(slot, SlotState::Faulted);
        self.idle_deadlines.set(slot, None);
        Ok(before)
    }

    /// Active slot `slot` did work at `now` (ns): its idle deadline moves to
    /// `now` plus its template's idle timeout.
    pub fn touch(&mut self, slot: usize, now: u64) -> Result<(), SlotError> {
        let state = self.state(slot)?;
        if !matches!(state, SlotState::Active { .. }) {
            return Err(SlotError::WrongState(slot, state));
        }
        let config = self.config(self.template_of[slot])?;
        self.idle_deadlines.set(slot, config.idle_timeout_ns.map(|ns| now.saturating_add(ns)));
        Ok(())
    }

    /// Slot `slot`'s idle deadline, if it is active and has one.
    pub fn idle_deadline(&self, slot: usize) -> Option<u64> {
        self.idle_deadlines.get(slot)
    }

    /// Active slots whose idle deadline is at or before `now`: each is due
    /// for `teardown(slot, TeardownReason::IdleTimeout)`.
    pub fn idle_expired(&self, now: u64) -> impl Iterator<Item = usize> + '_ {
        self.idle_deadlines.expired(now)
    }

    /// The earliest idle deadline of any active slot: what the mux asks the
    /// timer for.
    pub fn next_idle_deadline(&self) -> Option<u64> {
        self.idle_deadlines.earliest()
    }

    /// Number of slots currently serving.
    pub fn active(&self) -> usize {
        self.groups.len_of_kind(StateKind::Active)
    }

    /// Number of slots of template `t` currently serving.
    pub fn active_of(&self, t: TemplateId) -> usize {
        self.groups.len((t, StateKind::Active))
    }

    /// Number of slots of template `t` in state `kind`.
    pub fn count_of(&self, t: TemplateId, kind: StateKind) -> usize {
        self.groups.len((t, kind))
    }

    /// Number of slots in each state.
    pub fn counts(&self) -> StateCounts {
        let mut counts = StateCounts::default();
        for s in &self.slots {
            counts.0[s.kind() as usize] += 1;
        }
        counts
    }

    /// Every state change goes through here, so the groups stay true.
    fn set_state(&mut self, slot: usize, next: SlotState) {
        let t = self.template_of[slot];
        self.groups.regroup(slot, (t, self.slots[slot].kind()), (t, next.kind()));
        self.slots[slot] = next;
    }

    fn check_limit(&self, t: TemplateId) -> Result<(), SlotError> {
        if self.active_of(t) >= self.config(t)?.max_active {
            return Err(SlotError::LimitReached(t));
        }
        Ok(())
    }

    fn below_warm_target(&self, t: TemplateId) -> bool {
        let Ok(config) = self.config(t) else { return false };
        let warm = self.count_of(t, StateKind::Ready) + self.count_of(t, StateKind::Restoring);
        self.templates[t.index()].checkpoint.is_some() && warm < config.warm_target()
    }

    fn activate(
        &mut self,
        slot: usize,
        idle: Option<u64>,
        plan: impl FnOnce(u32) -> SpawnPlan,
    ) -> Result<SpawnPlan, SlotError> {
        let generation = self.generations[slot].checked_add(1).ok_or(SlotError::GenerationsExhausted(slot))?;
        let ready = self.checkpoint_of(slot)?;
        self.generations[slot] = generation;
        self.set_state(slot, SlotState::Active { ready, generation });
        self.idle_deadlines.set(slot, idle);
        Ok(plan(generation))
    }

    fn checkpoint_of(&self, slot: usize) -> Result<TemplateReady, SlotError> {
        match self.slots[slot] {
            SlotState::Ready(ready) => Ok(ready),
            _ => {
                let t = self.template_of[slot];
                self.templates.get(t.index()).and_then(|e| e.checkpoint).ok_or(SlotError::NoCheckpoint(t))
            }
        }
    }
}

#[cfg(test)]
mod tests;
