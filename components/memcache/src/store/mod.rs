//! The bounded store: items in a caller-lent arena, found through a
//! fixed-capacity index, evicted least-recently-used first.
//!
//! # Memory
//!
//! The caller lends the arena (`&'a mut [u8]`); each item takes exactly
//! `key.len() + value.len()` bytes of it, with no per-item padding or
//! header in the arena (`store/arena.rs` describes the compaction that
//! keeps it so). The index is lent too ([`Index`]): `n` slots of
//! [`SLOT_BYTES`] bytes plus a 4-byte bucket head per slot, so a store of
//! at most `n` items costs `n * (SLOT_BYTES + 4)` = `n * 84` bytes beside
//! its arena (the slot's fields are fixed-width, so this holds on every
//! target). Size `n` to the expected item count: a 1 MiB arena of
//! ~100-byte items wants `n` ≈ 10 000, i.e. ~820 KiB of index.
//!
//! The alternative, fixed-size slab chunks, would make the arena overhead
//! the rounding of each item up to its chunk class (memcached's slab
//! classes waste ~10-20%), and an item could not be larger than a chunk.
//! A compacting arena wastes nothing; its cost is time: a compaction
//! moves every live byte once, and runs only when a new item does not
//! fit above `top` although the free bytes in total would hold it.
//!
//! # Time
//!
//! Every operation takes `now`, in unix seconds from the tenant's timer
//! service; the store keeps no clock. Expired and flushed items are
//! reclaimed lazily, when a lookup meets them or eviction reaches them.

mod arena;
mod key;
mod stats;
mod time;

pub use key::{Key, KEY_MAX};
pub use stats::Stats;
pub use time::{Expiry, MAX_RELATIVE};

/// One entry of a store's index, for the memory an [`Index`] is lent.
pub use arena::Slot as IndexSlot;
use arena::Slot;

use arena::{Ends, NIL};

/// memcached's default `item_size_max` (`-I 1m`).
pub const DEFAULT_ITEM_SIZE_MAX: usize = 1024 * 1024;

/// Bytes of one index slot (the per-item overhead outside the arena, less
/// the 4-byte bucket head).
pub const SLOT_BYTES: usize = core::mem::size_of::<Slot>();

/// A valid item, as a read returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'s> {
    /// The value bytes.
    pub value: &'s [u8],
    /// The client's opaque flags.
    pub flags: u32,
    /// The CAS unique of the item's last store.
    pub cas: u64,
}

/// The five storage commands and `cas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Store unconditionally.
    Set,
    /// Store only if the key holds no valid item.
    Add,
    /// Store only if the key holds a valid item.
    Replace,
    /// Add the data after the existing value (flags and expiry are kept).
    Append,
    /// Add the data before the existing value (flags and expiry are kept).
    Prepend,
    /// Store only if the item's CAS unique is still this one.
    Cas(u64),
}

/// How a storage command ended (memcached's reply word for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// `STORED`.
    Stored,
    /// `NOT_STORED`: the add/replace/append/prepend condition failed.
    NotStored,
    /// `EXISTS`: `cas` found the item changed since the client read it.
    Exists,
    /// `NOT_FOUND`: `cas` found no item.
    NotFound,
}

/// A storage command the store refuses outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Why a value cannot be received into the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveError {
    /// Key plus value exceed the item size limit (memcached's
    /// `SERVER_ERROR object too large for cache`).
    TooLarge,
    /// Every byte is held by values being received or sent (memcached's
    /// `SERVER_ERROR out of memory storing object`).
    OutOfMemory,
}

/// Arena room for a storage command's value while it arrives, holding the
/// key already. Its bytes are the store's until [`Store::commit`] links it
/// or [`Store::cancel`] frees it; one of them must be called.
#[derive(Debug, PartialEq, Eq)]
pub struct Reservation {
    slot: u32,
    vlen: usize,
}

