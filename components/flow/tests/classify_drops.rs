//! Every `DropReason`, each provoked by a malformed frame: a valid fixture
//! emitted by smoltcp, then patched through smoltcp's setters where emit
//! cannot express the fault.

use edgeos_flow::testing::{self, l4_mut, Ends, Frame, ME, PEER_IP, PEER_MAC};
use edgeos_flow::{
    classify, Classified, DropCounters, DropReason, FlowTable, Protocol, ServiceKey, TenantId,
};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpHardware, ArpOperation, ArpPacket, EthernetAddress, EthernetFrame, EthernetProtocol,
    Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, TcpPacket, UdpPacket,
};

fn table() -> FlowTable<8> {
    let mut t = FlowTable::new();
    t.insert_service(ServiceKey { protocol: Protocol::Udp, port: 7 }, TenantId(1)).unwrap();
    t.insert_service(ServiceKey { protocol: Protocol::Tcp, port: 80 }, TenantId(2)).unwrap();
    t
}

const INBOUND: Ends = Ends::inbound(&ME);
const PEER: IpAddress = IpAddress::Ipv4(PEER_IP);
const US: IpAddress = IpAddress::Ipv4(ME.ip);

fn udp() -> Frame {
    testing::udp(&INBOUND, 5000, 7, b"hello, tenant")
}

fn tcp() -> Frame {
    testing::tcp(&INBOUND, 40000, 80, b"GET /")
}

fn echo() -> Frame {
    testing::echo_request(&INBOUND, 1, 1, b"ping")
}

/// Applies `patch` to a copy of `frame`.
fn patched(mut frame: Frame, patch: impl FnOnce(&mut Frame)) -> Frame {
    patch(&mut frame);
    frame
}

/// Patches the IPv4 header, then fixes its checksum so only the patch is wrong.
fn ip_patched(
    frame: Frame,
    patch: impl FnOnce(&mut smoltcp::wire::Ipv4Packet<&mut [u8]>),
) -> Frame {
    patched(frame, |f| {
        let mut ip = testing::ipv4_mut(f);
        patch(&mut ip);
        ip.fill_checksum();
    })
}

/// Shrinks the IP payload to `len` bytes (total length, checksum and frame).
fn ip_payload_cut(frame: Frame, len: usize) -> Frame {
    let mut f = ip_patched(frame, |ip| ip.set_total_len(20 + len as u16));
    f.truncate(14 + 20 + len);
    f
}

/// Inserts four NOP option bytes after the IPv4 header (IHL 6).
fn with_ip_options(frame: &Frame) -> Frame {
    let mut f = Frame::new();
    f.extend_from_slice(&frame[..34]).unwrap();
    f.extend_from_slice(&[1, 1, 1, 1]).unwrap();
    f.extend_from_slice(&frame[34..]).unwrap();
    ip_patched(f, |ip| {
        ip.set_header_len(24);
        ip.set_total_len(ip.total_len() + 4);
    })
}

fn arp_with(patch: impl FnOnce(&mut ArpPacket<&mut [u8]>)) -> Frame {
    patched(testing::arp_request(PEER_MAC, PEER_IP, ME.ip), |f| {
        patch(&mut ArpPacket::new_unchecked(&mut f[14..]))
    })
}

