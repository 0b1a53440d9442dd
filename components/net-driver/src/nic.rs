//! A virtio-net NIC that never waits for the device.
//!
//! ```text
//!   DriverCore ─ phy::Device ─▶ VirtioNic ─ RawNic ─▶ virtio-drivers' VirtIONetRaw
//!                               fixed tx and rx buffers, token → buffer maps
//! ```
//!
//! virtio-drivers' `VirtIONet::send` adds a frame and spins until the device
//! has used it; under QEMU's `-icount` that spin is guest time, and it was
//! the driver's whole tail (issue 12). Here a transmission is submitted and
//! left: completions are reaped on the next `transmit()`, which offers a
//! token only while a tx buffer is free, so a full device shows up as "no
//! token" and the caller sleeps until the device's interrupt. Every rx
//! buffer stays posted: one is re-posted as soon as its frame is consumed.
//!
//! The device borrows a buffer between `*_begin` and `*_complete` (the
//! `unsafe` contract of [`RawNic`]); this module is the only place that
//! keeps that contract, so it is the only one allowed `unsafe`.
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec;
use core::cell::{Cell, RefCell};
use core::ops::Range;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::MAX_FRAME_LEN;

/// Bytes in each of the NIC's buffers: a virtio-net header and the longest
/// frame fit, and the size matches the multiplexer's slots.
pub const BUFFER_LEN: usize = 2048;

type Buffer = [u8; BUFFER_LEN];

/// Why a [`RawNic`] call failed, as far as the NIC needs to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawNicError {
    /// No descriptor free: nothing was submitted; try again after a completion.
    QueueFull,
    /// Another request is next on the used ring: nothing was completed.
    WrongToken,
    /// The request completed but the device wrote less than a header: the
    /// buffer is back with the driver, its contents are garbage.
    Truncated,
    /// Anything else the device or the transport reported: nothing was
    /// submitted or completed.
    Device,
}

/// The non-blocking calls of virtio-drivers 0.13's `VirtIONetRaw`, which the
/// NIC drives. Tokens identify requests; completions may come in any order.
pub trait RawNic {
    /// The device's MAC address.
    fn mac_address(&self) -> [u8; 6];
    /// Writes a virtio-net header at the start of `buf`; its length.
    fn fill_buffer_header(&self, buf: &mut [u8]) -> Result<usize, RawNicError>;
    /// Submits `buf` (header and frame) for transmission and returns at once.
    ///
    /// # Safety
    /// `buf` is the device's until [`transmit_complete`](Self::transmit_complete)
    /// for the returned token succeeds: it must stay valid, at the same
    /// address, and unaccessed until then.
    unsafe fn transmit_begin(&mut self, buf: &[u8]) -> Result<u16, RawNicError>;
    /// The token of the next completed transmission, left on the used ring.
    fn poll_transmit(&mut self) -> Option<u16>;
    /// Takes the completed transmission `token` off the used ring; the
    /// number of bytes the device used.
    ///
    /// # Safety
    /// `buf` is the slice (address and length) the `transmit_begin` that
    /// returned `token` was given.
    unsafe fn transmit_complete(&mut self, token: u16, buf: &[u8]) -> Result<usize, RawNicError>;
    /// Posts `buf` for the device to receive a frame into.
    ///
    /// # Safety
    /// As for [`transmit_begin`](Self::transmit_begin), until
    /// [`receive_complete`](Self::receive_complete) for the returned token
    /// succeeds or fails with [`RawNicError::Truncated`].
    unsafe fn receive_begin(&mut self, buf: &mut [u8]) -> Result<u16, RawNicError>;
    /// The token of the next completed reception, left on the used ring.
    fn poll_receive(&self) -> Option<u16>;
    /// Takes the completed reception `token` off the used ring: the header's
    /// and the frame's lengths, in that order, at the start of `buf`.
    ///
    /// # Safety
    /// `buf` is the slice the `receive_begin` that returned `token` was given.
    unsafe fn receive_complete(
        &mut self,
        token: u16,
        buf: &mut [u8],
    ) -> Result<(usize, usize), RawNicError>;
    /// Acknowledges the device's interrupt, so it can raise the next one.
    fn ack_interrupt(&mut self);
}

