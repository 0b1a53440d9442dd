//! Store semantics: eviction, expiry, flush, CAS and the arena under churn.

use super::*;

const NOW: u64 = 1_700_000_000;

fn key(k: &str) -> Key<'_> {
    Key::new(k.as_bytes()).unwrap()
}

fn set(
    s: &mut Store<'_>,
    k: &str,
    v: &[u8],
    exptime: i64,
    now: u64,
) -> Result<Stored, TooLarge> {
    s.store(StoreOp::Set, key(k), 0, exptime, v, now)
}

fn value(s: &mut Store<'_>, k: &str, now: u64) -> Option<std::vec::Vec<u8>> {
    s.get(key(k), now).map(|i| i.value.to_vec())
}

#[test]
fn set_get_delete() {
    let mut arena = [0u8; 1024];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 1024);
    assert_eq!(set(&mut s, "a", b"1", 0, NOW), Ok(Stored::Stored));
    let item = s.get(key("a"), NOW).unwrap();
    assert_eq!((item.value, item.flags, item.cas), (&b"1"[..], 0, 1));
    assert!(s.delete(key("a"), NOW));
    assert!(!s.delete(key("a"), NOW));
    assert_eq!(s.get(key("a"), NOW), None);
    let st = s.stats();
    assert_eq!(
        (
            st.get_hits,
            st.get_misses,
            st.cmd_get,
            st.delete_hits,
            st.delete_misses
        ),
        (1, 1, 2, 1, 1)
    );
    s.verify().unwrap();
}

#[test]
fn lru_evicts_the_least_recently_used_when_the_arena_is_full() {
    let mut arena = [0u8; 30];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 30);
    for k in ["a", "b", "c"] {
        set(&mut s, k, &[b'x'; 9], 0, NOW).unwrap(); // 10 bytes each
    }
    assert!(s.get(key("a"), NOW).is_some()); // a is now the most recent
    set(&mut s, "d", &[b'y'; 9], 0, NOW).unwrap();
    assert_eq!(value(&mut s, "b", NOW), None, "b was least recently used");
    assert!(value(&mut s, "a", NOW).is_some() && value(&mut s, "c", NOW).is_some());
    assert_eq!(value(&mut s, "d", NOW).unwrap(), [b'y'; 9]);
    assert_eq!(s.stats().evictions, 1);
    s.verify().unwrap();
}

#[test]
fn lru_evicts_when_the_index_is_full() {
    let mut arena = [0u8; 1024];
    let mut index = OwnedIndex::<2>::new();

    let mut s = Store::new(&mut arena, index.index(), 1024);
    set(&mut s, "a", b"1", 0, NOW).unwrap();
    set(&mut s, "b", b"2", 0, NOW).unwrap();
    set(&mut s, "c", b"3", 0, NOW).unwrap();
    assert_eq!(value(&mut s, "a", NOW), None);
    assert_eq!(value(&mut s, "c", NOW).unwrap(), b"3");
    assert_eq!(s.stats().curr_items, 2);
    s.verify().unwrap();
}

#[test]
fn holes_are_compacted_before_anything_is_evicted() {
    let mut arena = [0u8; 40];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 40);
    for k in ["a", "b", "c", "d"] {
        set(&mut s, k, &[k.as_bytes()[0]; 9], 0, NOW).unwrap();
    }
    assert!(s.delete(key("b"), NOW));
    // 10 bytes free, but only as a hole in the middle.
    set(&mut s, "e", &[b'e'; 9], 0, NOW).unwrap();
    assert_eq!(s.stats().evictions, 0);
    for k in ["a", "c", "d", "e"] {
        assert_eq!(value(&mut s, k, NOW).unwrap(), [k.as_bytes()[0]; 9]);
    }
    s.verify().unwrap();
}