fn cases() -> Vec<(&'static str, Frame, DropReason)> {
    use DropReason::*;
    let flip_last = |mut f: Frame| {
        let last = f.len() - 1;
        f[last] ^= 0x55;
        f
    };
    let mut short_eth = udp();
    short_eth.truncate(13);
    let mut short_ip = udp();
    short_ip.truncate(14 + 19);
    let mut short_arp = testing::arp_request(PEER_MAC, PEER_IP, ME.ip);
    short_arp.truncate(14 + 20);
    let echo_reply = Icmpv4Repr::EchoReply { ident: 1, seq_no: 1, data: b"pong" };
    let caps = ChecksumCapabilities::default();
    vec![
        ("ethernet header cut", short_eth, Truncated),
        ("ipv4 header cut", short_ip, Truncated),
        ("udp header cut", ip_payload_cut(udp(), 4), Truncated),
        ("tcp header cut", ip_payload_cut(tcp(), 12), Truncated),
        ("icmp header cut", ip_payload_cut(echo(), 4), Truncated),
        ("arp body cut", short_arp, Truncated),
        (
            "ipv6 ethertype",
            patched(udp(), |f| {
                EthernetFrame::new_unchecked(&mut f[..]).set_ethertype(EthernetProtocol::Ipv6)
            }),
            UnknownEtherType,
        ),
        (
            "vlan tag",
            patched(udp(), |f| {
                EthernetFrame::new_unchecked(&mut f[..])
                    .set_ethertype(EthernetProtocol::Unknown(0x8100))
            }),
            UnknownEtherType,
        ),
        (
            "other host's mac",
            testing::udp(
                &Ends { dst_mac: EthernetAddress([0x52, 0x54, 0, 0, 0, 1]), ..INBOUND },
                1,
                7,
                b"",
            ),
            NotForUs,
        ),
        (
            "multicast mac",
            testing::udp(
                &Ends { dst_mac: EthernetAddress([0x01, 0, 0x5e, 0, 0, 0xfb]), ..INBOUND },
                1,
                7,
                b"",
            ),
            NotForUs,
        ),
        (
            "other host's ip",
            testing::udp(&Ends { dst_ip: Ipv4Address::new(10, 0, 2, 3), ..INBOUND }, 1, 7, b""),
            NotForUs,
        ),
        (
            "broadcast ip",
            testing::udp(&Ends { dst_ip: Ipv4Address::BROADCAST, ..INBOUND }, 1, 7, b""),
            NotForUs,
        ),
        (
            "multicast source mac",
            testing::udp(
                &Ends { src_mac: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]), ..INBOUND },
                1,
                7,
                b"",
            ),
            BadSource,
        ),
        (
            "our own source ip",
            testing::udp(&Ends { src_ip: ME.ip, ..INBOUND }, 1, 7, b""),
            BadSource,
        ),
        ("ip version 6", ip_patched(udp(), |ip| ip.set_version(6)), BadIpv4),
        ("ihl 4", ip_patched(udp(), |ip| ip.set_header_len(16)), BadIpv4),
        (
            "total length past frame",
            ip_patched(udp(), |ip| ip.set_total_len(ip.total_len() + 1)),
            BadIpv4,
        ),
        ("total length below header", ip_patched(udp(), |ip| ip.set_total_len(19)), BadIpv4),
        (
            "ipv4 header checksum",
            patched(udp(), |f| testing::ipv4_mut(f).set_checksum(0xdead)),
            BadChecksum,
        ),
        ("udp checksum", flip_last(udp()), BadChecksum),
        ("tcp checksum", flip_last(tcp()), BadChecksum),
        ("icmp checksum", flip_last(echo()), BadChecksum),
        ("ipv4 options", with_ip_options(&udp()), Ipv4Options),
        ("more fragments", ip_patched(udp(), |ip| ip.set_more_frags(true)), Fragment),
        ("fragment offset", ip_patched(udp(), |ip| ip.set_frag_offset(8)), Fragment),
        ("frame over 1514", testing::udp_sized(&INBOUND, 5000, 7, 1515), Oversized),
        (
            "ip total length over 1500",
            ip_patched(testing::udp_sized(&INBOUND, 5000, 7, 1514), |ip| ip.set_total_len(1501)),
            Oversized,
        ),
        ("igmp", ip_patched(udp(), |ip| ip.set_next_header(IpProtocol::Igmp)), UnsupportedProtocol),
        (
            "sctp",
            ip_patched(udp(), |ip| ip.set_next_header(IpProtocol::Unknown(132))),
            UnsupportedProtocol,
        ),
        (
            "udp length short",
            patched(udp(), |f| {
                let mut u = UdpPacket::new_unchecked(l4_mut(f));
                u.set_len(u.len() - 1)
            }),
            BadUdp,
        ),
        (
            "udp length long",
            patched(udp(), |f| {
                let mut u = UdpPacket::new_unchecked(l4_mut(f));
                u.set_len(u.len() + 1)
            }),
            BadUdp,
        ),
        (
            "udp length below header",
            patched(udp(), |f| UdpPacket::new_unchecked(l4_mut(f)).set_len(4)),
            BadUdp,
        ),
        ("udp to port 0", testing::udp(&INBOUND, 5000, 0, b"x"), BadUdp),
        (
            "tcp data offset past segment",
            patched(tcp(), |f| TcpPacket::new_unchecked(l4_mut(f)).set_header_len(60)),
            BadTcp,
        ),
        (
            "tcp data offset 4",
            patched(tcp(), |f| TcpPacket::new_unchecked(l4_mut(f)).set_header_len(16)),
            BadTcp,
        ),
        ("tcp from port 0", testing::tcp(&INBOUND, 0, 80, b""), BadTcp),
        (
            "icmp echo reply",
            testing::ipv4(&INBOUND, IpProtocol::Icmp, echo_reply.buffer_len(), |b, _, _| {
                echo_reply.emit(&mut Icmpv4Packet::new_unchecked(b), &caps)
            }),
            IcmpNotEcho,
        ),
        (
            "echo request code 1",
            patched(echo(), |f| {
                let mut i = Icmpv4Packet::new_unchecked(l4_mut(f));
                i.set_msg_code(1);
                i.fill_checksum()
            }),
            IcmpNotEcho,
        ),
        (
            "arp request for another ip",
            testing::arp_request(PEER_MAC, PEER_IP, Ipv4Address::new(10, 0, 2, 3)),
            ArpNotForUs,
        ),
        ("arp reply", arp_with(|a| a.set_operation(ArpOperation::Reply)), ArpNotForUs),
        (
            "arp over another hardware",
            arp_with(|a| a.set_hardware_type(ArpHardware::Unknown(6))),
            ArpNotForUs,
        ),
        ("arp for ipv6", arp_with(|a| a.set_protocol_type(EthernetProtocol::Ipv6)), ArpNotForUs),
    ]
}

