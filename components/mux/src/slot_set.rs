//! Sets of slot indices: which tenants a batch wrote to, which to wake,
//! which are draining. Fixed size, no allocation, and iterated over the
//! members only, so a batch that touched one tenant costs one visit however
//! many slots there are.

/// Slots a [`SlotSet`] can hold.
pub const SLOT_SET_CAPACITY: usize = 1024;
const WORDS: usize = SLOT_SET_CAPACITY / 64;

/// A set of slot indices below [`SLOT_SET_CAPACITY`].
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotSet {
    words: [u64; WORDS],
}

impl SlotSet {
    /// The empty set.
    pub const EMPTY: Self = Self { words: [0; WORDS] };

    /// Adds `slot` (ignored past the capacity, which `Multiplexer::new`
    /// rules out).
    pub fn insert(&mut self, slot: usize) {
        if let Some(word) = self.words.get_mut(slot / 64) {
            *word |= 1 << (slot % 64);
        }
    }

    /// Takes `slot` out.
    pub fn remove(&mut self, slot: usize) {
        if let Some(word) = self.words.get_mut(slot / 64) {
            *word &= !(1 << (slot % 64));
        }
    }

    /// Whether `slot` is a member.
    pub fn contains(&self, slot: usize) -> bool {
        self.words.get(slot / 64).is_some_and(|word| word & (1 << (slot % 64)) != 0)
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|word| *word == 0)
    }

    /// The members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, word)| {
            let mut bits = *word;
            core::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    i * 64 + bit
                })
            })
        })
    }

    /// Every member of either set.
    pub fn union(mut self, other: Self) -> Self {
        for (word, theirs) in self.words.iter_mut().zip(other.words) {
            *word |= theirs;
        }
        self
    }
}

impl core::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<usize> for SlotSet {
    fn from_iter<I: IntoIterator<Item = usize>>(slots: I) -> Self {
        let mut set = Self::EMPTY;
        for slot in slots {
            set.insert(slot);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn members_come_back_in_order_across_words() {
        let slots = [0, 1, 63, 64, 65, 500, SLOT_SET_CAPACITY - 1];
        let set: SlotSet = slots.into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), slots);
        assert!(set.contains(500) && !set.contains(501));
        assert!(!set.is_empty() && SlotSet::EMPTY.is_empty());
    }

    #[test]
    fn union_and_out_of_range_slots() {
        let mut a: SlotSet = [3, 700].into_iter().collect();
        a.insert(SLOT_SET_CAPACITY); // past the capacity: ignored
        assert!(!a.contains(SLOT_SET_CAPACITY));
        let b: SlotSet = [3, 4].into_iter().collect();
        assert_eq!(a.union(b).iter().collect::<Vec<_>>(), [3, 4, 700]);
    }
}