impl Reservation {
    /// The value's length.
    pub fn len(&self) -> usize {
        self.vlen
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.vlen == 0
    }
}

/// An item being sent: its bytes stay in the arena, even if the item is
/// replaced, deleted or evicted meanwhile, until [`Store::release`].
#[derive(Debug, PartialEq, Eq)]
pub struct Reading {
    slot: u32,
    /// The value's length.
    pub len: usize,
    /// The client's flags.
    pub flags: u32,
    /// The CAS unique.
    pub cas: u64,
}

/// A change in the connections a server serves the store over, for the
/// counters `stats` reports (memcached's `curr_connections`,
/// `total_connections`, `rejected_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// A connection is served.
    Opened,
    /// A served connection ended.
    Closed,
    /// A connection past the limit was turned away.
    Rejected,
}

/// Why `incr`/`decr` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaError {
    /// No valid item under the key.
    NotFound,
    /// The value is not a decimal unsigned 64-bit number.
    NonNumeric,
    /// The longer result did not fit beside the old value in the arena.
    OutOfMemory,
}

/// The memory of a store's index: as many bucket heads as slots, one slot
/// per item the store can hold.
pub struct Index<'a> {
    slots: &'a mut [IndexSlot],
    buckets: &'a mut [u32],
}

impl<'a> Index<'a> {
    /// An index over `slots` and as many of `buckets`; `None` unless both
    /// hold at least one and fewer than 2^32 - 1 entries.
    pub fn new(slots: &'a mut [IndexSlot], buckets: &'a mut [u32]) -> Option<Self> {
        let n = slots.len();
        let buckets = buckets.get_mut(..n)?;
        (n > 0 && n < u32::MAX as usize).then_some(Index { slots, buckets })
    }
}

/// An index in its own memory, for a store of at most `N` items held in
/// one value (tests, benchmarks).
pub struct OwnedIndex<const N: usize> {
    slots: [IndexSlot; N],
    buckets: [u32; N],
}

impl<const N: usize> OwnedIndex<N> {
    /// Empty.
    pub const fn new() -> Self {
        OwnedIndex { slots: [IndexSlot::EMPTY; N], buckets: [0; N] }
    }

    /// The index to lend a store.
    pub fn index(&mut self) -> Index<'_> {
        Index::new(&mut self.slots, &mut self.buckets).expect("N is a valid index size")
    }
}

impl<const N: usize> Default for OwnedIndex<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A bounded memcached store in a lent arena, of at most as many items as
/// its lent [`Index`] has slots.
pub struct Store<'a> {
    arena: &'a mut [u8],
    slots: &'a mut [IndexSlot],
    /// Bucket heads of the hash index; chains run through `Slot::hnext`.
    buckets: &'a mut [u32],
    /// Free slots, chained through `Slot::hnext`, that were used before.
    free: u32,
    /// Slots from here on were never used: taken in order once `free` is
    /// empty, so a fresh index needs only its buckets cleared.
    fresh: u32,
    lru: Ends,
    addr: Ends,
    /// End of the highest arena run; new runs go here.
    top: usize,
    /// Arena bytes held by runs: items, and runs pinned after unlinking or
    /// reserved for a value being received.
    live: usize,
    /// Arena bytes of the items in the index (memcached's `bytes`).
    item_bytes: usize,
    count: usize,
    item_size_max: usize,
    /// The last CAS unique handed out (memcached's `cas_id`).
    cas_id: u64,
    /// Items with a CAS unique below this were flushed (0: no flush yet).
    oldest_cas: u64,
    /// Items stored at or before this second are flushed once it is reached.
    oldest_live: Option<u64>,
    /// The latest `oldest_live` already reached when a newer flush replaced
    /// it: items stored at or before it stay flushed (memcached forgets
    /// it and lets them reappear).
    flushed_through: Option<u64>,
    /// The second of the first request this store served: memcached's
    /// process start, for `uptime` (the store lives as long as its FWP).
    started: Option<u64>,
    stats: Stats,
}

