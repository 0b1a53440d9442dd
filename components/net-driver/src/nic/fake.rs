//! A [`RawNic`] for tests, played by the test: requests complete when and in
//! the order it says, submissions are refused when the queue is full, calls
//! fail on request, and every use of a buffer is checked against the
//! contract (same slice at completion, untouched while the device has it).

extern crate std;

use std::collections::VecDeque;
use std::vec::Vec;

use super::{RawNic, RawNicError};

/// Header length the fake reports (virtio-net's legacy header).
pub(crate) const HEADER: usize = 10;
const HEADER_BYTE: u8 = 0xee;

/// A buffer the device holds: where it is, and its bytes when it was handed over.
struct Request {
    token: u16,
    addr: usize,
    bytes: Vec<u8>,
}

impl Request {
    fn new(token: u16, buf: &[u8]) -> Self {
        Self { token, addr: buf.as_ptr() as usize, bytes: buf.to_vec() }
    }

    /// Whether `buf` is the same slice, unchanged since it was handed over.
    fn kept(&self, buf: &[u8]) -> bool {
        buf.as_ptr() as usize == self.addr && buf == &self.bytes[..]
    }
}

/// One virtqueue's bookkeeping: descriptors (tokens) free, requests held,
/// completions not yet taken, in used-ring order.
struct Queue<T> {
    free_tokens: Vec<u16>,
    held: Vec<Request>,
    used: VecDeque<(u16, T)>,
}

impl<T> Queue<T> {
    fn new(capacity: u16) -> Self {
        Self { free_tokens: (0..capacity).rev().collect(), held: Vec::new(), used: VecDeque::new() }
    }

    fn add(&mut self, buf: &[u8]) -> Result<u16, RawNicError> {
        let token = self.free_tokens.pop().ok_or(RawNicError::QueueFull)?;
        self.held.push(Request::new(token, buf));
        Ok(token)
    }

    /// Takes completion `token` if it is next, checking the slice it comes with.
    fn pop(
        &mut self,
        token: u16,
        buf: &[u8],
        violations: &mut Vec<&'static str>,
    ) -> Result<T, RawNicError> {
        match self.used.front() {
            Some((next, _)) if *next == token => {}
            _ => return Err(RawNicError::WrongToken),
        }
        let at = self.held.iter().position(|r| r.token == token).expect("a used token is held");
        if !self.held.remove(at).kept(buf) {
            violations.push("a buffer was moved or touched while the device had it");
        }
        self.free_tokens.push(token);
        Ok(self.used.pop_front().expect("checked above").1)
    }
}

/// The fake device.
pub(crate) struct FakeNic {
    tx: Queue<()>,
    /// Each completion carries the frame to land and the lengths to report.
    rx: Queue<(Vec<u8>, (usize, usize))>,
    /// Frames transmitted, headers stripped, in submission order.
    pub wire: Vec<Vec<u8>>,
    /// Broken promises of the NIC; tests expect none.
    pub violations: Vec<&'static str>,
    pub fail_header: bool,
    pub fail_next_transmit: Option<RawNicError>,
    pub fail_next_receive_complete: Option<RawNicError>,
    pub interrupts_acked: usize,
}

impl FakeNic {
    /// A device whose queues hold `capacity` requests each.
    pub fn new(capacity: u16) -> Self {
        Self {
            tx: Queue::new(capacity),
            rx: Queue::new(capacity),
            wire: Vec::new(),
            violations: Vec::new(),
            fail_header: false,
            fail_next_transmit: None,
            fail_next_receive_complete: None,
            interrupts_acked: 0,
        }
    }

    /// Tokens of transmissions submitted and not completed, oldest first.
    pub fn tx_pending(&self) -> Vec<u16> {
        let used: Vec<u16> = self.tx.used.iter().map(|(t, _)| *t).collect();
        self.tx.held.iter().map(|r| r.token).filter(|t| !used.contains(t)).collect()
    }

