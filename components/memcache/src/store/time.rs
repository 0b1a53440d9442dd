//! memcached's reading of `exptime` (and of `flush_all`'s delay).

/// The largest `exptime` read as "seconds from now": memcached's
/// `REALTIME_MAXDELTA`, 30 days. Anything larger is an absolute unix time.
pub const MAX_RELATIVE: i64 = 60 * 60 * 24 * 30;

/// When an item stops being valid, fixed when the item is stored or touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `exptime` 0: the item lives until deleted, evicted or flushed.
    Never,
    /// Invalid from this unix second on (`now >= at`).
    At(u64),
    /// A negative `exptime`: invalid at once.
    Expired,
}

impl Expiry {
    /// Reads `exptime` as memcached does: 0 never, up to [`MAX_RELATIVE`]
    /// relative to `now`, larger an absolute unix time, negative expired.
    pub fn from_exptime(exptime: i64, now: u64) -> Self {
        match exptime {
            0 => Expiry::Never,
            e if e < 0 => Expiry::Expired,
            e => Expiry::At(realtime(e, now)),
        }
    }

    /// Whether an item with this expiry is no longer valid at `now`.
    pub fn is_past(self, now: u64) -> bool {
        match self {
            Expiry::Never => false,
            Expiry::At(at) => at <= now,
            Expiry::Expired => true,
        }
    }
}

/// A positive `exptime` as a unix second: relative up to [`MAX_RELATIVE`],
/// absolute beyond.
pub fn realtime(exptime: i64, now: u64) -> u64 {
    let e = exptime.max(0) as u64;
    if exptime <= MAX_RELATIVE {
        now.saturating_add(e)
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exptime_is_read_as_memcached_reads_it() {
        let now = 1_000_000_000;
        assert_eq!(Expiry::from_exptime(0, now), Expiry::Never);
        assert_eq!(Expiry::from_exptime(-1, now), Expiry::Expired);
        assert_eq!(Expiry::from_exptime(10, now), Expiry::At(now + 10));
        assert_eq!(
            Expiry::from_exptime(MAX_RELATIVE, now),
            Expiry::At(now + MAX_RELATIVE as u64)
        );
        assert_eq!(
            Expiry::from_exptime(MAX_RELATIVE + 1, now),
            Expiry::At(MAX_RELATIVE as u64 + 1)
        );
        assert!(Expiry::At(now).is_past(now));
        assert!(!Expiry::At(now + 1).is_past(now));
        assert!(Expiry::Expired.is_past(0));
        assert!(!Expiry::Never.is_past(u64::MAX));
    }
}