impl<'a> Store<'a> {
    /// An empty store over `arena` and `index`, refusing items (key plus
    /// value) over `item_size_max` bytes. Offsets are 32-bit, so an arena
    /// beyond 4 GiB is used only up to that size.
    pub fn new(arena: &'a mut [u8], index: Index<'a>, item_size_max: usize) -> Self {
        let len = arena.len().min(u32::MAX as usize);
        let Index { slots, buckets } = index;
        let mut store = Store {
            arena: &mut arena[..len],
            slots,
            buckets,
            free: NIL,
            fresh: 0,
            lru: Ends::EMPTY,
            addr: Ends::EMPTY,
            top: 0,
            live: 0,
            item_bytes: 0,
            count: 0,
            item_size_max,
            cas_id: 0,
            oldest_cas: 0,
            oldest_live: None,
            flushed_through: None,
            started: None,
            stats: Stats::default(),
        };
        store.clear_index();
        store
    }

    /// Items the index holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Makes the lent index memory agree with an empty store again: what a
    /// store restored from a checkpoint of its empty self does first, when
    /// its index memory was not part of the checkpoint (and so holds
    /// whatever an earlier user left). Only the bucket heads are written.
    ///
    /// # Panics
    /// If the store holds anything: this is for an empty store only.
    pub fn clear_index(&mut self) {
        assert!(self.count == 0 && self.live == 0, "clear_index on a store that holds items");
        self.buckets.fill(NIL);
        (self.free, self.fresh) = (NIL, 0);
    }

    /// The largest item (key plus value) the store accepts.
    pub fn item_size_max(&self) -> usize {
        self.item_size_max.min(self.arena.len())
    }

    /// The counters, with `curr_items`, `bytes` and `limit_maxbytes` filled in.
    pub fn stats(&self) -> Stats {
        Stats {
            curr_items: self.count as u64,
            bytes: self.item_bytes as u64,
            limit_maxbytes: self.arena.len() as u64,
            ..self.stats
        }
    }

    /// Arena bytes held by runs: the items, plus values being received or
    /// sent. Equal to `stats().bytes` when no stream holds any.
    pub fn live_bytes(&self) -> usize {
        self.live
    }

    /// Records `now` as the store's start if it has none yet: the protocol
    /// calls it with every request's time.
    pub fn note_time(&mut self, now: u64) {
        self.started.get_or_insert(now);
    }

    /// Seconds since the first request (memcached's `uptime`).
    pub fn uptime(&self, now: u64) -> u64 {
        self.started.map_or(0, |started| now.saturating_sub(started))
    }

    /// Counts a connection event for `stats`.
    pub fn count_connection(&mut self, event: ConnectionEvent) {
        let s = &mut self.stats;
        match event {
            ConnectionEvent::Opened => {
                s.curr_connections += 1;
                s.total_connections += 1;
            }
            ConnectionEvent::Closed => s.curr_connections = s.curr_connections.saturating_sub(1),
            ConnectionEvent::Rejected => s.rejected_connections += 1,
        }
    }

    /// `stats reset`.
    pub fn reset_stats(&mut self) {
        self.stats.reset();
    }

    fn next_cas(&mut self) -> u64 {
        self.cas_id += 1;
        self.cas_id
    }

    fn is_flushed(&self, i: u32, now: u64) -> bool {
        let s = &self.slots[i as usize];
        (self.oldest_cas != 0 && s.cas < self.oldest_cas)
            || matches!(self.oldest_live, Some(t) if t <= now && s.set_at <= t)
            || matches!(self.flushed_through, Some(t) if s.set_at <= t)
    }

    fn is_valid(&self, i: u32, now: u64) -> bool {
        !self.slots[i as usize].expiry.is_past(now) && !self.is_flushed(i, now)
    }

