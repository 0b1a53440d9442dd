//! From the packet that spawns an FWP to the first frame it sends out: the
//! start-up latency a client sees, spawn and the tenant's first answer
//! included (issue 12 sets it against Linux's exec of a service until its
//! first reply). Its ARP requests, which the multiplexer answers, do not
//! count; a frame refused on its way out does not either. Both ends are
//! the multiplexer's own times: the start of the event that received the
//! packet, and the start of the event that took the FWP's frame off its tx
//! ring and let it leave.

use heapless::Deque;

use edgeos_fwp::TemplateId;

/// Measurements finished and not yet taken by the glue: it drains them
/// after every event, so a handful is enough.
const PENDING: usize = 32;

/// One FWP's spawn-to-first-reply time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstReply {
    /// The FWP's template.
    pub template: TemplateId,
    /// Nanoseconds from the spawning packet to the first frame out.
    pub ns: u64,
}

/// Spawns awaiting their FWP's first frame, one per slot.
#[derive(Debug)]
pub struct FirstReplies<const N: usize> {
    spawned: [Option<(TemplateId, u64)>; N],
    done: Deque<FirstReply, PENDING>,
}

impl<const N: usize> Default for FirstReplies<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FirstReplies<N> {
    /// Nothing pending.
    pub const fn new() -> Self {
        Self { spawned: [None; N], done: Deque::new() }
    }

    /// Slot `slot` of `template` was spawned for a packet received at `now`.
    pub fn spawned(&mut self, slot: usize, template: TemplateId, now: u64) {
        if let Some(entry) = self.spawned.get_mut(slot) {
            *entry = Some((template, now));
        }
    }

    /// Slot `slot` sent a frame, taken at `now`: its first since its spawn
    /// finishes a measurement. Later frames count for nothing.
    pub fn sent(&mut self, slot: usize, now: u64) {
        let Some((template, at)) = self.spawned.get_mut(slot).and_then(Option::take) else { return };
        // The oldest unread measurement gives way: the figures are samples.
        if self.done.is_full() {
            self.done.pop_front();
        }
        let _ = self.done.push_back(FirstReply { template, ns: now.saturating_sub(at) });
    }

    /// Slot `slot` was torn down: a spawn that never answered is no sample.
    pub fn forget(&mut self, slot: usize) {
        if let Some(entry) = self.spawned.get_mut(slot) {
            *entry = None;
        }
    }

    /// The oldest finished measurement, taken.
    pub fn take(&mut self) -> Option<FirstReply> {
        self.done.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_frame_after_a_spawn_counts() {
        let mut replies = FirstReplies::<4>::new();
        replies.spawned(2, TemplateId(4), 1_000);
        replies.sent(1, 1_100);
        assert_eq!(replies.take(), None, "another slot's frame");
        replies.sent(2, 1_500);
        replies.sent(2, 1_900);
        assert_eq!(replies.take(), Some(FirstReply { template: TemplateId(4), ns: 500 }));
        assert_eq!(replies.take(), None, "counted once");
    }

    #[test]
    fn a_spawn_torn_down_before_it_answered_is_no_sample() {
        let mut replies = FirstReplies::<2>::new();
        replies.spawned(0, TemplateId(1), 10);
        replies.forget(0);
        replies.sent(0, 50);
        assert_eq!(replies.take(), None);
        replies.spawned(9, TemplateId(1), 10);
        replies.sent(9, 50);
        assert_eq!(replies.take(), None, "no such slot");
    }

    #[test]
    fn unread_measurements_keep_the_newest() {
        let mut replies = FirstReplies::<1>::new();
        for k in 0..(PENDING as u64 + 3) {
            replies.spawned(0, TemplateId(0), 0);
            replies.sent(0, k);
        }
        assert_eq!(replies.take().map(|r| r.ns), Some(3));
        assert_eq!(core::iter::from_fn(|| replies.take()).count(), PENDING - 1);
    }
}
