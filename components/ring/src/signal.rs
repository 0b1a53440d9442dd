//! The signalling protocol on every ring (sDDF's), written once.
//!
//! Each ring carries one flag, set by its consumer: "notify me after you
//! next publish". Notifications are therefore sent only to a peer that is
//! (about to be) asleep, and none is lost:
//!
//! ```text
//!  producer                              consumer
//!  enqueue…; commit (release)            drain the ring
//!                                        request_wake: flag = 1
//!  full fence                            full fence
//!  take_wake_request: swap(flag, 0)      has_pending?  yes → cancel_wake, drain again
//!    was 1 → notify                                    no  → sleep
//! ```
//!
//! Whatever the interleaving, either the producer sees the flag (and
//! notifies), or the consumer's re-check sees the producer's descriptor: the
//! two fences order each side's store before its load, so both cannot miss.
//!
//! The flag's half of the steps (the store, the fences, the swap) is
//! [`WakeFlag`]; [`ready_to_sleep`] is the consumer's sequence over any
//! number of rings.
//!
//! Known gaps: a consumer that never requests a wake is never notified (its
//! own loss), and a producer may notify a consumer that found the
//! descriptor itself (a spurious wake-up, harmless: the consumer finds the
//! ring empty and sleeps again).
//!
//! The argument above is checked by machine, not only by these tests (see
//! `docs/ring-model.md`): `models/ring.pml` explores every interleaving of
//! the mux and an FWP with Spin, next to a peer that writes anything, and
//! `tests/loom_signal.rs` runs this module's code under loom's memory
//! model. Both are shown to catch a rule without the re-check: built with
//! `--cfg ring_broken_recheck`, [`ready_to_sleep`] skips it.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::Consumer;

// The broken rule exists only for the loom check that must catch it.
#[cfg(all(ring_broken_recheck, not(loom)))]
compile_error!("ring_broken_recheck drops the re-check: build it only with --cfg loom (ci/ring-model.sh)");

/// The word a [`WakeFlag`] lives in, and the fence that orders it.
///
/// The protection domains use the target's [`AtomicU32`] (in shared memory,
/// after the ring); the loom test implements it over loom's atomics, so that
/// it checks this module's code rather than a copy. This is a trait, not a
/// `cfg(loom)` switch of the import, because a loom dependency of this crate
/// would enter the protection domains' locked workspace.
pub trait FlagWord {
    /// An atomic store.
    fn store(&self, value: u32, order: Ordering);
    /// An atomic swap, returning the old value.
    fn swap(&self, value: u32, order: Ordering) -> u32;
    /// A fence of the same memory model as the word's accesses.
    fn fence(order: Ordering);
}

impl FlagWord for AtomicU32 {
    fn store(&self, value: u32, order: Ordering) {
        AtomicU32::store(self, value, order)
    }
    fn swap(&self, value: u32, order: Ordering) -> u32 {
        AtomicU32::swap(self, value, order)
    }
    fn fence(order: Ordering) {
        core::sync::atomic::fence(order)
    }
}

/// A ring's wake flag: its consumer sets it to ask "notify me after you
/// next publish", its producer takes it after publishing.
///
/// The two fences are the protocol's memory-ordering half: each side's
/// store (the flag; the write index, by `commit`) is ordered before its
/// load (the write index, by the re-check; the flag), so that at least one
/// of the two sees the other's store. `repr(transparent)`: the flag is the
/// word in shared memory.
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct WakeFlag<W: FlagWord = AtomicU32>(W);

impl WakeFlag {
    /// A flag with no request, for host tests (in a PD the word is in the
    /// ring's shared region).
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }
}

impl<W: FlagWord> WakeFlag<W> {
    /// A flag over `word`.
    pub fn over(word: W) -> Self {
        Self(word)
    }

    /// Consumer: asks for a notification ([`Consumer::request_wake`]).
    pub fn request(&self) {
        self.0.store(1, Ordering::Relaxed);
        // Orders the flag store before the re-check's load of the write index.
        W::fence(Ordering::SeqCst);
    }

