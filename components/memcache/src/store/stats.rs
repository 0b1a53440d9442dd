//! The store's counters, named as memcached's `stats` names them.

/// Counters the store keeps; `curr_items` and `bytes` are computed by
/// [`Store::stats`](super::Store::stats) from the live index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // each field is the memcached stat of the same name
pub struct Stats {
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub get_expired: u64,
    pub get_flushed: u64,
    pub delete_misses: u64,
    pub delete_hits: u64,
    pub incr_misses: u64,
    pub incr_hits: u64,
    pub decr_misses: u64,
    pub decr_hits: u64,
    pub cas_misses: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub limit_maxbytes: u64,
    pub evictions: u64,
    pub reclaimed: u64,
    /// Connections served now (a gauge the server keeps, through
    /// [`Store::count_connection`](super::Store::count_connection)).
    pub curr_connections: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
}

impl Stats {
    /// `stats reset`: zeroes the counters, keeping the gauges that describe
    /// what is stored now (as memcached keeps `curr_items` and `bytes`).
    pub fn reset(&mut self) {
        *self = Stats {
            curr_items: self.curr_items,
            bytes: self.bytes,
            limit_maxbytes: self.limit_maxbytes,
            curr_connections: self.curr_connections,
            ..Stats::default()
        };
    }
}
