extern crate std;

use super::*;

const READY: TemplateReady = TemplateReady { serve_entry: 0x1000, restore_entry: 0x1100, park_entry: 0x1200, stack_top: 0x8000, image: 0x7800_0000 };
const OTHER: TemplateReady = TemplateReady { serve_entry: 0x2000, stack_top: 0x9000, ..READY };

fn warm(slot: usize, generation: u32) -> SpawnPlan {
    SpawnPlan { slot, pc: 0x1000, sp: 0x8000, generation, then: 0, image: 0 }
}

fn cold(slot: usize, generation: u32) -> SpawnPlan {
    SpawnPlan { slot, pc: 0x1100, sp: 0x8000, generation, then: 0x1000, image: 0x7800_0000 }
}
const T0: TemplateId = TemplateId(0);
const T1: TemplateId = TemplateId(1);

/// Slots 0..4 of template 1 (slot 0 runs init), slots 4.. of template 0.
fn pool(config: TemplateConfig) -> SlotPool<6, 2> {
    let mut pool = SlotPool::<6, 2>::new();
    pool.configure(T1, config).unwrap();
    pool.bind(0, T1, true).unwrap();
    for s in 1..4 {
        pool.bind(s, T1, false).unwrap();
    }
    pool.template_ready(0, READY).unwrap();
    pool
}

fn counts_sum_to_total<const N: usize, const T: usize>(pool: &SlotPool<N, T>) {
    let counts = pool.counts();
    assert_eq!(counts.total(), N);
    assert_eq!(StateKind::ALL.iter().map(|k| counts.get(*k)).sum::<usize>(), N);
}

#[test]
fn ready_then_spawn_yields_the_template_entry_and_counts_generations() {
    let mut pool = SlotPool::<2>::new();
    assert_eq!(pool.first_ready(), None);
    pool.template_ready(1, READY).unwrap();
    assert_eq!(pool.first_ready(), Some(1));
    assert_eq!(pool.checkpoint(T0), Ok(Some(READY)));
    let plan = pool.spawn(1).unwrap();
    assert_eq!(plan, warm(1, 1));
    assert_eq!(pool.active(), 1);
    assert_eq!(pool.state(1), Ok(SlotState::Active { ready: READY, generation: 1 }));
    assert_eq!(pool.idle_deadline(1), None, "spawn() sets no idle deadline");
}

#[test]
fn wrong_order_and_bad_indices_are_refused() {
    let mut pool = SlotPool::<1>::new();
    assert_eq!(pool.spawn(0), Err(SlotError::WrongState(0, SlotState::Initialising)));
    assert_eq!(pool.spawn(1), Err(SlotError::NoSuchSlot(1)));
    pool.template_ready(0, READY).unwrap();
    assert!(matches!(pool.template_ready(0, READY), Err(SlotError::WrongState(0, _))));
    pool.spawn(0).unwrap();
    assert!(matches!(pool.spawn(0), Err(SlotError::WrongState(0, SlotState::Active { .. }))));
    for slot in [1, usize::MAX] {
        let e = Err(SlotError::NoSuchSlot(slot));
        assert_eq!(pool.fault(slot).map(|_| ()), e);
        assert_eq!(pool.teardown(slot, TeardownReason::Closed).map(|_| ()), e);
        assert_eq!(pool.scrubbed(slot).map(|_| ()), e);
        assert_eq!(pool.touch(slot, 0), e);
        assert_eq!(pool.begin_restore(slot), e);
        assert_eq!(pool.restored(slot), e);
        assert_eq!(pool.bind(slot, T0, true), e);
        assert_eq!(pool.idle_deadline(slot), None);
    }
}

