extern crate std;

use std::vec;
use std::vec::Vec;

use edgeos_ring::testing::MemQueue;
use smoltcp::phy::{Loopback, Medium};

use super::*;
use crate::nic::fake::FakeNic;
use crate::VirtioNic;

const BUF: usize = 2048;
const SLOTS: usize = 8;

struct Rig<D = Loopback> {
    core: DriverCore,
    nic: D,
    mem: Vec<u8>,
    rx_free: MemQueue<16>,
    rx_used: MemQueue<16>,
    tx_free: MemQueue<16>,
    tx_used: MemQueue<16>,
}

impl Rig {
    fn new() -> Self {
        Rig::with(Loopback::new(Medium::Ethernet))
    }

    /// Puts a frame "on the wire" towards the driver.
    fn arrive(&mut self, frame: &[u8]) {
        let tx = self.nic.transmit(Instant::ZERO).unwrap();
        tx.consume(frame.len(), |b| b.copy_from_slice(frame));
    }

    /// Takes the next frame the driver put on the wire.
    fn departed(&mut self) -> Option<Vec<u8>> {
        let (rx, _) = self.nic.receive(Instant::ZERO)?;
        Some(rx.consume(|b| b.to_vec()))
    }
}

impl<D: Device> Rig<D> {
    fn with(nic: D) -> Self {
        Self {
            core: DriverCore::new(Region::new(SLOTS * BUF, BUF)),
            nic,
            mem: vec![0; SLOTS * BUF],
            rx_free: MemQueue::new(),
            rx_used: MemQueue::new(),
            tx_free: MemQueue::new(),
            tx_used: MemQueue::new(),
        }
    }

    fn service(&mut self) -> Moved {
        self.core.service(
            Instant::ZERO,
            &mut self.nic,
            &mut self.mem[..],
            &mut self.rx_free,
            &mut self.rx_used,
            &mut self.tx_free,
            &mut self.tx_used,
        )
    }

    /// Writes `frame` into slot `i` and offers it for transmission.
    fn provide_tx(&mut self, i: usize, frame: &[u8]) {
        self.mem[i * BUF..i * BUF + frame.len()].copy_from_slice(frame);
        provide(&mut self.tx_free, Buf { len: frame.len(), ..slot(i) });
    }

    fn ready_to_sleep(&mut self) -> bool {
        self.core.ready_to_sleep(&mut self.rx_free, &mut self.tx_free)
    }
}

