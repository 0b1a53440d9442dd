//! A Click FWP's serving step, over any smoltcp device: every frame the
//! device has goes through the graph, what the graph transmits goes back
//! out, and the Queues drain while the device can send.
//!
//! ```text
//!   device rx ─▶ FlowEnd::received ─▶ scratch (HEADROOM in front) ─▶ Graph::push ─┬▶ Transmit ─▶ FlowEnd::transmitted ─▶ device tx
//!                                                                                └▶ Queued ─▶ Graph::pull, while the device can send ─▶ …
//! ```
//!
//! A received frame is taken only with room to send one (smoltcp hands out
//! an rx token with a tx token), so a frame the graph transmits at once is
//! never held back; only a Queue holds frames, and a per-flow FWP exits
//! only once every Queue is empty ([`Middlebox::flow_ended`]).

use core::ops::Range;

use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;

use crate::{
    ConfigError, FlowEnd, Graph, Packet, Summary, Verdict, DEFAULT_QUEUE_SLOTS, MAX_FRAME_LEN,
};

/// Bytes in front of each frame in the scratch buffer, for an `Unstrip`
/// past the frame's start. No element in the subset writes a header there,
/// so such a configuration only ever sends zeros in front (the headroom is
/// cleared per frame, so nothing of an earlier frame leaks); 32 lets one
/// run with an Ethernet header and a VLAN tag's worth to spare.
pub const HEADROOM: usize = 32;

/// A configured graph with what serving it needs: the scratch buffer frames
/// are copied into, and the flow's end. About 42 KiB with the default
/// queue slots: keep it in a `static` (its `new` is a `const fn`), never on
/// a PD's stack.
pub struct Middlebox<const QUEUE_SLOTS: usize = DEFAULT_QUEUE_SLOTS> {
    graph: Graph<QUEUE_SLOTS>,
    flow: FlowEnd,
    scratch: [u8; HEADROOM + MAX_FRAME_LEN],
    oversized: u64,
}

impl<const QUEUE_SLOTS: usize> Middlebox<QUEUE_SLOTS> {
    /// An unconfigured middlebox: its graph drops every frame.
    pub const fn new() -> Self {
        Self {
            graph: Graph::new(),
            flow: FlowEnd::new(),
            scratch: [0; HEADROOM + MAX_FRAME_LEN],
            oversized: 0,
        }
    }

    /// Builds the graph from `text` ([`Graph::configure`]); every count
    /// and the flow's state start afresh.
    pub fn configure(&mut self, text: &str) -> Result<Summary, ConfigError> {
        self.flow = FlowEnd::new();
        self.oversized = 0;
        self.graph.configure(text)
    }

    /// Serves every frame `dev` has received, then drains the Queues while
    /// `dev` can send. Returns when `dev` has no frame or no room to send.
    pub fn serve<D: Device>(&mut self, dev: &mut D, now: Instant) {
        while let Some((rx, tx)) = dev.receive(now) {
            if let Some(sent) = rx.consume(|frame| self.push(frame)) {
                self.send(tx, sent);
            }
        }
        // A Queue in a loop queues again what it pulls: each packet queued
        // now is pulled at most once per call, so this returns.
        for _ in 0..self.graph.queued() {
            let Some(tx) = dev.transmit(now) else { return };
            self.scratch[..HEADROOM].fill(0);
            let Some((pkt, verdict)) = self.graph.pull(&mut self.scratch, HEADROOM) else {
                return;
            };
            if let Some(sent) = transmitted(&pkt, verdict) {
                self.send(tx, sent);
            }
        }
    }

    /// Whether a per-flow FWP may exit: its flow ended ([`FlowEnd`]) and no
    /// frame of it waits in a Queue (what it transmitted is on the device).
    pub fn flow_ended(&self) -> bool {
        self.flow.ended() && self.graph.queued() == 0
    }

    /// The graph, for its counters ([`Graph::stats`], [`Graph::drops`]).
    pub fn graph(&self) -> &Graph<QUEUE_SLOTS> {
        &self.graph
    }

    /// Frames longer than [`MAX_FRAME_LEN`], never sent: received ones the
    /// scratch buffer cannot hold, and ones an `Unstrip` lengthened past it
    /// (a device would cut them short).
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    /// Pushes `frame` through the graph; where in the scratch buffer the
    /// frame to send is, if the graph transmits one.
    fn push(&mut self, frame: &[u8]) -> Option<Range<usize>> {
        self.flow.received(frame);
        let Some(room) = self.scratch.get_mut(HEADROOM..HEADROOM + frame.len()) else {
            self.oversized += 1;
            return None;
        };
        room.copy_from_slice(frame);
        self.scratch[..HEADROOM].fill(0);
        let mut pkt = Packet::new(&mut self.scratch, HEADROOM, frame.len())?;
        let verdict = self.graph.push(&mut pkt);
        transmitted(&pkt, verdict)
    }

    /// Sends the scratch buffer's `range` with `tx`.
    fn send<T: TxToken>(&mut self, tx: T, range: Range<usize>) {
        let Some(frame) = self.scratch.get(range).filter(|f| f.len() <= MAX_FRAME_LEN) else {
            self.oversized += 1;
            return;
        };
        self.flow.transmitted(frame);
        tx.consume(frame.len(), |buf| {
            let len = buf.len().min(frame.len());
            buf[..len].copy_from_slice(&frame[..len]);
        });
    }
}

impl<const QUEUE_SLOTS: usize> Default for Middlebox<QUEUE_SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

/// Where `pkt` lies in its buffer, when `verdict` says to send it.
fn transmitted(pkt: &Packet<'_>, verdict: Verdict) -> Option<Range<usize>> {
    matches!(verdict, Verdict::Transmit { .. }).then(|| pkt.offset()..pkt.offset() + pkt.len())
}
