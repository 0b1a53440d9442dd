//! The receive decision: what the multiplexer does with one frame from the wire.

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    Icmpv4Message, Icmpv4Packet, Ipv4Address,
};

use crate::parse::{self, Transport};
use crate::{DropReason, FiveTuple, FlowTable, NetIdentity, TenantId, MAX_FRAME_LEN};

/// What to do with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// An ARP request for our IP: answer it with [`answer_arp`](crate::answer_arp).
    ArpRequest(ArpRepr),
    /// An ICMP echo request to our IP: answer it with [`answer_echo`](crate::answer_echo).
    EchoRequest,
    /// A valid UDP or TCP packet for `tenant`: copy it into that tenant's ring.
    Deliver {
        /// The owner, by 5-tuple or else by service port.
        tenant: TenantId,
        /// The packet's flow as it arrived.
        tuple: FiveTuple,
    },
    /// A valid UDP or TCP packet to us that no entry routes: whether to spawn
    /// a tenant for it (or drop it) is the caller's decision.
    Miss {
        /// The packet's flow as it arrived.
        tuple: FiveTuple,
    },
    /// Refused; count it under the reason.
    Drop(DropReason),
}

/// A frame that passed every check, before the flow table is consulted.
pub(crate) enum Inbound<'a> {
    Arp(ArpRepr),
    Echo { from_mac: EthernetAddress, from_ip: Ipv4Address, icmp: Icmpv4Packet<&'a [u8]> },
    Transport(FiveTuple),
}

/// Decides what the multiplexer does with `frame`, a whole Ethernet frame
/// without FCS as the driver received it.
///
/// Every input is safe: nothing here panics, allocates or reads outside
/// `frame`. Only ARP requests and echo requests for `me`, and UDP/TCP
/// packets to `me` that pass every length and checksum check, get past
/// [`Classified::Drop`].
pub fn classify<const N: usize>(
    frame: &[u8],
    me: &NetIdentity,
    table: &FlowTable<N>,
) -> Classified {
    match inbound(frame, me) {
        Ok(Inbound::Arp(repr)) => Classified::ArpRequest(repr),
        Ok(Inbound::Echo { .. }) => Classified::EchoRequest,
        Ok(Inbound::Transport(tuple)) => match table.lookup(&tuple) {
            Some(tenant) => Classified::Deliver { tenant, tuple },
            None => Classified::Miss { tuple },
        },
        Err(reason) => Classified::Drop(reason),
    }
}

/// Every check of the receive path, independent of the flow table.
pub(crate) fn inbound<'a>(frame: &'a [u8], me: &NetIdentity) -> Result<Inbound<'a>, DropReason> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(DropReason::Oversized);
    }
    let eth = EthernetFrame::new_checked(frame).map_err(|_| DropReason::Truncated)?;
    let dst = eth.dst_addr();
    if dst != me.mac && !dst.is_broadcast() {
        return Err(DropReason::NotForUs);
    }
    let src = eth.src_addr();
    if !src.is_unicast() || src == me.mac {
        return Err(DropReason::BadSource);
    }
    match eth.ethertype() {
        EthernetProtocol::Arp => arp(eth.payload(), me).map(Inbound::Arp),
        EthernetProtocol::Ipv4 => ipv4(src, eth.payload(), me),
        _ => Err(DropReason::UnknownEtherType),
    }
}

fn arp(payload: &[u8], me: &NetIdentity) -> Result<ArpRepr, DropReason> {
    let packet = ArpPacket::new_checked(payload).map_err(|_| DropReason::Truncated)?;
    let repr = ArpRepr::parse(&packet).map_err(|_| DropReason::ArpNotForUs)?;
    match repr {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr,
            target_protocol_addr,
            ..
        } if target_protocol_addr == me.ip => {
            // The reply goes to the sender's hardware address.
            if source_hardware_addr.is_unicast() && source_hardware_addr != me.mac {
                Ok(repr)
            } else {
                Err(DropReason::BadSource)
            }
        }
        _ => Err(DropReason::ArpNotForUs),
    }
}

