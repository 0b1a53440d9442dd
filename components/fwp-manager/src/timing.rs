//! The requester's view of a renewal (an FWP destroyed and created anew):
//! from its destroy request going on the comm page to the new FWP's
//! creation being read as done. The manager serves the two back to back
//! and answers them together, so the requester can only time the pair;
//! the manager times each itself. Keyed by FWP, so a completion counts
//! only for its own request (answers are untrusted: one for an FWP with
//! nothing pending counts for nothing).

/// When each pending renewal was requested, per FWP.
#[derive(Debug)]
pub struct RenewalTimes<const N: usize> {
    requested: [Option<u64>; N],
}

impl<const N: usize> Default for RenewalTimes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RenewalTimes<N> {
    /// Nothing pending.
    pub const fn new() -> Self {
        Self { requested: [None; N] }
    }

    /// FWP `k`'s destroy request went to the manager at counter `at`.
    pub fn requested(&mut self, k: u16, at: u64) {
        if let Some(entry) = self.requested.get_mut(usize::from(k)) {
            *entry = Some(at);
        }
    }

    /// FWP `k`'s creation was read as done at counter `now`: the ticks
    /// since its renewal was requested, if one was pending (and `now` is
    /// not before it). A creation with none pending (boot's) gives `None`.
    pub fn created(&mut self, k: u16, now: u64) -> Option<u64> {
        self.requested.get_mut(usize::from(k))?.take().and_then(|at| now.checked_sub(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_creation_counts_once_for_its_own_renewal() {
        let mut times = RenewalTimes::<4>::new();
        times.requested(2, 100);
        assert_eq!(times.created(3, 500), None, "another FWP's");
        assert_eq!(times.created(2, 900), Some(800));
        assert_eq!(times.created(2, 950), None, "counted once");
    }

    #[test]
    fn untrusted_answers_count_for_nothing() {
        let mut times = RenewalTimes::<2>::new();
        times.requested(9, 1);
        assert_eq!(times.created(9, 5), None, "an index past the table");
        times.requested(1, 100);
        assert_eq!(times.created(1, 50), None, "a time before the request");
        assert_eq!(times.created(0, 500), None, "never requested");
    }
}
