//! Frame fixtures, sample configurations and the invariant check the host
//! tests, fuzz targets and benchmarks share.
//!
//! Every fixture is built with smoltcp's `Repr::emit`, so it is valid unless
//! a test patches it afterwards (through smoltcp's setters, e.g.
//! [`ipv4_mut`]). The builders panic when given a bad address or a fixture
//! that does not fit [`FRAME_CAP`]: they are for tests, never for frames
//! from a peer. [`check_graph`] never panics unless an invariant breaks.

use edgeos_flow::testing as fixtures;
use heapless::Vec;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, IpAddress, IpProtocol, Ipv4Packet, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber, UdpPacket,
};

pub use edgeos_flow::testing::{ipv4_mut, l4_mut, Ends, Frame, FRAME_CAP};

use crate::{Class, DropReason, ElementId, Graph, Packet, Verdict};

/// The Ethernet header length.
pub const ETH: usize = 14;

/// A frame from `src` to `dst` (dotted quads) between two fixed MACs.
///
/// # Panics
/// If either is not an IPv4 address.
pub fn ends(src: &str, dst: &str) -> Ends {
    Ends {
        src_mac: EthernetAddress([0x52, 0x54, 0, 0, 0, 1]),
        dst_mac: EthernetAddress([0x52, 0x54, 0, 0, 0, 2]),
        src_ip: src.parse().expect("source address"),
        dst_ip: dst.parse().expect("destination address"),
    }
}

// The frame builders are the flow crate's (`edgeos_flow::testing`), under
// the names these tests and fuzz targets use.

/// An IPv4 frame (TTL 64) whose payload `emit` writes, given the
/// pseudo-header addresses.
pub fn ipv4_frame(
    ends: Ends,
    protocol: IpProtocol,
    payload_len: usize,
    emit: impl FnOnce(&mut [u8], &IpAddress, &IpAddress),
) -> Frame {
    fixtures::ipv4(&ends, protocol, payload_len, emit)
}

/// A UDP datagram with a valid checksum.
pub fn udp_frame(ends: Ends, src_port: u16, dst_port: u16, payload: &[u8]) -> Frame {
    fixtures::udp(&ends, src_port, dst_port, payload)
}

/// A TCP segment (PSH+ACK, no options) with a valid checksum.
pub fn tcp_frame(ends: Ends, src_port: u16, dst_port: u16, payload: &[u8]) -> Frame {
    fixtures::tcp(&ends, src_port, dst_port, payload)
}

/// A TCP segment with `control`: a SYN carries no ACK, others acknowledge.
pub fn tcp_frame_with(
    ends: Ends,
    src_port: u16,
    dst_port: u16,
    control: TcpControl,
    payload: &[u8],
) -> Frame {
    fixtures::tcp_with(&ends, src_port, dst_port, control, payload)
}

