//! Unix time from the board's real-time clock and the counter.
//!
//! The real-time clock (PL031 on QEMU `virt`: its data register counts unix
//! seconds) is read once, at boot; from then on unix time is that reading
//! plus the counter's time since. One read keeps the device out of every
//! hot path, and the counter never steps.

use crate::clock::NS_PER_SEC;

/// Unix time as an offset from the counter's zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Unix time, in ns, when the counter read zero.
    at_counter_zero: u64,
}

impl WallClock {
    /// A clock from one reading: the RTC showed `unix_secs` when the
    /// counter's time was `now_ns`. A reading of 0 (an RTC nobody set)
    /// gives no clock.
    pub fn from_rtc(unix_secs: u32, now_ns: u64) -> Option<Self> {
        let unix_ns = u64::from(unix_secs).checked_mul(NS_PER_SEC)?;
        (unix_secs != 0).then(|| Self { at_counter_zero: unix_ns.saturating_sub(now_ns) })
    }

    /// A clock whose unix time at counter zero is `at_counter_zero` ns, as
    /// [`WallClock::at_counter_zero`] gives it.
    pub const fn from_counter_zero(at_counter_zero: u64) -> Self {
        Self { at_counter_zero }
    }

    /// Unix time, in ns, at counter zero: the one number a client needs.
    pub const fn at_counter_zero(self) -> u64 {
        self.at_counter_zero
    }

    /// Unix time, in ns, when the counter's time is `now_ns`.
    pub const fn unix_ns(self, now_ns: u64) -> u64 {
        self.at_counter_zero.saturating_add(now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_follows_the_counter_from_one_reading() {
        let clock = WallClock::from_rtc(1_800_000_000, 5 * NS_PER_SEC).unwrap();
        assert_eq!(clock.unix_ns(5 * NS_PER_SEC), 1_800_000_000 * NS_PER_SEC);
        assert_eq!(clock.unix_ns(7 * NS_PER_SEC + 1), 1_800_000_002 * NS_PER_SEC + 1);
        assert_eq!(clock.at_counter_zero(), 1_799_999_995 * NS_PER_SEC);
        assert_eq!(WallClock::from_counter_zero(clock.at_counter_zero()), clock);
        assert_eq!(WallClock::from_rtc(0, 0), None, "an unset RTC is no clock");
        assert_eq!(WallClock::from_rtc(u32::MAX, 0).map(|c| c.unix_ns(0)), Some(u64::from(u32::MAX) * NS_PER_SEC));
        assert_eq!(clock.unix_ns(u64::MAX), u64::MAX, "saturates");
    }
}
