//! A fixed-capacity deadline queue shared by every client of the timer.
//!
//! Entries are kept sorted by deadline, latest first, so the earliest one
//! sits at the end: [`TimerQueue::next_deadline`] and each expiry are O(1),
//! scheduling and cancelling O(`N`), which suits the few dozen timeouts a
//! timer PD holds. Equal deadlines expire in the order they were scheduled.

/// Who asked for a timeout: the timer PD's index of the calling channel.
pub type ClientId = u16;

/// One pending timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// The client to notify.
    pub client: ClientId,
    /// The client's name for this timeout; scheduling the same token again
    /// replaces it.
    pub token: u64,
    /// When it expires, in ns of the counter's time base.
    pub deadline: u64,
}

impl Timeout {
    const EMPTY: Self = Self { client: 0, token: 0, deadline: 0 };
}

/// Why a timeout was not scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerError {
    /// Every entry of the queue is in use.
    Full,
    /// This client already holds its quota of timeouts.
    QuotaExceeded,
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Full => f.write_str("timer queue full"),
            Self::QuotaExceeded => f.write_str("client's timeout quota exceeded"),
        }
    }
}

/// The timer's pending timeouts. `N` is the capacity of the whole queue,
/// `QUOTA` how many of them one client may hold, so that a client filling
/// its share cannot starve the others (`QUOTA * clients <= N` makes the
/// queue never [`TimerError::Full`]).
#[derive(Debug, Clone)]
pub struct TimerQueue<const N: usize, const QUOTA: usize> {
    /// `entries[..len]`, sorted by deadline, latest first; equal deadlines
    /// newest first.
    entries: [Timeout; N],
    len: usize,
}

impl<const N: usize, const QUOTA: usize> Default for TimerQueue<N, QUOTA> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const QUOTA: usize> TimerQueue<N, QUOTA> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { entries: [Timeout::EMPTY; N], len: 0 }
    }

    /// Number of pending timeouts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timeout is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pending timeouts of `client`.
    pub fn pending(&self, client: ClientId) -> usize {
        self.live().iter().filter(|t| t.client == client).count()
    }

    /// The deadline of `client`'s timeout `token`, if pending.
    pub fn deadline_of(&self, client: ClientId, token: u64) -> Option<u64> {
        self.find(client, token).map(|i| self.entries[i].deadline)
    }

    /// The earliest deadline: what the driver programs into `CNTP_CVAL_EL0`
    /// (after [`crate::CounterFreq::ns_to_ticks`]); `None` masks the timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.len.checked_sub(1).map(|i| self.entries[i].deadline)
    }

    /// Schedules `client`'s timeout `token` at `deadline`, replacing any
    /// pending timeout with the same client and token (a replacement never
    /// fails). A deadline already past expires at the next [`Self::expire`].
    pub fn schedule(&mut self, client: ClientId, token: u64, deadline: u64) -> Result<(), TimerError> {
        if let Some(i) = self.find(client, token) {
            self.remove_at(i);
        } else if self.pending(client) >= QUOTA {
            return Err(TimerError::QuotaExceeded);
        } else if self.len >= N {
            return Err(TimerError::Full);
        }
        // First entry due no later than the new one: it goes just before.
        let at = self.live().iter().position(|t| t.deadline <= deadline).unwrap_or(self.len);
        self.entries.copy_within(at..self.len, at + 1);
        self.entries[at] = Timeout { client, token, deadline };
        self.len += 1;
        Ok(())
    }

    /// Cancels `client`'s timeout `token`; whether one was pending.
    pub fn cancel(&mut self, client: ClientId, token: u64) -> bool {
        match self.find(client, token) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Cancels every timeout of `client` (its teardown); how many there were.
    pub fn cancel_client(&mut self, client: ClientId) -> usize {
        let before = self.len;
        let mut kept = 0;
        for i in 0..self.len {
            if self.entries[i].client != client {
                self.entries[kept] = self.entries[i];
                kept += 1;
            }
        }
        self.len = kept;
        before - kept
    }

    /// Removes and returns the earliest timeout if it is due at `now`.
    pub fn pop_expired(&mut self, now: u64) -> Option<Timeout> {
        let last = self.len.checked_sub(1)?;
        if self.entries[last].deadline > now {
            return None;
        }
        self.len = last;
        Some(self.entries[last])
    }

    /// The timeouts due at `now`, earliest first, each removed as the
    /// iterator yields it (those not consumed stay queued).
    pub fn expire(&mut self, now: u64) -> Expire<'_, N, QUOTA> {
        Expire { queue: self, now }
    }

    /// Moves up to `out.len()` timeouts due at `now` into `out`, earliest
    /// first, and returns how many: a bounded batch per interrupt.
    pub fn expire_into(&mut self, now: u64, out: &mut [Timeout]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(t) = self.pop_expired(now) else { break };
            out[n] = t;
            n += 1;
        }
        n
    }

    fn live(&self) -> &[Timeout] {
        &self.entries[..self.len]
    }

    fn find(&self, client: ClientId, token: u64) -> Option<usize> {
        self.live().iter().position(|t| t.client == client && t.token == token)
    }

    fn remove_at(&mut self, i: usize) {
        self.entries.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }
}

/// Iterator returned by [`TimerQueue::expire`].
pub struct Expire<'a, const N: usize, const QUOTA: usize> {
    queue: &'a mut TimerQueue<N, QUOTA>,
    now: u64,
}