#[test]
fn a_fault_takes_the_slot_out_of_service() {
    let mut pool = SlotPool::<1>::new();
    pool.template_ready(0, READY).unwrap();
    pool.spawn(0).unwrap();
    assert!(matches!(pool.fault(0), Ok(SlotState::Active { .. })));
    assert_eq!(pool.active(), 0);
    assert!(pool.spawn(0).is_err());
    assert!(pool.template_ready(0, READY).is_err(), "a faulted slot cannot re-register itself");
    assert_eq!(pool.scrubbed(0), Err(SlotError::WrongState(0, SlotState::Faulted)), "drain first");
    assert_eq!(pool.teardown(0, TeardownReason::Fault), Ok(1));
    assert_eq!(pool.state(0), Ok(SlotState::Draining { reason: TeardownReason::Fault, generation: 1 }));
    assert_eq!(pool.scrubbed(0), Ok(SlotState::Free), "on demand: back to Free");
    assert_eq!(pool.take_ready(T0, 0).map(|t| t.needs_restore()), Ok(true));
}

#[test]
fn templates_must_be_configured_and_sane() {
    let mut pool = SlotPool::<4, 2>::new();
    assert_eq!(pool.config(T0), Ok(TemplateConfig::on_demand(4)), "template 0 is the legacy default");
    assert_eq!(pool.config(T1), Err(SlotError::NoSuchTemplate(T1)));
    assert_eq!(pool.take_ready(T1, 0), Err(SlotError::NoSuchTemplate(T1)));
    assert_eq!(pool.bind(0, T1, true), Err(SlotError::NoSuchTemplate(T1)));
    assert_eq!(
        pool.configure(TemplateId(2), TemplateConfig::on_demand(1)),
        Err(SlotError::NoSuchTemplate(TemplateId(2)))
    );
    assert_eq!(pool.take_ready(TemplateId(9), 0), Err(SlotError::NoSuchTemplate(TemplateId(9))));
    assert_eq!(pool.configure(T1, TemplateConfig::on_demand(0)), Err(SlotError::BadConfig(T1)));
    assert_eq!(pool.configure(T1, TemplateConfig::warm_pool(5, 4)), Err(SlotError::BadConfig(T1)));
    assert_eq!(pool.configure(T1, TemplateConfig::warm_pool(4, 4)), Ok(()));
    let mut none = SlotPool::<2, 0>::new();
    assert_eq!(none.take_ready(T0, 0), Err(SlotError::NoSuchTemplate(T0)));
    assert_eq!(none.template_ready(0, READY), Err(SlotError::NoSuchTemplate(T0)));
    assert_eq!(none.state(0), Ok(SlotState::Initialising), "a refused report changes nothing");
}

#[test]
fn bind_only_before_a_tenant_ran() {
    let mut pool = pool(TemplateConfig::on_demand(4));
    assert_eq!(pool.template_of(1), Ok(T1));
    assert_eq!(pool.state(1), Ok(SlotState::Free));
    assert_eq!(pool.bind(0, T0, true), Err(SlotError::WrongState(0, SlotState::Ready(READY))));
    pool.bind(1, T0, true).unwrap();
    assert_eq!((pool.template_of(1), pool.state(1)), (Ok(T0), Ok(SlotState::Initialising)));
}

#[test]
fn the_first_ready_report_is_the_checkpoint_and_others_must_match() {
    let mut pool = SlotPool::<3, 1>::new();
    assert_eq!(pool.checkpoint(T0), Ok(None));
    pool.template_ready(0, READY).unwrap();
    assert_eq!(pool.template_ready(1, OTHER), Err(SlotError::CheckpointMismatch(1)));
    assert_eq!(pool.state(1), Ok(SlotState::Initialising));
    pool.template_ready(2, READY).unwrap();
    assert_eq!(pool.checkpoint(T0), Ok(Some(READY)));
}

#[test]
fn take_ready_prefers_warm_then_cold_then_refuses() {
    let mut pool = pool(TemplateConfig::on_demand(4));
    let warm = pool.take_ready(T1, 100).unwrap();
    assert_eq!(warm, Take::Warm(self::warm(0, 1)));
    assert!(!warm.needs_restore());
    for slot in 1..4 {
        let take = pool.take_ready(T1, 100).unwrap();
        assert!(take.needs_restore());
        assert_eq!(take.plan(), cold(slot, 1), "restore first, then continue at the serving entry");
    }
    assert_eq!(pool.take_ready(T1, 100), Err(SlotError::LimitReached(T1)));
    assert_eq!(pool.active_of(T1), 4);
    assert_eq!(pool.active_of(T0), 0, "template 0's slots are untouched");
}

