//! The index slots, their three lists, and the compacting arena.
//!
//! Every item is one contiguous run `key ++ value` in the arena. The
//! *placement list* (`addr`) keeps the runs in arena order. A new run goes
//! at `top` when it fits there, else into the first hole between runs that
//! holds it (a cache evicts its oldest items first, so the hole the last
//! eviction left usually takes the next item of a similar size), else the
//! runs are compacted: one pass sliding each down to the end of the
//! previous one (`copy_within`). Freeing a run only lowers `live`; freeing
//! the topmost run lowers `top` at once.
//!
//! A slot is *linked* while its item is in the index (bucket chain and LRU
//! list). Its run can outlive that while the slot is *pinned*: a value
//! being received (a reservation, not yet linked) or being sent (a reading
//! of an item that a later store, delete or eviction unlinked meanwhile).
//! A pinned run is never freed, though compaction may move it: pins are
//! slot numbers, and readers and writers find the run through the slot.
//!
//! Slots are threaded on three intrusive lists by `u32` index: the hash
//! bucket chain (`hnext`, also the free list), the LRU list (`lru`, head =
//! most recently used) and the placement list (`addr`).

use super::time::Expiry;
use super::Store;

/// "No slot": the end of every list.
pub(super) const NIL: u32 = u32::MAX;

/// A doubly linked list position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

/// The two ends of a doubly linked list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ends {
    pub head: u32,
    pub tail: u32,
}

impl Ends {
    pub const EMPTY: Ends = Ends {
        head: NIL,
        tail: NIL,
    };
}

/// One index entry: where an item's bytes are and what memcached keeps
/// alongside them.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub(crate) off: u32,
    pub(crate) vlen: u32,
    pub(crate) klen: u8,
    /// The run is on the placement list (its slot is allocated).
    pub(crate) used: bool,
    /// The item is in the index: bucket chain and LRU list.
    pub(crate) linked: bool,
    /// Readings and reservations holding the run.
    pub(crate) pins: u16,
    pub(crate) flags: u32,
    pub(crate) hash: u32,
    pub(crate) expiry: Expiry,
    /// When the item was last stored, for delayed `flush_all`.
    pub(crate) set_at: u64,
    pub(crate) cas: u64,
    pub(crate) hnext: u32,
    pub(crate) lru: Link,
    pub(crate) addr: Link,
}

impl Slot {
    /// An entry holding nothing.
    pub const EMPTY: Slot = Slot {
        off: 0,
        vlen: 0,
        klen: 0,
        used: false,
        linked: false,
        pins: 0,
        flags: 0,
        hash: 0,
        expiry: Expiry::Never,
        set_at: 0,
        cas: 0,
        hnext: NIL,
        lru: Link {
            prev: NIL,
            next: NIL,
        },
        addr: Link {
            prev: NIL,
            next: NIL,
        },
    };

    /// Arena bytes the item occupies.
    pub(crate) fn len(&self) -> usize {
        self.klen as usize + self.vlen as usize
    }
}

/// Which of the two doubly linked lists.
#[derive(Clone, Copy)]
pub(super) enum List {
    Lru,
    Addr,
}