    /// The device finishes transmission `token`.
    pub fn complete_tx(&mut self, token: u16) {
        assert!(self.tx_pending().contains(&token), "no transmission {token} pending");
        self.tx.used.push_back((token, ()));
    }

    /// The device finishes every pending transmission, newest first.
    pub fn complete_all_tx_backwards(&mut self) {
        for token in self.tx_pending().into_iter().rev() {
            self.complete_tx(token);
        }
    }

    /// Puts a completion the NIC never asked for on the tx used ring.
    pub fn complete_unknown_tx(&mut self, token: u16) {
        self.tx.used.push_back((token, ()));
    }

    /// Rx buffers posted and not yet filled.
    pub fn rx_posted(&self) -> usize {
        self.rx.held.len() - self.rx.used.len()
    }

    /// A frame arrives into the `nth` oldest posted buffer; `false` if none.
    pub fn deliver_into(&mut self, nth: usize, frame: &[u8]) -> bool {
        self.deliver_reporting(nth, frame, (HEADER, frame.len()))
    }

    /// A frame arrives into the oldest posted buffer; `false` if none.
    pub fn deliver(&mut self, frame: &[u8]) -> bool {
        self.deliver_into(0, frame)
    }

    /// As `deliver_into`, reporting the given (header, frame) lengths.
    pub fn deliver_reporting(&mut self, nth: usize, frame: &[u8], lengths: (usize, usize)) -> bool {
        let used: Vec<u16> = self.rx.used.iter().map(|(t, _)| *t).collect();
        let free = self.rx.held.iter().map(|r| r.token).filter(|t| !used.contains(t)).nth(nth);
        let Some(token) = free else { return false };
        self.rx.used.push_back((token, (frame.to_vec(), lengths)));
        true
    }
}

impl RawNic for FakeNic {
    fn mac_address(&self) -> [u8; 6] {
        [0x52, 0x54, 0, 0x12, 0x34, 0x56]
    }

    fn fill_buffer_header(&self, buf: &mut [u8]) -> Result<usize, RawNicError> {
        if self.fail_header || buf.len() < HEADER {
            return Err(RawNicError::Device);
        }
        buf[..HEADER].fill(HEADER_BYTE);
        Ok(HEADER)
    }

    unsafe fn transmit_begin(&mut self, buf: &[u8]) -> Result<u16, RawNicError> {
        if let Some(error) = self.fail_next_transmit.take() {
            return Err(error);
        }
        let token = self.tx.add(buf)?;
        if buf[..HEADER].iter().any(|b| *b != HEADER_BYTE) {
            self.violations.push("a frame went out without its header");
        }
        self.wire.push(buf[HEADER..].to_vec());
        Ok(token)
    }

    fn poll_transmit(&mut self) -> Option<u16> {
        self.tx.used.front().map(|(t, _)| *t)
    }

    unsafe fn transmit_complete(&mut self, token: u16, buf: &[u8]) -> Result<usize, RawNicError> {
        self.tx.pop(token, buf, &mut self.violations)?;
        Ok(buf.len())
    }

    unsafe fn receive_begin(&mut self, buf: &mut [u8]) -> Result<u16, RawNicError> {
        self.rx.add(buf)
    }

    fn poll_receive(&self) -> Option<u16> {
        self.rx.used.front().map(|(t, _)| *t)
    }

    unsafe fn receive_complete(
        &mut self,
        token: u16,
        buf: &mut [u8],
    ) -> Result<(usize, usize), RawNicError> {
        let failure = self.fail_next_receive_complete.take();
        if let Some(RawNicError::WrongToken | RawNicError::Device) = failure {
            return Err(failure.expect("matched"));
        }
        let (frame, lengths) = self.rx.pop(token, buf, &mut self.violations)?;
        if failure == Some(RawNicError::Truncated) {
            return Err(RawNicError::Truncated);
        }
        buf[..HEADER].fill(HEADER_BYTE);
        buf[HEADER..HEADER + frame.len()].copy_from_slice(&frame);
        Ok(lengths)
    }

    fn ack_interrupt(&mut self) {
        self.interrupts_acked += 1;
    }
}
