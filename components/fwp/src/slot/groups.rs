//! Slots grouped by template and state kind, so that the spawn path, the
//! warm pools' refills and the limits find a slot or a count without
//! looking at every slot: with dynamic FWPs a pool holds thousands, and a
//! scan per spawn (or, for refills, a count per free slot: quadratic) cost
//! more than the spawn itself.
//!
//! Every slot of a template below `T` is in exactly one group, the one of
//! its template and its state's kind; each group is an intrusive FIFO list
//! (a slot joins at the back, the front is taken first), so a slot that
//! goes Free is reused after the ones freed before it.

use super::{StateKind, TemplateId};

const KINDS: usize = StateKind::ALL.len();

/// No slot: the end of a list. Slot numbers are below it (checked in `new`).
const NONE: u16 = u16::MAX;

/// Which group: a template and a state kind.
pub(super) type Group = (TemplateId, StateKind);

#[derive(Debug)]
pub(super) struct Groups<const N: usize, const T: usize> {
    next: [u16; N],
    prev: [u16; N],
    head: [[u16; KINDS]; T],
    tail: [[u16; KINDS]; T],
    len: [[u16; KINDS]; T],
}

impl<const N: usize, const T: usize> Groups<N, T> {
    /// Every slot in `(template 0, Initialising)`, in slot order (as
    /// `SlotPool::new` starts them); with no template, no slot is grouped.
    pub(super) const fn new() -> Self {
        assert!(N < NONE as usize, "slot numbers must fit below u16::MAX");
        let mut groups = Self {
            next: [NONE; N],
            prev: [NONE; N],
            head: [[NONE; KINDS]; T],
            tail: [[NONE; KINDS]; T],
            len: [[0; KINDS]; T],
        };
        if T > 0 && N > 0 {
            let k = StateKind::Initialising as usize;
            let mut slot = 0;
            while slot < N {
                groups.prev[slot] = if slot == 0 { NONE } else { (slot - 1) as u16 };
                groups.next[slot] = if slot + 1 == N { NONE } else { (slot + 1) as u16 };
                slot += 1;
            }
            groups.head[0][k] = 0;
            groups.tail[0][k] = (N - 1) as u16;
            groups.len[0][k] = N as u16;
        }
        groups
    }

    /// Moves `slot` from group `from` to the back of group `to`. A group of
    /// a template at or past `T` holds nothing: moving from or to one only
    /// leaves or joins the other.
    pub(super) fn regroup(&mut self, slot: usize, from: Group, to: Group) {
        if from == to {
            return;
        }
        self.unlink(slot, from);
        self.push_back(slot, to);
    }

    /// The slot at the front of `group`: the one that joined it first.
    pub(super) fn first(&self, (t, kind): Group) -> Option<usize> {
        let head = *self.head.get(t.index())?.get(kind as usize)?;
        (head != NONE).then_some(usize::from(head))
    }

    /// How many slots are in `group`.
    pub(super) fn len(&self, (t, kind): Group) -> usize {
        self.len.get(t.index()).map_or(0, |lens| usize::from(lens[kind as usize]))
    }

    /// How many slots of any template are in state `kind`.
    pub(super) fn len_of_kind(&self, kind: StateKind) -> usize {
        self.len.iter().map(|lens| usize::from(lens[kind as usize])).sum()
    }

    fn unlink(&mut self, slot: usize, (t, kind): Group) {
        let (t, k) = (t.index(), kind as usize);
        if t >= T {
            return;
        }
        let (prev, next) = (self.prev[slot], self.next[slot]);
        match prev {
            NONE => self.head[t][k] = next,
            p => self.next[usize::from(p)] = next,
        }
        match next {
            NONE => self.tail[t][k] = prev,
            n => self.prev[usize::from(n)] = prev,
        }
        self.prev[slot] = NONE;
        self.next[slot] = NONE;
        self.len[t][k] -= 1;
    }

    fn push_back(&mut self, slot: usize, (t, kind): Group) {
        let (t, k) = (t.index(), kind as usize);
        if t >= T {
            return;
        }
        let tail = self.tail[t][k];
        self.prev[slot] = tail;
        self.next[slot] = NONE;
        match tail {
            NONE => self.head[t][k] = slot as u16,
            last => self.next[usize::from(last)] = slot as u16,
        }
        self.tail[t][k] = slot as u16;
        self.len[t][k] += 1;
    }

    /// The members of `group`, front first (for the tests' cross-checks).
    #[cfg(test)]
    pub(super) fn members(&self, (t, kind): Group) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.first((t, kind)).map_or(NONE, |s| s as u16);
        core::iter::from_fn(move || {
            (at != NONE).then(|| {
                let slot = usize::from(at);
                at = self.next[slot];
                slot
            })
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const T0: TemplateId = TemplateId(0);
    const T1: TemplateId = TemplateId(1);

    #[test]
    fn every_slot_starts_initialising_for_template_zero_in_slot_order() {
        let groups = Groups::<4, 2>::new();
        assert_eq!(groups.members((T0, StateKind::Initialising)).collect::<std::vec::Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(groups.len((T0, StateKind::Initialising)), 4);
        assert_eq!(groups.len_of_kind(StateKind::Free), 0);
    }

    #[test]
    fn a_regrouped_slot_joins_the_back_and_the_front_is_the_oldest() {
        let mut groups = Groups::<4, 2>::new();
        groups.regroup(2, (T0, StateKind::Initialising), (T1, StateKind::Free));
        groups.regroup(0, (T0, StateKind::Initialising), (T1, StateKind::Free));
        groups.regroup(3, (T0, StateKind::Initialising), (T1, StateKind::Free));
        assert_eq!(groups.members((T1, StateKind::Free)).collect::<std::vec::Vec<_>>(), [2, 0, 3]);
        // From the middle, the front and the back.
        groups.regroup(0, (T1, StateKind::Free), (T1, StateKind::Ready));
        assert_eq!(groups.members((T1, StateKind::Free)).collect::<std::vec::Vec<_>>(), [2, 3]);
        groups.regroup(2, (T1, StateKind::Free), (T1, StateKind::Ready));
        groups.regroup(3, (T1, StateKind::Free), (T1, StateKind::Ready));
        assert_eq!(groups.first((T1, StateKind::Free)), None);
        assert_eq!(groups.members((T1, StateKind::Ready)).collect::<std::vec::Vec<_>>(), [0, 2, 3]);
        assert_eq!(groups.members((T0, StateKind::Initialising)).collect::<std::vec::Vec<_>>(), [1]);
        assert_eq!(groups.len_of_kind(StateKind::Ready), 3);
    }

    #[test]
    fn templates_past_the_registry_hold_no_slot() {
        let mut none = Groups::<2, 0>::new();
        none.regroup(0, (T0, StateKind::Initialising), (T0, StateKind::Free));
        assert_eq!(none.first((T0, StateKind::Free)), None);
        assert_eq!(none.len((T0, StateKind::Free)), 0);
        let mut one = Groups::<2, 1>::new();
        one.regroup(1, (T0, StateKind::Initialising), (TemplateId(5), StateKind::Free));
        assert_eq!(one.members((T0, StateKind::Initialising)).collect::<std::vec::Vec<_>>(), [0]);
        one.regroup(1, (TemplateId(5), StateKind::Free), (T0, StateKind::Free));
        assert_eq!(one.first((T0, StateKind::Free)), Some(1));
    }
}