/// FNV-1a: short, no tables, good enough spread for a bucket index.
pub(super) fn hash(key: &[u8]) -> u32 {
    key.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

impl Store<'_> {
    fn link_of(&mut self, i: u32, list: List) -> &mut Link {
        let slot = &mut self.slots[i as usize];
        match list {
            List::Lru => &mut slot.lru,
            List::Addr => &mut slot.addr,
        }
    }

    fn ends_of(&mut self, list: List) -> &mut Ends {
        match list {
            List::Lru => &mut self.lru,
            List::Addr => &mut self.addr,
        }
    }

    pub(super) fn list_remove(&mut self, i: u32, list: List) {
        let Link { prev, next } = *self.link_of(i, list);
        match prev {
            NIL => self.ends_of(list).head = next,
            p => self.link_of(p, list).next = next,
        }
        match next {
            NIL => self.ends_of(list).tail = prev,
            n => self.link_of(n, list).prev = prev,
        }
    }

    pub(super) fn list_push_head(&mut self, i: u32, list: List) {
        let head = self.ends_of(list).head;
        *self.link_of(i, list) = Link {
            prev: NIL,
            next: head,
        };
        match head {
            NIL => self.ends_of(list).tail = i,
            h => self.link_of(h, list).prev = i,
        }
        self.ends_of(list).head = i;
    }

    /// Marks `i` most recently used.
    pub(super) fn bump(&mut self, i: u32) {
        self.list_remove(i, List::Lru);
        self.list_push_head(i, List::Lru);
    }

    pub(super) fn key_of(&self, i: u32) -> &[u8] {
        let s = &self.slots[i as usize];
        &self.arena[s.off as usize..][..s.klen as usize]
    }

    pub(super) fn value_of(&self, i: u32) -> &[u8] {
        let s = &self.slots[i as usize];
        &self.arena[s.off as usize + s.klen as usize..][..s.vlen as usize]
    }

    pub(super) fn value_mut(&mut self, i: u32) -> &mut [u8] {
        let s = self.slots[i as usize];
        &mut self.arena[s.off as usize + s.klen as usize..][..s.vlen as usize]
    }

    /// The slot holding `key`, valid or not.
    pub(super) fn find(&self, key: &[u8]) -> Option<u32> {
        let h = hash(key);
        let mut i = self.buckets[h as usize % self.buckets.len()];
        while i != NIL {
            let s = &self.slots[i as usize];
            if s.hash == h && self.key_of(i) == key {
                return Some(i);
            }
            i = s.hnext;
        }
        None
    }

    /// Takes slot `i`'s item out of the index; its run is freed at once
    /// unless pinned, else when the last pin goes.
    pub(super) fn unlink(&mut self, i: u32) {
        let s = self.slots[i as usize];
        let bucket = s.hash as usize % self.buckets.len();
        if self.buckets[bucket] == i {
            self.buckets[bucket] = s.hnext;
        } else {
            let mut p = self.buckets[bucket];
            while p != NIL && self.slots[p as usize].hnext != i {
                p = self.slots[p as usize].hnext;
            }
            if p != NIL {
                self.slots[p as usize].hnext = s.hnext;
            }
        }
        self.list_remove(i, List::Lru);
        self.count -= 1;
        self.item_bytes -= s.len();
        let slot = &mut self.slots[i as usize];
        slot.linked = false;
        slot.hnext = NIL;
        if slot.pins == 0 {
            self.free_run(i);
        }
    }

    /// Frees the unlinked, unpinned slot `i` and its arena run.
    pub(super) fn free_run(&mut self, i: u32) {
        let s = self.slots[i as usize];
        debug_assert!(s.used && !s.linked && s.pins == 0);
        self.list_remove(i, List::Addr);
        if s.off as usize + s.len() == self.top {
            // The topmost run: its bytes are free above the new top at once.
            self.top = match self.addr.tail {
                NIL => 0,
                t => self.slots[t as usize].off as usize + self.slots[t as usize].len(),
            };
        }
        self.live -= s.len();
        self.slots[i as usize] = Slot {
            hnext: self.free,
            ..Slot::EMPTY
        };
        self.free = i;
    }

    /// Drops one pin of slot `i`; frees its run if that was the last one
    /// and the item is no longer in the index.
    pub(super) fn unpin(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        slot.pins -= 1;
        if slot.pins == 0 && !slot.linked {
            self.free_run(i);
        }
    }

    /// Evicts the least recently used item other than `pin`; false if none.
    fn evict_one(&mut self, pin: u32, now: u64) -> bool {
        let mut victim = self.lru.tail;
        if victim == pin && victim != NIL {
            victim = self.slots[victim as usize].lru.prev;
        }
        if victim == NIL {
            return false;
        }
        if self.is_valid(victim, now) {
            self.stats.evictions += 1;
        } else {
            self.stats.reclaimed += 1;
        }
        self.unlink(victim);
        true
    }

    /// Slides every run down to close the holes.
    fn compact(&mut self) {
        let mut cursor = 0usize;
        let mut i = self.addr.head;
        while i != NIL {
            let s = self.slots[i as usize];
            let (off, len) = (s.off as usize, s.len());
            if off != cursor {
                self.arena.copy_within(off..off + len, cursor);
                self.slots[i as usize].off = cursor as u32;
            }
            cursor += len;
            i = s.addr.next;
        }
        self.top = cursor;
    }

    /// The first hole between runs (or below the first) of at least
    /// `len` bytes: its start, and the run it follows (`NIL`: none).
    fn first_hole(&self, len: usize) -> Option<(usize, u32)> {
        let (mut end, mut prev) = (0usize, NIL);
        let mut i = self.addr.head;
        while i != NIL {
            let s = &self.slots[i as usize];
            if s.off as usize - end >= len {
                return Some((end, prev));
            }
            end = s.off as usize + s.len();
            prev = i;
            i = s.addr.next;
        }
        None
    }

    /// Takes a free slot and `len` arena bytes, evicting least recently
    /// used items (never `pin`) until both are available. The run is on
    /// the placement list and counted in `live`; the slot is not linked.
    /// `None` if even evicting every unpinned item is not enough.
    pub(super) fn allocate(&mut self, len: usize, pin: u32, now: u64) -> Option<u32> {
        if len > self.arena.len() {
            return None;
        }
        while (self.free == NIL && self.fresh as usize == self.slots.len()) || self.arena.len() - self.live < len {
            if !self.evict_one(pin, now) {
                return None;
            }
        }
        let (off, after) = if self.arena.len() - self.top >= len {
            (self.top, self.addr.tail)
        } else if let Some(hole) = self.first_hole(len) {
            hole
        } else {
            self.compact();
            (self.top, self.addr.tail)
        };
        let i = match self.free {
            NIL => {
                self.fresh += 1;
                self.fresh - 1
            }
            i => {
                self.free = self.slots[i as usize].hnext;
                i
            }
        };
        self.slots[i as usize] = Slot {
            off: off as u32,
            klen: 0,
            vlen: len as u32,
            used: true,
            ..Slot::EMPTY
        };
        match after {
            NIL => self.list_push_head(i, List::Addr),
            p => self.list_insert_after(p, i, List::Addr),
        }
        self.top = self.top.max(off + len);
        self.live += len;
        Some(i)
    }

    /// Puts `i` on `list` right after `p`.
    fn list_insert_after(&mut self, p: u32, i: u32, list: List) {
        let next = self.link_of(p, list).next;
        *self.link_of(i, list) = Link { prev: p, next };
        self.link_of(p, list).next = i;
        match next {
            NIL => self.ends_of(list).tail = i,
            n => self.link_of(n, list).prev = i,
        }
    }

    /// Puts an allocated slot holding `key` on its bucket chain and the
    /// LRU list.
    pub(super) fn link(&mut self, i: u32, key: &[u8]) {
        let h = hash(key);
        let bucket = h as usize % self.buckets.len();
        let slot = &mut self.slots[i as usize];
        slot.hash = h;
        slot.linked = true;
        slot.hnext = self.buckets[bucket];
        self.buckets[bucket] = i;
        self.list_push_head(i, List::Lru);
        self.item_bytes += self.slots[i as usize].len();
        self.count += 1;
        self.stats.total_items += 1;
    }
}
