//! The transmit decision: may this tenant put this frame on the wire?
//!
//! Tenants are untrusted. A frame leaves only if it is well-formed IPv4
//! UDP or TCP, comes from our MAC and IP, and from a port the flow table
//! gives that tenant, so a tenant can neither impersonate another host nor
//! speak inside another tenant's conversation.

use smoltcp::wire::{EthernetFrame, EthernetProtocol};

use crate::parse::{self, Transport};
use crate::{FiveTuple, FlowTable, NetIdentity, TenantId, MAX_FRAME_LEN};

/// Why a tenant's frame was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxReject {
    /// The frame is shorter than the headers it announces.
    Truncated,
    /// A frame longer than 1514 bytes, or an IPv4 total length over 1500.
    Oversized,
    /// An IPv4 header with a bad version or IHL, or an inconsistent total length.
    BadIpv4,
    /// A wrong IPv4 header, UDP or TCP checksum (a UDP checksum of 0 means none).
    BadChecksum,
    /// Not IPv4: tenants may send only IPv4 UDP and TCP (no ARP, no IPv6).
    NotIpv4,
    /// The source MAC, IP or port is not the tenant's own.
    SpoofedSource,
    /// A destination that is no single remote host: a multicast or broadcast
    /// MAC, or an unspecified, broadcast, multicast, loopback or our own IP.
    BadDestination,
    /// An IPv4 fragment.
    Fragment,
    /// IPv4 options.
    Ipv4Options,
    /// An IP protocol other than UDP and TCP (ICMP included: the mux answers pings).
    UnsupportedProtocol,
    /// A UDP length field that disagrees with the IP payload, or destination port 0.
    BadUdp,
    /// A TCP data offset shorter than the header or past the segment, or a port 0.
    BadTcp,
}

impl TxReject {
    /// Every reason, in declaration order.
    pub const ALL: [TxReject; 12] = [
        Self::Truncated,
        Self::Oversized,
        Self::BadIpv4,
        Self::BadChecksum,
        Self::NotIpv4,
        Self::SpoofedSource,
        Self::BadDestination,
        Self::Fragment,
        Self::Ipv4Options,
        Self::UnsupportedProtocol,
        Self::BadUdp,
        Self::BadTcp,
    ];

    /// A short stable name for logs and counter dumps.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::Oversized => "oversized",
            Self::BadIpv4 => "bad_ipv4",
            Self::BadChecksum => "bad_checksum",
            Self::NotIpv4 => "not_ipv4",
            Self::SpoofedSource => "spoofed_source",
            Self::BadDestination => "bad_destination",
            Self::Fragment => "fragment",
            Self::Ipv4Options => "ipv4_options",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::BadUdp => "bad_udp",
            Self::BadTcp => "bad_tcp",
        }
    }

    /// This reason's position in [`TxReject::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for TxReject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one tenant may send as: our addresses, and the ports the flow
/// table gives it.
///
/// The rule is the receive rule turned around. A reply's reversed 5-tuple
/// must route to the tenant: a per-flow tenant may send only from its
/// flow's destination port to the flow's source, a service tenant on port
/// P may send from P to anyone, and a service tenant may not send inside a
/// conversation that a per-flow entry gave to someone else.
#[derive(Debug, Clone, Copy)]
pub struct TenantGrant<'a, const N: usize> {
    tenant: TenantId,
    me: &'a NetIdentity,
    table: &'a FlowTable<N>,
}

impl<'a, const N: usize> TenantGrant<'a, N> {
    /// The grant of `tenant` under the current `table`.
    pub fn new(tenant: TenantId, me: &'a NetIdentity, table: &'a FlowTable<N>) -> Self {
        Self { tenant, me, table }
    }

    /// The tenant this grant describes.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Whether the tenant may send a packet with this 5-tuple (as sent: `src` is ours).
    pub fn permits(&self, tuple: &FiveTuple) -> bool {
        tuple.src.0 == self.me.ip && self.table.lookup(&tuple.reversed()) == Some(self.tenant)
    }

    /// Checks a whole frame; see [`validate_tx`].
    pub fn check(&self, frame: &[u8]) -> Result<FiveTuple, TxReject> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(TxReject::Oversized);
        }
        let eth = EthernetFrame::new_checked(frame).map_err(|_| TxReject::Truncated)?;
        if eth.src_addr() != self.me.mac {
            return Err(TxReject::SpoofedSource);
        }
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return Err(TxReject::NotIpv4);
        }
        if !eth.dst_addr().is_unicast() {
            return Err(TxReject::BadDestination);
        }
        let ip = parse::ipv4(eth.payload())?;
        if ip.src_addr() != self.me.ip {
            return Err(TxReject::SpoofedSource);
        }
        if !self.me.is_remote_host(ip.dst_addr()) {
            return Err(TxReject::BadDestination);
        }
        let transport = parse::transport(&ip)?;
        if let Transport::Icmp(_) = transport {
            return Err(TxReject::UnsupportedProtocol);
        }
        let tuple = transport.tuple(&ip).ok_or(TxReject::UnsupportedProtocol)?;
        if !self.permits(&tuple) {
            return Err(TxReject::SpoofedSource);
        }
        Ok(tuple)
    }
}

