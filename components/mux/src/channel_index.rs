//! Slots grouped by the notification channel they signal on. With more
//! FWPs than a PD has channel ids, several FWPs share one badge bit, so a
//! notification names bits, not FWPs: this index, built once at start
//! (the channels never change), leads from a bit to the slots behind it
//! without a look at every slot.

/// Channel ids of a Microkit PD: bits of its notification badge.
pub const CHANNELS: usize = 64;

/// The slots of each channel, in slot order (a counting sort: `order`
/// holds slot numbers by channel, `start[c]..start[c + 1]` are channel
/// `c`'s).
#[derive(Debug, Clone)]
pub struct ChannelIndex<const N: usize> {
    order: [u16; N],
    start: [u16; CHANNELS + 1],
}

impl<const N: usize> ChannelIndex<N> {
    /// The index of slots `0..` signalling on `channels[slot]`. Slots past
    /// `N` and channels past [`CHANNELS`] are left out (the system
    /// description gives neither).
    pub fn new(channels: impl Iterator<Item = u8> + Clone) -> Self {
        // Two passes over `channels`: count per channel, then place.
        let slots = move || channels.clone().take(N).enumerate().filter(|(_, c)| usize::from(*c) < CHANNELS);
        let mut start = [0u16; CHANNELS + 1];
        for (_, c) in slots() {
            start[usize::from(c) + 1] += 1;
        }
        for c in 0..CHANNELS {
            start[c + 1] += start[c];
        }
        let mut next = start;
        let mut order = [0u16; N];
        for (slot, c) in slots() {
            let at = &mut next[usize::from(c)];
            order[usize::from(*at)] = slot as u16;
            *at += 1;
        }
        Self { order, start }
    }

    /// The slots that signal on channel `channel`, in slot order.
    pub fn on(&self, channel: usize) -> impl Iterator<Item = usize> + '_ {
        let range = match channel {
            c if c < CHANNELS => usize::from(self.start[c])..usize::from(self.start[c + 1]),
            _ => 0..0,
        };
        self.order[range].iter().map(|slot| usize::from(*slot))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn each_channel_leads_to_its_slots_in_slot_order() {
        let channels = [5u8, 7, 5, 63, 7, 5];
        let index = ChannelIndex::<8>::new(channels.iter().copied());
        assert_eq!(index.on(5).collect::<Vec<_>>(), [0, 2, 5]);
        assert_eq!(index.on(7).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(index.on(63).collect::<Vec<_>>(), [3]);
        assert_eq!(index.on(0).count(), 0);
        assert_eq!(index.on(64).count(), 0, "no such channel");
    }

    #[test]
    fn slots_past_capacity_and_bad_channels_are_left_out() {
        let index = ChannelIndex::<2>::new([1u8, 200, 1].into_iter());
        assert_eq!(index.on(1).collect::<Vec<_>>(), [0], "slot 2 is past N");
        assert!((0..CHANNELS).all(|c| index.on(c).all(|s| s < 2)));
    }

    #[test]
    fn a_thousand_slots_on_sixty_two_channels_are_each_found_once() {
        const N: usize = 1024;
        let channels = (0..N).map(|slot| (slot % 62) as u8 + 1);
        let index = ChannelIndex::<N>::new(channels.clone());
        let mut seen = [false; N];
        for c in 0..CHANNELS {
            for slot in index.on(c) {
                assert_eq!(usize::from(channels.clone().nth(slot).unwrap()), c);
                assert!(!seen[slot]);
                seen[slot] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }
}
