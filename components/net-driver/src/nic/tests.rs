extern crate std;

use std::vec::Vec;

use smoltcp::phy::{Device, RxToken, TxToken};

use super::fake::{FakeNic, HEADER};
use super::*;

const QUEUE: usize = 4;
type Nic = VirtioNic<FakeNic, QUEUE>;

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

/// Offers `frame` to the NIC the way DriverCore does; `false`: no token.
fn send(nic: &mut Nic, frame: &[u8]) -> bool {
    let Some(tx) = nic.transmit(Instant::ZERO) else { return false };
    tx.consume(frame.len(), |buf| buf.copy_from_slice(frame));
    true
}

fn recv(nic: &mut Nic) -> Option<Vec<u8>> {
    let (rx, _) = nic.receive(Instant::ZERO)?;
    Some(rx.consume(|frame| frame.to_vec()))
}

/// Every test ends here: the NIC kept the buffer contract throughout.
fn kept_the_contract(nic: &mut Nic) {
    assert_eq!(nic.raw_mut().violations, Vec::<&str>::new());
}

#[test]
fn a_transmission_returns_without_waiting_for_the_device() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    for seed in 0..QUEUE as u8 {
        assert!(send(&mut nic, &frame(60, seed)), "a free buffer takes the frame at once");
    }
    // Nothing completed, yet every frame is on its way.
    assert_eq!(nic.raw_mut().tx_pending().len(), QUEUE);
    assert_eq!(nic.raw_mut().wire.len(), QUEUE);
    assert_eq!(nic.tx_in_flight(), QUEUE);
    assert!(nic.transmit(Instant::ZERO).is_none(), "all buffers with the device: no token");
    let stats = nic.stats();
    assert_eq!((stats.tx_submitted, stats.tx_completed), (QUEUE as u64, 0));
    kept_the_contract(&mut nic);
}

#[test]
fn frames_go_out_byte_for_byte_in_order_whatever_order_they_complete_in() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    let frames: Vec<Vec<u8>> =
        (0..11u8).map(|i| frame([14, 60, 1514, 342][usize::from(i) % 4], i)).collect();
    let mut next = 0;
    while next < frames.len() {
        if send(&mut nic, &frames[next]) {
            next += 1;
            continue;
        }
        // Full: the device finishes the newest first, then an older one.
        let pending = nic.raw_mut().tx_pending();
        nic.raw_mut().complete_tx(pending[pending.len() - 1]);
        nic.raw_mut().complete_tx(pending[1]);
    }
    nic.raw_mut().complete_all_tx_backwards();
    assert!(nic.transmit(Instant::ZERO).is_some(), "reaping frees every buffer");
    assert_eq!(nic.tx_in_flight(), 0);
    assert_eq!(nic.raw_mut().wire, frames);
    assert_eq!(nic.stats().tx_completed, frames.len() as u64);
    kept_the_contract(&mut nic);
}

#[test]
fn a_device_refusing_as_full_gets_the_frame_first_after_a_completion() {
    // The device holds fewer requests than the NIC has buffers.
    let mut nic = Nic::new(FakeNic::new(2));
    assert!(send(&mut nic, &frame(60, 1)));
    assert!(send(&mut nic, &frame(60, 2)));
    assert!(send(&mut nic, &frame(60, 3)), "the frame is taken, the device refuses it");
    assert_eq!(nic.stats().tx_refused, 1);
    assert!(nic.transmit(Instant::ZERO).is_none(), "nothing overtakes the refused frame");
    assert_eq!(nic.stats().tx_refused, 2, "retried, refused again");
    let oldest = nic.raw_mut().tx_pending()[0];
    nic.raw_mut().complete_tx(oldest);
    assert!(send(&mut nic, &frame(60, 4)), "the refused frame went out, a buffer is free");
    assert_eq!(nic.raw_mut().wire, [frame(60, 1), frame(60, 2), frame(60, 3)]);
    nic.raw_mut().complete_all_tx_backwards();
    assert!(nic.transmit(Instant::ZERO).is_some());
    assert_eq!(nic.raw_mut().wire, [frame(60, 1), frame(60, 2), frame(60, 3), frame(60, 4)]);
    assert_eq!(nic.stats().tx_dropped, 0);
    kept_the_contract(&mut nic);
}

#[test]
fn received_frames_are_handed_out_and_their_buffers_re_posted() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE, "every buffer posted from the start");
    assert_eq!(recv(&mut nic), None);
    // Completions out of posting order.
    assert!(nic.raw_mut().deliver_into(2, &frame(60, 1)));
    assert!(nic.raw_mut().deliver_into(0, &frame(1514, 2)));
    assert_eq!(recv(&mut nic), Some(frame(60, 1)));
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE - 1, "the second frame's buffer is still filled");
    assert_eq!(recv(&mut nic), Some(frame(1514, 2)));
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE);
    assert_eq!(nic.rx_posted(), QUEUE);
    // Many more frames than buffers: each buffer comes back.
    for seed in 0..3 * QUEUE as u8 {
        assert!(nic.raw_mut().deliver(&frame(100, seed)));
        assert_eq!(recv(&mut nic), Some(frame(100, seed)));
    }
    assert_eq!(nic.stats().rx_frames, 2 + 3 * QUEUE as u64);
    kept_the_contract(&mut nic);
}