#[test]
fn too_large_items_are_refused_and_a_refused_set_drops_the_old_value() {
    let mut arena = [0u8; 64];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 32);
    set(&mut s, "k", b"old", 0, NOW).unwrap();
    assert_eq!(set(&mut s, "k", &[0; 32], 0, NOW), Err(TooLarge));
    assert_eq!(value(&mut s, "k", NOW), None);
    let mut arena = [0u8; 16];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 1 << 20);
    assert_eq!(s.item_size_max(), 16);
    assert_eq!(set(&mut s, "k", &[0; 16], 0, NOW), Err(TooLarge));
    assert_eq!(set(&mut s, "k", &[0; 15], 0, NOW), Ok(Stored::Stored));
}

#[test]
fn expiry_relative_absolute_and_negative() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    set(&mut s, "rel", b"1", 10, NOW).unwrap();
    set(&mut s, "abs", b"1", (NOW + 20) as i64, NOW).unwrap();
    set(&mut s, "neg", b"1", -1, NOW).unwrap();
    set(&mut s, "past", b"1", (NOW - 1) as i64, NOW).unwrap();
    assert_eq!(value(&mut s, "neg", NOW), None);
    assert_eq!(value(&mut s, "past", NOW), None);
    assert!(value(&mut s, "rel", NOW + 9).is_some());
    assert_eq!(value(&mut s, "rel", NOW + 10), None);
    assert!(value(&mut s, "abs", NOW + 19).is_some());
    assert_eq!(value(&mut s, "abs", NOW + 20), None);
    assert_eq!(
        s.stats().curr_items,
        0,
        "expired items are reclaimed when met"
    );
    s.verify().unwrap();
}

#[test]
fn touch_and_gat_move_the_expiry() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    set(&mut s, "k", b"v", 10, NOW).unwrap();
    assert!(s.touch(key("k"), 100, NOW + 5));
    assert!(value(&mut s, "k", NOW + 50).is_some());
    assert_eq!(s.gat(key("k"), 0, NOW + 60).unwrap().value, b"v");
    assert!(value(&mut s, "k", NOW + 100_000).is_some());
    assert!(s.touch(key("k"), -1, NOW));
    assert!(!s.touch(key("k"), 0, NOW));
    let st = s.stats();
    assert_eq!((st.touch_hits, st.touch_misses, st.cmd_touch), (3, 1, 4));
}

#[test]
fn flush_all_now_and_later() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    set(&mut s, "a", b"1", 0, NOW).unwrap();
    s.flush_all(0, NOW);
    assert_eq!(value(&mut s, "a", NOW), None);
    set(&mut s, "b", b"2", 0, NOW).unwrap();
    assert!(value(&mut s, "b", NOW).is_some(), "stored after the flush");
    s.flush_all(10, NOW);
    assert!(value(&mut s, "b", NOW + 8).is_some());
    set(&mut s, "c", b"3", 0, NOW + 10).unwrap();
    // memcached's cut is the second before the flush time.
    assert_eq!(value(&mut s, "b", NOW + 9), None);
    assert!(value(&mut s, "c", NOW + 10).is_some());
}

#[test]
fn cas_semantics() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    assert_eq!(
        s.store(StoreOp::Cas(1), key("k"), 0, 0, b"x", NOW),
        Ok(Stored::NotFound)
    );
    set(&mut s, "k", b"v", 0, NOW).unwrap();
    let cas = s.get(key("k"), NOW).unwrap().cas;
    assert_eq!(
        s.store(StoreOp::Cas(cas + 1), key("k"), 0, 0, b"x", NOW),
        Ok(Stored::Exists)
    );
    assert_eq!(
        s.store(StoreOp::Cas(cas), key("k"), 3, 0, b"x", NOW),
        Ok(Stored::Stored)
    );
    assert_eq!(
        s.store(StoreOp::Cas(cas), key("k"), 3, 0, b"y", NOW),
        Ok(Stored::Exists)
    );
    let item = s.get(key("k"), NOW).unwrap();
    assert_eq!((item.value, item.flags), (&b"x"[..], 3));
    assert!(item.cas > cas);
    let st = s.stats();
    assert_eq!((st.cas_misses, st.cas_hits, st.cas_badval), (1, 1, 2));
}