fn ipv4<'a>(
    from_mac: EthernetAddress,
    payload: &'a [u8],
    me: &NetIdentity,
) -> Result<Inbound<'a>, DropReason> {
    let ip = parse::ipv4(payload)?;
    if ip.dst_addr() != me.ip {
        return Err(DropReason::NotForUs);
    }
    let from_ip = ip.src_addr();
    if !me.is_remote_host(from_ip) {
        return Err(DropReason::BadSource);
    }
    let transport = parse::transport(&ip)?;
    if let Transport::Icmp(icmp) = transport {
        return if icmp.msg_type() == Icmpv4Message::EchoRequest && icmp.msg_code() == 0 {
            Ok(Inbound::Echo { from_mac, from_ip, icmp })
        } else {
            Err(DropReason::IcmpNotEcho)
        };
    }
    // UDP or TCP: `tuple` is Some for both.
    transport.tuple(&ip).map(Inbound::Transport).ok_or(DropReason::UnsupportedProtocol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, Ends, PEER_IP, PEER_MAC};
    use crate::{Protocol, ServiceKey};

    const ME: NetIdentity = testing::ME;

    fn table() -> FlowTable<8> {
        let mut t = FlowTable::new();
        t.insert_service(ServiceKey { protocol: Protocol::Udp, port: 7 }, TenantId(1)).unwrap();
        t.insert_service(ServiceKey { protocol: Protocol::Tcp, port: 80 }, TenantId(2)).unwrap();
        t
    }

    fn tuple(protocol: Protocol, src_port: u16, dst_port: u16) -> FiveTuple {
        FiveTuple { protocol, src: (PEER_IP, src_port), dst: (ME.ip, dst_port) }
    }

    #[test]
    fn arp_request_for_us_is_answered_and_others_are_not() {
        let f = testing::arp_request(PEER_MAC, PEER_IP, ME.ip);
        match classify(&f, &ME, &table()) {
            Classified::ArpRequest(ArpRepr::EthernetIpv4 { source_hardware_addr, .. }) => {
                assert_eq!(source_hardware_addr, PEER_MAC)
            }
            other => panic!("{other:?}"),
        }
        let other = testing::arp_request(PEER_MAC, PEER_IP, Ipv4Address::new(10, 0, 2, 3));
        assert_eq!(classify(&other, &ME, &table()), Classified::Drop(DropReason::ArpNotForUs));
    }

    #[test]
    fn echo_request_udp_and_tcp_are_classified() {
        let ends = Ends::inbound(&ME);
        let t = table();
        let echo = testing::echo_request(&ends, 1, 2, b"ping");
        assert_eq!(classify(&echo, &ME, &t), Classified::EchoRequest);
        let udp = testing::udp(&ends, 5000, 7, b"hello");
        assert_eq!(
            classify(&udp, &ME, &t),
            Classified::Deliver { tenant: TenantId(1), tuple: tuple(Protocol::Udp, 5000, 7) }
        );
        let tcp = testing::tcp(&ends, 40000, 80, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(
            classify(&tcp, &ME, &t),
            Classified::Deliver { tenant: TenantId(2), tuple: tuple(Protocol::Tcp, 40000, 80) }
        );
    }

    #[test]
    fn five_tuple_beats_service_and_unmapped_ports_miss() {
        let ends = Ends::inbound(&ME);
        let mut t = table();
        t.insert_flow(tuple(Protocol::Tcp, 40000, 80), TenantId(5)).unwrap();
        let mine = testing::tcp(&ends, 40000, 80, b"");
        let other = testing::tcp(&ends, 40001, 80, b"");
        assert!(matches!(
            classify(&mine, &ME, &t),
            Classified::Deliver { tenant: TenantId(5), .. }
        ));
        assert!(matches!(
            classify(&other, &ME, &t),
            Classified::Deliver { tenant: TenantId(2), .. }
        ));
        let miss = testing::udp(&ends, 5000, 53, b"q");
        assert_eq!(
            classify(&miss, &ME, &t),
            Classified::Miss { tuple: tuple(Protocol::Udp, 5000, 53) }
        );
    }

    #[test]
    fn broadcast_mac_with_our_ip_is_accepted_but_other_hosts_are_not_for_us() {
        let t = table();
        let mut ends = Ends::inbound(&ME);
        ends.dst_mac = EthernetAddress::BROADCAST;
        assert!(matches!(
            classify(&testing::udp(&ends, 1, 7, b""), &ME, &t),
            Classified::Deliver { .. }
        ));
        ends.dst_mac = EthernetAddress([0x52, 0x54, 0, 0, 0, 1]);
        assert_eq!(
            classify(&testing::udp(&ends, 1, 7, b""), &ME, &t),
            Classified::Drop(DropReason::NotForUs)
        );
        ends.dst_mac = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert_eq!(
            classify(&testing::udp(&ends, 1, 7, b""), &ME, &t),
            Classified::Drop(DropReason::NotForUs)
        );
        let mut ends = Ends::inbound(&ME);
        ends.dst_ip = Ipv4Address::new(10, 0, 2, 16);
        assert_eq!(
            classify(&testing::udp(&ends, 1, 7, b""), &ME, &t),
            Classified::Drop(DropReason::NotForUs)
        );
    }

    #[test]
    fn sources_no_reply_can_reach_are_refused() {
        let t = table();
        let mut ends = Ends::inbound(&ME);
        ends.src_mac = EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]);
        assert_eq!(
            classify(&testing::udp(&ends, 1, 7, b""), &ME, &t),
            Classified::Drop(DropReason::BadSource)
        );
        for ip in [Ipv4Address::BROADCAST, ME.ip, Ipv4Address::new(224, 0, 0, 1)] {
            let mut ends = Ends::inbound(&ME);
            ends.src_ip = ip;
            let f = testing::echo_request(&ends, 1, 1, b"");
            assert_eq!(classify(&f, &ME, &t), Classified::Drop(DropReason::BadSource), "{ip}");
        }
        let sha_broadcast = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress::BROADCAST,
            source_protocol_addr: PEER_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ME.ip,
        };
        let f = testing::arp(PEER_MAC, &sha_broadcast);
        assert_eq!(classify(&f, &ME, &t), Classified::Drop(DropReason::BadSource));
    }
}