    /// Consumer: withdraws the request ([`Consumer::cancel_wake`]).
    pub fn cancel(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// Producer, after publishing: whether a notification was asked for,
    /// clearing the request ([`crate::Producer::take_wake_request`]). Any
    /// value but 1 a peer wrote counts as no request.
    pub fn take(&self) -> bool {
        // Orders the write-index store (commit) before the flag's load.
        W::fence(Ordering::SeqCst);
        self.0.swap(0, Ordering::AcqRel) == 1
    }
}

/// The consumer's step before it sleeps: request a wake on every ring it
/// waits on, then re-check them. Returns `true` when it may sleep; `false`
/// when something arrived meanwhile (the requests are withdrawn and the
/// caller drains again).
pub fn ready_to_sleep(rings: &mut [&mut dyn Consumer]) -> bool {
    for ring in rings.iter_mut() {
        ring.request_wake();
    }
    // The re-check: a descriptor published before the producer could see
    // our request is found here, as nobody will notify us of it.
    // (`ring_broken_recheck` skips it: the bug ci/ring-model.sh must catch.)
    if cfg!(ring_broken_recheck) {
        return true;
    }
    if rings.iter_mut().any(|ring| ring.has_pending()) {
        for ring in rings.iter_mut() {
            ring.cancel_wake();
        }
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemQueue;
    use crate::{Buf, Producer};

    const B: Buf = Buf { offset: 0, len: 1, cookie: 0 };

    #[test]
    fn a_consumer_with_nothing_waiting_sleeps_and_is_woken_by_the_next_publish() {
        let mut ring = MemQueue::<4>::new();
        assert!(ready_to_sleep(&mut [&mut ring]));
        ring.enqueue(B).unwrap().unwrap();
        ring.commit();
        assert!(ring.take_wake_request(), "the producer must notify");
        assert!(!ring.take_wake_request(), "once");
    }

    #[test]
    fn a_publish_that_races_the_request_is_found_by_the_re_check() {
        // The producer published (and saw no request) just before the
        // consumer asked: the re-check finds the descriptor, no wake is lost.
        let mut ring = MemQueue::<4>::new();
        ring.enqueue(B).unwrap().unwrap();
        ring.commit();
        assert!(!ring.take_wake_request());
        assert!(!ready_to_sleep(&mut [&mut ring]));
        assert!(!ring.take_wake_request(), "the request was withdrawn");
        assert_eq!(ring.dequeue(), Ok(Some(B)));
    }

    #[test]
    fn a_consumer_awake_and_draining_is_not_notified() {
        let mut ring = MemQueue::<4>::new();
        ring.enqueue(B).unwrap().unwrap();
        ring.commit();
        assert!(!ring.take_wake_request());
    }

    #[test]
    fn any_ring_with_work_keeps_the_consumer_awake() {
        let (mut idle, mut busy) = (MemQueue::<4>::new(), MemQueue::<4>::new());
        busy.enqueue(B).unwrap().unwrap();
        busy.commit();
        assert!(!ready_to_sleep(&mut [&mut idle, &mut busy]));
        idle.enqueue(B).unwrap().unwrap();
        idle.commit();
        assert!(!idle.take_wake_request(), "every request was withdrawn");
    }

    #[test]
    fn a_wake_request_is_taken_once_and_can_be_withdrawn() {
        let flag = WakeFlag::new();
        assert!(!flag.take(), "nobody asked");
        flag.request();
        assert!(flag.take());
        assert!(!flag.take(), "once");
        flag.request();
        flag.cancel();
        assert!(!flag.take(), "withdrawn");
    }

    #[test]
    fn a_misbehaving_peer_keeps_the_consumer_awake_to_find_out() {
        let mut ring = MemQueue::<4>::new();
        ring.misbehave();
        assert!(!ready_to_sleep(&mut [&mut ring]));
    }
}