/// A TCP segment of a connection: `control`, sequence number `seq`, and
/// when `ack` is given the ACK flag and that acknowledgement number.
pub fn tcp_segment(
    ends: Ends,
    (src_port, dst_port): (u16, u16),
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Frame {
    let tcp = TcpRepr {
        src_port,
        dst_port,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    ipv4_frame(ends, IpProtocol::Tcp, tcp.buffer_len(), |buf, src, dst| {
        let checksums = ChecksumCapabilities::default();
        tcp.emit(&mut TcpPacket::new_unchecked(buf), src, dst, &checksums)
    })
}

/// An ICMP echo request.
pub fn icmp_echo_frame(ends: Ends) -> Frame {
    fixtures::echo_request(&ends, 7, 1, b"ping")
}

/// A broadcast ARP request from `ends`' source for its destination.
pub fn arp_frame(ends: Ends) -> Frame {
    fixtures::arp_request(ends.src_mac, ends.src_ip, ends.dst_ip)
}

/// A firewall and NAT in front of `10.0.0.0/8`, public address `192.0.2.1`:
/// inside hosts may open TCP connections to ports 80 and 443 (their
/// source rewritten to `192.0.2.1`, ports from 1024 up), and the replies
/// come back rewritten; nothing else passes. Non-IP frames are discarded.
pub const FIREWALL_NAT: &str = "\
// Firewall and NAT: 10.0.0.0/8 inside, 192.0.2.1 outside.
from :: FromRing;
to   :: ToRing;
eth  :: Classifier(12/0800, -);
from -> eth;
eth[1] -> Discard;                      // ARP and the rest: the mux answers ARP
eth[0] -> Strip(14) -> CheckIPHeader
       -> fw :: IPFilter(0 src net 10.0.0.0/8 && tcp dst port 80 || src net 10.0.0.0/8 && tcp dst port 443,
                         1 dst host 192.0.2.1 && (tcp || udp),
                         deny all);
nat :: IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 0, drop);
fw[0] -> [0]nat;
fw[1] -> [1]nat;
nat -> DecIPTTL -> Unstrip(14) -> to;
";

/// A load balancer: TCP to `192.0.2.80:80` goes to `10.1.0.1:8080` and
/// `10.1.0.2:8080` in turn, and the backends' replies come back from the
/// virtual address.
pub const LOAD_BALANCER: &str = "\
from :: FromRing;
to   :: ToRing;
lb   :: RoundRobinIPMapper(- - 10.1.0.1 8080 0 1, - - 10.1.0.2 8080 0 1);
rw   :: IPRewriter(lb, drop);
from -> Classifier(12/0800) -> CheckIPHeader(14)
     -> f :: IPFilter(0 dst host 192.0.2.80 && tcp dst port 80,
                      1 src net 10.1.0.0/24 && tcp src port 8080,
                      deny all);
f[0] -> [0]rw;
f[1] -> [1]rw;
rw[0] -> out :: DecIPTTL -> to;
rw[1] -> out;
";

/// The benchmarks' 3-element chain: Classifier, CheckIPHeader(14), DecIPTTL.
pub const CHAIN_3: &str =
    "FromRing -> Classifier(12/0800) -> CheckIPHeader(14) -> DecIPTTL -> ToRing;";

/// The benchmarks' 6-element chain: Classifier, Strip, CheckIPHeader,
/// IPFilter, DecIPTTL, Unstrip.
pub const CHAIN_6: &str = "FromRing -> Classifier(12/0800) -> Strip(14) -> CheckIPHeader \
     -> IPFilter(allow tcp || udp) -> DecIPTTL -> Unstrip(14) -> ToRing;";

/// The chains the benchmarks time and count instructions over, each one
/// element longer than the one before (the last is [`CHAIN_6`]), then
/// single elements after a CheckIPHeader(14) and the firewall and NAT; a
/// name and a configuration each. The cost of an element is the
/// difference between a chain and the one it extends (see docs/click.md).
pub const BENCH_CHAINS: [(&str, &str); 12] = [
    ("0-endpoints", "FromRing -> ToRing;"),
    ("1-classifier", "FromRing -> Classifier(12/0800) -> ToRing;"),
    ("2-strip", "FromRing -> Classifier(12/0800) -> Strip(14) -> ToRing;"),
    ("3-checkipheader", "FromRing -> Classifier(12/0800) -> Strip(14) -> CheckIPHeader -> ToRing;"),
    (
        "4-ipfilter",
        "FromRing -> Classifier(12/0800) -> Strip(14) -> CheckIPHeader -> IPFilter(allow tcp || udp) -> ToRing;",
    ),
    (
        "5-decipttl",
        "FromRing -> Classifier(12/0800) -> Strip(14) -> CheckIPHeader -> IPFilter(allow tcp || udp) \
         -> DecIPTTL -> ToRing;",
    ),
    ("6-unstrip", CHAIN_6),
    ("chain-3", CHAIN_3),
    ("counter", "FromRing -> Counter -> ToRing;"),
    ("checkipheader14", "FromRing -> CheckIPHeader(14) -> ToRing;"),
    (
        "iprewriter",
        "FromRing -> CheckIPHeader(14) -> IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 0) -> ToRing;",
    ),
    ("firewall-nat", FIREWALL_NAT),
];

/// Valid frames that reach the sample graphs' deep paths: connections
/// through the firewall and NAT both ways, to and from the load
/// balancer's backends, and frames each graph refuses or discards.
pub fn seed_frames() -> Vec<Frame, 16> {
    let inside = ends("10.0.0.5", "203.0.113.9");
    let outside = ends("203.0.113.9", "192.0.2.1");
    let mut v = Vec::new();
    for f in [
        tcp_frame_with(inside, 40000, 80, TcpControl::Syn, b""),
        tcp_frame(inside, 40001, 443, b"GET / HTTP/1.0\r\n\r\n"),
        tcp_frame(outside, 80, 1024, b"HTTP/1.0 200 OK\r\n\r\n"),
        tcp_frame(ends("198.51.100.7", "192.0.2.80"), 1000, 80, b"req"),
        tcp_frame(ends("10.1.0.1", "198.51.100.7"), 8080, 1000, b"resp"),
        udp_frame(inside, 5353, 53, b"query"),
        udp_frame(outside, 53, 1024, b"answer"),
        icmp_echo_frame(inside),
        arp_frame(inside),
    ] {
        let _ = v.push(f);
    }
    v
}

/// A [`check_graph`] input: the configuration selector, then each frame
/// after its 2-byte big-endian length.
pub fn graph_input(selector: u8, frames: &[&[u8]]) -> Vec<u8, 8192> {
    let mut v = Vec::new();
    let _ = v.push(selector);
    for f in frames {
        let _ = v.extend_from_slice(&(f.len() as u16).to_be_bytes());
        let _ = v.extend_from_slice(f);
    }
    v
}

/// The benchmarks' frame: a 64-byte TCP segment from inside the firewall
/// and NAT to a web server, which every [`BENCH_CHAINS`] entry transmits.
pub fn bench_frame() -> Frame {
    tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 80, &[0x5a; 10])
}

