//! End to end: the firewall and NAT configuration (`testing::FIREWALL_NAT`)
//! and the load balancer (`testing::LOAD_BALANCER`), fed frames built with
//! smoltcp's emit functions, each with a known outcome.

use edgeos_click::testing::{self, ends, Frame, FIREWALL_NAT, LOAD_BALANCER};
use edgeos_click::{DropReason, Graph, Packet, Verdict};
use smoltcp::wire::{
    EthernetFrame, IpAddress, IpProtocol, Ipv4Packet, TcpControl, TcpPacket, UdpPacket,
};

/// Headroom the FWP gives each frame (Unstrip needs none here: Strip(14)
/// and Unstrip(14) cancel out).
const HEADROOM: usize = 0;

struct Out {
    verdict: Verdict,
    frame: Vec<u8>,
}

fn push(g: &mut Graph, frame: &Frame) -> Out {
    let mut buf = vec![0u8; HEADROOM + frame.len()];
    buf[HEADROOM..].copy_from_slice(frame);
    let mut pkt = Packet::new(&mut buf, HEADROOM, frame.len()).unwrap();
    let verdict = g.push(&mut pkt);
    Out {
        verdict,
        frame: pkt.data().to_vec(),
    }
}

/// `(src, sport, dst, dport, ttl)` of a transmitted frame, after checking
/// every checksum with smoltcp and that the Ethernet header is untouched.
fn flow(original: &Frame, out: &Out) -> (String, u16, String, u16, u8) {
    let g = &out.frame;
    assert!(
        matches!(out.verdict, Verdict::Transmit { .. }),
        "{:?}",
        out.verdict
    );
    assert_eq!(
        g[..14],
        original[..14],
        "the Ethernet header passes unchanged"
    );
    assert_eq!(
        EthernetFrame::new_checked(&g[..]).unwrap().ethertype(),
        smoltcp::wire::EthernetProtocol::Ipv4
    );
    let ip = Ipv4Packet::new_checked(&g[14..]).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    let (s, d) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let (sport, dport, payload) = match ip.next_header() {
        IpProtocol::Tcp => {
            let t = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(t.verify_checksum(&s, &d), "TCP checksum");
            (t.src_port(), t.dst_port(), t.payload().to_vec())
        }
        IpProtocol::Udp => {
            let u = UdpPacket::new_checked(ip.payload()).unwrap();
            assert!(u.verify_checksum(&s, &d), "UDP checksum");
            (u.src_port(), u.dst_port(), u.payload().to_vec())
        }
        p => panic!("unexpected protocol {p}"),
    };
    // The payload is never touched.
    let orig = Ipv4Packet::new_checked(&original[14..]).unwrap();
    let orig_payload = match orig.next_header() {
        IpProtocol::Tcp => TcpPacket::new_checked(orig.payload())
            .unwrap()
            .payload()
            .to_vec(),
        _ => UdpPacket::new_checked(orig.payload())
            .unwrap()
            .payload()
            .to_vec(),
    };
    assert_eq!(payload, orig_payload);
    (
        ip.src_addr().to_string(),
        sport,
        ip.dst_addr().to_string(),
        dport,
        ip.hop_limit(),
    )
}

fn firewall_nat() -> Graph {
    let mut g: Graph = Graph::new();
    g.configure(FIREWALL_NAT).unwrap();
    g
}

fn dropped(out: &Out) -> DropReason {
    match out.verdict {
        Verdict::Dropped { reason, .. } => reason,
        v => panic!("not dropped: {v:?}"),
    }
}

#[test]
fn an_inside_web_connection_is_translated_both_ways() {
    let mut g = firewall_nat();
    let syn = testing::tcp_frame_with(
        ends("10.0.0.5", "203.0.113.9"),
        40000,
        80,
        TcpControl::Syn,
        b"",
    );
    let out = push(&mut g, &syn);
    assert_eq!(
        flow(&syn, &out),
        ("192.0.2.1".into(), 1024, "203.0.113.9".into(), 80, 63)
    );

    let data = testing::tcp_frame(
        ends("10.0.0.5", "203.0.113.9"),
        40000,
        80,
        b"GET / HTTP/1.0\r\n\r\n",
    );
    let out = push(&mut g, &data);
    assert_eq!(
        flow(&data, &out),
        ("192.0.2.1".into(), 1024, "203.0.113.9".into(), 80, 63)
    );

    let reply = testing::tcp_frame(
        ends("203.0.113.9", "192.0.2.1"),
        80,
        1024,
        b"HTTP/1.0 200 OK\r\n\r\n",
    );
    let out = push(&mut g, &reply);
    assert_eq!(
        flow(&reply, &out),
        ("203.0.113.9".into(), 80, "10.0.0.5".into(), 40000, 63)
    );

    // A second inside host, to port 443: the next public port.
    let other = testing::tcp_frame(ends("10.9.8.7", "198.51.100.1"), 50000, 443, b"hello");
    let out = push(&mut g, &other);
    assert_eq!(
        flow(&other, &out),
        ("192.0.2.1".into(), 1025, "198.51.100.1".into(), 443, 63)
    );
    assert_eq!(g.mappings(), 2);

    let nat = g.find("nat").unwrap();
    assert_eq!(g.stats(nat).unwrap().packets, 4);
    assert_eq!(g.stats(g.find("to").unwrap()).unwrap().packets, 4);
}

