use edgeos_ring::signal::ready_to_sleep;
use edgeos_ring::{BufferMemory, Buf, Consumer, Producer, Region};
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;

use crate::{MAX_FRAME_LEN, MIN_FRAME_LEN};

/// Counters the driver keeps about its traffic and its peer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DriverStats {
    /// Frames received from the NIC and handed to the multiplexer.
    pub rx_frames: u64,
    /// Frames received that did not fit the buffer and were cut off.
    pub rx_truncated: u64,
    /// Frames transmitted.
    pub tx_frames: u64,
    /// Descriptors refused because of their address, length or alignment.
    pub bad_descriptors: u64,
    /// Times the multiplexer moved ring indices inconsistently.
    pub ring_errors: u64,
}

/// What one pass moved, and whether the multiplexer must be notified: it
/// is only when something was published on a ring whose consumer asked to
/// be woken (`edgeos_ring::signal`), at most once per batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Descriptors returned on the rx used ring.
    pub rx: usize,
    /// Descriptors returned on the tx used ring.
    pub tx: usize,
    /// The multiplexer asked to be woken and something was published.
    pub notify: bool,
}

/// The driver's state between events: the region geometry, at most one
/// descriptor taken but not yet usable, and the counters.
#[derive(Debug)]
pub struct DriverCore {
    region: Region,
    held_rx: Option<Buf>,
    held_tx: Option<(Buf, core::ops::Range<usize>)>,
    stats: DriverStats,
}

impl DriverCore {
    /// A driver whose buffers live in a region of this geometry.
    pub fn new(region: Region) -> Self {
        Self { region, held_rx: None, held_tx: None, stats: DriverStats::default() }
    }

    /// The counters so far.
    pub fn stats(&self) -> DriverStats {
        self.stats
    }

    /// The signalling protocol's consumer step for the driver: it waits for
    /// rx buffers only when it has none left to receive into (offered
    /// buffers alone are no work), and for tx frames only while the NIC can
    /// take one. A frame held because the NIC is full waits for the device's
    /// interrupt (a completion frees a buffer), not for the multiplexer:
    /// looking at the tx ring again would only spin. `true`: sleep.
    pub fn ready_to_sleep(&self, rx_free: &mut impl Consumer, tx_free: &mut impl Consumer) -> bool {
        let starved = self.held_rx.is_none() && !rx_free.has_pending();
        let nic_full = self.held_tx.is_some();
        if nic_full {
            // A standing request would only bring useless wake-ups.
            tx_free.cancel_wake();
        }
        match (starved, nic_full) {
            (true, false) => ready_to_sleep(&mut [rx_free, tx_free]),
            (true, true) => ready_to_sleep(&mut [rx_free]),
            (false, false) => ready_to_sleep(&mut [tx_free]),
            (false, true) => true,
        }
    }

    /// Rx buffers taken off the free ring and kept for the next frame (0 or 1).
    pub fn rx_buffers_held(&self) -> usize {
        usize::from(self.held_rx.is_some())
    }

    /// Moves everything that can move: received frames into provided rx
    /// buffers, and provided tx frames onto the wire. Publishes each used ring
    /// once at the end and reports what moved.
    #[allow(clippy::too_many_arguments)]
    pub fn service<D: Device, M: BufferMemory + ?Sized>(
        &mut self,
        now: Instant,
        dev: &mut D,
        mem: &mut M,
        rx_free: &mut impl Consumer,
        rx_used: &mut impl Producer,
        tx_free: &mut impl Consumer,
        tx_used: &mut impl Producer,
    ) -> Moved {
        let rx = self.service_rx(now, dev, mem, rx_free, rx_used);
        let tx = self.service_tx(now, dev, mem, tx_free, tx_used);
        let mut notify = false;
        if rx > 0 {
            rx_used.commit();
            notify |= rx_used.take_wake_request();
        }
        if tx > 0 {
            tx_used.commit();
            notify |= tx_used.take_wake_request();
        }
        Moved { rx, tx, notify }
    }

    fn service_rx<D: Device, M: BufferMemory + ?Sized>(
        &mut self,
        now: Instant,
        dev: &mut D,
        mem: &mut M,
        free: &mut impl Consumer,
        used: &mut impl Producer,
    ) -> usize {
        let mut returned = 0;
        loop {
            let buf = match self.held_rx.take() {
                Some(buf) => buf,
                None => match free.dequeue() {
                    Ok(Some(buf)) => buf,
                    Ok(None) => return returned,
                    Err(_) => {
                        self.stats.ring_errors += 1;
                        return returned;
                    }
                },
            };
            let range = match self.region.check(&buf) {
                Ok(range) => range,
                Err(_) => {
                    self.stats.bad_descriptors += 1;
                    returned += self.hand_back(used, Buf { len: 0, ..buf });
                    continue;
                }
            };
            let Some((rx, _)) = dev.receive(now) else {
                self.held_rx = Some(buf);
                return returned;
            };
            let len = rx.consume(|frame| {
                let len = frame.len().min(range.len());
                mem.write_at(range.start, &frame[..len]);
                if len < frame.len() {
                    self.stats.rx_truncated += 1;
                }
                len
            });
            self.stats.rx_frames += 1;
            returned += self.hand_back(used, Buf { len, ..buf });
        }
    }

    fn service_tx<D: Device, M: BufferMemory + ?Sized>(
        &mut self,
        now: Instant,
        dev: &mut D,
        mem: &M,
        free: &mut impl Consumer,
        used: &mut impl Producer,
    ) -> usize {
        let mut returned = 0;
        loop {
            let (buf, range) = match self.held_tx.take() {
                Some(held) => held,
                None => match free.dequeue() {
                    Ok(Some(buf)) => match self.region.check(&buf) {
                        Ok(range) if (MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&buf.len) => {
                            (buf, range)
                        }
                        _ => {
                            self.stats.bad_descriptors += 1;
                            returned += self.hand_back(used, buf);
                            continue;
                        }
                    },
                    Ok(None) => return returned,
                    Err(_) => {
                        self.stats.ring_errors += 1;
                        return returned;
                    }
                },
            };
            let Some(tx) = dev.transmit(now) else {
                self.held_tx = Some((buf, range));
                return returned;
            };
            tx.consume(range.len(), |frame| mem.read_at(range.start, frame));
            self.stats.tx_frames += 1;
            returned += self.hand_back(used, buf);
        }
    }

    /// Returns a descriptor to the multiplexer. The used ring has room for
    /// every descriptor the multiplexer can have lent us, so a full ring or a
    /// ring error means the peer broke the protocol: count it and drop.
    fn hand_back(&mut self, used: &mut impl Producer, buf: Buf) -> usize {
        match used.enqueue(buf) {
            Ok(Ok(())) => 1,
            Ok(Err(_)) | Err(_) => {
                self.stats.ring_errors += 1;
                0
            }
        }
    }
}

#[cfg(test)]
mod tests;