/// A Queue in a loop: each pull decrements the TTL once and queues the
/// packet again, until it expires and leaves on DecIPTTL's output 1.
pub const QUEUE_LOOP: &str = "\
from :: FromRing; to :: ToRing;
from -> c :: Classifier(12/0800, -) -> CheckIPHeader(14) -> q :: Queue(4) -> d :: DecIPTTL -> q;
d[1] -> Counter -> to;
c[1] -> Discard;
";

/// Headroom games: strips and puts back more than it took.
pub const HEADROOM: &str = "\
FromRing -> Strip(20) -> Unstrip(34) -> c :: Classifier(0/52, -) -> ToRing;
c[1] -> Discard;
";

/// The configurations [`check_graph`] picks from.
pub const FUZZ_CONFIGS: [&str; 6] = [
    FIREWALL_NAT,
    LOAD_BALANCER,
    CHAIN_3,
    CHAIN_6,
    QUEUE_LOOP,
    HEADROOM,
];

/// Headroom [`check_graph`] gives each frame.
pub const FUZZ_HEADROOM: usize = 16;

/// One's-complement sum of `data` as 16-bit big-endian words (odd byte
/// padded), folded. Written out here rather than through smoltcp's
/// `verify_checksum`, which always says yes when built for fuzzing.
fn sum(data: &[u8]) -> u32 {
    let mut acc: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        acc += u32::from(*b) << 8;
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Whether the IPv4 header checksum and (for an unfragmented TCP or UDP
/// packet with consistent lengths) the transport checksum of the frame's
/// IPv4 packet at [`ETH`] hold; `None` when there is no IPv4 header there.
pub fn checksums(frame: &[u8]) -> Option<(bool, Option<bool>)> {
    let ip = Ipv4Packet::new_checked(frame.get(ETH..)?).ok()?;
    if ip.version() != 4 {
        return None;
    }
    let hl = usize::from(ip.header_len());
    let header_ok = sum(&frame[ETH..ETH + hl]) == 0xffff;
    let proto = u8::from(ip.next_header());
    if ip.more_frags() || ip.frag_offset() != 0 || (proto != 6 && proto != 17) {
        return Some((header_ok, None));
    }
    let seg = ip.payload();
    let ok = |len: usize| {
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&ip.src_addr().octets());
        pseudo[4..8].copy_from_slice(&ip.dst_addr().octets());
        pseudo[9] = proto;
        pseudo[10..].copy_from_slice(&(len as u16).to_be_bytes());
        let mut acc = sum(&pseudo) + sum(&seg[..len]);
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc == 0xffff
    };
    let l4 = if proto == 6 {
        TcpPacket::new_checked(seg).ok().map(|_| ok(seg.len()))
    } else {
        UdpPacket::new_checked(seg)
            .ok()
            .map(|u| u.checksum() == 0 || ok(usize::from(u.len())))
    };
    Some((header_ok, l4))
}

/// Pushes arbitrary bytes through one of [`FUZZ_CONFIGS`] and checks the
/// graph's promises; panics only when one breaks.
///
/// The first byte picks the configuration; the rest is a sequence of
/// frames, each a 2-byte big-endian length (modulo 1515) and that many
/// bytes, pushed in order (so flows, mappings and queues build up), with
/// the queues drained after each. Promises checked:
/// - nothing panics, and the walk ends within the element count;
/// - each verdict names an element of the right class (Transmit at a
///   ToRing, Queued at a Queue, Discarded at a Discard);
/// - a transmitted frame whose IPv4 and TCP/UDP checksums held on entry
///   still has valid checksums (DecIPTTL and IPRewriter update them);
/// - per-element drop counters add up to the per-reason ones.
pub fn check_graph(input: &[u8]) {
    let Some((&pick, mut rest)) = input.split_first() else {
        return;
    };
    let config = FUZZ_CONFIGS[usize::from(pick) % FUZZ_CONFIGS.len()];
    let mut graph: Graph = Graph::new();
    graph
        .configure(config)
        .expect("fuzz configurations are valid");
    let mut buf = [0u8; FUZZ_HEADROOM + crate::MAX_FRAME_LEN];
    let mut element_drops = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % (crate::MAX_FRAME_LEN + 1);
        let frame = &rest[2..];
        let frame = &frame[..len.min(frame.len())];
        rest = &rest[2 + frame.len()..];
        let before = checksums(frame);
        buf[FUZZ_HEADROOM..FUZZ_HEADROOM + frame.len()].copy_from_slice(frame);
        let mut pkt = Packet::new(&mut buf, FUZZ_HEADROOM, frame.len()).expect("fits");
        let verdict = graph.push(&mut pkt);
        element_drops += check_verdict(&graph, verdict, pkt.data(), before);
        let mut out = [0u8; FUZZ_HEADROOM + crate::MAX_FRAME_LEN];
        for _ in 0..crate::DEFAULT_QUEUE_SLOTS * 256 {
            let Some((pkt, verdict)) = graph.pull(&mut out, FUZZ_HEADROOM) else {
                break;
            };
            // A queued packet's checksums were checked when it was pushed;
            // what it had on entry is not known here.
            element_drops += check_verdict(&graph, verdict, pkt.data(), None);
        }
    }
    let by_reason: u64 = DropReason::ALL.iter().map(|&r| graph.drops(r)).sum();
    assert_eq!(by_reason, element_drops, "drop counters disagree");
    let by_element: u64 = (0..graph.len())
        .map(|i| graph.stats(ElementId(i as u8)).map_or(0, |s| s.drops))
        .sum();
    assert_eq!(by_element, element_drops, "element drop counters disagree");
}