impl<const N: usize, const QUOTA: usize> Iterator for Expire<'_, N, QUOTA> {
    type Item = Timeout;

    fn next(&mut self) -> Option<Timeout> {
        self.queue.pop_expired(self.now)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn tokens(q: &mut TimerQueue<8, 4>, now: u64) -> Vec<(ClientId, u64)> {
        q.expire(now).map(|t| (t.client, t.token)).collect()
    }

    #[test]
    fn expires_in_deadline_order_and_equal_deadlines_in_fifo_order() {
        let mut q = TimerQueue::<8, 4>::new();
        assert_eq!(q.next_deadline(), None);
        q.schedule(1, 10, 300).unwrap();
        q.schedule(2, 20, 100).unwrap();
        q.schedule(1, 11, 200).unwrap();
        q.schedule(3, 30, 200).unwrap();
        q.schedule(2, 21, 200).unwrap();
        assert_eq!(q.next_deadline(), Some(100));
        assert_eq!(tokens(&mut q, 99), [], "nothing due yet");
        assert_eq!(tokens(&mut q, 200), [(2, 20), (1, 11), (3, 30), (2, 21)]);
        assert_eq!(q.next_deadline(), Some(300));
        assert_eq!(tokens(&mut q, u64::MAX), [(1, 10)]);
        assert!(q.is_empty());
    }

    #[test]
    fn unconsumed_expiries_stay_queued() {
        let mut q = TimerQueue::<8, 4>::new();
        for (token, deadline) in [(1, 5), (2, 6), (3, 7)] {
            q.schedule(0, token, deadline).unwrap();
        }
        assert_eq!(q.expire(10).next().map(|t| t.token), Some(1));
        assert_eq!(q.len(), 2);
        let mut batch = [Timeout::EMPTY; 1];
        assert_eq!(q.expire_into(10, &mut batch), 1);
        assert_eq!(batch[0], Timeout { client: 0, token: 2, deadline: 6 });
        assert_eq!(q.expire_into(10, &mut []), 0, "an empty batch takes nothing");
        assert_eq!(q.next_deadline(), Some(7));
    }

    #[test]
    fn same_client_and_token_replaces() {
        let mut q = TimerQueue::<8, 2>::new();
        q.schedule(1, 7, 100).unwrap();
        q.schedule(1, 8, 150).unwrap();
        // At quota, but a replacement is still accepted, earlier or later.
        q.schedule(1, 7, 200).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q.deadline_of(1, 7), Some(200));
        assert_eq!(q.next_deadline(), Some(150));
        q.schedule(1, 7, 50).unwrap();
        assert_eq!(q.next_deadline(), Some(50));
        // Another client's same token is a different timeout.
        q.schedule(2, 7, 60).unwrap();
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn quota_stops_one_client_filling_the_queue() {
        let mut q = TimerQueue::<8, 3>::new();
        for token in 0..3 {
            q.schedule(1, token, 100 + token).unwrap();
        }
        assert_eq!(q.schedule(1, 99, 1), Err(TimerError::QuotaExceeded));
        assert_eq!(q.pending(1), 3);
        q.schedule(2, 0, 1).unwrap();
        assert!(q.cancel(1, 0));
        q.schedule(1, 99, 1).unwrap();
    }

    #[test]
    fn capacity_is_enforced() {
        let mut q = TimerQueue::<4, 4>::new();
        for client in 0..2 {
            for token in 0..2 {
                q.schedule(client, token, 10).unwrap();
            }
        }
        assert_eq!(q.schedule(3, 0, 10), Err(TimerError::Full));
        assert_eq!(q.schedule(0, 0, 5), Ok(()), "replacing works when full");
        assert_eq!(q.len(), 4);
        let mut zero = TimerQueue::<0, 1>::new();
        assert_eq!(zero.schedule(0, 0, 0), Err(TimerError::Full));
        assert_eq!(zero.next_deadline(), None);
    }

    #[test]
    fn cancel_and_cancel_client() {
        let mut q = TimerQueue::<8, 4>::new();
        q.schedule(1, 1, 30).unwrap();
        q.schedule(2, 1, 10).unwrap();
        q.schedule(1, 2, 20).unwrap();
        q.schedule(3, 1, 40).unwrap();
        q.schedule(1, 3, 50).unwrap();
        assert!(!q.cancel(1, 9));
        assert!(!q.cancel(4, 1));
        assert_eq!(q.cancel_client(1), 3);
        assert_eq!(q.cancel_client(1), 0);
        assert_eq!(q.pending(1), 0);
        assert_eq!(tokens_all(&mut q), [(2, 1), (3, 1)], "others keep their order");
    }

    fn tokens_all(q: &mut TimerQueue<8, 4>) -> Vec<(ClientId, u64)> {
        tokens(q, u64::MAX)
    }

    #[test]
    fn stays_sorted_under_random_operations() {
        let mut q = TimerQueue::<16, 6>::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let client = (x % 4) as ClientId;
            let token = (x >> 8) % 8;
            match (x >> 16) % 5 {
                0 => {
                    q.cancel(client, token);
                }
                1 => {
                    let now = (x >> 24) % 1000;
                    let mut last = 0;
                    for t in q.expire(now) {
                        assert!(t.deadline <= now && t.deadline >= last);
                        last = t.deadline;
                    }
                }
                _ => {
                    let before = q.pending(client);
                    match q.schedule(client, token, (x >> 32) % 1000) {
                        Ok(()) => assert!(q.pending(client) <= 6),
                        Err(TimerError::QuotaExceeded) => assert_eq!(before, 6),
                        Err(TimerError::Full) => assert_eq!(q.len(), 16),
                    }
                }
            }
            assert!(q.live().windows(2).all(|w| w[0].deadline >= w[1].deadline));
        }
    }
}
