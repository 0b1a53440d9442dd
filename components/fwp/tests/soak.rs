//! Soak test: 10,000 random spawn/teardown/fault/scrub/refill/idle steps
//! against a three-template pool, checking the pool's invariants after each.

use edgeos_fwp::{
    SlotError, SlotPool, SlotState, StateKind, Take, TeardownReason, TemplateConfig, TemplateId, TemplateReady,
};
use std::collections::BTreeSet;

const N: usize = 12;
const TEMPLATES: [(TemplateId, TemplateConfig, std::ops::Range<usize>); 3] = [
    (TemplateId(0), TemplateConfig::on_demand(3).with_idle_timeout(5_000), 0..4),
    (TemplateId(1), TemplateConfig::warm_pool(2, 4), 4..9),
    (TemplateId(2), TemplateConfig::warm_pool(1, 2).with_idle_timeout(1_000), 9..12),
];

fn checkpoint(t: TemplateId) -> TemplateReady {
    let base = 0x1000 * (u64::from(t.0) + 1);
    TemplateReady { serve_entry: base, restore_entry: base + 0x100, park_entry: base + 0x200, stack_top: 0x10_0000, image: 0x7800_0000 }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Soak {
    pool: SlotPool<N, 3>,
    active: BTreeSet<usize>,
    last_generation: [u32; N],
    spawns: [usize; 2],
    /// Slot-steps spent in each state, by `StateKind as usize`.
    seen: [usize; 7],
}

impl Soak {
    fn new() -> Self {
        let mut pool = SlotPool::new();
        for (t, config, slots) in TEMPLATES {
            pool.configure(t, config).unwrap();
            for s in slots.clone() {
                pool.bind(s, t, s == slots.start).unwrap();
            }
            pool.template_ready(slots.start, checkpoint(t)).unwrap();
        }
        Self { pool, active: BTreeSet::new(), last_generation: [0; N], spawns: [0; 2], seen: [0; 7] }
    }

    fn take(&mut self, t: TemplateId, now: u64) {
        let config = self.pool.config(t).unwrap();
        match self.pool.take_ready(t, now) {
            Ok(take) => {
                let plan = take.plan();
                assert!(self.active.insert(plan.slot), "slot {} active twice", plan.slot);
                assert_eq!(self.pool.template_of(plan.slot), Ok(t));
                let entry = checkpoint(t);
                match take {
                    Take::Warm(_) => assert_eq!((plan.pc, plan.then), (entry.serve_entry, 0)),
                    Take::Cold(_) => assert_eq!((plan.pc, plan.then), (entry.restore_entry, entry.serve_entry)),
                }
                assert!(plan.generation > self.last_generation[plan.slot], "generation went backwards");
                self.last_generation[plan.slot] = plan.generation;
                assert_eq!(self.pool.idle_deadline(plan.slot), config.idle_timeout_ns.map(|ns| now + ns));
                self.spawns[usize::from(matches!(take, Take::Cold(_)))] += 1;
            }
            Err(SlotError::LimitReached(e)) => {
                assert_eq!(e, t);
                assert!(self.pool.active_of(t) >= config.max_active);
            }
            Err(SlotError::Exhausted(e)) => {
                assert_eq!(e, t);
                assert_eq!(self.pool.count_of(t, StateKind::Ready) + self.pool.count_of(t, StateKind::Free), 0);
            }
            Err(e) => panic!("unexpected refusal {e}"),
        }
    }

    fn teardown(&mut self, slot: usize, reason: TeardownReason) {
        let before = self.pool.state(slot).unwrap();
        match self.pool.teardown(slot, reason) {
            Ok(generation) => {
                assert!(matches!(before, SlotState::Active { .. } | SlotState::Faulted), "{before:?}");
                assert_eq!(generation, self.last_generation[slot]);
                self.active.remove(&slot);
            }
            Err(e) => {
                assert_eq!(e, SlotError::WrongState(slot, before));
                assert_eq!(self.pool.state(slot), Ok(before));
            }
        }
    }

    fn check(&mut self) {
        let counts = self.pool.counts();
        for k in StateKind::ALL {
            self.seen[k as usize] += counts.get(k);
        }
        assert_eq!(counts.total(), N);
        assert_eq!(StateKind::ALL.iter().map(|k| counts.get(*k)).sum::<usize>(), N);
        let active: BTreeSet<usize> =
            (0..N).filter(|s| matches!(self.pool.state(*s), Ok(SlotState::Active { .. }))).collect();
        assert_eq!(active, self.active);
        for (t, config, slots) in TEMPLATES {
            assert!(self.pool.active_of(t) <= config.max_active);
            for s in slots {
                assert_eq!(self.pool.template_of(s), Ok(t), "slots never change template");
                assert_eq!(self.pool.generation(s), Ok(self.last_generation[s]));
                if let Ok(SlotState::Active { ready, generation }) = self.pool.state(s) {
                    assert_eq!((ready, generation), (checkpoint(t), self.last_generation[s]));
                } else {
                    assert_eq!(self.pool.idle_deadline(s), None, "only active slots have idle deadlines");
                }
            }
        }
    }
}

#[test]
fn ten_thousand_random_cycles_keep_the_invariants() {
    let mut soak = Soak::new();
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    let mut now = 0u64;
    let reasons = [TeardownReason::IdleTimeout, TeardownReason::Closed, TeardownReason::Fault];
    for _ in 0..10_000 {
        now += rng.next() % 500;
        let slot = rng.below(N + 1); // N itself: out of range
        match rng.below(12) {
            0..=2 => soak.take(TemplateId(rng.below(3) as u8), now),
            3 if slot < N => soak.teardown(slot, reasons[rng.below(3)]),
            4 if slot < N => {
                if rng.below(4) == 0 {
                    soak.pool.fault(slot).unwrap();
                    soak.active.remove(&slot);
                }
            }
            5 | 6 if slot < N => {
                // Mostly scrub a draining slot, sometimes any slot.
                let draining: Vec<usize> =
                    (0..N).filter(|s| matches!(soak.pool.state(*s), Ok(SlotState::Draining { .. }))).collect();
                let slot =
                    if draining.is_empty() || rng.below(4) == 0 { slot } else { draining[rng.below(draining.len())] };
                let before = soak.pool.state(slot).unwrap();
                match soak.pool.scrubbed(slot) {
                    Ok(after) => {
                        assert!(matches!(before, SlotState::Draining { .. }));
                        assert_eq!(after, SlotState::Free);
                    }
                    Err(_) => assert_eq!(soak.pool.state(slot), Ok(before)),
                }
            }
            7 => {
                if let Some(plan) = soak.pool.next_refill() {
                    let s = plan.slot;
                    assert_eq!(soak.pool.state(s), Ok(SlotState::Restoring));
                    assert_eq!(plan.then, checkpoint(soak.pool.template_of(s).unwrap()).park_entry);
                    if rng.below(2) == 0 {
                        soak.pool.restored(s).unwrap();
                    }
                }
                let restoring = (0..N).find(|s| soak.pool.state(*s) == Ok(SlotState::Restoring));
                if let Some(s) = restoring.filter(|_| rng.below(2) == 0) {
                    soak.pool.restored(s).unwrap();
                }
            }
            8 if slot < N => {
                let active = soak.active.contains(&slot);
                assert_eq!(soak.pool.touch(slot, now).is_ok(), active);
            }
            9 => {
                let due: Vec<usize> = soak.pool.idle_expired(now).collect();
                for s in due {
                    assert!(soak.pool.idle_deadline(s).is_some_and(|d| d <= now));
                    soak.teardown(s, TeardownReason::IdleTimeout);
                }
                assert_eq!(soak.pool.idle_expired(now).count(), 0);
            }
            _ => {
                // Out-of-range slots and out-of-order calls: refused, nothing changes.
                let before: Vec<_> = (0..N).map(|s| soak.pool.state(s)).collect();
                if soak.pool.state(slot) != Ok(SlotState::Restoring) {
                    assert!(soak.pool.restored(slot).is_err());
                }
                if soak.pool.state(slot) != Ok(SlotState::Free) {
                    assert!(soak.pool.begin_restore(slot).is_err());
                }
                assert!(soak.pool.template_ready(slot, checkpoint(TemplateId(0))).is_err(), "boot is over");
                if slot >= N {
                    assert_eq!(soak.pool.bind(slot, TemplateId(0), true), Err(SlotError::NoSuchSlot(slot)));
                    assert_eq!(soak.pool.fault(slot), Err(SlotError::NoSuchSlot(slot)));
                    assert_eq!(soak.pool.take_ready(TemplateId(3), now), Err(SlotError::NoSuchTemplate(TemplateId(3))));
                }
                let after: Vec<_> = (0..N).map(|s| soak.pool.state(s)).collect();
                assert_eq!(before, after);
            }
        }
        soak.check();
    }
    println!("spawns [warm, cold] {:?}, slot-steps per state {:?}", soak.spawns, soak.seen);
    assert!(soak.spawns[0] > 100 && soak.spawns[1] > 100, "both paths exercised: {:?}", soak.spawns);
    // Every state but Initialising (boot only) was visited often.
    assert!(
        soak.seen.iter().enumerate().all(|(k, n)| k == StateKind::Initialising as usize || *n > 100),
        "{:?}",
        soak.seen
    );

    // Wind down: everything returns to Free or Ready.
    for s in 0..N {
        match soak.pool.state(s).unwrap() {
            SlotState::Active { .. } | SlotState::Faulted => soak.teardown(s, TeardownReason::Closed),
            SlotState::Restoring => soak.pool.restored(s).unwrap(),
            _ => {}
        }
        if matches!(soak.pool.state(s), Ok(SlotState::Draining { .. })) {
            soak.pool.scrubbed(s).unwrap();
        }
        soak.check();
    }
    for s in 0..N {
        assert!(matches!(soak.pool.state(s), Ok(SlotState::Free | SlotState::Ready(_))), "slot {s}");
    }
    assert!(soak.active.is_empty());
    // Warm pools refill to their targets and stop.
    while let Some(plan) = soak.pool.next_refill() {
        soak.pool.restored(plan.slot).unwrap();
    }
    for (t, config, _) in TEMPLATES {
        if let edgeos_fwp::SpawnPolicy::WarmPool { size } = config.policy {
            assert!(soak.pool.count_of(t, StateKind::Ready) >= size);
        }
    }
}