/// Decides whether `tenant` may send `frame`, and returns its 5-tuple (as sent) if so.
///
/// Every input is safe: nothing here panics, allocates or reads outside `frame`.
pub fn validate_tx<const N: usize>(
    frame: &[u8],
    tenant: TenantId,
    me: &NetIdentity,
    table: &FlowTable<N>,
) -> Result<FiveTuple, TxReject> {
    TenantGrant::new(tenant, me, table).check(frame)
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::{EthernetAddress, Ipv4Address};

    use super::*;
    use crate::testing::{self, Ends, PEER_IP};
    use crate::{Protocol, ServiceKey};

    const ME: NetIdentity = testing::ME;
    const WEB: TenantId = TenantId(1);
    const FLOW: TenantId = TenantId(2);

    /// TCP 80 is WEB's service, but the conversation from PEER_IP:40000 is FLOW's.
    fn table() -> FlowTable<8> {
        let mut t = FlowTable::new();
        t.insert_service(ServiceKey { protocol: Protocol::Tcp, port: 80 }, WEB).unwrap();
        let flow = FiveTuple { protocol: Protocol::Tcp, src: (PEER_IP, 40000), dst: (ME.ip, 80) };
        t.insert_flow(flow, FLOW).unwrap();
        t
    }

    fn sent(dst_port: u16) -> FiveTuple {
        FiveTuple { protocol: Protocol::Tcp, src: (ME.ip, 80), dst: (PEER_IP, dst_port) }
    }

    #[test]
    fn tenants_may_send_their_own_replies() {
        let t = table();
        let ends = Ends::outbound(&ME);
        let to_anyone = testing::tcp(&ends, 80, 51000, b"HTTP/1.0 200 OK\r\n");
        assert_eq!(validate_tx(&to_anyone, WEB, &ME, &t), Ok(sent(51000)));
        let in_flow = testing::tcp(&ends, 80, 40000, b"HTTP/1.0 200 OK\r\n");
        assert_eq!(validate_tx(&in_flow, FLOW, &ME, &t), Ok(sent(40000)));
        assert!(TenantGrant::new(FLOW, &ME, &t).permits(&sent(40000)));
    }

    #[test]
    fn tenants_may_not_use_other_tenants_ports_or_flows() {
        let t = table();
        let ends = Ends::outbound(&ME);
        // The flow belongs to FLOW, even though WEB owns port 80.
        let in_flow = testing::tcp(&ends, 80, 40000, b"");
        assert_eq!(validate_tx(&in_flow, WEB, &ME, &t), Err(TxReject::SpoofedSource));
        // FLOW's grant covers its one conversation, not the whole port.
        let to_anyone = testing::tcp(&ends, 80, 51000, b"");
        assert_eq!(validate_tx(&to_anyone, FLOW, &ME, &t), Err(TxReject::SpoofedSource));
        // A port nobody owns, and the right port number over the wrong protocol.
        assert_eq!(
            validate_tx(&testing::tcp(&ends, 81, 51000, b""), WEB, &ME, &t),
            Err(TxReject::SpoofedSource)
        );
        assert_eq!(
            validate_tx(&testing::udp(&ends, 80, 51000, b""), WEB, &ME, &t),
            Err(TxReject::SpoofedSource)
        );
    }

    #[test]
    fn tenants_may_not_forge_our_addresses() {
        let t = table();
        let mut ends = Ends::outbound(&ME);
        ends.src_ip = Ipv4Address::new(10, 0, 2, 99);
        assert_eq!(
            validate_tx(&testing::tcp(&ends, 80, 1, b""), WEB, &ME, &t),
            Err(TxReject::SpoofedSource)
        );
        let mut ends = Ends::outbound(&ME);
        ends.src_mac = EthernetAddress([0x52, 0x54, 0, 0, 0, 0x99]);
        assert_eq!(
            validate_tx(&testing::tcp(&ends, 80, 1, b""), WEB, &ME, &t),
            Err(TxReject::SpoofedSource)
        );
    }

    #[test]
    fn reject_names_are_distinct_and_in_index_order() {
        for (i, r) in TxReject::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(TxReject::ALL[i + 1..].iter().all(|o| o.name() != r.name()));
        }
    }
}