#[test]
fn limits_and_exhaustion_are_refused() {
    let mut pool = pool(TemplateConfig::on_demand(2));
    pool.take_ready(T1, 0).unwrap();
    pool.take_ready(T1, 0).unwrap();
    assert_eq!(pool.take_ready(T1, 0), Err(SlotError::LimitReached(T1)));
    // A parked slot is refused by spawn() too while at the limit.
    pool.teardown(0, TeardownReason::Closed).unwrap();
    pool.configure(T1, TemplateConfig::warm_pool(1, 1)).unwrap();
    assert_eq!(pool.scrubbed(0), Ok(SlotState::Free));
    // Free slots are refilled oldest-freed first: 2 and 3 were Free before 0.
    assert_eq!(pool.next_refill().map(|p| p.slot), Some(2));
    pool.restored(2).unwrap();
    assert_eq!(pool.spawn(2), Err(SlotError::LimitReached(T1)));
    // Template 0's slots never initialised: nothing to restore from.
    let mut fresh = SlotPool::<2, 1>::new();
    fresh.bind(0, T0, false).unwrap();
    assert_eq!(fresh.take_ready(T0, 0), Err(SlotError::NoCheckpoint(T0)));
    assert_eq!(fresh.begin_restore(0), Err(SlotError::NoCheckpoint(T0)));
    // Every slot busy initialising: no slot to take.
    let mut busy = SlotPool::<1, 1>::new();
    assert_eq!(busy.take_ready(T0, 0), Err(SlotError::Exhausted(T0)));
}

#[test]
fn teardown_scrub_and_every_reason() {
    let mut pool = pool(TemplateConfig::on_demand(4));
    for reason in [TeardownReason::IdleTimeout, TeardownReason::Closed, TeardownReason::Fault] {
        let plan = pool.take_ready(T1, 0).unwrap().plan();
        assert_eq!(pool.teardown(plan.slot, reason), Ok(plan.generation));
        assert_eq!(pool.state(plan.slot), Ok(SlotState::Draining { reason, generation: plan.generation }));
        assert_eq!(pool.active_of(T1), 0);
        assert!(pool.teardown(plan.slot, reason).is_err(), "no double teardown");
        assert!(pool.touch(plan.slot, 0).is_err());
        assert!(pool.take_ready(T1, 0).map(|t| t.plan().slot) != Ok(plan.slot), "a draining slot is not reused");
        pool.scrubbed(plan.slot).unwrap();
        assert!(pool.scrubbed(plan.slot).is_err(), "no double scrub");
        // Put back the slot the check above took.
        let other = (0..4).find(|s| matches!(pool.state(*s), Ok(SlotState::Active { .. }))).unwrap();
        pool.teardown(other, TeardownReason::Closed).unwrap();
        pool.scrubbed(other).unwrap();
    }
    counts_sum_to_total(&pool);
}