    /// The valid item under `key`; an invalid one met on the way is freed.
    fn lookup(&mut self, key: Key<'_>, now: u64) -> Option<u32> {
        let i = self.find(key.as_bytes())?;
        if self.is_valid(i, now) {
            return Some(i);
        }
        if self.is_flushed(i, now) {
            self.stats.get_flushed += 1;
        } else {
            self.stats.get_expired += 1;
        }
        self.unlink(i);
        None
    }

    fn item(&self, i: u32) -> Item<'_> {
        let s = &self.slots[i as usize];
        Item {
            value: self.value_of(i),
            flags: s.flags,
            cas: s.cas,
        }
    }

    /// The valid item under `key`, changing nothing (not even the LRU
    /// order or the counters): lets a caller size a reply before
    /// committing to it.
    pub fn peek(&self, key: Key<'_>, now: u64) -> Option<Item<'_>> {
        let i = self.find(key.as_bytes())?;
        self.is_valid(i, now).then(|| self.item(i))
    }

    /// Drops the item under `key` without counting a delete: memcached's
    /// unlink of the old item when a `set` is refused as too large.
    pub fn forget(&mut self, key: Key<'_>, now: u64) {
        if let Some(i) = self.lookup(key, now) {
            self.unlink(i);
        }
    }

    /// `get`/`gets`: the valid item under `key`, now most recently used.
    pub fn get(&mut self, key: Key<'_>, now: u64) -> Option<Item<'_>> {
        self.stats.cmd_get += 1;
        match self.lookup(key, now) {
            Some(i) => {
                self.stats.get_hits += 1;
                self.bump(i);
                Some(self.item(i))
            }
            None => {
                self.stats.get_misses += 1;
                None
            }
        }
    }

    /// `gat`/`gats`: a get that also sets a new expiry (counted, as
    /// memcached counts it, as a get and a touch).
    pub fn gat(&mut self, key: Key<'_>, exptime: i64, now: u64) -> Option<Item<'_>> {
        self.stats.cmd_get += 1;
        self.stats.cmd_touch += 1;
        match self.lookup(key, now) {
            Some(i) => {
                self.stats.touch_hits += 1;
                self.slots[i as usize].expiry = Expiry::from_exptime(exptime, now);
                self.bump(i);
                Some(self.item(i))
            }
            None => {
                self.stats.touch_misses += 1;
                None
            }
        }
    }

    /// `touch`: sets a new expiry; false if there is no valid item.
    pub fn touch(&mut self, key: Key<'_>, exptime: i64, now: u64) -> bool {
        self.stats.cmd_touch += 1;
        match self.lookup(key, now) {
            Some(i) => {
                self.stats.touch_hits += 1;
                self.slots[i as usize].expiry = Expiry::from_exptime(exptime, now);
                self.bump(i);
                true
            }
            None => {
                self.stats.touch_misses += 1;
                false
            }
        }
    }

    /// `delete`: true if a valid item was removed.
    pub fn delete(&mut self, key: Key<'_>, now: u64) -> bool {
        match self.lookup(key, now) {
            Some(i) => {
                self.stats.delete_hits += 1;
                self.unlink(i);
                true
            }
            None => {
                self.stats.delete_misses += 1;
                false
            }
        }
    }

    /// `flush_all [delay]`: items stored before the flush time (now, or
    /// `delay` read like an `exptime`) become invalid once it is reached.
    pub fn flush_all(&mut self, delay: i64, now: u64) {
        self.stats.cmd_flush += 1;
        let at = if delay > 0 {
            time::realtime(delay, now)
        } else {
            now
        };
        if let Some(reached) = self.oldest_live.filter(|&t| t <= now) {
            self.flushed_through = self.flushed_through.max(Some(reached));
        }
        // memcached's arithmetic: items stored at or before `at - 1` are
        // flushed, and an immediate flush also cuts at the CAS counter so
        // items stored earlier within this same second go too.
        self.oldest_live = at.checked_sub(1);
        if at <= now.saturating_add(1) {
            self.oldest_cas = self.next_cas();
        }
    }

    /// The set/add/replace/append/prepend/cas commands with the whole
    /// value at hand: a [`reserve`](Self::reserve), the value written, a
    /// [`commit`](Self::commit).
    ///
    /// `TooLarge` when key plus (resulting) value exceeds the item size
    /// limit or the arena; a refused `set` also drops the old item, as
    /// memcached does so stale data does not outlive a failed update.
    /// An append/prepend that cannot fit is `NotStored`.
    pub fn store(
        &mut self,
        op: StoreOp,
        key: Key<'_>,
        flags: u32,
        exptime: i64,
        value: &[u8],
        now: u64,
    ) -> Result<Stored, TooLarge> {
        let reservation = self.reserve(op, key, value.len(), now).map_err(|_| TooLarge)?;
        self.write_value(&reservation, 0, value);
        self.commit(reservation, op, flags, exptime, now)
    }

    /// Room for a `vlen`-byte value under `key`, before it arrives:
    /// memcached allocates the item when it reads the command line, and
    /// so evicts for it whether or not the command then stores.
    /// `TooLarge` drops the old item of a `set`, as [`store`](Self::store).
    pub fn reserve(&mut self, op: StoreOp, key: Key<'_>, vlen: usize, now: u64) -> Result<Reservation, ReserveError> {
        let k = key.as_bytes();
        let len = k.len() + vlen;
        if len > self.item_size_max() {
            if op == StoreOp::Set {
                self.forget(key, now);
            }
            return Err(ReserveError::TooLarge);
        }
        let Some(i) = self.allocate(len, NIL, now) else {
            return Err(ReserveError::OutOfMemory);
        };
        let slot = &mut self.slots[i as usize];
        (slot.klen, slot.vlen, slot.pins) = (k.len() as u8, vlen as u32, 1);
        let off = slot.off as usize;
        self.arena[off..off + k.len()].copy_from_slice(k);
        Ok(Reservation { slot: i, vlen })
    }

    /// Writes `bytes` at `offset` of a reserved value.
    ///
    /// # Panics
    /// If they do not fit the reservation.
    pub fn write_value(&mut self, reservation: &Reservation, offset: usize, bytes: &[u8]) {
        self.value_mut(reservation.slot)[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// Frees a reservation whose value will not be stored.
    pub fn cancel(&mut self, reservation: Reservation) {
        self.unpin(reservation.slot);
    }

    /// Runs the storage command on a reserved value, now received whole.
    pub fn commit(&mut self, reservation: Reservation, op: StoreOp, flags: u32, exptime: i64, now: u64) -> Result<Stored, TooLarge> {
        let r = reservation.slot;
        let mut key_bytes = [0u8; KEY_MAX];
        let key_len = self.slots[r as usize].klen as usize;
        key_bytes[..key_len].copy_from_slice(self.key_of(r));
        let key = Key::new(&key_bytes[..key_len]).expect("a reservation holds a valid key");
        let old = self.lookup(key, now);
        self.stats.cmd_set += 1;
        let refused = match (op, old) {
            (StoreOp::Add, Some(i)) => {
                self.bump(i);
                Some(Stored::NotStored)
            }
            (StoreOp::Replace | StoreOp::Append | StoreOp::Prepend, None) => Some(Stored::NotStored),
            (StoreOp::Cas(_), None) => {
                self.stats.cas_misses += 1;
                Some(Stored::NotFound)
            }
            (StoreOp::Cas(unique), Some(i)) if self.slots[i as usize].cas != unique => {
                self.stats.cas_badval += 1;
                Some(Stored::Exists)
            }
            (StoreOp::Cas(_), Some(_)) => {
                self.stats.cas_hits += 1;
                None
            }
            _ => None,
        };
        if let Some(answer) = refused {
            self.unpin(r);
            return Ok(answer);
        }
        if let (StoreOp::Append | StoreOp::Prepend, Some(i)) = (op, old) {
            let stored = self.concat(i, op == StoreOp::Append, key, r, now);
            self.unpin(r);
            return Ok(stored);
        }
        if let Some(i) = old {
            self.unlink(i);
        }
        let vlen = reservation.vlen;
        self.slots[r as usize].pins -= 1;
        self.fill(r, key.as_bytes(), vlen, flags, Expiry::from_exptime(exptime, now), now);
        Ok(Stored::Stored)
    }

    /// `get`/`gets` (`touch` `None`) or `gat`/`gats` of an item whose value
    /// is then read piecewise ([`read`](Self::read)), counted as
    /// [`get`](Self::get) and [`gat`](Self::gat) count.
    pub fn get_reading(&mut self, key: Key<'_>, touch: Option<i64>, now: u64) -> Option<Reading> {
        let item = match touch {
            Some(exptime) => self.gat(key, exptime, now),
            None => self.get(key, now),
        };
        let (flags, cas) = item.map(|item| (item.flags, item.cas))?;
        let i = self.find(key.as_bytes())?;
        self.slots[i as usize].pins += 1;
        Some(Reading { slot: i, len: self.slots[i as usize].vlen as usize, flags, cas })
    }

    /// Copies value bytes from `offset` into `out`; how many.
    pub fn read(&self, reading: &Reading, offset: usize, out: &mut [u8]) -> usize {
        let value = &self.value_of(reading.slot)[offset.min(reading.len)..];
        let n = value.len().min(out.len());
        out[..n].copy_from_slice(&value[..n]);
        n
    }

    /// Ends a reading.
    pub fn release(&mut self, reading: Reading) {
        self.unpin(reading.slot);
    }

    /// Sets up an allocated slot for `key` with room for `vlen` value bytes.
    fn fill(&mut self, i: u32, key: &[u8], vlen: usize, flags: u32, expiry: Expiry, now: u64) {
        let cas = self.next_cas();
        let s = &mut self.slots[i as usize];
        s.klen = key.len() as u8;
        s.vlen = vlen as u32;
        s.flags = flags;
        s.expiry = expiry;
        s.set_at = now;
        s.cas = cas;
        let off = s.off as usize;
        self.arena[off..off + key.len()].copy_from_slice(key);
        self.link(i, key);
    }

    /// append/prepend the reserved value in slot `data` onto the valid
    /// item `old`.
    fn concat(&mut self, old: u32, append: bool, key: Key<'_>, data: u32, now: u64) -> Stored {
        let k = key.as_bytes();
        let old_len = self.slots[old as usize].vlen as usize;
        let data_len = self.slots[data as usize].vlen as usize;
        let len = k.len() + old_len + data_len;
        if len > self.item_size_max() {
            // memcached: the bigger item cannot be allocated, NOT_STORED.
            return Stored::NotStored;
        }
        let Some(i) = self.allocate(len, old, now) else {
            return Stored::NotStored;
        };
        let (flags, expiry) = (
            self.slots[old as usize].flags,
            self.slots[old as usize].expiry,
        );
        self.fill(i, k, old_len + data_len, flags, expiry, now);
        // Both runs may have moved in compaction: read their places now.
        let old_at = self.slots[old as usize].off as usize + k.len();
        let data_at = self.slots[data as usize].off as usize + k.len();
        let dst = self.slots[i as usize].off as usize + k.len();
        let (old_to, data_to) = if append {
            (dst, dst + old_len)
        } else {
            (dst + data_len, dst)
        };
        self.arena.copy_within(old_at..old_at + old_len, old_to);
        self.arena.copy_within(data_at..data_at + data_len, data_to);
        self.unlink(old);
        Stored::Stored
    }

    /// `incr`/`decr`: the new value. Increment wraps at 2^64, decrement
    /// stops at 0. A shorter result is written in place padded with spaces,
    /// as memcached does; a longer one moves the item.
    pub fn incr_decr(
        &mut self,
        key: Key<'_>,
        delta: u64,
        incr: bool,
        now: u64,
    ) -> Result<u64, DeltaError> {
        let Some(i) = self.lookup(key, now) else {
            if incr {
                self.stats.incr_misses += 1
            } else {
                self.stats.decr_misses += 1
            }
            return Err(DeltaError::NotFound);
        };
        let value = crate::number::strtoull(self.value_of(i)).ok_or(DeltaError::NonNumeric)?;
        if incr {
            self.stats.incr_hits += 1
        } else {
            self.stats.decr_hits += 1
        }
        let new = if incr {
            value.wrapping_add(delta)
        } else {
            value.saturating_sub(delta)
        };
        let mut buf = [0u8; 20];
        let digits = crate::number::format_u64(new, &mut buf);
        let old_len = self.slots[i as usize].vlen as usize;
        // In place only while nobody is sending the value (memcached's
        // refcount check): a reader must get the bytes it started with.
        if digits.len() <= old_len && self.slots[i as usize].pins == 0 {
            let v = self.value_mut(i);
            v[..digits.len()].copy_from_slice(digits);
            v[digits.len()..].fill(b' ');
            let cas = self.next_cas();
            let s = &mut self.slots[i as usize];
            s.cas = cas;
            s.set_at = now;
            self.bump(i);
            return Ok(new);
        }
        let k = key.as_bytes();
        let len = k.len() + digits.len();
        if len > self.item_size_max() {
            return Err(DeltaError::OutOfMemory);
        }
        let Some(n) = self.allocate(len, i, now) else {
            return Err(DeltaError::OutOfMemory);
        };
        let (flags, expiry) = (self.slots[i as usize].flags, self.slots[i as usize].expiry);
        self.fill(n, k, digits.len(), flags, expiry, now);
        self.value_mut(n).copy_from_slice(digits);
        self.unlink(i);
        Ok(new)
    }

    /// Checks the index against the arena: every list consistent, every
    /// key found through its bucket, byte and item counts right, no two
    /// runs overlapping. For tests and fuzzing; `Err` names what broke.
    pub fn verify(&self) -> Result<(), &'static str> {
        let (mut n, mut runs, mut bytes, mut item_bytes, mut end) = (0usize, 0usize, 0usize, 0usize, 0usize);
        let mut i = self.addr.head;
        let mut prev = NIL;
        while i != NIL {
            let s = &self.slots[i as usize];
            if !s.used || s.addr.prev != prev {
                return Err("placement list broken");
            }
            if (s.off as usize) < end {
                return Err("runs overlap or are out of order");
            }
            end = s.off as usize + s.len();
            if !s.linked && s.pins == 0 {
                return Err("an unlinked run nobody holds was not freed");
            }
            if s.linked {
                if self.find(self.key_of(i)) != Some(i) {
                    return Err("item not reachable through its bucket");
                }
                if Key::new(self.key_of(i)).is_none() {
                    return Err("stored key is invalid");
                }
                n += 1;
                item_bytes += s.len();
            }
            runs += 1;
            bytes += s.len();
            if runs > self.slots.len() {
                return Err("placement list cycles");
            }
            prev = i;
            i = s.addr.next;
        }
        if end != self.top || self.top > self.arena.len() {
            return Err("top is wrong");
        }
        if n != self.count || bytes != self.live || item_bytes != self.item_bytes {
            return Err("counts are wrong");
        }
        let (mut m, mut i) = (0usize, self.lru.head);
        while i != NIL && m <= self.slots.len() {
            m += 1;
            i = self.slots[i as usize].lru.next;
        }
        if m != n {
            return Err("LRU list length differs");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
