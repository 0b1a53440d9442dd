//! Properties that must hold for every input, beyond "does not panic".
//!
//! The fuzz targets and `tests/fuzz_corpus.rs` call these same functions,
//! so a corpus file that once broke an invariant stays a regression test.
//! Each check cross-examines our answer with smoltcp's own `Repr` parsers
//! and with the opposite direction of the data path.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, Icmpv4Packet, Icmpv4Repr,
    IpAddress, Ipv4Packet, Ipv4Repr, TcpPacket, UdpPacket, UdpRepr,
};

use super::{tcp, udp, Ends, ME, PEER_IP};
use crate::{
    answer_arp, answer_echo, classify, validate_tx, Classified, DropReason, FiveTuple, FlowTable,
    Protocol, RespondError, ServiceKey, TenantId, TxReject, MAX_FRAME_LEN,
};

/// The tenants the fuzz table knows, plus one it does not (the last).
pub const FUZZ_TENANTS: [TenantId; 5] =
    [TenantId(0), TenantId(1), TenantId(2), TenantId(3), TenantId(9)];

/// The table the fuzz targets run against: three services and two flows,
/// one of them taking a conversation away from a service.
pub fn fuzz_table() -> FlowTable<16> {
    let mut t = FlowTable::new();
    let service = |protocol, port| ServiceKey { protocol, port };
    let flow = |protocol, src_port, dst_port| FiveTuple {
        protocol,
        src: (PEER_IP, src_port),
        dst: (ME.ip, dst_port),
    };
    let entries = [
        t.insert_service(service(Protocol::Udp, 7), TenantId(0)),
        t.insert_service(service(Protocol::Tcp, 80), TenantId(1)),
        t.insert_service(service(Protocol::Udp, 53), TenantId(2)),
        t.insert_flow(flow(Protocol::Tcp, 40000, 80), TenantId(2)),
        t.insert_flow(flow(Protocol::Udp, 5353, 9999), TenantId(3)),
    ];
    assert!(entries.iter().all(Result::is_ok));
    t
}

/// Classifies `frame` against [`fuzz_table`] and checks every invariant of the answer.
///
/// # Panics
/// When an invariant does not hold: that is the point.
pub fn check_classify(frame: &[u8]) {
    let table = fuzz_table();
    let verdict = classify(frame, &ME, &table);
    assert_eq!(verdict, classify(frame, &ME, &table), "classify is not deterministic");
    if frame.len() > MAX_FRAME_LEN {
        assert_eq!(verdict, Classified::Drop(DropReason::Oversized));
    }
    let mut out = [0u8; MAX_FRAME_LEN];
    if verdict != Classified::EchoRequest {
        assert_eq!(answer_echo(frame, &ME, &mut out), Err(RespondError::NotAnswerable));
    }
    match verdict {
        Classified::Deliver { tenant, tuple } => {
            assert_eq!(table.lookup(&tuple), Some(tenant));
            assert!(FUZZ_TENANTS[..4].contains(&tenant));
            check_inbound_tuple(frame, &tuple);
            check_reply_is_permitted(frame, &table, tenant, &tuple);
        }
        Classified::Miss { tuple } => {
            assert_eq!(table.lookup(&tuple), None);
            check_inbound_tuple(frame, &tuple);
        }
        Classified::ArpRequest(request) => check_arp_reply(&request),
        Classified::EchoRequest => check_echo_reply(frame, &mut out),
        Classified::Drop(reason) => assert!(DropReason::ALL.contains(&reason)),
    }
}

/// smoltcp's full parsers agree that the frame is the valid packet we say it is.
fn check_inbound_tuple(frame: &[u8], tuple: &FiveTuple) {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).expect("delivered frame has an Ethernet header");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("delivered frame has an IPv4 header");
    let ip_repr = Ipv4Repr::parse(&ip, &caps).expect("smoltcp accepts the IPv4 header");
    assert_eq!((ip_repr.src_addr, ip_repr.dst_addr), (tuple.src.0, tuple.dst.0));
    assert_eq!(tuple.dst.0, ME.ip);
    assert!(ME.is_remote_host(tuple.src.0));
    let (src, dst) = (IpAddress::Ipv4(ip_repr.src_addr), IpAddress::Ipv4(ip_repr.dst_addr));
    let ports = match tuple.protocol {
        Protocol::Udp => {
            let packet = UdpPacket::new_checked(ip.payload()).expect("UDP header");
            let repr = UdpRepr::parse(&packet, &src, &dst, &caps)
                .expect("smoltcp accepts the UDP datagram");
            assert_eq!(usize::from(packet.len()), ip.payload().len());
            (repr.src_port, repr.dst_port)
        }
        Protocol::Tcp => {
            let packet = TcpPacket::new_checked(ip.payload()).expect("TCP header");
            assert!(packet.verify_checksum(&src, &dst));
            (packet.src_port(), packet.dst_port())
        }
    };
    assert_eq!(ports, (tuple.src.1, tuple.dst.1));
}