#[test]
fn illegal_transitions_are_refused_from_every_state() {
    let mut pool = SlotPool::<7, 1>::new();
    pool.configure(T0, TemplateConfig::on_demand(7)).unwrap();
    // Build one slot in each state: 0 Free, 1 Initialising, 2 Restoring,
    // 3 Ready, 4 Active, 5 Draining, 6 Faulted.
    pool.template_ready(3, READY).unwrap();
    for s in [0, 2, 4, 5] {
        pool.bind(s, T0, false).unwrap();
    }
    pool.begin_restore(2).unwrap();
    let plan = pool.take_ready(T0, 0).unwrap();
    assert_eq!(plan, Take::Warm(warm(3, 1)));
    // Take the warm slot back to Ready, so 4 and 5 come from cold spawns.
    pool.teardown(3, TeardownReason::Closed).unwrap();
    assert_eq!(pool.scrubbed(3), Ok(SlotState::Free));
    pool.begin_restore(3).unwrap();
    pool.restored(3).unwrap();
    pool.bind(6, T0, false).unwrap();
    let cold = |pool: &mut SlotPool<7, 1>, s: usize| {
        pool.activate(s, None, |generation| SpawnPlan::warm(s, READY, generation)).unwrap();
    };
    cold(&mut pool, 4);
    cold(&mut pool, 5);
    pool.teardown(5, TeardownReason::Closed).unwrap();
    pool.fault(6).unwrap();
    let kinds: [StateKind; 7] = core::array::from_fn(|s| pool.state(s).unwrap().kind());
    assert_eq!(kinds, StateKind::ALL);

    let before: [SlotState; 7] = core::array::from_fn(|s| pool.state(s).unwrap());
    let wrong = |s: usize| Err(SlotError::WrongState(s, before[s]));
    for (s, state) in before.iter().enumerate() {
        if s != 1 {
            assert_eq!(pool.template_ready(s, READY), wrong(s));
        }
        if s != 3 {
            assert_eq!(pool.spawn(s).map(|_| ()), wrong(s));
        }
        if s != 0 {
            assert_eq!(pool.begin_restore(s), wrong(s));
        }
        if s != 2 {
            assert_eq!(pool.restored(s), wrong(s));
        }
        if s != 4 && s != 6 {
            assert_eq!(pool.teardown(s, TeardownReason::Closed).map(|_| ()), wrong(s));
        }
        if s != 5 {
            assert_eq!(pool.scrubbed(s).map(|_| ()), wrong(s));
        }
        if s != 4 {
            assert_eq!(pool.touch(s, 0), wrong(s));
        }
        if s > 1 {
            assert_eq!(pool.bind(s, T0, false), wrong(s));
        }
        assert_eq!(pool.state(s), Ok(*state), "a refusal changes nothing");
    }
    counts_sum_to_total(&pool);
    let counts = pool.counts();
    assert!(StateKind::ALL.iter().all(|k| counts.get(*k) == 1));
}

#[test]
fn warm_pool_refills_to_target_and_no_further() {
    let mut pool = pool(TemplateConfig::warm_pool(2, 4));
    // Slot 0 is Ready from init: one more restore reaches the target. A
    // refill restores, then parks (continuing at the park entry point).
    let refill = pool.next_refill().unwrap();
    assert_eq!(refill, SpawnPlan { slot: 1, pc: 0x1100, sp: 0x8000, generation: 0, then: 0x1200, image: 0x7800_0000 });
    assert_eq!(pool.state(1), Ok(SlotState::Restoring));
    assert_eq!(pool.next_refill(), None, "a restoring slot counts towards the target");
    pool.restored(1).unwrap();
    assert_eq!(pool.count_of(T1, StateKind::Ready), 2);
    // Two warm spawns empty the pool; the refill brings it back.
    assert!(!pool.take_ready(T1, 0).unwrap().needs_restore());
    assert!(!pool.take_ready(T1, 0).unwrap().needs_restore());
    assert_eq!(pool.next_refill().map(|p| p.slot), Some(2));
    assert_eq!(pool.next_refill().map(|p| p.slot), Some(3));
    assert_eq!(pool.next_refill(), None, "no Free slot left");
    pool.restored(2).unwrap();
    pool.restored(3).unwrap();
    // Scrubbed slots go Free; refills bring the pool back to target only.
    pool.take_ready(T1, 0).unwrap();
    pool.teardown(0, TeardownReason::Closed).unwrap();
    pool.teardown(1, TeardownReason::IdleTimeout).unwrap();
    assert_eq!(pool.scrubbed(0), Ok(SlotState::Free));
    assert_eq!(pool.scrubbed(1), Ok(SlotState::Free));
    assert_eq!(pool.next_refill().map(|p| (p.slot, p.generation)), Some((0, 1)), "generation kept");
    assert_eq!(pool.next_refill(), None);
    pool.restored(0).unwrap();
    assert_eq!(pool.count_of(T1, StateKind::Ready), 2);
    // Template 0's slots (Initialising, never ready) are never refilled.
    assert_eq!(pool.count_of(T0, StateKind::Initialising), 2);
}

