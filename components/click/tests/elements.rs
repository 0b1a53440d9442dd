//! Each element inside a graph: what it does to a good frame, and that a
//! malformed or truncated one is dropped and counted, never a panic.
//! (The IP elements, Classifier, IPFilter and IPRewriter also have unit
//! tests next to their code.)

use edgeos_click::testing::{self, ends, Frame, QUEUE_LOOP};
use edgeos_click::{Class, DropReason, ElementId, Graph, Packet, Verdict};
use smoltcp::wire::Ipv4Packet;

fn graph(config: &str) -> Graph {
    let mut g: Graph = Graph::new();
    g.configure(config).unwrap_or_else(|e| panic!("{e}"));
    g
}

fn id(g: &Graph, name: &str) -> ElementId {
    g.find(name).unwrap_or_else(|| panic!("no element {name}"))
}

/// Pushes `frame` with `headroom` bytes in front; the verdict and the bytes sent.
fn push_with(g: &mut Graph, frame: &[u8], headroom: usize) -> (Verdict, Vec<u8>) {
    let mut buf = vec![0xaa; headroom + frame.len()];
    buf[headroom..].copy_from_slice(frame);
    let mut pkt = Packet::new(&mut buf, headroom, frame.len()).unwrap();
    let v = g.push(&mut pkt);
    (v, pkt.data().to_vec())
}

fn push(g: &mut Graph, frame: &[u8]) -> Verdict {
    push_with(g, frame, 0).0
}

fn udp() -> Frame {
    testing::udp_frame(ends("10.0.0.1", "10.0.0.2"), 1000, 53, b"payload")
}

#[test]
fn an_unconfigured_graph_drops_everything() {
    let mut g: Graph = Graph::new();
    assert_eq!(
        push(&mut g, &udp()),
        Verdict::Dropped {
            at: None,
            reason: DropReason::NotConfigured
        }
    );
    assert_eq!(g.drops(DropReason::NotConfigured), 1);
    let mut buf = [0u8; 64];
    assert!(g.pull(&mut buf, 0).is_none());
}

#[test]
fn from_ring_to_ring_passes_the_frame_unchanged() {
    let mut g = graph("in :: FromRing; out :: ToRing; in -> out;");
    let f = udp();
    let (v, sent) = push_with(&mut g, &f, 0);
    assert_eq!(v, Verdict::Transmit { at: id(&g, "out") });
    assert_eq!(sent, f.to_vec());
    assert_eq!(g.class(id(&g, "in")), Some(Class::FromRing));
    assert_eq!(g.stats(id(&g, "in")).unwrap().packets, 1);
    assert_eq!(g.stats(id(&g, "out")).unwrap().bytes, f.len() as u64);
    // Even an empty frame.
    assert!(matches!(push(&mut g, &[]), Verdict::Transmit { .. }));
}

#[test]
fn discard_ends_the_journey() {
    let mut g = graph("FromRing -> d :: Discard;");
    assert_eq!(push(&mut g, &udp()), Verdict::Discarded { at: id(&g, "d") });
    assert_eq!(
        g.stats(id(&g, "d")).unwrap().drops,
        0,
        "a discard is no drop"
    );
}

#[test]
fn counter_counts_packets_and_bytes() {
    let mut g = graph("FromRing -> c :: Counter -> ToRing;");
    for len in [0usize, 1, 60, 1514] {
        push(&mut g, &vec![0u8; len]);
    }
    let s = g.stats(id(&g, "c")).unwrap();
    assert_eq!((s.packets, s.bytes, s.drops), (4, 1575, 0));
}

#[test]
fn strip_removes_bytes_and_refuses_short_packets() {
    let mut g = graph("FromRing -> s :: Strip(14) -> ToRing;");
    let f = udp();
    let (v, sent) = push_with(&mut g, &f, 0);
    assert!(matches!(v, Verdict::Transmit { .. }));
    assert_eq!(sent, f[14..].to_vec());
    assert!(
        matches!(push(&mut g, &f[..14]), Verdict::Transmit { .. }),
        "exactly 14 leaves nothing"
    );
    for len in 0..14 {
        assert_eq!(
            push(&mut g, &f[..len]),
            Verdict::Dropped {
                at: Some(id(&g, "s")),
                reason: DropReason::TooShort
            }
        );
    }
    assert_eq!(g.drops(DropReason::TooShort), 14);
}

