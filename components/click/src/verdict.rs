//! What happened to a pushed packet, and why packets are dropped.

use core::fmt;

/// An element of a configured graph, numbered in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementId(pub u8);

impl ElementId {
    /// The element's index in declaration order.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a pushed (or pulled) packet ended up. No element duplicates a
/// packet, so it ends in exactly one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It reached a `ToRing`: the caller sends the packet's
    /// [`data`](crate::Packet::data) on the FWP's transmit ring.
    Transmit {
        /// The `ToRing` it reached.
        at: ElementId,
    },
    /// A `Queue` copied it; [`Graph::pull`](crate::Graph::pull) takes it out.
    Queued {
        /// The Queue.
        at: ElementId,
    },
    /// A `Discard` took it (the configuration's own choice, not an error).
    Discarded {
        /// The Discard.
        at: ElementId,
    },
    /// An element dropped it; counted per element and per reason.
    Dropped {
        /// The element, or `None` when the graph is not configured.
        at: Option<ElementId>,
        /// Why.
        reason: DropReason,
    },
}

/// Why an element dropped a packet. Every drop is counted by reason
/// ([`Graph::drops`](crate::Graph::drops)) and by element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The graph has no configuration (or its last `configure` failed).
    NotConfigured,
    /// No Classifier pattern or IPFilter rule matched.
    NoMatch,
    /// An IPFilter `deny`/`drop` rule matched.
    Denied,
    /// `Strip(n)` of a packet shorter than `n` bytes.
    TooShort,
    /// `Unstrip(n)` with less than `n` bytes of headroom.
    NoHeadroom,
    /// No valid IPv4 header where the element looks for it (too short,
    /// version not 4, header length under 20 or past the total length,
    /// total length past the packet).
    BadIpHeader,
    /// A wrong IPv4 header checksum (CheckIPHeader).
    BadIpChecksum,
    /// A broadcast or multicast IPv4 source address (CheckIPHeader).
    BadSourceAddress,
    /// A TTL of 0 or 1 with no output 1 on DecIPTTL.
    TtlExpired,
    /// A TCP or UDP header smoltcp rejects: shorter than its fixed part,
    /// a TCP data offset past the segment, a UDP length past the datagram.
    BadL4Header,
    /// An IP fragment reaching an IPRewriter (its ports cannot be rewritten
    /// consistently).
    Fragment,
    /// A protocol other than TCP and UDP reaching an IPRewriter input spec
    /// other than `pass`.
    NotTcpUdp,
    /// A flow with no mapping on an IPRewriter input whose spec is `drop`.
    NoMapping,
    /// The IPRewriter mapping table is full.
    MappingTableFull,
    /// No free source port left in an IPRewriter pattern's range (or the
    /// rewritten flow would collide with an existing one).
    PortsExhausted,
    /// A Queue at capacity.
    QueueFull,
    /// A packet longer than a Queue slot, or than the buffer `pull` was given.
    TooLong,
    /// The engine's step guard (a validated graph never reaches it).
    Loop,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [DropReason; 18] = [
        Self::NotConfigured,
        Self::NoMatch,
        Self::Denied,
        Self::TooShort,
        Self::NoHeadroom,
        Self::BadIpHeader,
        Self::BadIpChecksum,
        Self::BadSourceAddress,
        Self::TtlExpired,
        Self::BadL4Header,
        Self::Fragment,
        Self::NotTcpUdp,
        Self::NoMapping,
        Self::MappingTableFull,
        Self::PortsExhausted,
        Self::QueueFull,
        Self::TooLong,
        Self::Loop,
    ];

    /// How many reasons there are.
    pub const COUNT: usize = Self::ALL.len();

    /// A short stable name for logs and counter dumps.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::NoMatch => "no_match",
            Self::Denied => "denied",
            Self::TooShort => "too_short",
            Self::NoHeadroom => "no_headroom",
            Self::BadIpHeader => "bad_ip_header",
            Self::BadIpChecksum => "bad_ip_checksum",
            Self::BadSourceAddress => "bad_source_address",
            Self::TtlExpired => "ttl_expired",
            Self::BadL4Header => "bad_l4_header",
            Self::Fragment => "fragment",
            Self::NotTcpUdp => "not_tcp_udp",
            Self::NoMapping => "no_mapping",
            Self::MappingTableFull => "mapping_table_full",
            Self::PortsExhausted => "ports_exhausted",
            Self::QueueFull => "queue_full",
            Self::TooLong => "too_long",
            Self::Loop => "loop",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-element counters (a `Counter` element's `count` and `byte_count`
/// are its `packets` and `bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ElementStats {
    /// Packets that entered the element.
    pub packets: u64,
    /// Bytes of those packets, as they entered.
    pub bytes: u64,
    /// Packets the element dropped.
    pub drops: u64,
}

impl ElementStats {
    pub(crate) const ZERO: Self = Self {
        packets: 0,
        bytes: 0,
        drops: 0,
    };
}

/// What an element does with a packet it was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// On to this output port (which validation guarantees is connected).
    Out(u8),
    /// On to this output port when it is connected, else dropped for this reason.
    OutOr(u8, DropReason),
    /// Dropped.
    Drop(DropReason),
    /// The packet's journey ends here (ToRing, Queue, Discard).
    End(Verdict),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_declaration_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