#[test]
fn idle_deadlines_follow_touches() {
    let mut pool = pool(TemplateConfig::on_demand(4).with_idle_timeout(1_000));
    let a = pool.take_ready(T1, 100).unwrap().plan().slot;
    let b = pool.take_ready(T1, 200).unwrap().plan().slot;
    assert_eq!(pool.idle_deadline(a), Some(1_100));
    assert_eq!(pool.next_idle_deadline(), Some(1_100));
    pool.touch(a, 500).unwrap();
    assert_eq!(pool.next_idle_deadline(), Some(1_200));
    assert_eq!(pool.idle_expired(1_199).count(), 0);
    assert!(pool.idle_expired(1_200).eq([b]));
    let mut due: std::vec::Vec<usize> = pool.idle_expired(u64::MAX).collect();
    due.sort_unstable();
    assert_eq!(due, [a, b]);
    pool.teardown(b, TeardownReason::IdleTimeout).unwrap();
    assert_eq!(pool.idle_deadline(b), None);
    assert!(pool.idle_expired(u64::MAX).eq([a]));
    pool.fault(a).unwrap();
    assert_eq!(pool.next_idle_deadline(), None, "a faulted slot is not idle-timed");
    // Saturating: a touch near the end of time never wraps into the past.
    let c = pool.take_ready(T1, u64::MAX - 10).unwrap().plan().slot;
    assert_eq!(pool.idle_deadline(c), Some(u64::MAX));
    // No timeout configured: never idle.
    let mut plain = pool_plain();
    let d = plain.take_ready(T1, 0).unwrap().plan().slot;
    plain.touch(d, 5).unwrap();
    assert_eq!(plain.idle_expired(u64::MAX).count(), 0);
}

fn pool_plain() -> SlotPool<6, 2> {
    pool(TemplateConfig::on_demand(4))
}

#[test]
fn generations_increase_per_slot_and_never_wrap() {
    let mut pool = SlotPool::<1, 1>::new();
    pool.configure(T0, TemplateConfig::warm_pool(1, 1)).unwrap();
    pool.template_ready(0, READY).unwrap();
    for expected in 1..=5 {
        assert_eq!(pool.take_ready(T0, 0).unwrap().plan().generation, expected);
        pool.teardown(0, TeardownReason::Closed).unwrap();
        pool.scrubbed(0).unwrap();
        pool.next_refill().unwrap();
        pool.restored(0).unwrap();
    }
    assert_eq!(pool.generation(0), Ok(5));
    pool.generations[0] = u32::MAX;
    assert_eq!(pool.take_ready(T0, 0), Err(SlotError::GenerationsExhausted(0)));
    assert_eq!(pool.state(0), Ok(SlotState::Ready(READY)), "refused, not wrapped");
}

#[test]
fn a_template_pd_checkpoint_lets_free_slots_spawn_cold() {
    let mut pool = SlotPool::<2, 2>::new();
    pool.configure(T1, TemplateConfig::warm_pool(1, 2)).unwrap();
    pool.bind(0, T1, false).unwrap();
    pool.bind(1, T1, false).unwrap();
    assert_eq!(pool.take_ready(T1, 0), Err(SlotError::NoCheckpoint(T1)));
    assert_eq!(pool.next_refill(), None, "nothing to restore from yet");
    pool.set_checkpoint(T1, READY).unwrap();
    assert_eq!(pool.set_checkpoint(T1, READY), Ok(()), "the same report again is harmless");
    assert!(pool.set_checkpoint(T1, OTHER).is_err(), "a different one is refused");
    assert_eq!(pool.checkpoint(T1), Ok(Some(READY)));
    assert_eq!(pool.set_checkpoint(TemplateId(7), READY), Err(SlotError::NoSuchTemplate(TemplateId(7))));
    assert_eq!(pool.next_refill().map(|p| p.slot), Some(0));
    assert_eq!(pool.take_ready(T1, 0), Ok(Take::Cold(cold(1, 1))));
    assert_eq!(pool.take_ready(T1, 0), Err(SlotError::Exhausted(T1)), "slot 0 is still restoring");
    pool.restored(0).unwrap();
    assert_eq!(pool.take_ready(T1, 0), Ok(Take::Warm(warm(0, 1))));
}

#[test]
fn errors_display() {
    extern crate std;
    use std::string::ToString;
    assert_eq!(SlotError::LimitReached(T1).to_string(), "template 1 is at its active-slot limit");
    assert_eq!(SlotError::NoSuchSlot(3).to_string(), "no FWP slot 3");
}
