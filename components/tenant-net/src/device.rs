use edgeos_ring::{Buf, BufferMemory, BufferPool, Consumer, Producer, Region};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Largest Ethernet frame (without FCS) the tenant sends or accepts.
pub const MTU: usize = 1514;

/// Receive half: the ring the multiplexer fills and the ring buffers go back on.
pub struct RxSide<C, P, M> {
    /// Frames the multiplexer copied in (its used ring towards us).
    pub filled: C,
    /// Empty buffers we offer (the rx free ring).
    pub empty: P,
    /// Our rx buffer region.
    pub mem: M,
}

/// Transmit half: the ring frames go out on and the ring buffers come back on.
pub struct TxSide<C, P, M> {
    /// Frames for the multiplexer to send (the tx free ring).
    pub outgoing: P,
    /// Buffers the multiplexer finished with (the tx used ring).
    pub done: C,
    /// Our tx buffer region.
    pub mem: M,
}

/// State one direction keeps; the tokens borrow one half each, which is
/// what lets smoltcp hold an rx and a tx token at the same time.
struct Half<S, B> {
    side: S,
    buffers: B,
    scratch: [u8; MTU],
    notify: bool,
    errors: u64,
    frames: u64,
}

/// smoltcp device over a tenant's rings. `N` bounds the tx buffers.
pub struct RingDevice<C, P, M, const N: usize> {
    rx: Half<RxSide<C, P, M>, Region>,
    tx: Half<TxSide<C, P, M>, BufferPool<N>>,
}

impl<C: Consumer, P: Producer, M: BufferMemory, const N: usize> RingDevice<C, P, M, N> {
    /// A device over the two halves, with `buf_size`-byte buffers in each
    /// region. Every rx buffer is offered to the multiplexer at once.
    pub fn new(mut rx: RxSide<C, P, M>, mut tx: TxSide<C, P, M>, buf_size: usize) -> Self {
        let region = Region::new(rx.mem.len(), buf_size);
        let mut offered = 0;
        while let Some(buf) = region.slot(offered) {
            if !matches!(rx.empty.enqueue(buf), Ok(Ok(()))) {
                break;
            }
            offered += 1;
        }
        rx.empty.commit();
        // Ask for a wake before the first sleep: frames may come before we look.
        rx.filled.request_wake();
        tx.done.request_wake();
        let pool = BufferPool::new(Region::new(tx.mem.len(), buf_size));
        Self {
            rx: Half { side: rx, buffers: region, scratch: [0; MTU], notify: offered > 0, errors: 0, frames: 0 },
            tx: Half { side: tx, buffers: pool, scratch: [0; MTU], notify: false, errors: 0, frames: 0 },
        }
    }

    /// Whether the multiplexer must be notified: something was published
    /// since the last call (frames sent, buffers returned) on a ring whose
    /// consumer asked to be woken (`edgeos_ring::signal`).
    pub fn take_notify(&mut self) -> bool {
        let mut notify = false;
        if core::mem::take(&mut self.rx.notify) {
            notify |= self.rx.side.empty.take_wake_request();
        }
        if core::mem::take(&mut self.tx.notify) {
            notify |= self.tx.side.outgoing.take_wake_request();
        }
        notify
    }

    /// Before sleeping: `true` when nothing arrived meanwhile (a wake is
    /// requested on the rings we wait on), `false` to poll again.
    ///
    /// Without a free tx buffer, received frames stay queued (smoltcp may
    /// answer at once), so then only returned tx buffers can make progress
    /// and only that ring is waited on.
    pub fn ready_to_sleep(&mut self) -> bool {
        self.reclaim_tx();
        if self.tx.buffers.available() == 0 {
            return edgeos_ring::signal::ready_to_sleep(&mut [&mut self.tx.side.done]);
        }
        edgeos_ring::signal::ready_to_sleep(&mut [&mut self.rx.side.filled, &mut self.tx.side.done])
    }

