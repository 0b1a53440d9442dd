//! The tenant → wire direction: each spoofing and each malformed case is
//! refused for its reason, starting from a reply the tenant may send.

use edgeos_flow::testing::{self, l4_mut, Ends, Frame, ME, PEER_IP};
use edgeos_flow::{
    validate_tx, FiveTuple, FlowTable, Protocol, ServiceKey, TenantId, TxReject, MAX_FRAME_LEN,
};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, Icmpv4Packet,
    Icmpv4Repr, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket, UdpPacket,
};

const DNS: TenantId = TenantId(1);
const WEB: TenantId = TenantId(2);
const OUTBOUND: Ends = Ends::outbound(&ME);

fn table() -> FlowTable<8> {
    let mut t = FlowTable::new();
    t.insert_service(ServiceKey { protocol: Protocol::Udp, port: 53 }, DNS).unwrap();
    t.insert_service(ServiceKey { protocol: Protocol::Tcp, port: 80 }, WEB).unwrap();
    t
}

/// DNS's answer to a query from PEER_IP:5000.
fn reply() -> Frame {
    testing::udp(&OUTBOUND, 53, 5000, b"answer")
}

fn patched(mut frame: Frame, patch: impl FnOnce(&mut Frame)) -> Frame {
    patch(&mut frame);
    frame
}

fn ip_patched(frame: Frame, patch: impl FnOnce(&mut Ipv4Packet<&mut [u8]>)) -> Frame {
    patched(frame, |f| {
        let mut ip = testing::ipv4_mut(f);
        patch(&mut ip);
        ip.fill_checksum();
    })
}

#[test]
fn the_tenants_own_reply_is_accepted() {
    let t = table();
    let sent = FiveTuple { protocol: Protocol::Udp, src: (ME.ip, 53), dst: (PEER_IP, 5000) };
    assert_eq!(validate_tx(&reply(), DNS, &ME, &t), Ok(sent));
    // The largest frame that may leave.
    let full = testing::udp_sized(&OUTBOUND, 53, 5000, MAX_FRAME_LEN);
    assert!(validate_tx(&full, DNS, &ME, &t).is_ok());
}

#[test]
fn spoofing_is_refused() {
    let t = table();
    let spoofed = [
        ("another tenant's port", testing::tcp(&OUTBOUND, 80, 5000, b"")),
        ("a port nobody owns", testing::udp(&OUTBOUND, 54, 5000, b"")),
        (
            "another source ip",
            testing::udp(
                &Ends { src_ip: Ipv4Address::new(10, 0, 2, 99), ..OUTBOUND },
                53,
                5000,
                b"",
            ),
        ),
        (
            "another source mac",
            testing::udp(
                &Ends { src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]), ..OUTBOUND },
                53,
                5000,
                b"",
            ),
        ),
    ];
    for (what, frame) in spoofed {
        assert_eq!(validate_tx(&frame, DNS, &ME, &t), Err(TxReject::SpoofedSource), "{what}");
    }
    // The same port is fine for its owner, and an unknown tenant owns nothing.
    assert!(validate_tx(&testing::tcp(&OUTBOUND, 80, 5000, b""), WEB, &ME, &t).is_ok());
    assert_eq!(validate_tx(&reply(), TenantId(7), &ME, &t), Err(TxReject::SpoofedSource));
}

#[test]
fn malformed_frames_are_refused_for_their_reason() {
    use TxReject::*;
    let t = table();
    let caps = ChecksumCapabilities::default();
    let echo = Icmpv4Repr::EchoReply { ident: 1, seq_no: 1, data: b"" };
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: ME.mac,
        source_protocol_addr: ME.ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: PEER_IP,
    };
    let mut short_eth = reply();
    short_eth.truncate(10);
    let mut short_udp = ip_patched(reply(), |ip| ip.set_total_len(24));
    short_udp.truncate(14 + 24);
    let flip_last = |mut f: Frame| {
        let last = f.len() - 1;
        f[last] ^= 1;
        f
    };
    let cases = [
        ("ethernet header cut", short_eth, Truncated),
        ("udp header cut", short_udp, Truncated),
        ("frame over 1514", testing::udp_sized(&OUTBOUND, 53, 5000, MAX_FRAME_LEN + 1), Oversized),
        ("ip version 5", ip_patched(reply(), |ip| ip.set_version(5)), BadIpv4),
        (
            "total length past frame",
            ip_patched(reply(), |ip| ip.set_total_len(ip.total_len() + 9)),
            BadIpv4,
        ),
        (
            "ipv4 header checksum",
            patched(reply(), |f| testing::ipv4_mut(f).set_checksum(1)),
            BadChecksum,
        ),
        ("udp checksum", flip_last(reply()), BadChecksum),
        ("tcp checksum", flip_last(testing::tcp(&OUTBOUND, 80, 5000, b"x")), BadChecksum),
        ("arp", testing::arp(ME.mac, &arp), NotIpv4),
        (
            "ipv6",
            patched(reply(), |f| {
                EthernetFrame::new_unchecked(&mut f[..]).set_ethertype(EthernetProtocol::Ipv6)
            }),
            NotIpv4,
        ),
        (
            "broadcast mac",
            testing::udp(&Ends { dst_mac: EthernetAddress::BROADCAST, ..OUTBOUND }, 53, 5000, b""),
            BadDestination,
        ),
        (
            "broadcast ip",
            testing::udp(&Ends { dst_ip: Ipv4Address::BROADCAST, ..OUTBOUND }, 53, 5000, b""),
            BadDestination,
        ),
        (
            "to ourselves",
            testing::udp(&Ends { dst_ip: ME.ip, ..OUTBOUND }, 53, 5000, b""),
            BadDestination,
        ),
        ("more fragments", ip_patched(reply(), |ip| ip.set_more_frags(true)), Fragment),
        ("fragment offset", ip_patched(reply(), |ip| ip.set_frag_offset(64)), Fragment),
        ("ipv4 options", ip_patched(reply(), |ip| ip.set_header_len(24)), Ipv4Options),
        (
            "icmp",
            testing::ipv4(&OUTBOUND, IpProtocol::Icmp, echo.buffer_len(), |b, _, _| {
                echo.emit(&mut Icmpv4Packet::new_unchecked(b), &caps)
            }),
            UnsupportedProtocol,
        ),
        (
            "igmp",
            ip_patched(reply(), |ip| ip.set_next_header(IpProtocol::Igmp)),
            UnsupportedProtocol,
        ),
        (
            "udp length long",
            patched(reply(), |f| {
                let mut u = UdpPacket::new_unchecked(l4_mut(f));
                u.set_len(u.len() + 2)
            }),
            BadUdp,
        ),
        ("udp to port 0", testing::udp(&OUTBOUND, 53, 0, b""), BadUdp),
        (
            "tcp data offset past segment",
            patched(testing::tcp(&OUTBOUND, 80, 5000, b""), |f| {
                TcpPacket::new_unchecked(l4_mut(f)).set_header_len(44)
            }),
            BadTcp,
        ),
    ];
    for (what, frame, reason) in cases {
        assert_eq!(validate_tx(&frame, DNS, &ME, &t), Err(reason), "{what}");
    }
}