#[test]
fn add_replace_append_prepend() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    assert_eq!(
        s.store(StoreOp::Replace, key("k"), 0, 0, b"x", NOW),
        Ok(Stored::NotStored)
    );
    assert_eq!(
        s.store(StoreOp::Append, key("k"), 0, 0, b"x", NOW),
        Ok(Stored::NotStored)
    );
    assert_eq!(
        s.store(StoreOp::Add, key("k"), 7, 100, b"mid", NOW),
        Ok(Stored::Stored)
    );
    assert_eq!(
        s.store(StoreOp::Add, key("k"), 0, 0, b"x", NOW),
        Ok(Stored::NotStored)
    );
    assert_eq!(
        s.store(StoreOp::Append, key("k"), 1, 0, b">>", NOW),
        Ok(Stored::Stored)
    );
    assert_eq!(
        s.store(StoreOp::Prepend, key("k"), 1, 0, b"<<", NOW),
        Ok(Stored::Stored)
    );
    let item = s.get(key("k"), NOW).unwrap();
    assert_eq!(
        (item.value, item.flags),
        (&b"<<mid>>"[..], 7),
        "append keeps flags"
    );
    assert_eq!(value(&mut s, "k", NOW + 100), None, "and expiry");
    s.verify().unwrap();
}

#[test]
fn append_that_cannot_fit_beside_the_old_value_is_not_stored() {
    let mut arena = [0u8; 20];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 20);
    set(&mut s, "k", &[b'a'; 9], 0, NOW).unwrap();
    assert_eq!(
        s.store(StoreOp::Append, key("k"), 0, 0, &[b'b'; 5], NOW),
        Ok(Stored::NotStored)
    );
    assert_eq!(value(&mut s, "k", NOW).unwrap(), [b'a'; 9]);
    s.verify().unwrap();
}

#[test]
fn incr_decr() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    assert_eq!(
        s.incr_decr(key("n"), 1, true, NOW),
        Err(DeltaError::NotFound)
    );
    set(&mut s, "n", b"9", 0, NOW).unwrap();
    assert_eq!(s.incr_decr(key("n"), 1, true, NOW), Ok(10));
    assert_eq!(value(&mut s, "n", NOW).unwrap(), b"10", "grows");
    assert_eq!(s.incr_decr(key("n"), 1, false, NOW), Ok(9));
    assert_eq!(
        value(&mut s, "n", NOW).unwrap(),
        b"9 ",
        "shrinks in place, padded"
    );
    assert_eq!(s.incr_decr(key("n"), 100, false, NOW), Ok(0));
    set(&mut s, "n", b"18446744073709551615", 0, NOW).unwrap();
    assert_eq!(s.incr_decr(key("n"), 2, true, NOW), Ok(1));
    set(&mut s, "t", b"text", 0, NOW).unwrap();
    assert_eq!(
        s.incr_decr(key("t"), 1, true, NOW),
        Err(DeltaError::NonNumeric)
    );
    let st = s.stats();
    assert_eq!((st.incr_hits, st.incr_misses, st.decr_hits), (2, 1, 2));
    s.verify().unwrap();
}

#[test]
fn churn_keeps_the_index_and_arena_consistent() {
    let mut arena = [0u8; 200];
    let mut index = OwnedIndex::<6>::new();

    let mut s = Store::new(&mut arena, index.index(), 100);
    let mut x: u32 = 1;
    for round in 0..5000u64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let k = [b'k', b'0' + (x % 10) as u8];
        let k = Key::new(&k).unwrap();
        let len = (x >> 8) as usize % 60;
        let v = [b'1'; 60];
        match x % 5 {
            0 => drop(s.store(StoreOp::Set, k, 0, 0, &v[..len], NOW + round)),
            1 => drop(s.store(StoreOp::Append, k, 0, 0, &v[..len / 4], NOW + round)),
            2 => drop(s.delete(k, NOW + round)),
            3 => drop(s.incr_decr(k, x as u64, true, NOW + round)),
            _ => drop(s.get(k, NOW + round)),
        }
        s.verify().unwrap();
    }
}

