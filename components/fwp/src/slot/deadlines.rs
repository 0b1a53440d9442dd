//! Active slots' idle deadlines in a binary min-heap indexed by slot: the
//! mux asks for the earliest deadline and for the expired slots after
//! every event, and moves one slot's deadline with every frame it serves,
//! so all three must cost far less than a look at each of thousands of
//! slots. Moving a deadline is O(log N), the earliest is O(1), and the
//! expired ones are found in time proportional to their number.

/// No heap position: the slot has no deadline.
const NONE: u16 = u16::MAX;

/// Deepest heap path plus one: the expired-slot walk's stack never holds
/// more than one pending sibling per level (N < 2^16).
const MAX_DEPTH: usize = 17;

#[derive(Debug)]
pub(super) struct Deadlines<const N: usize> {
    at: [Option<u64>; N],
    /// Slots with a deadline; `at[heap[i]] <= at[heap[2i+1]], at[heap[2i+2]]`.
    heap: [u16; N],
    /// Where each slot is in `heap` (NONE: not there).
    position: [u16; N],
    len: usize,
}

impl<const N: usize> Deadlines<N> {
    pub(super) const fn new() -> Self {
        assert!(N < NONE as usize, "slot numbers must fit below u16::MAX");
        Self { at: [None; N], heap: [0; N], position: [NONE; N], len: 0 }
    }

    pub(super) fn get(&self, slot: usize) -> Option<u64> {
        self.at.get(slot).copied().flatten()
    }

    /// Sets (or with `None` clears) slot `slot`'s deadline.
    pub(super) fn set(&mut self, slot: usize, deadline: Option<u64>) {
        let before = self.at[slot];
        self.at[slot] = deadline;
        match (before, deadline) {
            (None, None) => {}
            (None, Some(_)) => {
                let i = self.len;
                self.len += 1;
                self.place(i, slot);
                self.sift_up(i);
            }
            (Some(_), None) => self.remove(slot),
            (Some(old), Some(new)) => {
                let i = usize::from(self.position[slot]);
                if new < old {
                    self.sift_up(i);
                } else {
                    self.sift_down(i);
                }
            }
        }
    }

    /// The earliest deadline of any slot.
    pub(super) fn earliest(&self) -> Option<u64> {
        (self.len > 0).then(|| self.key(0))
    }

    /// Slots whose deadline is at or before `now`, in no particular order.
    pub(super) fn expired(&self, now: u64) -> impl Iterator<Item = usize> + '_ {
        // The expired entries form a subtree at the root (a parent is never
        // later than its children): a depth-first walk of it.
        let mut stack = [0u16; MAX_DEPTH];
        let mut depth = usize::from(self.len > 0 && self.key(0) <= now);
        core::iter::from_fn(move || {
            depth = depth.checked_sub(1)?;
            let i = usize::from(stack[depth]);
            for child in [2 * i + 2, 2 * i + 1] {
                if child < self.len && self.key(child) <= now {
                    stack[depth] = child as u16;
                    depth += 1;
                }
            }
            Some(usize::from(self.heap[i]))
        })
    }

    fn key(&self, i: usize) -> u64 {
        self.at[usize::from(self.heap[i])].unwrap_or(u64::MAX)
    }

    fn place(&mut self, i: usize, slot: usize) {
        self.heap[i] = slot as u16;
        self.position[slot] = i as u16;
    }

    fn remove(&mut self, slot: usize) {
        let i = usize::from(self.position[slot]);
        self.position[slot] = NONE;
        self.len -= 1;
        if i == self.len {
            return;
        }
        let last = usize::from(self.heap[self.len]);
        self.place(i, last);
        // The moved entry may belong above or below its new place.
        self.sift_up(i);
        self.sift_down(usize::from(self.position[last]));
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(parent) <= self.key(i) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (left, right) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if left < self.len && self.key(left) < self.key(least) {
                least = left;
            }
            if right < self.len && self.key(right) < self.key(least) {
                least = right;
            }
            if least == i {
                return;
            }
            self.swap(i, least);
            i = least;
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        let (a, b) = (usize::from(self.heap[i]), usize::from(self.heap[j]));
        self.place(i, b);
        self.place(j, a);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// The heap against a plain array, over a long pseudo-random sequence
    /// of sets, moves and clears (xorshift: deterministic, no dependency).
    #[test]
    fn matches_a_linear_scan_whatever_the_order_of_updates() {
        const N: usize = 64;
        let mut deadlines = Deadlines::<N>::new();
        let mut plain = [None::<u64>; N];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % N as u64) as usize;
            let deadline = if x % 5 == 0 { None } else { Some((x >> 20) % 1_000) };
            deadlines.set(slot, deadline);
            plain[slot] = deadline;
            assert_eq!(deadlines.earliest(), plain.iter().flatten().min().copied(), "step {step}");
            let now = (x >> 40) % 1_000;
            let mut expired: Vec<usize> = deadlines.expired(now).collect();
            expired.sort_unstable();
            let want: Vec<usize> = (0..N).filter(|s| plain[*s].is_some_and(|d| d <= now)).collect();
            assert_eq!(expired, want, "step {step}, now {now}");
            assert_eq!(deadlines.get(slot), deadline);
        }
    }

    #[test]
    fn an_empty_heap_has_no_earliest_and_nothing_expired() {
        let mut deadlines = Deadlines::<4>::new();
        assert_eq!(deadlines.earliest(), None);
        assert_eq!(deadlines.expired(u64::MAX).count(), 0);
        deadlines.set(2, Some(10));
        deadlines.set(2, None);
        assert_eq!(deadlines.earliest(), None);
        assert_eq!(deadlines.expired(u64::MAX).count(), 0);
    }

    #[test]
    fn all_slots_expired_at_once_are_all_found() {
        const N: usize = 1000;
        let mut deadlines = Deadlines::<N>::new();
        for slot in 0..N {
            deadlines.set(slot, Some((slot as u64 * 7919) % 100));
        }
        assert_eq!(deadlines.expired(99).count(), N);
        assert_eq!(deadlines.expired(0).count(), N / 100);
    }
}
