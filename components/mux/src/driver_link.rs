use edgeos_net_driver::protocol::ConnectReply;
use edgeos_ring::{Buf, BufferMemory, BufferPool, Consumer, Producer, Region};

/// Counters the multiplexer keeps about its link to the driver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames received from the driver.
    pub rx_frames: u64,
    /// Frames handed to the driver for transmission and returned by it.
    pub tx_completed: u64,
    /// Descriptors the driver returned that were never lent or lie outside the region.
    pub bad_returns: u64,
    /// Times the driver moved ring indices inconsistently.
    pub ring_errors: u64,
}

/// Why a frame could not be handed to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Every buffer is in flight, or the tx ring is full: the frame is dropped.
    NoBuffer,
    /// Longer than a buffer.
    TooLong,
}

/// Why the driver's answer to `Connect` does not match the rings' state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The driver sees a different number of offered rx buffers than we lent.
    RxMismatch {
        /// Buffers we placed on the rx free ring.
        lent: usize,
        /// Buffers the driver reports seeing there.
        seen: u32,
    },
}

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RxMismatch { lent, seen } => {
                write!(f, "lent {lent} rx buffers but the driver sees {seen}")
            }
        }
    }
}

/// The multiplexer's end of the driver rings: a pool of `N` buffers over the
/// shared region, of which up to `rx_target` are kept offered for reception.
///
/// The driver hands every descriptor back on a used ring, which it cannot
/// wait on, so the protocol needs room there for every descriptor lent:
/// tx buffers in flight never exceed a ring's capacity. (A pool larger than
/// a ring once lent 768 tx buffers against 511-entry rings; the driver
/// had to drop 257 returns, and those buffers never came back.)
#[derive(Debug)]
pub struct DriverLink<const N: usize> {
    pool: BufferPool<N>,
    rx_target: usize,
    rx_lent: usize,
    tx_limit: usize,
    tx_in_flight: usize,
    stats: LinkStats,
}

impl<const N: usize> DriverLink<N> {
    /// A link over `region` that keeps `rx_target` buffers offered to the
    /// driver, over rings that hold `ring_capacity` descriptors each.
    pub fn new(region: Region, rx_target: usize, ring_capacity: usize) -> Self {
        Self {
            pool: BufferPool::new(region),
            rx_target: rx_target.min(ring_capacity),
            rx_lent: 0,
            tx_limit: ring_capacity,
            tx_in_flight: 0,
            stats: LinkStats::default(),
        }
    }

    /// Whether [`send`](Self::send) would find a buffer: below the tx limit
    /// and with one free in the pool.
    pub fn can_send(&self) -> bool {
        self.tx_in_flight < self.tx_limit && self.pool.available() > 0
    }