/// Runs arbitrary text through the parser and checks its promises; panics
/// only when one breaks:
/// - nothing panics;
/// - an error points inside the text (line 1 up to the line count, column
///   at least 1) and renders;
/// - a configuration [`crate::check`] accepts, [`Graph::configure`] accepts too,
///   and the graph built from it handles a few frames (valid, truncated,
///   empty) with verdicts naming elements of the right class.
pub fn check_config(text: &str) {
    match crate::check(text) {
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(
                e.line >= 1 && e.line as usize <= lines,
                "line {} of {lines}",
                e.line
            );
            assert!(e.column >= 1);
            let _ = core::fmt::write(&mut Sink, format_args!("{e}"));
        }
        Ok(summary) => {
            let mut graph: Graph = Graph::new();
            assert_eq!(
                graph.configure(text),
                Ok(summary),
                "check and configure disagree"
            );
            let frames = [
                bench_frame(),
                udp_frame(ends("203.0.113.9", "192.0.2.1"), 53, 1024, b"a"),
                arp_frame(ends("10.0.0.5", "10.0.0.1")),
            ];
            let mut buf = [0u8; FUZZ_HEADROOM + crate::MAX_FRAME_LEN];
            for f in &frames {
                for len in [f.len(), f.len() / 2, 0] {
                    buf[FUZZ_HEADROOM..FUZZ_HEADROOM + len].copy_from_slice(&f[..len]);
                    let mut pkt = Packet::new(&mut buf, FUZZ_HEADROOM, len).expect("fits");
                    let verdict = graph.push(&mut pkt);
                    check_verdict(&graph, verdict, pkt.data(), None);
                    let mut out = [0u8; FUZZ_HEADROOM + crate::MAX_FRAME_LEN];
                    for _ in 0..crate::DEFAULT_QUEUE_SLOTS * 64 {
                        let Some((pkt, verdict)) = graph.pull(&mut out, FUZZ_HEADROOM) else {
                            break;
                        };
                        check_verdict(&graph, verdict, pkt.data(), None);
                    }
                }
            }
        }
    }
}

/// Discards what is written to it (to render errors without allocating).
struct Sink;

impl core::fmt::Write for Sink {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// Checks one verdict; returns 1 when it is a drop counted against an element.
fn check_verdict(
    graph: &Graph,
    verdict: Verdict,
    out: &[u8],
    before: Option<(bool, Option<bool>)>,
) -> u64 {
    let class = |at: ElementId| graph.class(at).expect("verdict names an element");
    match verdict {
        Verdict::Transmit { at } => {
            assert_eq!(class(at), Class::ToRing);
            if let (Some((true, l4_before)), Some((header, l4))) = (before, checksums(out)) {
                assert!(header, "a valid IP header checksum was broken");
                if l4_before == Some(true) {
                    assert_ne!(l4, Some(false), "a valid TCP/UDP checksum was broken");
                }
            }
            0
        }
        Verdict::Queued { at } => {
            assert_eq!(class(at), Class::Queue);
            0
        }
        Verdict::Discarded { at } => {
            assert_eq!(class(at), Class::Discard);
            0
        }
        Verdict::Dropped {
            at: Some(at),
            reason,
        } => {
            assert!(graph.class(at).is_some(), "drop at a missing element");
            assert_ne!(
                reason,
                DropReason::Loop,
                "the walk ran past the element count"
            );
            assert_ne!(
                reason,
                DropReason::NotConfigured,
                "a required output was unconnected"
            );
            1
        }
        Verdict::Dropped { at: None, reason } => {
            panic!("a configured graph dropped without an element: {reason}")
        }
    }
}