/// What the NIC counted, errors included (it never panics on the device's behalf).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NicStats {
    /// Frames handed to the device for transmission.
    pub tx_submitted: u64,
    /// Transmissions the device completed and the NIC reaped.
    pub tx_completed: u64,
    /// Submissions the device refused as full; the frame was kept and retried.
    pub tx_refused: u64,
    /// Frames dropped: no tx buffer free, too long, or failed by the device.
    pub tx_dropped: u64,
    /// Received frames handed out.
    pub rx_frames: u64,
    /// Times an rx buffer could not be posted (retried on the next receive).
    pub rx_post_failures: u64,
    /// Device calls that failed, or reported impossible lengths.
    pub device_errors: u64,
    /// Completions of requests the NIC never made (or not the next one).
    pub wrong_tokens: u64,
}

/// State the tokens share with the NIC. No borrow of `raw` is held across a
/// callback or another call's borrow, so the `RefCell` never finds one
/// outstanding. (A call's result is bound with `let` before it is matched:
/// a borrow in a `match` scrutinee would live through the arms.)
struct Shared<R> {
    raw: RefCell<R>,
    stats: Cell<NicStats>,
}

impl<R> Shared<R> {
    fn count(&self, counter: fn(&mut NicStats) -> &mut u64) {
        let mut stats = self.stats.get();
        *counter(&mut stats) += 1;
        self.stats.set(stats);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxSlot {
    Free,
    /// Filled with `buf[..len]`, refused by a full device: it goes out
    /// before any later frame.
    Refused { len: usize },
    /// The device has `buf[..len]` under `token`.
    InFlight { token: u16, len: usize },
}

struct TxSide<const QUEUE: usize> {
    /// `QUEUE` transmit buffers, then one that dropped frames are written to.
    buffers: Box<[Buffer]>,
    slots: [TxSlot; QUEUE],
    /// The slot in state Refused, if any (at most one: no frame is taken
    /// while it waits).
    refused: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RxSlot {
    /// With the driver: just completed, or its posting failed.
    Idle,
    Posted { token: u16 },
}

struct RxSide<const QUEUE: usize> {
    buffers: Box<[Buffer]>,
    slots: [RxSlot; QUEUE],
    idle: usize,
}

/// A smoltcp device over a [`RawNic`] with `QUEUE` tx and `QUEUE` rx buffers
/// of [`BUFFER_LEN`] bytes, allocated once; the device's queues should hold
/// `QUEUE` requests each.
pub struct VirtioNic<R: RawNic, const QUEUE: usize> {
    // Fields drop in order: the device (virtio-drivers resets its queues on
    // drop) lets go of the buffers before they are freed.
    shared: Shared<R>,
    tx: TxSide<QUEUE>,
    rx: RxSide<QUEUE>,
}

fn buffers(count: usize) -> Box<[Buffer]> {
    // Built on the heap: the buffers never move, whatever happens to the NIC.
    vec![[0; BUFFER_LEN]; count].into_boxed_slice()
}

impl<R: RawNic, const QUEUE: usize> VirtioNic<R, QUEUE> {
    /// Takes over `raw` and posts every rx buffer to it.
    pub fn new(raw: R) -> Self {
        let mut nic = Self {
            shared: Shared { raw: RefCell::new(raw), stats: Cell::new(NicStats::default()) },
            tx: TxSide { buffers: buffers(QUEUE + 1), slots: [TxSlot::Free; QUEUE], refused: None },
            rx: RxSide { buffers: buffers(QUEUE), slots: [RxSlot::Idle; QUEUE], idle: QUEUE },
        };
        nic.rx.post_idle(&nic.shared);
        nic
    }

    /// The device's MAC address.
    pub fn mac_address(&self) -> [u8; 6] {
        self.shared.raw.borrow().mac_address()
    }

    /// Acknowledges the device's interrupt; call before looking for work.
    pub fn ack_interrupt(&mut self) {
        self.shared.raw.get_mut().ack_interrupt();
    }

    /// The counters so far.
    pub fn stats(&self) -> NicStats {
        self.shared.stats.get()
    }

    /// Transmissions handed to the device and not yet reaped.
    pub fn tx_in_flight(&self) -> usize {
        self.tx.slots.iter().filter(|s| matches!(s, TxSlot::InFlight { .. })).count()
    }

    /// Rx buffers posted to the device.
    pub fn rx_posted(&self) -> usize {
        QUEUE - self.rx.idle
    }

    /// The device, for tests to play it.
    #[cfg(test)]
    pub(crate) fn raw_mut(&mut self) -> &mut R {
        self.shared.raw.get_mut()
    }
}

impl<const QUEUE: usize> TxSide<QUEUE> {
    /// Frees the buffers of every transmission the device has completed.
    fn reap<R: RawNic>(&mut self, shared: &Shared<R>) {
        let raw = &mut *shared.raw.borrow_mut();
        while let Some(token) = raw.poll_transmit() {
            let Some((slot, len)) = self.in_flight(token) else {
                // Only the buffer it was given completes a request: this
                // one cannot be taken off the used ring.
                shared.count(|s| &mut s.wrong_tokens);
                return;
            };
            // SAFETY: the slice is the one `submit` gave `transmit_begin`
            // for `token` (same slot, same length); the slot stayed InFlight,
            // so nothing touched it since.
            match unsafe { raw.transmit_complete(token, &self.buffers[slot][..len]) } {
                Ok(_) => {
                    self.slots[slot] = TxSlot::Free;
                    shared.count(|s| &mut s.tx_completed);
                }
                Err(RawNicError::WrongToken) => {
                    shared.count(|s| &mut s.wrong_tokens);
                    return;
                }
                Err(_) => {
                    shared.count(|s| &mut s.device_errors);
                    return;
                }
            }
        }
    }

    /// The slot and length of the transmission in flight under `token`.
    fn in_flight(&self, token: u16) -> Option<(usize, usize)> {
        self.slots.iter().enumerate().find_map(|(slot, state)| match *state {
            TxSlot::InFlight { token: t, len } if t == token => Some((slot, len)),
            _ => None,
        })
    }

    /// Hands the filled `buffers[slot][..len]` to the device. A full device
    /// leaves it Refused, to be retried first.
    fn submit<R: RawNic>(&mut self, shared: &Shared<R>, slot: usize, len: usize) {
        // SAFETY: the buffer lives in `self.buffers`, a heap allocation that
        // neither moves nor is freed while the device lives (see
        // `VirtioNic`'s field order). Marking the slot InFlight keeps every
        // path of this module off it until `reap` completes `token` with the
        // same slice.
        let begun = unsafe { shared.raw.borrow_mut().transmit_begin(&self.buffers[slot][..len]) };
        match begun {
            Ok(token) => {
                self.slots[slot] = TxSlot::InFlight { token, len };
                shared.count(|s| &mut s.tx_submitted);
            }
            Err(RawNicError::QueueFull) => {
                self.slots[slot] = TxSlot::Refused { len };
                self.refused = Some(slot);
                shared.count(|s| &mut s.tx_refused);
            }
            Err(_) => {
                self.slots[slot] = TxSlot::Free;
                shared.count(|s| &mut s.device_errors);
                shared.count(|s| &mut s.tx_dropped);
            }
        }
    }

    /// Reaps completions and retries a refused frame; then the slot the next
    /// frame may use, if any.
    fn ready<R: RawNic>(&mut self, shared: &Shared<R>) -> Option<usize> {
        self.reap(shared);
        if let Some(slot) = self.refused.take() {
            if let TxSlot::Refused { len } = self.slots[slot] {
                self.submit(shared, slot, len);
            }
        }
        self.free_slot()
    }

    fn free_slot(&self) -> Option<usize> {
        if self.refused.is_some() {
            return None;
        }
        self.slots.iter().position(|s| *s == TxSlot::Free)
    }
}

impl<const QUEUE: usize> RxSide<QUEUE> {
    fn post<R: RawNic>(&mut self, shared: &Shared<R>, slot: usize) {
        // SAFETY: as in `TxSide::submit`: the heap buffer stays put, and a
        // Posted slot is touched again only by `receive` after the device
        // completed its token, with the same whole-buffer slice.
        let posted = unsafe { shared.raw.borrow_mut().receive_begin(&mut self.buffers[slot][..]) };
        match posted {
            Ok(token) => {
                self.slots[slot] = RxSlot::Posted { token };
                self.idle -= 1;
            }
            Err(_) => shared.count(|s| &mut s.rx_post_failures),
        }
    }

    fn post_idle<R: RawNic>(&mut self, shared: &Shared<R>) {
        for slot in 0..QUEUE {
            if self.idle == 0 {
                return;
            }
            if self.slots[slot] == RxSlot::Idle {
                self.post(shared, slot);
            }
        }
    }

    /// Takes the next received frame off the device: its slot and where the
    /// frame lies in the slot's buffer.
    fn complete<R: RawNic>(&mut self, shared: &Shared<R>) -> Option<(usize, Range<usize>)> {
        loop {
            let token = shared.raw.borrow().poll_receive()?;
            let Some(slot) = self.slots.iter().position(|s| *s == RxSlot::Posted { token }) else {
                shared.count(|s| &mut s.wrong_tokens);
                return None;
            };
            let buf = &mut self.buffers[slot][..];
            // SAFETY: the whole buffer of the slot that `post` gave
            // `receive_begin` when it returned `token`.
            let done = unsafe { shared.raw.borrow_mut().receive_complete(token, buf) };
            match done {
                Ok((header, len)) => {
                    self.slots[slot] = RxSlot::Idle;
                    self.idle += 1;
                    match header.checked_add(len) {
                        Some(end) if end <= BUFFER_LEN => return Some((slot, header..end)),
                        _ => {
                            shared.count(|s| &mut s.device_errors);
                            self.post(shared, slot);
                        }
                    }
                }
                Err(RawNicError::Truncated) => {
                    self.slots[slot] = RxSlot::Idle;
                    self.idle += 1;
                    shared.count(|s| &mut s.device_errors);
                    self.post(shared, slot);
                }
                Err(RawNicError::WrongToken) => {
                    shared.count(|s| &mut s.wrong_tokens);
                    return None;
                }
                Err(_) => {
                    shared.count(|s| &mut s.device_errors);
                    return None;
                }
            }
        }
    }
}

impl<R: RawNic, const QUEUE: usize> phy::Device for VirtioNic<R, QUEUE> {
    type RxToken<'a>
        = NicRxToken<'a, R, QUEUE>
    where
        Self: 'a;
    type TxToken<'a>
        = NicTxToken<'a, R, QUEUE>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if self.rx.idle > 0 {
            self.rx.post_idle(&self.shared);
        }
        let (slot, frame) = self.rx.complete(&self.shared)?;
        self.shared.count(|s| &mut s.rx_frames);
        let tx_slot = self.tx.free_slot();
        Some((
            NicRxToken { rx: &mut self.rx, shared: &self.shared, slot, frame },
            NicTxToken { tx: &mut self.tx, shared: &self.shared, slot: tx_slot },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<Self::TxToken<'_>> {
        let slot = self.tx.ready(&self.shared)?;
        Some(NicTxToken { tx: &mut self.tx, shared: &self.shared, slot: Some(slot) })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME_LEN;
        caps.max_burst_size = Some(QUEUE);
        caps
    }
}

/// A received frame; consuming it re-posts its buffer to the device.
pub struct NicRxToken<'a, R: RawNic, const QUEUE: usize> {
    rx: &'a mut RxSide<QUEUE>,
    shared: &'a Shared<R>,
    slot: usize,
    frame: Range<usize>,
}

impl<R: RawNic, const QUEUE: usize> phy::RxToken for NicRxToken<'_, R, QUEUE> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let result = f(&self.rx.buffers[self.slot][self.frame]);
        // Dropped unconsumed, the buffer is posted by the next `receive`.
        self.rx.post(self.shared, self.slot);
        result
    }
}