    /// Refused descriptors and ring errors seen: multiplexer bugs, counted.
    pub fn errors(&self) -> u64 {
        self.rx.errors + self.tx.errors
    }

    /// Frames received and frames sent so far.
    pub fn frames(&self) -> (u64, u64) {
        (self.rx.frames, self.tx.frames)
    }

    /// Tx buffers free for new frames.
    pub fn tx_available(&self) -> usize {
        self.tx.buffers.available()
    }

    fn reclaim_tx(&mut self) {
        let tx = &mut self.tx;
        loop {
            match tx.side.done.dequeue() {
                Ok(Some(buf)) => {
                    if tx.buffers.give_back(&buf).is_err() {
                        tx.errors += 1;
                    }
                }
                Ok(None) => return,
                Err(_) => {
                    tx.errors += 1;
                    return;
                }
            }
        }
    }

    fn next_rx(&mut self) -> Option<Buf> {
        let rx = &mut self.rx;
        loop {
            match rx.side.filled.dequeue() {
                Ok(Some(buf)) => match rx.buffers.check(&buf) {
                    Ok(range) if range.len() <= MTU => return Some(buf),
                    _ => rx.errors += 1,
                },
                Ok(None) => return None,
                Err(_) => {
                    rx.errors += 1;
                    return None;
                }
            }
        }
    }
}

/// A received frame, copied out of its rx buffer, which goes back to the
/// multiplexer when the token is consumed.
pub struct RxToken<'a, C, P, M> {
    half: &'a mut Half<RxSide<C, P, M>, Region>,
    buf: Buf,
}

impl<C: Consumer, P: Producer, M: BufferMemory> phy::RxToken for RxToken<'_, C, P, M> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let half = self.half;
        let frame = &mut half.scratch[..self.buf.len];
        half.side.mem.read_at(self.buf.offset, frame);
        let result = f(frame);
        half.frames += 1;
        let empty = Buf { len: half.buffers.buf_size(), ..self.buf };
        // The free ring has room for every rx buffer we own.
        if !matches!(half.side.empty.enqueue(empty), Ok(Ok(()))) {
            half.errors += 1;
        }
        half.side.empty.commit();
        half.notify = true;
        result
    }
}

/// Room for one outgoing frame; only handed out while a tx buffer is free.
pub struct TxToken<'a, C, P, M, const N: usize> {
    half: &'a mut Half<TxSide<C, P, M>, BufferPool<N>>,
}

impl<C: Consumer, P: Producer, M: BufferMemory, const N: usize> phy::TxToken
    for TxToken<'_, C, P, M, N>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let half = self.half;
        let len = len.min(MTU);
        let result = f(&mut half.scratch[..len]);
        let Some(buf) = half.buffers.take() else {
            half.errors += 1;
            return result;
        };
        half.side.mem.write_at(buf.offset, &half.scratch[..len]);
        match half.side.outgoing.enqueue(Buf { len, ..buf }) {
            Ok(Ok(())) => {
                half.side.outgoing.commit();
                half.notify = true;
                half.frames += 1;
            }
            Ok(Err(_)) | Err(_) => {
                let _ = half.buffers.give_back(&buf);
                half.errors += 1;
            }
        }
        result
    }
}

impl<C: Consumer, P: Producer, M: BufferMemory, const N: usize> phy::Device
    for RingDevice<C, P, M, N>
{
    type RxToken<'a>
        = RxToken<'a, C, P, M>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, C, P, M, N>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.reclaim_tx();
        // smoltcp may answer a frame at once; leave it queued until it can.
        if self.tx.buffers.available() == 0 {
            return None;
        }
        let buf = self.next_rx()?;
        Some((RxToken { half: &mut self.rx, buf }, TxToken { half: &mut self.tx }))
    }

    fn transmit(&mut self, _: Instant) -> Option<Self::TxToken<'_>> {
        self.reclaim_tx();
        (self.tx.buffers.available() > 0).then(|| TxToken { half: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

#[cfg(test)]
mod tests;