#[test]
fn the_index_overhead_is_what_the_docs_say() {
    // The module docs quote 84 bytes per item outside the arena.
    assert_eq!(SLOT_BYTES + core::mem::size_of::<u32>(), 84);
}

#[test]
fn a_later_delayed_flush_does_not_bring_flushed_items_back() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    set(&mut s, "a", b"1", 0, NOW).unwrap();
    s.flush_all(5, NOW);
    assert!(s.peek(key("a"), NOW + 4).is_none());
    s.flush_all(100, NOW + 4);
    assert!(s.peek(key("a"), NOW + 4).is_none());
}

#[test]
fn append_past_the_item_size_limit_is_not_stored() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 10);
    set(&mut s, "k", b"12345678", 0, NOW).unwrap();
    assert_eq!(
        s.store(StoreOp::Append, key("k"), 0, 0, b"90", NOW),
        Ok(Stored::NotStored)
    );
    assert_eq!(
        s.store(StoreOp::Append, key("k"), 0, 0, b"9", NOW),
        Ok(Stored::Stored)
    );
    assert_eq!(value(&mut s, "k", NOW).unwrap(), b"123456789");
}

#[test]
fn a_value_received_piecewise_is_stored_on_commit_and_not_before() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 256);
    let k = key("big");
    let r = s.reserve(StoreOp::Set, k, 10, NOW).unwrap();
    assert_eq!(s.peek(k, NOW), None, "not visible while it arrives");
    s.write_value(&r, 0, b"01234");
    s.write_value(&r, 5, b"56789");
    s.verify().unwrap();
    assert_eq!(s.commit(r, StoreOp::Set, 7, 0, NOW), Ok(Stored::Stored));
    assert_eq!(value(&mut s, "big", NOW).as_deref(), Some(&b"0123456789"[..]));
    s.verify().unwrap();
}

#[test]
fn a_cancelled_reservation_frees_its_bytes() {
    let mut arena = [0u8; 64];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 64);
    let r = s.reserve(StoreOp::Set, key("k"), 60, NOW).unwrap();
    assert_eq!(s.reserve(StoreOp::Set, key("j"), 60, NOW), Err(ReserveError::OutOfMemory));
    s.cancel(r);
    s.verify().unwrap();
    let r = s.reserve(StoreOp::Set, key("j"), 60, NOW).unwrap();
    s.cancel(r);
    assert_eq!(s.stats().bytes, 0);
}

#[test]
fn a_value_being_read_survives_replacement_delete_and_eviction() {
    let mut arena = [0u8; 64];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 64);
    s.store(StoreOp::Set, key("a"), 0, 0, &[b'x'; 30], NOW).unwrap();
    let reading = s.get_reading(key("a"), None, NOW).unwrap();
    assert_eq!(reading.len, 30);
    // Replaced: the old bytes stay for the reader.
    s.store(StoreOp::Set, key("a"), 0, 0, &[b'y'; 20], NOW).unwrap();
    s.verify().unwrap();
    let mut out = [0u8; 64];
    assert_eq!(s.read(&reading, 0, &mut out), 30);
    assert_eq!(&out[..30], &[b'x'; 30]);
    // No room for a 40-byte item while 31 bytes are held: out of memory,
    // after evicting everything evictable.
    assert_eq!(s.reserve(StoreOp::Set, key("b"), 39, NOW), Err(ReserveError::OutOfMemory));
    assert_eq!(value(&mut s, "a", NOW), None, "the new a was evicted trying");
    s.release(reading);
    s.verify().unwrap();
    assert_eq!(s.store(StoreOp::Set, key("b"), 0, 0, &[b'z'; 39], NOW), Ok(Stored::Stored));
    s.verify().unwrap();
}

