//! Why an incoming frame was dropped, and the counters the multiplexer keeps of it.

/// Why [`classify`](crate::classify) dropped a frame.
///
/// Checks run from the outside in (length, Ethernet, IPv4, transport), and
/// the first failing one names the reason, so each frame counts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame is shorter than the headers it announces.
    Truncated,
    /// Neither ARP nor IPv4 (VLAN tags and IPv6 included).
    UnknownEtherType,
    /// Not addressed to us: another unicast or a multicast MAC, or another IP.
    NotForUs,
    /// The frame's source cannot be answered: a multicast or our own MAC, an
    /// ARP sender MAC that is not unicast, or an IPv4 source that is no
    /// single remote host (see [`NetIdentity::is_remote_host`](crate::NetIdentity::is_remote_host)).
    BadSource,
    /// An IPv4 header with a bad version or IHL, or a total length that is
    /// smaller than the header or larger than the frame.
    BadIpv4,
    /// A wrong IPv4 header, ICMP, UDP or TCP checksum (a UDP checksum of 0 means none).
    BadChecksum,
    /// IPv4 options (IHL > 5): nothing we serve needs them, so we refuse them.
    Ipv4Options,
    /// An IPv4 fragment (MF set or a non-zero offset): we do not reassemble.
    Fragment,
    /// A frame longer than 1514 bytes, or an IPv4 total length over 1500.
    Oversized,
    /// An IP protocol other than UDP, TCP and ICMP.
    UnsupportedProtocol,
    /// A UDP length field that disagrees with the IP payload, or destination port 0.
    BadUdp,
    /// A TCP data offset shorter than the header or past the segment, or a port 0.
    BadTcp,
    /// An ICMP message other than an echo request.
    IcmpNotEcho,
    /// ARP that is not a request for our IP, or not Ethernet/IPv4 ARP.
    ArpNotForUs,
}

impl DropReason {
    /// Every reason, in declaration order (the order of [`DropCounters`]).
    pub const ALL: [DropReason; 14] = [
        Self::Truncated,
        Self::UnknownEtherType,
        Self::NotForUs,
        Self::BadSource,
        Self::BadIpv4,
        Self::BadChecksum,
        Self::Ipv4Options,
        Self::Fragment,
        Self::Oversized,
        Self::UnsupportedProtocol,
        Self::BadUdp,
        Self::BadTcp,
        Self::IcmpNotEcho,
        Self::ArpNotForUs,
    ];

    /// A short stable name for logs and counter dumps.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::UnknownEtherType => "unknown_ethertype",
            Self::NotForUs => "not_for_us",
            Self::BadSource => "bad_source",
            Self::BadIpv4 => "bad_ipv4",
            Self::BadChecksum => "bad_checksum",
            Self::Ipv4Options => "ipv4_options",
            Self::Fragment => "fragment",
            Self::Oversized => "oversized",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::BadUdp => "bad_udp",
            Self::BadTcp => "bad_tcp",
            Self::IcmpNotEcho => "icmp_not_echo",
            Self::ArpNotForUs => "arp_not_for_us",
        }
    }

    /// This reason's position in [`DropReason::ALL`].
    pub const fn index(self) -> usize {
        // Declaration order is the order of ALL (checked by a test).
        self as usize
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One counter per [`DropReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::ALL.len()],
}

impl DropCounters {
    /// All counters at zero.
    pub const fn new() -> Self {
        Self { counts: [0; DropReason::ALL.len()] }
    }

    /// Counts one dropped frame.
    pub fn count(&mut self, reason: DropReason) {
        // Saturating: a counter that sticks at the top is still truthful,
        // a wrapped one is not, and neither may panic.
        let c = &mut self.counts[reason.index()];
        *c = c.saturating_add(1);
    }

    /// Frames dropped for `reason` so far.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.index()]
    }

    /// Frames dropped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |sum, c| sum.saturating_add(*c))
    }

    /// Each reason with its count, in the order of [`DropReason::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order_and_names_are_distinct() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            for other in &DropReason::ALL[i + 1..] {
                assert_ne!(r.name(), other.name());
            }
        }
    }

    #[test]
    fn counters_count_per_reason() {
        let mut c = DropCounters::new();
        c.count(DropReason::Fragment);
        c.count(DropReason::Fragment);
        c.count(DropReason::NotForUs);
        assert_eq!(c.get(DropReason::Fragment), 2);
        assert_eq!(c.get(DropReason::NotForUs), 1);
        assert_eq!(c.get(DropReason::Truncated), 0);
        assert_eq!(c.total(), 3);
        assert_eq!(c.iter().filter(|(_, n)| *n > 0).count(), 2);
    }
}