/// The owner's reply to a delivered packet goes out; nobody else's does.
fn check_reply_is_permitted<const N: usize>(
    frame: &[u8],
    table: &FlowTable<N>,
    owner: TenantId,
    tuple: &FiveTuple,
) {
    if tuple.src.1 == 0 {
        // UDP from port 0 expects no reply, and none can be addressed to it.
        return;
    }
    let from_mac = EthernetFrame::new_checked(frame).expect("checked above").src_addr();
    let ends = Ends { dst_mac: from_mac, dst_ip: tuple.src.0, ..Ends::outbound(&ME) };
    let reply = match tuple.protocol {
        Protocol::Udp => udp(&ends, tuple.dst.1, tuple.src.1, b"reply"),
        Protocol::Tcp => tcp(&ends, tuple.dst.1, tuple.src.1, b"reply"),
    };
    for tenant in FUZZ_TENANTS {
        let verdict = validate_tx(&reply, tenant, &ME, table);
        if tenant == owner {
            assert_eq!(verdict, Ok(tuple.reversed()), "owner's reply refused");
        } else {
            assert_eq!(
                verdict,
                Err(TxReject::SpoofedSource),
                "tenant {tenant:?} may answer for {owner:?}"
            );
        }
    }
}

fn check_arp_reply(request: &ArpRepr) {
    let mut out = [0u8; 64];
    let n = answer_arp(request, &ME, &mut out).expect("a classified ARP request is answerable");
    let ArpRepr::EthernetIpv4 {
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = *request
    else {
        panic!("classify returned a non-Ethernet/IPv4 ARP request");
    };
    assert_eq!(target_protocol_addr, ME.ip);
    let eth = EthernetFrame::new_checked(&out[..n]).expect("reply has an Ethernet header");
    assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, source_hardware_addr));
    assert!(eth.dst_addr().is_unicast());
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).expect("ARP body"))
        .expect("ARP reply parses");
    assert_eq!(
        reply,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: ME.mac,
            source_protocol_addr: ME.ip,
            target_hardware_addr: source_hardware_addr,
            target_protocol_addr: source_protocol_addr,
        }
    );
}

/// The Ethernet source and destination, IPv4 header and ICMP message of an ICMP frame.
fn parse_icmp(frame: &[u8]) -> (EthernetAddress, EthernetAddress, Ipv4Repr, Icmpv4Repr<'_>) {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).expect("Ethernet header");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("IPv4 header");
    let ip_repr = Ipv4Repr::parse(&ip, &caps).expect("IPv4 header parses");
    let icmp = Icmpv4Packet::new_checked(ip.payload()).expect("ICMP header");
    let icmp_repr = Icmpv4Repr::parse(&icmp, &caps).expect("ICMP message parses");
    (eth.src_addr(), eth.dst_addr(), ip_repr, icmp_repr)
}

fn check_echo_reply(request: &[u8], out: &mut [u8]) {
    let n = answer_echo(request, &ME, out).expect("a classified echo request is answerable");
    assert!(n <= MAX_FRAME_LEN);
    let (req_src_mac, _, req_ip, req_icmp) = parse_icmp(request);
    let (src_mac, dst_mac, ip, icmp) = parse_icmp(&out[..n]);
    assert_eq!((src_mac, dst_mac), (ME.mac, req_src_mac));
    assert_eq!((ip.src_addr, ip.dst_addr), (ME.ip, req_ip.src_addr));
    match (req_icmp, icmp) {
        (
            Icmpv4Repr::EchoRequest { ident, seq_no, data },
            Icmpv4Repr::EchoReply { ident: r_ident, seq_no: r_seq_no, data: r_data },
        ) => assert_eq!((ident, seq_no, data), (r_ident, r_seq_no, r_data)),
        (req, reply) => panic!("{req:?} answered with {reply:?}"),
    }
}

/// Runs `frame` through [`validate_tx`] as every tenant of [`fuzz_table`]
/// and checks every invariant of the answers.
///
/// # Panics
/// When an invariant does not hold.
pub fn check_validate_tx(frame: &[u8]) {
    let table = fuzz_table();
    let verdicts = FUZZ_TENANTS.map(|t| validate_tx(frame, t, &ME, &table));
    let accepted = verdicts.iter().filter(|v| v.is_ok()).count();
    assert!(accepted <= 1, "one frame is sendable by {accepted} tenants");
    // A refusal for any reason but the port is the same for every tenant.
    let permission_only =
        verdicts.iter().all(|v| matches!(v, Ok(_) | Err(TxReject::SpoofedSource)));
    assert!(permission_only || verdicts.iter().all(|v| *v == verdicts[0]), "{verdicts:?}");
    if frame.len() > MAX_FRAME_LEN {
        assert!(verdicts.iter().all(|v| *v == Err(TxReject::Oversized)));
    }
    for (tenant, verdict) in FUZZ_TENANTS.iter().zip(verdicts) {
        let Ok(tuple) = verdict else { continue };
        assert_eq!(table.lookup(&tuple.reversed()), Some(*tenant));
        assert_eq!(tuple.src.0, ME.ip);
        assert!(ME.is_remote_host(tuple.dst.0));
        let eth = EthernetFrame::new_checked(frame).expect("sent frame has an Ethernet header");
        assert_eq!(eth.src_addr(), ME.mac);
        assert!(eth.dst_addr().is_unicast());
        let ip = Ipv4Packet::new_checked(eth.payload()).expect("sent frame has an IPv4 header");
        let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default())
            .expect("smoltcp accepts the header");
        assert_eq!((ip_repr.src_addr, ip_repr.dst_addr), (tuple.src.0, tuple.dst.0));
    }
}
