//! The element graph and its push engine.
//!
//! A packet enters at the `FromRing` and is handed from element to element
//! along push connections until it reaches a `ToRing` (transmit), a `Queue`
//! (held for [`Graph::pull`]), a `Discard`, or is dropped. No element
//! duplicates a packet, so each push has exactly one [`Verdict`]. The walk
//! is a loop, not recursion, and configuration rejects push cycles, so it
//! takes at most one step per element.

use heapless::Vec;

use crate::class::Class;
use crate::elements::{classifier, ipfilter, rewriter};
use crate::elements::{dec_ip_ttl, CheckIpHeader, Classifier, IpFilter, IpRewriter, MapperId};
use crate::error::ConfigError;
use crate::verdict::{DropReason, ElementId, ElementStats, Step, Verdict};
use crate::{Name, Packet, DEFAULT_QUEUE_SLOTS, MAX_ELEMENTS, MAX_FRAME_LEN, MAX_PORTS};

/// An element graph built from a Click configuration.
///
/// `QUEUE_SLOTS` is how many packets all of the graph's Queues hold
/// together; each slot is [`MAX_FRAME_LEN`] bytes inside the graph. Build
/// it with [`Graph::new`] (a `const fn`, so it can sit in a static or in a
/// template's state without being built on a small stack) and
/// [`Graph::configure`], which works in place.
pub struct Graph<const QUEUE_SLOTS: usize = DEFAULT_QUEUE_SLOTS> {
    pub(crate) nodes: Vec<Node, MAX_ELEMENTS>,
    pub(crate) tables: Tables,
    pub(crate) queues: QueueStore<QUEUE_SLOTS>,
    pub(crate) source: Option<u8>,
    pub(crate) connections: usize,
    drops: [u64; DropReason::COUNT],
    pull_cursor: usize,
}

/// The graph-wide tables elements keep their arguments and state in.
pub(crate) struct Tables {
    pub classifier: classifier::Tables,
    pub ipfilter: ipfilter::Tables,
    pub rewriter: rewriter::Tables,
}

/// Where a push connection leads: an element and one of its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hop {
    pub node: u8,
    pub port: u8,
}

/// An element's configuration and state.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    FromRing,
    ToRing,
    Discard,
    Counter,
    Strip(u16),
    Unstrip(u16),
    CheckIpHeader(CheckIpHeader),
    DecIpTtl,
    Classifier(Classifier),
    IpFilter(IpFilter),
    IpRewriter(IpRewriter),
    Mapper(MapperId),
    Queue(Queue),
}

/// A Queue: a ring of `capacity` slots starting at slot `first`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queue {
    pub first: u16,
    pub capacity: u16,
    pub head: u16,
    pub len: u16,
}

/// One element of the graph.
pub(crate) struct Node {
    pub name: Name,
    pub class: Class,
    pub kind: Kind,
    /// Byte offset of its declaration (for errors).
    pub at: usize,
    pub inputs: u8,
    pub outputs: u8,
    /// Outputs that must be connected (bit `n` for output `n`).
    pub required: u16,
    /// Inputs that are connected.
    pub fed: u16,
    pub out: [Option<Hop>; MAX_PORTS],
    /// Byte offset of each output's connection (for errors).
    pub out_at: [usize; MAX_PORTS],
    pub stats: ElementStats,
}

/// The Queues' packet storage.
pub(crate) struct QueueStore<const N: usize> {
    slots: [[u8; MAX_FRAME_LEN]; N],
    lens: [u16; N],
    /// IP header annotation of each queued packet, `NO_IP` when unset.
    ip: [u16; N],
    /// Slots given to Queues so far.
    pub allocated: usize,
}

const NO_IP: u16 = u16::MAX;

impl<const N: usize> QueueStore<N> {
    const fn new() -> Self {
        Self {
            slots: [[0; MAX_FRAME_LEN]; N],
            lens: [0; N],
            ip: [NO_IP; N],
            allocated: 0,
        }
    }

    /// Copies `pkt` into the next slot of `q`.
    fn push(&mut self, q: &mut Queue, pkt: &Packet<'_>) -> Result<(), DropReason> {
        if q.len >= q.capacity {
            return Err(DropReason::QueueFull);
        }
        let data = pkt.data();
        if data.len() > MAX_FRAME_LEN {
            return Err(DropReason::TooLong);
        }
        let slot = usize::from(q.first) + usize::from((q.head + q.len) % q.capacity);
        let (Some(bytes), Some(len), Some(ip)) = (
            self.slots.get_mut(slot),
            self.lens.get_mut(slot),
            self.ip.get_mut(slot),
        ) else {
            return Err(DropReason::QueueFull);
        };
        bytes[..data.len()].copy_from_slice(data);
        *len = data.len() as u16;
        *ip = pkt.ip_header_offset().map_or(NO_IP, |o| o as u16);
        q.len += 1;
        Ok(())
    }

