extern crate std;

use core::cell::Cell;
use std::vec::Vec;

use super::*;

struct Page(Vec<Cell<u32>>);

impl Page {
    fn new() -> Self {
        Self((0..WORDS).map(|_| Cell::new(0)).collect())
    }
}

impl Words for Page {
    fn load(&self, index: usize) -> u32 {
        self.0[index].get()
    }
    fn store(&self, index: usize, value: u32) {
        self.0[index].set(value)
    }
}

#[test]
fn requests_and_completions_arrive_in_order() {
    let page = Page::new();
    for k in 0..10 {
        send_request(&page, Request::Create(k)).unwrap();
    }
    send_request(&page, Request::Destroy(3)).unwrap();
    let mut seen = Vec::new();
    while let Some(word) = next_request(&page).unwrap() {
        let request = Request::decode(word).unwrap();
        seen.push(request);
        send_completion(&page, Completion { request: word, status: Status::Done }).unwrap();
    }
    assert_eq!(seen.len(), 11);
    assert_eq!(seen[10], Request::Destroy(3));
    let mut done = 0;
    while let Some(entry) = next_completion(&page).unwrap() {
        assert_eq!(entry, Some((seen[done], Status::Done)));
        done += 1;
    }
    assert_eq!(done, 11);
}

#[test]
fn a_full_ring_refuses_and_recovers_after_wrapping() {
    let page = Page::new();
    for round in 0..3 {
        for k in 0..CAPACITY as u16 {
            send_request(&page, Request::Create(k + round)).unwrap();
        }
        assert_eq!(send_request(&page, Request::Create(999)), Err(Full));
        for k in 0..CAPACITY as u16 {
            assert_eq!(next_request(&page).unwrap().and_then(Request::decode), Some(Request::Create(k + round)));
        }
        assert_eq!(next_request(&page), Ok(None));
    }
}

#[test]
fn indices_no_honest_producer_leaves_are_broken() {
    let page = Page::new();
    page.store(0, CAPACITY + 1); // requests' head far past the tail
    assert_eq!(next_request(&page), Err(Broken));
    page.store(256, 5);
    page.store(257, 9); // completions' tail past the head
    assert_eq!(next_completion(&page), Err(Broken));
}

#[test]
fn garbage_entries_decode_to_nothing_and_never_panic() {
    for word in [0, 3, 0xffff, 0x1234_0007, u32::MAX] {
        assert_eq!(Request::decode(word), None, "{word:#x}");
    }
    let page = Page::new();
    page.store(272, Request::Create(1).encode());
    page.store(273, 0x77); // not a status
    page.store(256, 1);
    assert_eq!(next_completion(&page), Ok(Some(None)));
    for status in [Status::Done, Status::NoMemory, Status::NoSuchFwp, Status::WrongState, Status::BadRequest, Status::Kernel(9)] {
        assert_eq!(Status::decode(status.encode()), Some(status));
    }
}

#[test]
fn figures_go_across_the_page_and_stay_clear_of_the_rings() {
    let page = Page::new();
    send_request(&page, Request::Create(3)).unwrap();
    let figures = Figures { ram_free_mib: 986, live_fwps: 1016, asid_pools: 2, cnode_slots_free: 118_000, free_slabs: 0, created: 1016, destroyed: 0 };
    publish_figures(&page, figures);
    assert_eq!(read_figures(&page), figures);
    assert_eq!(next_request(&page), Ok(Some(Request::Create(3).encode())));
    assert_eq!(figures.named()[1], ("live_fwps", 1016));
    assert!(WORDS * 4 <= 4096, "the protocol fits its page");
}

#[test]
fn the_manager_sees_when_the_completion_ring_is_full() {
    let page = Page::new();
    for k in 0..CAPACITY {
        assert!(completion_room(&page));
        send_completion(&page, Completion { request: Request::Create(k as u16).encode(), status: Status::Done }).unwrap();
    }
    assert!(!completion_room(&page));
    assert!(next_completion(&page).unwrap().is_some());
    assert!(completion_room(&page), "room again once the multiplexer read one");
}