#[test]
fn unstrip_uses_headroom_and_refuses_without_it() {
    let mut g = graph("FromRing -> u :: Unstrip(4) -> ToRing;");
    let f = udp();
    let (v, sent) = push_with(&mut g, &f, 4);
    assert!(matches!(v, Verdict::Transmit { .. }));
    assert_eq!(sent[..4], [0xaa; 4]);
    assert_eq!(sent[4..], f[..]);
    for headroom in 0..4 {
        assert_eq!(
            push_with(&mut g, &f, headroom).0,
            Verdict::Dropped {
                at: Some(id(&g, "u")),
                reason: DropReason::NoHeadroom
            }
        );
    }
}

#[test]
fn strip_then_unstrip_restores_the_frame_without_headroom() {
    let mut g = graph("FromRing -> Strip(14) -> Unstrip(14) -> ToRing;");
    let f = udp();
    let (v, sent) = push_with(&mut g, &f, 0);
    assert!(matches!(v, Verdict::Transmit { .. }));
    assert_eq!(sent, f.to_vec());
}

#[test]
fn classifier_outputs_per_pattern_and_drops_the_rest() {
    let mut g = graph(
        "FromRing -> c :: Classifier(12/0800 23/11, 12/0800, 12/0806) -> udp :: ToRing;
         c[1] -> ip :: Discard; c[2] -> arp :: Discard;",
    );
    assert_eq!(
        push(&mut g, &udp()),
        Verdict::Transmit { at: id(&g, "udp") }
    );
    let tcp = testing::tcp_frame(ends("10.0.0.1", "10.0.0.2"), 1, 2, b"");
    assert_eq!(push(&mut g, &tcp), Verdict::Discarded { at: id(&g, "ip") });
    let arp = testing::arp_frame(ends("10.0.0.1", "10.0.0.2"));
    assert_eq!(push(&mut g, &arp), Verdict::Discarded { at: id(&g, "arp") });
    let mut ipv6 = udp();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(
        push(&mut g, &ipv6),
        Verdict::Dropped {
            at: Some(id(&g, "c")),
            reason: DropReason::NoMatch
        }
    );
    assert_eq!(
        push(&mut g, &[]),
        Verdict::Dropped {
            at: Some(id(&g, "c")),
            reason: DropReason::NoMatch
        }
    );
}

#[test]
fn check_ip_header_sends_bad_packets_to_output_1_when_connected() {
    let mut g =
        graph("FromRing -> c :: CheckIPHeader(14) -> good :: ToRing; c[1] -> bad :: Discard;");
    assert_eq!(
        push(&mut g, &udp()),
        Verdict::Transmit { at: id(&g, "good") }
    );
    assert_eq!(
        push(&mut g, &udp()[..20]),
        Verdict::Discarded { at: id(&g, "bad") }
    );
    let mut g = graph("FromRing -> c :: CheckIPHeader(14) -> ToRing;");
    assert_eq!(
        push(&mut g, &udp()[..20]),
        Verdict::Dropped {
            at: Some(id(&g, "c")),
            reason: DropReason::BadIpHeader
        }
    );
}

#[test]
fn dec_ip_ttl_sends_expired_packets_to_output_1_when_connected() {
    let mut g = graph("FromRing -> CheckIPHeader(14) -> d :: DecIPTTL -> live :: ToRing; d[1] -> dead :: Discard;");
    let (v, sent) = push_with(&mut g, &udp(), 0);
    assert_eq!(v, Verdict::Transmit { at: id(&g, "live") });
    let ip = Ipv4Packet::new_checked(&sent[14..]).unwrap();
    assert_eq!(ip.hop_limit(), 63);
    assert!(ip.verify_checksum());
    let mut old = udp();
    testing::ipv4_mut(&mut old).set_hop_limit(1);
    testing::ipv4_mut(&mut old).fill_checksum();
    assert_eq!(
        push(&mut g, &old),
        Verdict::Discarded { at: id(&g, "dead") }
    );
    // Without the annotation (no CheckIPHeader), DecIPTTL reads the data's
    // start, which here is an Ethernet header: not IPv4, dropped.
    let mut g = graph("FromRing -> d :: DecIPTTL -> ToRing;");
    assert_eq!(
        push(&mut g, &udp()),
        Verdict::Dropped {
            at: Some(id(&g, "d")),
            reason: DropReason::BadIpHeader
        }
    );
}