#[test]
fn every_malformed_frame_is_dropped_for_its_reason() {
    let t = table();
    for (what, frame, reason) in cases() {
        assert_eq!(classify(&frame, &ME, &t), Classified::Drop(reason), "{what}");
    }
}

#[test]
fn every_drop_reason_is_exercised() {
    let mut counters = DropCounters::new();
    for (_, frame, _) in cases() {
        if let Classified::Drop(reason) = classify(&frame, &ME, &table()) {
            counters.count(reason);
        }
    }
    for (reason, count) in counters.iter() {
        assert!(count > 0, "no case for {reason}");
    }
    assert_eq!(counters.total(), cases().len() as u64);
}

#[test]
fn edge_cases_that_are_valid_are_delivered() {
    let t = table();
    let deliver = |f: &Frame| matches!(classify(f, &ME, &t), Classified::Deliver { .. });
    // A full-size frame: 1514 bytes, IP total length 1500.
    assert!(deliver(&testing::udp_sized(&INBOUND, 5000, 7, 1514)));
    // Ethernet padding after the IP packet (the 60-byte minimum frame).
    let mut padded = testing::udp(&INBOUND, 5000, 7, b"");
    padded.resize(60, 0).unwrap();
    assert!(deliver(&padded));
    // UDP checksum 0: none sent, nothing to verify.
    let no_sum = patched(udp(), |f| UdpPacket::new_unchecked(l4_mut(f)).set_checksum(0));
    assert!(deliver(&no_sum));
    // The DF bit is not a fragment.
    assert!(deliver(&ip_patched(udp(), |ip| ip.set_dont_frag(false))));
    // A TCP header with options (data offset 6): options are the tenant's business.
    let with_opts = patched(tcp(), |f| {
        let mut seg = TcpPacket::new_unchecked(l4_mut(f));
        seg.set_header_len(24);
        seg.fill_checksum(&PEER, &US);
    });
    assert!(deliver(&with_opts));
}
