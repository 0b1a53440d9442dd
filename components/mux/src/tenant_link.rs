use edgeos_ring::{Buf, BufferMemory, Consumer, Producer, Region};

/// Counters the multiplexer keeps per tenant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantStats {
    /// Frames copied into the tenant's rx ring.
    pub delivered: u64,
    /// Frames dropped because the tenant offered no (big enough) buffer:
    /// its own loss, nobody else's.
    pub dropped_full: u64,
    /// Frames the tenant sent that passed validation.
    pub sent: u64,
    /// Frames the tenant sent that were refused (spoofed, malformed).
    pub rejected: u64,
    /// Descriptors outside the tenant's regions, or ring index violations.
    pub misbehaviour: u64,
    /// Longest time (ns) from a frame delivered to the tenant while it had
    /// none pending to its next frame sent: how long the tenant kept a
    /// frame waiting, scheduling included.
    pub turnaround_max_ns: u64,
}

impl TenantStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &TenantStats) {
        self.delivered += other.delivered;
        self.dropped_full += other.dropped_full;
        self.sent += other.sent;
        self.rejected += other.rejected;
        self.misbehaviour += other.misbehaviour;
        self.turnaround_max_ns = self.turnaround_max_ns.max(other.turnaround_max_ns);
    }
}

/// The multiplexer's end of one tenant's rings: the tenant *provides* rx
/// buffers and tx frames in its own two regions; the multiplexer copies
/// across the boundary in both directions (sDDF's copier), so the tenant
/// never sees a driver buffer nor another tenant's.
#[derive(Debug)]
pub struct TenantLink {
    rx_region: Region,
    tx_region: Region,
    stats: TenantStats,
    /// When the oldest frame the tenant has not answered yet was delivered.
    waiting_since: Option<u64>,
}

/// Why a frame could not be delivered to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverError {
    /// No buffer offered, or the ring to the tenant is full.
    Full,
    /// The tenant broke the ring protocol; it should be quarantined.
    Misbehaving,
}

impl TenantLink {
    /// A link over a tenant's rx and tx regions, cut into `buf_size` slots.
    pub fn new(rx_len: usize, tx_len: usize, buf_size: usize) -> Self {
        Self {
            rx_region: Region::new(rx_len, buf_size),
            tx_region: Region::new(tx_len, buf_size),
            stats: TenantStats::default(),
            waiting_since: None,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TenantStats {
        self.stats
    }

    /// Copies `frame` into the next buffer the tenant offered and queues it
    /// (unpublished: the caller commits and notifies once per batch).
    pub fn deliver<M: BufferMemory + ?Sized>(
        &mut self,
        frame: &[u8],
        empty: &mut impl Consumer,
        filled: &mut impl Producer,
        mem: &mut M,
    ) -> Result<(), DeliverError> {
        let buf = match empty.dequeue() {
            Ok(Some(buf)) => buf,
            Ok(None) => {
                self.stats.dropped_full += 1;
                return Err(DeliverError::Full);
            }
            Err(_) => return Err(self.misbehaved()),
        };
        let range = match self.rx_region.check(&buf) {
            Ok(range) => range,
            // A tenant that offers a buffer outside its region loses it.
            Err(_) => return Err(self.misbehaved()),
        };
        if frame.len() > range.len() {
            // Too small a buffer: hand it back unused and drop the frame.
            let _ = filled.enqueue(Buf { len: 0, ..buf });
            self.stats.dropped_full += 1;
            return Err(DeliverError::Full);
        }
        mem.write_at(range.start, frame);
        match filled.enqueue(Buf { len: frame.len(), ..buf }) {
            Ok(Ok(())) => {
                self.stats.delivered += 1;
                Ok(())
            }
            Ok(Err(_)) => {
                self.stats.dropped_full += 1;
                Err(DeliverError::Full)
            }
            Err(_) => Err(self.misbehaved()),
        }
    }

    /// Takes the next frame the tenant wants sent, copying it into `scratch`
    /// and returning its descriptor to the tenant at once (the copy is ours).
    /// `Ok(None)` when there is nothing to send.
    pub fn next_outgoing<'s, M: BufferMemory + ?Sized>(
        &mut self,
        outgoing: &mut impl Consumer,
        done: &mut impl Producer,
        mem: &M,
        scratch: &'s mut [u8],
    ) -> Result<Option<&'s [u8]>, DeliverError> {
        loop {
            let buf = match outgoing.dequeue() {
                Ok(Some(buf)) => buf,
                Ok(None) => return Ok(None),
                Err(_) => return Err(self.misbehaved()),
            };
            let Ok(range) = self.tx_region.check(&buf) else {
                self.stats.misbehaviour += 1;
                continue;
            };
            let len = range.len().min(scratch.len());
            mem.read_at(range.start, &mut scratch[..len]);
            if !matches!(done.enqueue(buf), Ok(Ok(()))) {
                return Err(self.misbehaved());
            }
            return Ok(Some(&scratch[..len]));
        }
    }

    /// A frame was delivered at `now` (ns): the tenant's clock starts, unless
    /// it already runs for an earlier frame.
    pub fn started_waiting(&mut self, now: u64) {
        self.waiting_since.get_or_insert(now);
    }

    /// The tenant sent a frame at `now` (ns): its clock stops.
    pub fn answered(&mut self, now: u64) {
        if let Some(since) = self.waiting_since.take() {
            self.stats.turnaround_max_ns = self.stats.turnaround_max_ns.max(now.saturating_sub(since));
        }
    }

    /// Forgets a pending clock (the tenant was torn down).
    pub fn stop_waiting(&mut self) {
        self.waiting_since = None;
    }

    /// Records the verdict on a frame from [`next_outgoing`](Self::next_outgoing).
    pub fn record_sent(&mut self, accepted: bool) {
        if accepted {
            self.stats.sent += 1;
        } else {
            self.stats.rejected += 1;
        }
    }

    fn misbehaved(&mut self) -> DeliverError {
        self.stats.misbehaviour += 1;
        DeliverError::Misbehaving
    }
}