#[test]
fn a_queue_holds_packets_in_order_up_to_its_capacity() {
    let mut g = graph("FromRing -> q :: Queue(3) -> c :: Counter -> t :: ToRing;");
    let q = id(&g, "q");
    for i in 0..5u8 {
        let v = push(&mut g, &[i; 10]);
        if i < 3 {
            assert_eq!(v, Verdict::Queued { at: q });
        } else {
            assert_eq!(
                v,
                Verdict::Dropped {
                    at: Some(q),
                    reason: DropReason::QueueFull
                }
            );
        }
    }
    assert_eq!(g.queue_len(q), Some(3));
    assert_eq!(g.queued(), 3);
    assert_eq!(
        g.stats(id(&g, "c")).unwrap().packets,
        0,
        "nothing passes until pulled"
    );
    let mut buf = [0u8; 64];
    for i in 0..3u8 {
        let (pkt, v) = g.pull(&mut buf, 8).unwrap();
        assert_eq!(v, Verdict::Transmit { at: id(&g, "t") });
        assert_eq!(pkt.data(), &[i; 10]);
        assert_eq!(pkt.headroom(), 8);
    }
    assert!(g.pull(&mut buf, 8).is_none());
    assert_eq!(g.drops(DropReason::QueueFull), 2);
    assert_eq!(g.stats(id(&g, "c")).unwrap().packets, 3);
}

#[test]
fn pull_takes_from_the_queues_in_turn_and_refuses_a_short_buffer() {
    let mut g = graph(
        "FromRing -> c :: Classifier(0/01, 0/02) -> a :: Queue(2) -> t :: ToRing; c[1] -> b :: Queue(2) -> t;",
    );
    for first in [1u8, 1, 2, 2] {
        push(&mut g, &[first, 0, 0, 0]);
    }
    let mut buf = [0u8; 16];
    let order: Vec<u8> = (0..4)
        .map(|_| g.pull(&mut buf, 0).unwrap().0.data()[0])
        .collect();
    assert_eq!(order, [1, 2, 1, 2]);
    push(&mut g, &[1u8; 20]);
    let (pkt, v) = g.pull(&mut buf, 0).unwrap();
    assert_eq!(
        v,
        Verdict::Dropped {
            at: Some(id(&g, "a")),
            reason: DropReason::TooLong
        }
    );
    assert!(pkt.is_empty());
    assert_eq!(g.queued(), 0);
}

#[test]
fn a_loop_through_a_queue_runs_one_lap_per_pull() {
    let mut g = graph(QUEUE_LOOP);
    let mut f = udp();
    testing::ipv4_mut(&mut f).set_hop_limit(5);
    testing::ipv4_mut(&mut f).fill_checksum();
    assert!(matches!(push(&mut g, &f), Verdict::Queued { .. }));
    let mut buf = [0u8; 2048];
    let mut laps = 0;
    let last = loop {
        let (pkt, v) = g.pull(&mut buf, 0).unwrap();
        laps += 1;
        if let Verdict::Transmit { .. } = v {
            break pkt.data().to_vec();
        }
        assert!(matches!(v, Verdict::Queued { .. }), "{v:?}");
    };
    // TTL 5 → 4 → 3 → 2 → 1, then the fifth pull finds it expiring.
    assert_eq!(laps, 5);
    let ip = Ipv4Packet::new_checked(&last[14..]).unwrap();
    assert_eq!(ip.hop_limit(), 1);
    assert!(ip.verify_checksum(), "the IP annotation survived the queue");
    assert!(g.pull(&mut buf, 0).is_none());
}
