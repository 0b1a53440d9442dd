//! Conversions between generic-timer counter ticks and nanoseconds.
//!
//! `CNTFRQ_EL0` is a 32-bit register (62.5 MHz on QEMU `virt`). Every
//! conversion multiplies in `u128`, so no 64-bit tick or ns value can
//! overflow an intermediate; a result that does not fit in 64 bits
//! saturates at `u64::MAX` ("never").

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// The counter frequency read from `CNTFRQ_EL0`, known to be non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterFreq(u32);

impl CounterFreq {
    /// QEMU `virt`'s generic timer frequency (REFERENCE.md).
    pub const QEMU_VIRT: Self = Self(62_500_000);

    /// Checks a value read from `CNTFRQ_EL0`: zero (firmware never set it)
    /// or anything wider than the 32-bit register is refused.
    pub const fn new(hz: u64) -> Option<Self> {
        if hz == 0 || hz > u32::MAX as u64 {
            None
        } else {
            Some(Self(hz as u32))
        }
    }

    /// The frequency in Hz.
    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Ticks to nanoseconds, rounded down (a time read from the counter is
    /// never reported later than it is). Saturates at `u64::MAX`.
    pub const fn ticks_to_ns(self, ticks: u64) -> u64 {
        let ns = ticks as u128 * NS_PER_SEC as u128 / self.0 as u128;
        saturate(ns)
    }

    /// Nanoseconds to ticks, rounded up (a compare value computed from a
    /// deadline never fires before it). Saturates at `u64::MAX`.
    pub const fn ns_to_ticks(self, ns: u64) -> u64 {
        let ticks = (ns as u128 * self.0 as u128).div_ceil(NS_PER_SEC as u128);
        saturate(ticks)
    }
}

const fn saturate(v: u128) -> u64 {
    if v > u64::MAX as u128 {
        u64::MAX
    } else {
        v as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: CounterFreq = CounterFreq::QEMU_VIRT;

    #[test]
    fn qemu_frequency_is_16_ns_per_tick() {
        assert_eq!(QEMU.ticks_to_ns(1), 16);
        assert_eq!(QEMU.ticks_to_ns(62_500_000), NS_PER_SEC);
        assert_eq!(QEMU.ns_to_ticks(16), 1);
        assert_eq!(QEMU.ns_to_ticks(17), 2, "deadlines round up");
        assert_eq!(QEMU.ns_to_ticks(15), 1);
        assert_eq!(QEMU.ns_to_ticks(0), 0);
    }

    #[test]
    fn extremes_do_not_overflow() {
        // 62.5 MHz: u64::MAX ticks is 16 * u64::MAX ns, which saturates.
        assert_eq!(QEMU.ticks_to_ns(u64::MAX), u64::MAX);
        assert_eq!(QEMU.ns_to_ticks(u64::MAX), u64::MAX.div_ceil(16));
        // 1 GHz: the identity at both ends.
        let ghz = CounterFreq::new(NS_PER_SEC).unwrap();
        assert_eq!(ghz.ticks_to_ns(u64::MAX), u64::MAX);
        assert_eq!(ghz.ns_to_ticks(u64::MAX), u64::MAX);
        // The fastest representable counter: ns -> ticks saturates, ticks -> ns shrinks.
        let max = CounterFreq::new(u64::from(u32::MAX)).unwrap();
        assert_eq!(max.ns_to_ticks(u64::MAX), u64::MAX);
        assert_eq!(max.ticks_to_ns(u64::MAX), (u128::from(u64::MAX) * 1_000_000_000 / u128::from(u32::MAX)) as u64);
        // The slowest: 1 Hz.
        let one = CounterFreq::new(1).unwrap();
        assert_eq!(one.ticks_to_ns(u64::MAX), u64::MAX);
        assert_eq!(one.ticks_to_ns(3), 3 * NS_PER_SEC);
        assert_eq!(one.ns_to_ticks(1), 1);
        assert_eq!(one.ns_to_ticks(u64::MAX), u64::MAX.div_ceil(NS_PER_SEC));
    }

    #[test]
    fn round_trips_never_fire_early() {
        for ns in [0, 1, 15, 16, 17, 999, 1_000_000_007, u64::MAX / 32] {
            assert!(QEMU.ticks_to_ns(QEMU.ns_to_ticks(ns)) >= ns, "{ns}");
        }
        for ticks in [0, 1, 2, 62_500_000, u64::MAX / 16] {
            assert_eq!(QEMU.ns_to_ticks(QEMU.ticks_to_ns(ticks)), ticks);
        }
    }

    #[test]
    fn bad_frequencies_are_refused() {
        assert_eq!(CounterFreq::new(0), None);
        assert_eq!(CounterFreq::new(u64::from(u32::MAX) + 1), None);
        assert_eq!(CounterFreq::new(62_500_000), Some(QEMU));
    }
}