#[test]
fn an_rx_token_dropped_unconsumed_has_its_buffer_posted_by_the_next_receive() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    assert!(nic.raw_mut().deliver(&frame(60, 1)));
    assert!(nic.receive(Instant::ZERO).is_some(), "taken, never consumed");
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE - 1);
    assert_eq!(recv(&mut nic), None);
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE);
    kept_the_contract(&mut nic);
}

#[test]
fn the_tx_token_from_receive_transmits_when_a_buffer_is_free_and_otherwise_drops() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    assert!(nic.raw_mut().deliver(&frame(60, 1)));
    let (_, tx) = nic.receive(Instant::ZERO).unwrap();
    tx.consume(60, |buf| buf.copy_from_slice(&frame(60, 9)));
    assert_eq!(nic.raw_mut().wire, [frame(60, 9)]);
    while send(&mut nic, &frame(60, 0)) {}
    assert!(nic.raw_mut().deliver(&frame(60, 2)));
    let (_, tx) = nic.receive(Instant::ZERO).unwrap();
    assert_eq!(tx.consume(60, |buf| buf.len()), 60, "the closure still gets its bytes");
    assert_eq!(nic.stats().tx_dropped, 1);
    assert_eq!(nic.raw_mut().wire.len(), QUEUE, "the dropped frame never reached the device");
    kept_the_contract(&mut nic);
}

#[test]
fn transmit_errors_are_counted_and_the_buffer_freed() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    nic.raw_mut().fail_header = true;
    assert!(send(&mut nic, &frame(60, 1)));
    nic.raw_mut().fail_header = false;
    nic.raw_mut().fail_next_transmit = Some(RawNicError::Device);
    assert!(send(&mut nic, &frame(60, 2)));
    // Longer than a buffer holds after the header.
    let tx = nic.transmit(Instant::ZERO).unwrap();
    tx.consume(BUFFER_LEN - HEADER + 1, |_| ());
    let stats = nic.stats();
    assert_eq!((stats.device_errors, stats.tx_dropped, stats.tx_submitted), (2, 3, 0));
    assert!(nic.raw_mut().wire.is_empty());
    // Every buffer is still free.
    for seed in 0..QUEUE as u8 {
        assert!(send(&mut nic, &frame(60, seed)));
    }
    kept_the_contract(&mut nic);
}

#[test]
fn completions_the_nic_never_asked_for_are_counted_not_obeyed() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    assert!(send(&mut nic, &frame(60, 1)));
    nic.raw_mut().complete_unknown_tx(3);
    assert!(send(&mut nic, &frame(60, 2)), "free buffers still take frames");
    assert!(nic.stats().wrong_tokens >= 1);
    assert_eq!(nic.tx_in_flight(), 2, "nothing was freed on the device's word alone");
    kept_the_contract(&mut nic);
}

#[test]
fn receive_errors_are_counted_and_the_buffers_kept_posted() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    // A completion shorter than a header: the buffer is back, the frame lost.
    assert!(nic.raw_mut().deliver(&frame(60, 1)));
    nic.raw_mut().fail_next_receive_complete = Some(RawNicError::Truncated);
    assert_eq!(recv(&mut nic), None);
    // Lengths past the buffer's end.
    assert!(nic.raw_mut().deliver_reporting(0, &frame(60, 2), (HEADER, BUFFER_LEN)));
    assert!(nic.raw_mut().deliver_reporting(0, &frame(60, 3), (usize::MAX, 2)));
    assert!(nic.raw_mut().deliver(&frame(60, 4)));
    assert_eq!(recv(&mut nic), Some(frame(60, 4)), "the good frame behind them comes through");
    assert_eq!(nic.stats().device_errors, 3);
    assert_eq!(nic.raw_mut().rx_posted(), QUEUE);
    // A device call failing outright: nothing taken, tried again next time.
    assert!(nic.raw_mut().deliver(&frame(60, 5)));
    nic.raw_mut().fail_next_receive_complete = Some(RawNicError::Device);
    assert_eq!(recv(&mut nic), None);
    assert_eq!(recv(&mut nic), Some(frame(60, 5)));
    assert_eq!(nic.stats().device_errors, 4);
    kept_the_contract(&mut nic);
}

#[test]
fn the_interrupt_is_acknowledged_on_the_device() {
    let mut nic = Nic::new(FakeNic::new(QUEUE as u16));
    nic.ack_interrupt();
    assert_eq!(nic.raw_mut().interrupts_acked, 1);
    assert_eq!(nic.mac_address(), [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
}