/// Room for one frame. From `transmit` it always has a buffer; from
/// `receive` (which DriverCore never transmits with) only when one was free,
/// and otherwise its frame is dropped and counted.
pub struct NicTxToken<'a, R: RawNic, const QUEUE: usize> {
    tx: &'a mut TxSide<QUEUE>,
    shared: &'a Shared<R>,
    slot: Option<usize>,
}

impl<R: RawNic, const QUEUE: usize> phy::TxToken for NicTxToken<'_, R, QUEUE> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let (tx, shared) = (self.tx, self.shared);
        let header = match self.slot {
            Some(slot) => {
                let filled = shared.raw.borrow().fill_buffer_header(&mut tx.buffers[slot][..]);
                match filled {
                    Ok(header) if header.checked_add(len).is_some_and(|end| end <= BUFFER_LEN) => {
                        Some((slot, header))
                    }
                    Ok(_) => None,
                    Err(_) => {
                        shared.count(|s| &mut s.device_errors);
                        None
                    }
                }
            }
            None => None,
        };
        let Some((slot, header)) = header else {
            shared.count(|s| &mut s.tx_dropped);
            // f must run on `len` bytes; past the MTU it gets what there is.
            let discard = &mut tx.buffers[QUEUE];
            return f(&mut discard[..len.min(BUFFER_LEN)]);
        };
        let result = f(&mut tx.buffers[slot][header..header + len]);
        tx.submit(shared, slot, header + len);
        result
    }
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