    /// Tx buffers lent to the driver and not yet returned.
    pub fn tx_in_flight(&self) -> usize {
        self.tx_in_flight
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Rx buffers currently lent to the driver.
    pub fn rx_lent(&self) -> usize {
        self.rx_lent
    }

    /// Buffers neither lent for rx nor in flight for tx.
    pub fn available(&self) -> usize {
        self.pool.available()
    }

    /// Tops the rx free ring up to `rx_target` buffers and publishes them.
    /// Returns how many were added (the caller notifies the driver if any).
    pub fn provide_rx(&mut self, rx_free: &mut impl Producer) -> usize {
        let mut added = 0;
        while self.rx_lent < self.rx_target {
            let Some(buf) = self.pool.take() else { break };
            match rx_free.enqueue(buf) {
                Ok(Ok(())) => {
                    self.rx_lent += 1;
                    added += 1;
                    continue;
                }
                Ok(Err(_)) => {}
                Err(_) => self.stats.ring_errors += 1,
            }
            // Not offered: the buffer stays ours. It was just taken, so it is lent.
            let _ = self.pool.give_back(&buf);
            break;
        }
        if added > 0 {
            rx_free.commit();
        }
        added
    }

    /// Checks the driver's view of the rings against ours.
    pub fn check_connect(&self, reply: &ConnectReply) -> Result<(), ConnectError> {
        if reply.rx_offered as usize != self.rx_lent {
            return Err(ConnectError::RxMismatch { lent: self.rx_lent, seen: reply.rx_offered });
        }
        Ok(())
    }

    /// Takes the next frame the driver returned on the rx used ring, copies
    /// it into `scratch`, and takes its buffer back into the pool. Returns the
    /// frame's length, `None` when the ring is empty. Returns that are not
    /// buffers we lent are counted and skipped.
    pub fn receive_one<M: BufferMemory + ?Sized>(
        &mut self,
        rx_used: &mut impl Consumer,
        mem: &M,
        scratch: &mut [u8],
    ) -> Option<usize> {
        loop {
            let buf = match rx_used.dequeue() {
                Ok(Some(buf)) => buf,
                Ok(None) => return None,
                Err(_) => {
                    self.stats.ring_errors += 1;
                    return None;
                }
            };
            if self.pool.give_back(&buf).is_err() {
                self.stats.bad_returns += 1;
                continue;
            }
            self.rx_lent -= 1;
            // give_back validated the descriptor against the region.
            let len = buf.len.min(scratch.len());
            if len > 0 {
                mem.read_at(buf.offset, &mut scratch[..len]);
                self.stats.rx_frames += 1;
                return Some(len);
            }
        }
    }

    /// Takes every frame the driver returned, passing each to `deliver`.
    /// Returns the number of frames delivered.
    pub fn receive<M: BufferMemory + ?Sized>(
        &mut self,
        rx_used: &mut impl Consumer,
        mem: &M,
        scratch: &mut [u8],
        mut deliver: impl FnMut(&[u8]),
    ) -> usize {
        let mut frames = 0;
        while let Some(len) = self.receive_one(rx_used, mem, scratch) {
            deliver(&scratch[..len]);
            frames += 1;
        }
        frames
    }

    /// Copies `frame` into a free buffer and queues it on the tx free ring
    /// (unpublished: the caller commits and notifies once per batch).
    pub fn send<M: BufferMemory + ?Sized>(
        &mut self,
        frame: &[u8],
        tx_free: &mut impl Producer,
        mem: &mut M,
    ) -> Result<(), SendError> {
        if frame.len() > self.pool.region().buf_size() {
            return Err(SendError::TooLong);
        }
        if self.tx_in_flight >= self.tx_limit {
            return Err(SendError::NoBuffer);
        }
        let buf = self.pool.take().ok_or(SendError::NoBuffer)?;
        mem.write_at(buf.offset, frame);
        match tx_free.enqueue(Buf { len: frame.len(), ..buf }) {
            Ok(Ok(())) => {
                self.tx_in_flight += 1;
                Ok(())
            }
            outcome => {
                let _ = self.pool.give_back(&buf);
                if outcome.is_err() {
                    self.stats.ring_errors += 1;
                }
                Err(SendError::NoBuffer)
            }
        }
    }

    /// Takes back the tx buffers the driver finished with.
    pub fn reclaim_tx(&mut self, tx_used: &mut impl Consumer) -> usize {
        let mut reclaimed = 0;
        loop {
            match tx_used.dequeue() {
                Ok(Some(buf)) => {
                    if self.pool.give_back(&buf).is_ok() {
                        self.stats.tx_completed += 1;
                        self.tx_in_flight = self.tx_in_flight.saturating_sub(1);
                        reclaimed += 1;
                    } else {
                        self.stats.bad_returns += 1;
                    }
                }
                Ok(None) => return reclaimed,
                Err(_) => {
                    self.stats.ring_errors += 1;
                    return reclaimed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use edgeos_ring::testing::MemQueue;
    use edgeos_ring::Buf;

    use super::*;

    const BUF: usize = 2048;

    fn link() -> DriverLink<8> {
        DriverLink::new(Region::new(8 * BUF, BUF), 4, 15)
    }

    #[test]
    fn provides_up_to_the_target_and_tops_up_after_reception() {
        let mut link = link();
        let mut free = MemQueue::<16>::new();
        assert_eq!(link.provide_rx(&mut free), 4);
        assert_eq!(link.provide_rx(&mut free), 0);
        assert_eq!((free.len(), link.rx_lent(), link.available()), (4, 4, 4));

        // The driver fills the first buffer with a frame and returns it.
        let mut mem = vec![0u8; 8 * BUF];
        let mut first = free.dequeue().unwrap().unwrap();
        mem[first.offset..first.offset + 3].copy_from_slice(b"abc");
        first.len = 3;
        let mut used = MemQueue::<16>::new();
        used.enqueue(first).unwrap().unwrap();
        used.commit();

        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut scratch = [0u8; BUF];
        assert_eq!(link.receive(&mut used, &mem[..], &mut scratch, |f| seen.push(f.to_vec())), 1);
        assert_eq!(seen, [b"abc".to_vec()]);
        assert_eq!(link.rx_lent(), 3);
        assert_eq!(link.provide_rx(&mut free), 1);
        assert_eq!(link.stats().rx_frames, 1);
    }

    #[test]
    fn forged_and_duplicate_returns_are_counted_not_delivered() {
        let mut link = link();
        let mut free = MemQueue::<16>::new();
        link.provide_rx(&mut free);
        let lent = free.dequeue().unwrap().unwrap();
        let mut used = MemQueue::<16>::new();
        for buf in [
            Buf { len: 60, ..lent },
            Buf { len: 60, ..lent },                           // returned twice
            Buf { offset: 7 * BUF, len: 60, cookie: 7 },       // never lent
            Buf { offset: 1 << 50, len: 60, cookie: 0 },       // outside the region
        ] {
            used.enqueue(buf).unwrap().unwrap();
        }
        used.commit();
        let mem = vec![0u8; 8 * BUF];
        let mut scratch = [0u8; BUF];
        let mut frames = 0;
        link.receive(&mut used, &mem[..], &mut scratch, |_| frames += 1);
        assert_eq!(frames, 1);
        assert_eq!(link.stats().bad_returns, 3);
        assert_eq!(link.rx_lent(), 3);
    }

    #[test]
    fn a_misbehaving_ring_is_counted_and_nothing_is_lost() {
        let mut link = link();
        let mut free = MemQueue::<16>::new();
        free.misbehave();
        assert_eq!(link.provide_rx(&mut free), 0);
        assert_eq!(link.available(), 8, "the buffer that could not be offered came back");
        let mut used = MemQueue::<16>::new();
        used.misbehave();
        assert_eq!(link.reclaim_tx(&mut used), 0);
        assert!(link.stats().ring_errors >= 1);
    }

    #[test]
    fn sent_frames_carry_their_bytes_and_buffers_come_back() {
        let mut link = link();
        let mut tx_free = MemQueue::<16>::new();
        let mut mem = vec![0u8; 8 * BUF];
        link.send(b"frame!", &mut tx_free, &mut mem[..]).unwrap();
        tx_free.commit();
        let queued = tx_free.dequeue().unwrap().unwrap();
        assert_eq!(&mem[queued.offset..queued.offset + queued.len], b"frame!");
        assert_eq!(link.send(&[0; BUF + 1], &mut tx_free, &mut mem[..]), Err(SendError::TooLong));
        let mut tx_used = MemQueue::<16>::new();
        tx_used.enqueue(queued).unwrap().unwrap();
        tx_used.commit();
        assert_eq!(link.reclaim_tx(&mut tx_used), 1);
        assert_eq!(link.available(), 8);
    }

    #[test]
    fn sending_with_every_buffer_in_flight_drops_the_frame() {
        let mut link = DriverLink::<2>::new(Region::new(2 * BUF, BUF), 0, 15);
        let mut tx_free = MemQueue::<16>::new();
        let mut mem = vec![0u8; 2 * BUF];
        link.send(b"a", &mut tx_free, &mut mem[..]).unwrap();
        link.send(b"b", &mut tx_free, &mut mem[..]).unwrap();
        assert_eq!(link.send(b"c", &mut tx_free, &mut mem[..]), Err(SendError::NoBuffer));
    }

    #[test]
    fn tx_buffers_in_flight_never_exceed_what_the_used_ring_holds() {
        // Eight buffers, none for rx, rings of three: the fourth frame
        // waits for a return even though the pool has buffers left.
        let mut link = DriverLink::<8>::new(Region::new(8 * BUF, BUF), 0, 3);
        let mut tx_free = MemQueue::<16>::new();
        let mut mem = vec![0u8; 8 * BUF];
        for frame in [b"a", b"b", b"c"] {
            link.send(frame, &mut tx_free, &mut mem[..]).unwrap();
        }
        assert_eq!(link.send(b"d", &mut tx_free, &mut mem[..]), Err(SendError::NoBuffer));
        assert_eq!((link.tx_in_flight(), link.available()), (3, 5));
        // The driver sends one and returns it: one more may go.
        tx_free.commit();
        let mut tx_used = MemQueue::<16>::new();
        tx_used.enqueue(tx_free.dequeue().unwrap().unwrap()).unwrap().unwrap();
        tx_used.commit();
        assert_eq!(link.reclaim_tx(&mut tx_used), 1);
        link.send(b"d", &mut tx_free, &mut mem[..]).unwrap();
        assert_eq!(link.send(b"e", &mut tx_free, &mut mem[..]), Err(SendError::NoBuffer));
    }

    #[test]
    fn the_rx_target_is_capped_by_the_ring() {
        let mut link = DriverLink::<8>::new(Region::new(8 * BUF, BUF), 8, 3);
        assert_eq!(link.provide_rx(&mut MemQueue::<16>::new()), 3);
    }

    #[test]
    fn connect_check_compares_the_driver_view() {
        let mut link = link();
        link.provide_rx(&mut MemQueue::<16>::new());
        let mac = [2, 0, 0, 0, 0, 1];
        assert_eq!(link.check_connect(&ConnectReply { mac, rx_offered: 4 }), Ok(()));
        assert_eq!(
            link.check_connect(&ConnectReply { mac, rx_offered: 3 }),
            Err(ConnectError::RxMismatch { lent: 4, seen: 3 })
        );
    }
}