fn provide(queue: &mut MemQueue<16>, buf: Buf) {
    queue.enqueue(buf).unwrap().unwrap();
    queue.commit();
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn slot(i: usize) -> Buf {
    Region::new(SLOTS * BUF, BUF).slot(i).unwrap()
}

#[test]
fn received_frames_land_in_provided_buffers_in_order() {
    let mut rig = Rig::new();
    for i in 0..3 {
        provide(&mut rig.rx_free, slot(i));
    }
    rig.arrive(&frame(60, 1));
    rig.arrive(&frame(1514, 2));
    assert_eq!(rig.service(), Moved { rx: 2, tx: 0, notify: false });
    let first = rig.rx_used.dequeue().unwrap().unwrap();
    let second = rig.rx_used.dequeue().unwrap().unwrap();
    assert_eq!((first.offset, first.len), (0, 60));
    assert_eq!((second.offset, second.len), (BUF, 1514));
    assert_eq!(&rig.mem[..60], &frame(60, 1)[..]);
    assert_eq!(&rig.mem[BUF..BUF + 1514], &frame(1514, 2)[..]);
    assert_eq!(rig.rx_used.commits, 1, "one publish per batch");
    // The third buffer is held for the next frame, not lost.
    assert_eq!(rig.core.rx_buffers_held(), 1);
    rig.arrive(&frame(100, 3));
    assert_eq!(rig.service().rx, 1);
    assert_eq!(rig.rx_used.dequeue().unwrap().unwrap().offset, 2 * BUF);
}

#[test]
fn frames_wait_in_the_nic_while_no_buffer_is_provided() {
    let mut rig = Rig::new();
    rig.arrive(&frame(60, 7));
    assert_eq!(rig.service(), Moved::default());
    provide(&mut rig.rx_free, slot(5));
    assert_eq!(rig.service().rx, 1);
    assert_eq!(&rig.mem[5 * BUF..5 * BUF + 60], &frame(60, 7)[..]);
}

#[test]
fn provided_tx_frames_go_out_byte_for_byte_and_come_back() {
    let mut rig = Rig::new();
    let f = frame(342, 9);
    rig.mem[3 * BUF..3 * BUF + f.len()].copy_from_slice(&f);
    provide(&mut rig.tx_free, Buf { len: f.len(), ..slot(3) });
    assert_eq!(rig.service(), Moved { rx: 0, tx: 1, notify: false });
    assert_eq!(rig.departed().unwrap(), f);
    assert_eq!(rig.tx_used.dequeue().unwrap().unwrap(), Buf { len: 342, ..slot(3) });
    assert_eq!(rig.core.stats().tx_frames, 1);
}

#[test]
fn bad_descriptors_are_refused_counted_and_handed_back() {
    let mut rig = Rig::new();
    let bad_rx = [
        Buf { offset: SLOTS * BUF, len: BUF, cookie: 1 },
        Buf { offset: 17, len: 64, cookie: 2 },
        Buf { offset: usize::MAX, len: 2, cookie: 3 },
    ];
    for b in bad_rx {
        provide(&mut rig.rx_free, b);
    }
    let bad_tx = [
        Buf { len: 13, ..slot(0) },   // shorter than an Ethernet header
        Buf { len: 1515, ..slot(1) }, // longer than the MTU allows
        Buf { offset: 1 << 40, len: 60, cookie: 4 },
    ];
    for b in bad_tx {
        provide(&mut rig.tx_free, b);
    }
    rig.arrive(&frame(60, 0));
    assert_eq!(rig.service(), Moved { rx: 3, tx: 3, notify: false });
    assert_eq!(rig.core.stats().bad_descriptors, 6);
    for b in bad_rx {
        assert_eq!(rig.rx_used.dequeue().unwrap(), Some(Buf { len: 0, ..b }));
    }
    assert!(rig.departed().is_some(), "the arrived frame is still in the NIC…");
    assert!(rig.departed().is_none(), "…and nothing was transmitted");
    // A good buffer afterwards works as usual.
    rig.arrive(&frame(60, 4));
    provide(&mut rig.rx_free, slot(2));
    assert_eq!(rig.service().rx, 1);
}

#[test]
fn a_misbehaving_ring_is_counted_and_the_other_direction_keeps_working() {
    let mut rig = Rig::new();
    rig.rx_free.misbehave();
    let f = frame(60, 5);
    rig.mem[..60].copy_from_slice(&f);
    provide(&mut rig.tx_free, Buf { len: 60, ..slot(0) });
    assert_eq!(rig.service(), Moved { rx: 0, tx: 1, notify: false });
    assert_eq!(rig.core.stats().ring_errors, 1);
    assert_eq!(rig.departed().unwrap(), f);
}

#[test]
fn the_mux_is_notified_only_when_it_asked_and_something_was_published() {
    let mut rig = Rig::new();
    rig.rx_used.request_wake();
    rig.tx_used.request_wake();
    assert!(!rig.service().notify, "nothing published, no notification");
    provide(&mut rig.rx_free, slot(0));
    rig.arrive(&frame(60, 1));
    assert!(rig.service().notify);
    provide(&mut rig.rx_free, slot(1));
    rig.arrive(&frame(60, 2));
    assert!(!rig.service().notify, "the rx request was used up; the mux is awake");
    rig.mem[2 * BUF..2 * BUF + 60].copy_from_slice(&frame(60, 3));
    provide(&mut rig.tx_free, Buf { len: 60, ..slot(2) });
    assert!(rig.service().notify, "the tx request is still standing");
}

#[test]
fn the_driver_waits_for_rx_buffers_only_when_it_has_none() {
    let mut rig = Rig::new();
    assert!(rig.core.ready_to_sleep(&mut rig.rx_free, &mut rig.tx_free));
    provide(&mut rig.rx_free, slot(0));
    assert!(rig.rx_free.take_wake_request(), "starved: it asked for rx buffers");
    // With a buffer offered and no frame, there is nothing to do: sleep,
    // without asking to be woken for more buffers.
    assert!(rig.core.ready_to_sleep(&mut rig.rx_free, &mut rig.tx_free));
    provide(&mut rig.rx_free, slot(1));
    assert!(!rig.rx_free.take_wake_request());
    // A tx frame keeps it awake.
    provide(&mut rig.tx_free, Buf { len: 60, ..slot(2) });
    assert!(!rig.core.ready_to_sleep(&mut rig.rx_free, &mut rig.tx_free));
}

#[test]
fn an_oversized_received_frame_is_truncated_to_the_buffer_and_counted() {
    let mut rig = Rig::new();
    provide(&mut rig.rx_free, Buf { len: 100, ..slot(0) });
    rig.arrive(&frame(300, 1));
    assert_eq!(rig.service().rx, 1);
    assert_eq!(rig.rx_used.dequeue().unwrap().unwrap().len, 100);
    assert_eq!(rig.core.stats().rx_truncated, 1);
    assert_eq!(rig.mem[100], 0, "nothing written past the buffer's length");
}

/// A virtio NIC with two tx and two rx buffers over the fake device.
type SmallNic = VirtioNic<FakeNic, 2>;

fn nic_rig() -> Rig<SmallNic> {
    Rig::with(SmallNic::new(FakeNic::new(2)))
}

#[test]
fn a_full_nic_holds_the_frame_and_the_driver_sleeps_until_a_completion() {
    let mut rig = nic_rig();
    let frames: Vec<Vec<u8>> = (0..5).map(|i| frame(60 + i, i as u8)).collect();
    for (i, f) in frames.iter().enumerate() {
        rig.provide_tx(i, f);
    }
    // Two frames go to the device at once, without waiting for it; the
    // third is held, the rest stay on the ring.
    assert_eq!(rig.service().tx, 2);
    assert_eq!(rig.tx_free.len(), 2);
    // No spin: with frames still offered, the driver sleeps, and it asked
    // the mux for nothing (the device's interrupt wakes it).
    assert!(rig.ready_to_sleep());
    provide(&mut rig.tx_free, Buf { len: 60, ..slot(7) });
    assert!(!rig.tx_free.take_wake_request(), "no wake asked on the tx ring while the NIC is full");
    assert_eq!(rig.service().tx, 0, "still full: nothing moves, nothing spins");
    // One completion: the held frame goes out, the next one is held.
    let oldest = rig.nic.raw_mut().tx_pending()[0];
    rig.nic.raw_mut().complete_tx(oldest);
    rig.nic.ack_interrupt();
    assert_eq!(rig.service().tx, 1);
    assert!(rig.ready_to_sleep());
    // The device catches up: everything goes, in order, byte for byte.
    while rig.tx_used.len() < 6 {
        rig.nic.raw_mut().complete_all_tx_backwards();
        assert!(rig.service().tx > 0);
    }
    let wire = rig.nic.raw_mut().wire.clone();
    assert_eq!(&wire[..5], &frames[..]);
    assert_eq!(wire.len(), 6);
    // With the NIC free again the driver waits on the tx ring as before.
    rig.nic.raw_mut().complete_all_tx_backwards();
    assert!(rig.ready_to_sleep());
    rig.provide_tx(0, &frame(60, 9));
    assert!(rig.tx_free.take_wake_request());
    assert_eq!(rig.core.stats().tx_frames, 6);
    assert!(rig.nic.raw_mut().violations.is_empty());
}

#[test]
fn frames_received_through_the_nic_land_in_the_mux_buffers_and_the_nic_buffers_are_re_posted() {
    let mut rig = nic_rig();
    for i in 0..4 {
        provide(&mut rig.rx_free, slot(i));
    }
    assert!(rig.nic.raw_mut().deliver_into(1, &frame(60, 1)));
    assert!(rig.nic.raw_mut().deliver(&frame(1514, 2)));
    assert_eq!(rig.service().rx, 2);
    assert_eq!(&rig.mem[..60], &frame(60, 1)[..]);
    assert_eq!(&rig.mem[BUF..BUF + 1514], &frame(1514, 2)[..]);
    assert_eq!(rig.nic.raw_mut().rx_posted(), 2, "both buffers back with the device");
    assert!(rig.nic.raw_mut().deliver(&frame(100, 3)));
    assert_eq!(rig.service().rx, 1);
    assert_eq!(rig.core.stats().rx_frames, 3);
    assert!(rig.nic.raw_mut().violations.is_empty());
}
