//! The forwarding decision: may a middlebox FWP (a Click template's) put
//! this frame on the wire, and does it open a flow?
//!
//! A middlebox forwards frames it did not originate, so the tenant rule
//! ([`validate_tx`](crate::validate_tx): from our MAC and a port the table
//! gives the tenant) cannot hold. What still holds: the frame is
//! well-formed IPv4 UDP or TCP with valid checksums, it leaves from our IP
//! (a middlebox translates, it never impersonates another host), it goes
//! to a single remote host, and it does not speak inside a conversation
//! another tenant owns. A frame whose reply would route to nobody opens a
//! flow: the caller adds its reversed 5-tuple for the FWP, so the far
//! end's answers come back through the same chain (Click's IPRewriter
//! mapping, seen from the multiplexer).
//!
//! One exception to "from our IP": a frame to our own address is passed on
//! to a tenant of this node (a firewall in front of a local service). It
//! keeps its client's source, which must be the client of a flow the FWP
//! owns, so a middlebox can hand a local tenant only what its own clients
//! sent ([`Forward::Local`]).
//!
//! The Ethernet addresses are not checked: the multiplexer writes both
//! ([`set_ethernet_addresses`]), so an FWP cannot choose where on the link
//! a frame goes.

use smoltcp::wire::{EthernetAddress, EthernetFrame, EthernetProtocol};

use crate::parse::{self, Transport};
use crate::{FiveTuple, FlowTable, NetIdentity, TenantId, TxReject, MAX_FRAME_LEN};

/// A middlebox frame the multiplexer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Inside a conversation the FWP owns already (its reply routes to it).
    Owned(FiveTuple),
    /// A conversation nobody owns yet: before sending, the caller routes
    /// the reversed 5-tuple to the FWP (or refuses the frame when it may
    /// not add one).
    Opens(FiveTuple),
    /// To one of our own services, from a client of one of the FWP's flows:
    /// the caller delivers it to the tenant it routes to, as if it had
    /// arrived from the wire, and steers that tenant's answers (this
    /// 5-tuple reversed) back through the FWP.
    Local(FiveTuple),
}

impl Forward {
    /// The frame's 5-tuple, as sent (`src` is ours, but for [`Forward::Local`]).
    pub fn tuple(&self) -> FiveTuple {
        match *self {
            Self::Owned(tuple) | Self::Opens(tuple) | Self::Local(tuple) => tuple,
        }
    }
}

/// Decides whether middlebox `tenant` may forward `frame`.
///
/// Every input is safe: nothing here panics, allocates or reads outside `frame`.
pub fn validate_forward<const N: usize>(
    frame: &[u8],
    tenant: TenantId,
    me: &NetIdentity,
    table: &FlowTable<N>,
) -> Result<Forward, TxReject> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(TxReject::Oversized);
    }
    let eth = EthernetFrame::new_checked(frame).map_err(|_| TxReject::Truncated)?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return Err(TxReject::NotIpv4);
    }
    let ip = parse::ipv4(eth.payload())?;
    let local = ip.dst_addr() == me.ip;
    if !local && ip.src_addr() != me.ip {
        return Err(TxReject::SpoofedSource);
    }
    if !local && !me.is_remote_host(ip.dst_addr()) {
        return Err(TxReject::BadDestination);
    }
    let transport = parse::transport(&ip)?;
    if let Transport::Icmp(_) = transport {
        return Err(TxReject::UnsupportedProtocol);
    }
    let tuple = transport.tuple(&ip).ok_or(TxReject::UnsupportedProtocol)?;
    if local {
        // A walk over the table, for local frames only: which flow a
        // translated frame belongs to is the graph's knowledge, not ours.
        let a_client = me.is_remote_host(tuple.src.0) && table.flows_of(tenant).any(|flow| flow.src == tuple.src);
        return if a_client { Ok(Forward::Local(tuple)) } else { Err(TxReject::SpoofedSource) };
    }
    match table.lookup(&tuple.reversed()) {
        Some(owner) if owner == tenant => Ok(Forward::Owned(tuple)),
        None => Ok(Forward::Opens(tuple)),
        Some(_) => Err(TxReject::SpoofedSource),
    }
}