#[test]
fn the_firewall_refuses_what_its_rules_do_not_allow() {
    let mut g = firewall_nat();
    // Inside, but to a port the rules do not open.
    let ssh = testing::tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 22, b"");
    assert_eq!(dropped(&push(&mut g, &ssh)), DropReason::Denied);
    // Inside, UDP.
    let dns = testing::udp_frame(ends("10.0.0.5", "203.0.113.9"), 5353, 53, b"q");
    assert_eq!(dropped(&push(&mut g, &dns)), DropReason::Denied);
    // From outside, to somebody else.
    let stray = testing::tcp_frame(ends("203.0.113.9", "192.0.2.2"), 80, 1024, b"");
    assert_eq!(dropped(&push(&mut g, &stray)), DropReason::Denied);
    // From outside, to the public address, but no connection made it: the NAT's `drop` spec.
    let unsolicited = testing::tcp_frame(ends("203.0.113.9", "192.0.2.1"), 80, 5555, b"");
    assert_eq!(dropped(&push(&mut g, &unsolicited)), DropReason::NoMapping);
    // ICMP to the public address: the filter lets only TCP and UDP to it.
    let ping = testing::icmp_echo_frame(ends("203.0.113.9", "192.0.2.1"));
    assert_eq!(dropped(&push(&mut g, &ping)), DropReason::Denied);

    assert_eq!(g.drops(DropReason::Denied), 4);
    assert_eq!(g.drops(DropReason::NoMapping), 1);
    let fw = g.find("fw").unwrap();
    assert_eq!(g.stats(fw).unwrap().drops, 4);
    assert_eq!(g.mappings(), 0, "nothing refused made a mapping");
}

#[test]
fn non_ip_frames_are_discarded_and_malformed_ones_dropped_and_counted() {
    let mut g = firewall_nat();
    let arp = testing::arp_frame(ends("10.0.0.5", "10.0.0.1"));
    assert!(matches!(
        push(&mut g, &arp).verdict,
        Verdict::Discarded { .. }
    ));

    let good = testing::tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 80, b"x");
    // Truncated anywhere in the IP header: CheckIPHeader drops it.
    for len in 14..34 {
        let short = Frame::from_slice(&good[..len]).unwrap();
        assert_eq!(
            dropped(&push(&mut g, &short)),
            DropReason::BadIpHeader,
            "{len}"
        );
    }
    // Truncated inside the TCP header: the filter drops it.
    for len in 34..54 {
        let mut short = Frame::from_slice(&good[..len]).unwrap();
        let total = (len - 14) as u16;
        testing::ipv4_mut(&mut short).set_total_len(total);
        testing::ipv4_mut(&mut short).fill_checksum();
        assert_eq!(
            dropped(&push(&mut g, &short)),
            DropReason::BadL4Header,
            "{len}"
        );
    }
    // Shorter than an Ethernet header: the Classifier matches nothing but `-`.
    for len in 0..14 {
        let tiny = Frame::from_slice(&good[..len]).unwrap();
        assert!(
            matches!(push(&mut g, &tiny).verdict, Verdict::Discarded { .. }),
            "{len}"
        );
    }
    // A bad IP checksum.
    let mut bad = good.clone();
    testing::ipv4_mut(&mut bad).set_checksum(0xdead);
    assert_eq!(dropped(&push(&mut g, &bad)), DropReason::BadIpChecksum);
    // TTL 1: expires at DecIPTTL (output 1 not connected).
    let mut ttl1 = good.clone();
    testing::ipv4_mut(&mut ttl1).set_hop_limit(1);
    testing::ipv4_mut(&mut ttl1).fill_checksum();
    assert_eq!(dropped(&push(&mut g, &ttl1)), DropReason::TtlExpired);

    assert_eq!(g.drops(DropReason::BadIpHeader), 20);
    assert_eq!(g.drops(DropReason::BadL4Header), 20);
    let check = g.find("CheckIPHeader@6").unwrap();
    assert_eq!(g.stats(check).unwrap().drops, 21);
}

#[test]
fn ethernet_padding_is_removed_before_transmission() {
    let mut g = firewall_nat();
    let f = testing::tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 80, b"");
    let mut padded = f.clone();
    padded.extend_from_slice(&[0xee; 6]).unwrap();
    let out = push(&mut g, &padded);
    assert!(matches!(out.verdict, Verdict::Transmit { .. }));
    assert_eq!(out.frame.len(), f.len());
}

#[test]
fn the_load_balancer_alternates_backends_and_hides_them_in_replies() {
    let mut g: Graph = Graph::new();
    g.configure(LOAD_BALANCER).unwrap();
    let mut seen = Vec::new();
    for port in [1000u16, 1001, 1002] {
        let f = testing::tcp_frame(ends("198.51.100.7", "192.0.2.80"), port, 80, b"req");
        let out = push(&mut g, &f);
        let (_, _, backend, bport, _) = flow(&f, &out);
        seen.push((backend, bport));
    }
    assert_eq!(
        seen,
        [
            ("10.1.0.1".into(), 8080),
            ("10.1.0.2".into(), 8080),
            ("10.1.0.1".into(), 8080)
        ]
    );
    let reply = testing::tcp_frame(ends("10.1.0.2", "198.51.100.7"), 8080, 1001, b"resp");
    let out = push(&mut g, &reply);
    assert_eq!(
        flow(&reply, &out),
        ("192.0.2.80".into(), 80, "198.51.100.7".into(), 1001, 63)
    );
    // A backend's reply for no client is dropped.
    let stray = testing::tcp_frame(ends("10.1.0.1", "198.51.100.7"), 8080, 4444, b"");
    assert_eq!(dropped(&push(&mut g, &stray)), DropReason::NoMapping);
}