#[test]
fn a_read_follows_its_run_through_compaction() {
    let mut arena = [0u8; 100];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 100);
    s.store(StoreOp::Set, key("a"), 0, 0, &[b'a'; 29], NOW).unwrap();
    s.store(StoreOp::Set, key("b"), 0, 0, &[b'b'; 29], NOW).unwrap();
    s.store(StoreOp::Set, key("c"), 0, 0, &[b'c'; 29], NOW).unwrap();
    let reading = s.get_reading(key("c"), None, NOW).unwrap();
    assert!(s.delete(key("a"), NOW));
    assert!(s.delete(key("c"), NOW), "c unlinked, its run pinned at the top");
    // 30 + 10 free in two holes: a 35-byte item needs compaction.
    s.store(StoreOp::Set, key("d"), 0, 0, &[b'd'; 34], NOW).unwrap();
    s.verify().unwrap();
    let mut out = [0u8; 29];
    assert_eq!(s.read(&reading, 0, &mut out), 29);
    assert_eq!(out, [b'c'; 29]);
    s.release(reading);
    s.verify().unwrap();
    assert_eq!(value(&mut s, "b", NOW).as_deref(), Some(&[b'b'; 29][..]));
    assert_eq!(value(&mut s, "d", NOW).as_deref(), Some(&[b'd'; 34][..]));
}

#[test]
fn a_hole_left_by_an_eviction_takes_the_next_item_without_compaction() {
    let mut arena = [0u8; 90];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 90);
    for k in ["a", "b", "c"] {
        s.store(StoreOp::Set, key(k), 0, 0, &[b'v'; 29], NOW).unwrap();
    }
    s.store(StoreOp::Set, key("d"), 0, 0, &[b'w'; 29], NOW).unwrap();
    s.verify().unwrap();
    assert_eq!(value(&mut s, "a", NOW), None, "a was the oldest");
    assert_eq!(s.stats().evictions, 1);
    assert_eq!(value(&mut s, "d", NOW).as_deref(), Some(&[b'w'; 29][..]));
}

#[test]
fn incr_does_not_change_a_value_being_read() {
    let mut arena = [0u8; 64];
    let mut index = OwnedIndex::<8>::new();

    let mut s = Store::new(&mut arena, index.index(), 64);
    s.store(StoreOp::Set, key("n"), 0, 0, b"99", NOW).unwrap();
    let reading = s.get_reading(key("n"), None, NOW).unwrap();
    assert_eq!(s.incr_decr(key("n"), 1, false, NOW), Ok(98));
    let mut out = [0u8; 2];
    s.read(&reading, 0, &mut out);
    assert_eq!(&out, b"99");
    s.release(reading);
    s.verify().unwrap();
    assert_eq!(value(&mut s, "n", NOW).as_deref(), Some(&b"98"[..]));
}

#[test]
fn a_store_over_index_memory_an_earlier_store_used_starts_empty_and_consistent() {
    let mut arena = [0u8; 256];
    let mut index = OwnedIndex::<4>::new();
    {
        let mut s = Store::new(&mut arena, index.index(), 256);
        for k in ["a", "b", "c", "d", "e"] {
            set(&mut s, k, k.as_bytes(), 0, NOW);
        }
        assert_eq!(s.stats().curr_items, 4, "four slots: the fifth evicted one");
    }
    // The same index memory, as a restored FWP finds it: the new store
    // clears its buckets and takes its slots afresh.
    let mut s = Store::new(&mut arena, index.index(), 256);
    assert_eq!((value(&mut s, "a", NOW), value(&mut s, "e", NOW)), (None, None));
    for k in ["v", "w", "x", "y", "z"] {
        set(&mut s, k, b"1", 0, NOW);
        s.verify().unwrap();
    }
    assert_eq!(s.stats().evictions, 1);
    assert_eq!(s.capacity(), 4);
}