    /// Takes the oldest packet of `q`: the slot it is in.
    fn pop(&mut self, q: &mut Queue) -> Option<usize> {
        if q.len == 0 || q.capacity == 0 {
            return None;
        }
        let slot = usize::from(q.first) + usize::from(q.head);
        q.head = (q.head + 1) % q.capacity;
        q.len -= 1;
        Some(slot)
    }

    /// A slot's bytes and IP annotation.
    fn slot(&self, slot: usize) -> (&[u8], Option<usize>) {
        let len = self.lens.get(slot).map_or(0, |&l| usize::from(l));
        let bytes = self
            .slots
            .get(slot)
            .and_then(|s| s.get(..len))
            .unwrap_or(&[]);
        let ip = self.ip.get(slot).copied().unwrap_or(NO_IP);
        (bytes, (ip != NO_IP).then_some(usize::from(ip)))
    }
}

/// What [`Graph::configure`] and [`check`](crate::check) report about a good configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Elements declared (anonymous ones included).
    pub elements: usize,
    /// Connections.
    pub connections: usize,
    /// Queue slots the Queues use.
    pub queue_slots: usize,
}

impl<const QUEUE_SLOTS: usize> Default for Graph<QUEUE_SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const QUEUE_SLOTS: usize> Graph<QUEUE_SLOTS> {
    /// An unconfigured graph: it drops every packet (`not_configured`).
    pub const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            tables: Tables {
                classifier: classifier::Tables::new(),
                ipfilter: ipfilter::Tables::new(),
                rewriter: rewriter::Tables::new(),
            },
            queues: QueueStore::new(),
            source: None,
            connections: 0,
            drops: [0; DropReason::COUNT],
            pull_cursor: 0,
        }
    }

    /// Builds the graph `text` describes, replacing any previous
    /// configuration and all state (counters, mappings, queued packets).
    /// On an error the graph is left unconfigured.
    pub fn configure(&mut self, text: &str) -> Result<Summary, ConfigError> {
        self.reset();
        let result = crate::build::build(self, text);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn reset(&mut self) {
        self.nodes.clear();
        self.tables.classifier.clear();
        self.tables.ipfilter.clear();
        self.tables.rewriter.clear();
        self.queues.allocated = 0;
        self.source = None;
        self.connections = 0;
        self.drops = [0; DropReason::COUNT];
        self.pull_cursor = 0;
    }

    /// Pushes a frame from the receive ring through the graph.
    ///
    /// On [`Verdict::Transmit`] the caller sends `pkt.data()` (elements may
    /// have stripped, unstripped, trimmed or rewritten it in place).
    pub fn push(&mut self, pkt: &mut Packet<'_>) -> Verdict {
        let Some(source) = self.source else {
            return self.dropped(None, DropReason::NotConfigured);
        };
        let Some(node) = self.nodes.get_mut(usize::from(source)) else {
            return self.dropped(None, DropReason::NotConfigured);
        };
        node.stats.packets += 1;
        node.stats.bytes += pkt.len() as u64;
        let next = node.out[0];
        self.run(next, pkt)
    }

    /// Takes the oldest packet of the next non-empty Queue (round-robin over
    /// the Queues), copies it into `buf` after `headroom` bytes, and pushes
    /// it on from the Queue's output. `None` when every Queue is empty.
    ///
    /// A packet that does not fit `buf` is dropped (`too_long`), and the
    /// returned packet is then empty.
    pub fn pull<'b>(
        &mut self,
        buf: &'b mut [u8],
        headroom: usize,
    ) -> Option<(Packet<'b>, Verdict)> {
        let n = self.nodes.len();
        let mut found = None;
        for k in 0..n {
            let i = (self.pull_cursor + k) % n;
            if let Kind::Queue(q) = &mut self.nodes[i].kind {
                if let Some(slot) = self.queues.pop(q) {
                    found = Some((i, slot));
                    break;
                }
            }
        }
        let (index, slot) = found?;
        self.pull_cursor = index + 1;
        let (bytes, ip) = self.queues.slot(slot);
        let len = bytes.len();
        if headroom.checked_add(len).is_none_or(|end| end > buf.len()) {
            let verdict = self.dropped(Some(index), DropReason::TooLong);
            return Some((Packet::whole(&mut buf[..0]), verdict));
        }
        let mut pkt = Packet::new(buf, headroom, len)?;
        pkt.data_mut().copy_from_slice(bytes);
        if let Some(ip) = ip {
            pkt.set_ip_header_offset(ip);
        }
        let next = self.nodes[index].out[0];
        let verdict = self.run(next, &mut pkt);
        Some((pkt, verdict))
    }

    fn dropped(&mut self, at: Option<usize>, reason: DropReason) -> Verdict {
        self.drops[reason.index()] += 1;
        if let Some(node) = at.and_then(|i| self.nodes.get_mut(i)) {
            node.stats.drops += 1;
        }
        Verdict::Dropped {
            at: at.map(|i| ElementId(i as u8)),
            reason,
        }
    }

    fn run(&mut self, mut hop: Option<Hop>, pkt: &mut Packet<'_>) -> Verdict {
        // Validation rejects push cycles, so a packet visits each element at
        // most once; the bound is a guard, never reached.
        for _ in 0..=MAX_ELEMENTS {
            let Some(Hop { node: index, port }) = hop else {
                return self.dropped(None, DropReason::NotConfigured);
            };
            let i = usize::from(index);
            let Graph {
                nodes,
                tables,
                queues,
                ..
            } = self;
            let Some(node) = nodes.get_mut(i) else {
                return self.dropped(None, DropReason::NotConfigured);
            };
            node.stats.packets += 1;
            node.stats.bytes += pkt.len() as u64;
            let at = ElementId(index);
            let step = match &mut node.kind {
                Kind::FromRing | Kind::Counter => Step::Out(0),
                Kind::ToRing => Step::End(Verdict::Transmit { at }),
                Kind::Discard => Step::End(Verdict::Discarded { at }),
                Kind::Strip(n) => match pkt.strip(usize::from(*n)) {
                    true => Step::Out(0),
                    false => Step::Drop(DropReason::TooShort),
                },
                Kind::Unstrip(n) => match pkt.unstrip(usize::from(*n)) {
                    true => Step::Out(0),
                    false => Step::Drop(DropReason::NoHeadroom),
                },
                Kind::CheckIpHeader(c) => c.process(pkt),
                Kind::DecIpTtl => dec_ip_ttl(pkt),
                Kind::Classifier(c) => match tables.classifier.classify(*c, pkt.data()) {
                    Some(out) => Step::Out(out),
                    None => Step::Drop(DropReason::NoMatch),
                },
                Kind::IpFilter(f) => tables.ipfilter.process(*f, pkt.ip()),
                Kind::IpRewriter(rw) => tables.rewriter.process(*rw, port, pkt.ip_mut()),
                Kind::Mapper(_) => Step::Drop(DropReason::NotConfigured),
                Kind::Queue(q) => match queues.push(q, pkt) {
                    Ok(()) => Step::End(Verdict::Queued { at }),
                    Err(reason) => Step::Drop(reason),
                },
            };
            hop = match step {
                Step::Out(p) => match node.out.get(usize::from(p)).copied().flatten() {
                    Some(next) => Some(next),
                    None => return self.dropped(Some(i), DropReason::NotConfigured),
                },
                Step::OutOr(p, reason) => match node.out.get(usize::from(p)).copied().flatten() {
                    Some(next) => Some(next),
                    None => return self.dropped(Some(i), reason),
                },
                Step::Drop(reason) => return self.dropped(Some(i), reason),
                Step::End(verdict) => return verdict,
            };
        }
        self.dropped(None, DropReason::Loop)
    }

    /// Whether a configuration is in place.
    pub fn is_configured(&self) -> bool {
        self.source.is_some()
    }

    /// How many elements the graph has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no elements (it is not configured).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The element called `name` (anonymous elements are `Class@N`, N
    /// counting declarations from 1).
    pub fn find(&self, name: &str) -> Option<ElementId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| ElementId(i as u8))
    }

    /// An element's name.
    pub fn name(&self, id: ElementId) -> Option<&str> {
        self.nodes.get(id.index()).map(|n| n.name.as_str())
    }

    /// An element's class.
    pub fn class(&self, id: ElementId) -> Option<Class> {
        self.nodes.get(id.index()).map(|n| n.class)
    }

    /// An element's counters.
    pub fn stats(&self, id: ElementId) -> Option<ElementStats> {
        self.nodes.get(id.index()).map(|n| n.stats)
    }

    /// Packets dropped for `reason`, all elements together.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Packets waiting in a Queue (`None` when `id` is no Queue).
    pub fn queue_len(&self, id: ElementId) -> Option<usize> {
        match self.nodes.get(id.index())?.kind {
            Kind::Queue(q) => Some(usize::from(q.len)),
            _ => None,
        }
    }

    /// Packets waiting in all Queues.
    pub fn queued(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match n.kind {
                Kind::Queue(q) => usize::from(q.len),
                _ => 0,
            })
            .sum()
    }

    /// Flow mappings the IPRewriters hold (at most [`MAX_MAPPINGS`](crate::MAX_MAPPINGS)).
    pub fn mappings(&self) -> usize {
        self.tables.rewriter.mappings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_is_about_17_kib_plus_its_queue_slots() {
        // What a template carries in its writable image, so what each FWP
        // copies on a cold spawn; docs/click.md quotes these figures.
        let bare = core::mem::size_of::<Graph<0>>();
        assert!(bare <= 17 * 1024, "{bare}");
        let slot = MAX_FRAME_LEN + 4;
        assert_eq!(core::mem::size_of::<Graph<16>>(), bare + 16 * slot);
    }
}