/// Writes a frame's Ethernet source and destination (a frame shorter than
/// the Ethernet header is left alone: validation refuses it first).
pub fn set_ethernet_addresses(frame: &mut [u8], src: EthernetAddress, dst: EthernetAddress) {
    if let Ok(mut eth) = EthernetFrame::new_checked(frame) {
        eth.set_src_addr(src);
        eth.set_dst_addr(dst);
    }
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::Ipv4Address;

    use super::*;
    use crate::testing::{self, Ends, PEER_IP};
    use crate::{Protocol, ServiceKey};

    const ME: NetIdentity = testing::ME;
    const WEB: TenantId = TenantId(1);
    const MIDDLEBOX: TenantId = TenantId(2);
    const BACKEND: Ipv4Address = Ipv4Address::new(10, 0, 2, 100);

    /// TCP 80 is WEB's; the conversation from PEER_IP:40000 to our 20001 is the middlebox's.
    fn table() -> FlowTable<8> {
        let mut t = FlowTable::new();
        t.insert_service(ServiceKey { protocol: Protocol::Tcp, port: 80 }, WEB).unwrap();
        let flow = FiveTuple { protocol: Protocol::Tcp, src: (PEER_IP, 40000), dst: (ME.ip, 20001) };
        t.insert_flow(flow, MIDDLEBOX).unwrap();
        t
    }

    /// From us to `dst_ip`, with an Ethernet header the middlebox left as it came.
    fn ends(dst_ip: Ipv4Address) -> Ends {
        let mut ends = Ends::outbound(&ME);
        ends.src_mac = testing::PEER_MAC;
        ends.dst_mac = ME.mac;
        ends.dst_ip = dst_ip;
        ends
    }

    #[test]
    fn replies_in_its_flow_and_new_flows_onward_are_forwarded() {
        let t = table();
        let reply = testing::tcp(&ends(PEER_IP), 20001, 40000, b"back");
        let sent = FiveTuple { protocol: Protocol::Tcp, src: (ME.ip, 20001), dst: (PEER_IP, 40000) };
        assert_eq!(validate_forward(&reply, MIDDLEBOX, &ME, &t), Ok(Forward::Owned(sent)));
        let onward = testing::tcp(&ends(BACKEND), 40000, 20001, b"on");
        let opened = FiveTuple { protocol: Protocol::Tcp, src: (ME.ip, 40000), dst: (BACKEND, 20001) };
        assert_eq!(validate_forward(&onward, MIDDLEBOX, &ME, &t), Ok(Forward::Opens(opened)));
        assert_eq!(Forward::Opens(opened).tuple(), opened);
    }

    #[test]
    fn another_tenants_conversations_and_foreign_sources_are_refused() {
        let t = table();
        // The reply to port 80 would route to WEB.
        let into_web = testing::tcp(&ends(BACKEND), 80, 51000, b"");
        assert_eq!(validate_forward(&into_web, MIDDLEBOX, &ME, &t), Err(TxReject::SpoofedSource));
        // The middlebox's own flow, from WEB.
        let reply = testing::tcp(&ends(PEER_IP), 20001, 40000, b"");
        assert_eq!(validate_forward(&reply, WEB, &ME, &t), Err(TxReject::SpoofedSource));
        // Not from our address: forwarding as the client would spoof it.
        let mut as_client = ends(BACKEND);
        as_client.src_ip = PEER_IP;
        let spoofed = testing::tcp(&as_client, 40000, 20001, b"");
        assert_eq!(validate_forward(&spoofed, MIDDLEBOX, &ME, &t), Err(TxReject::SpoofedSource));
        // To a broadcast address.
        let frame = testing::udp(&ends(Ipv4Address::BROADCAST), 40000, 20001, b"");
        assert_eq!(validate_forward(&frame, MIDDLEBOX, &ME, &t), Err(TxReject::BadDestination));
    }

    #[test]
    fn malformed_frames_are_refused_and_addresses_are_rewritten() {
        let t = table();
        let mut frame = testing::udp(&ends(BACKEND), 40000, 20001, b"payload");
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert_eq!(validate_forward(&frame, MIDDLEBOX, &ME, &t), Err(TxReject::BadChecksum));
        frame[last] ^= 1;
        for cut in 0..frame.len() {
            assert!(validate_forward(&frame[..cut], MIDDLEBOX, &ME, &t).is_err(), "cut at {cut}");
        }
        set_ethernet_addresses(&mut frame, ME.mac, testing::PEER_MAC);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, testing::PEER_MAC));
        // Ethernet addresses never matter to the decision.
        assert!(validate_forward(&frame, MIDDLEBOX, &ME, &t).is_ok());
        set_ethernet_addresses(&mut frame[..10], ME.mac, ME.mac);
    }

    #[test]
    fn a_client_of_its_flow_may_be_passed_on_to_our_own_services_and_no_one_else() {
        let t = table();
        // The middlebox's client (PEER_IP:40000) to our port 7, its source kept.
        let mut passed_on = ends(ME.ip);
        passed_on.src_ip = PEER_IP;
        let frame = testing::tcp(&passed_on, 40000, 7, b"");
        let local = FiveTuple { protocol: Protocol::Tcp, src: (PEER_IP, 40000), dst: (ME.ip, 7) };
        assert_eq!(validate_forward(&frame, MIDDLEBOX, &ME, &t), Ok(Forward::Local(local)));
        // Another port of that host is no client of the middlebox's; nor is
        // the client of another tenant's flow; nor are we.
        let other_port = testing::tcp(&passed_on, 40001, 7, b"");
        assert_eq!(validate_forward(&other_port, MIDDLEBOX, &ME, &t), Err(TxReject::SpoofedSource));
        assert_eq!(validate_forward(&frame, WEB, &ME, &t), Err(TxReject::SpoofedSource));
        let from_us = testing::tcp(&ends(ME.ip), 40000, 7, b"");
        assert_eq!(validate_forward(&from_us, MIDDLEBOX, &ME, &t), Err(TxReject::SpoofedSource));
    }
}
