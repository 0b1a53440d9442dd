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
//! Known gaps: a consumer that never requests a wake is never notified (its
//! own loss), and a producer may notify a consumer that found the
//! descriptor itself (a spurious wake-up, harmless: the consumer finds the
//! ring empty and sleeps again).

use crate::Consumer;

/// The consumer's step before it sleeps: request a wake on every ring it
/// waits on, then re-check them. Returns `true` when it may sleep; `false`
/// when something arrived meanwhile (the requests are withdrawn and the
/// caller drains again).
pub fn ready_to_sleep(rings: &mut [&mut dyn Consumer]) -> bool {
    for ring in rings.iter_mut() {
        ring.request_wake();
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
    fn a_misbehaving_peer_keeps_the_consumer_awake_to_find_out() {
        let mut ring = MemQueue::<4>::new();
        ring.misbehave();
        assert!(!ready_to_sleep(&mut [&mut ring]));
    }
}
