//! Deterministic pseudo-random inputs (a xorshift generator, fixed seeds),
//! so `cargo test` covers what the fuzz targets do, on stable and in
//! seconds: arbitrary and mutated frames through every sample graph
//! (`testing::check_graph`'s invariants), and mutated configurations
//! through the parser, then frames through whatever it accepts.

use edgeos_click::testing::{self, check_graph, Frame, FUZZ_CONFIGS};
use edgeos_click::{check, Class, Graph, Packet, Verdict, MAX_FRAME_LEN};
use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket};

/// xorshift64* (Vigna): tiny, fast, and good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn seeds() -> Vec<Frame> {
    testing::seed_frames().into_iter().collect()
}

/// Fills in the IPv4 header checksum and, where the structure allows, the
/// TCP or UDP checksum (through smoltcp), so a mutated frame gets past
/// CheckIPHeader and the checksum invariant has something to check.
fn fix_checksums(f: &mut [u8]) {
    let Some(ip_bytes) = f.get_mut(14..) else {
        return;
    };
    let Ok(mut ip) = Ipv4Packet::new_checked(ip_bytes) else {
        return;
    };
    if ip.version() != 4 {
        return;
    }
    ip.fill_checksum();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    match ip.next_header() {
        IpProtocol::Tcp => {
            if let Ok(mut t) = TcpPacket::new_checked(ip.payload_mut()) {
                t.fill_checksum(&src, &dst);
            }
        }
        IpProtocol::Udp => {
            if let Ok(mut u) = UdpPacket::new_checked(ip.payload_mut()) {
                u.fill_checksum(&src, &dst);
            }
        }
        _ => {}
    }
}

fn mutate(rng: &mut Rng, f: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 | 1 if !f.is_empty() => {
                let i = rng.below(f.len());
                f[i] = rng.byte();
            }
            2 if !f.is_empty() => {
                let i = rng.below(f.len());
                f[i] ^= 1 << rng.below(8);
            }
            3 => f.truncate(rng.below(f.len() + 1)),
            4 if f.len() < MAX_FRAME_LEN => f.push(rng.byte()),
            _ => {
                // A header field that matters: version/IHL, length, TTL, protocol, flags.
                let at = [14, 16, 17, 20, 22, 23, 46, 38, 39];
                let i = at[rng.below(at.len())];
                if i < f.len() {
                    f[i] = rng.byte();
                }
            }
        }
    }
}

fn input(selector: u8, frames: &[Vec<u8>]) -> Vec<u8> {
    let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    testing::graph_input(selector, &frames).to_vec()
}

#[test]
fn arbitrary_bytes_through_every_graph() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..2000 {
        let len = rng.below(2 * MAX_FRAME_LEN);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        if let Some(b) = bytes.first_mut() {
            *b = round as u8; // every configuration in turn
        }
        check_graph(&bytes);
    }
}

#[test]
fn mutated_valid_frames_through_every_graph() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let seeds = seeds();
    for round in 0..3000 {
        let frames: Vec<Vec<u8>> = (0..1 + rng.below(8))
            .map(|_| {
                let mut f = seeds[rng.below(seeds.len())].to_vec();
                if !rng.chance(4) {
                    mutate(&mut rng, &mut f);
                }
                if rng.chance(2) {
                    fix_checksums(&mut f);
                }
                f
            })
            .collect();
        check_graph(&input(round as u8, &frames));
    }
}

#[test]
fn unmutated_seeds_reach_the_transmit_path_with_valid_checksums() {
    // check_graph's checksum invariant only bites on frames that get through;
    // make sure the seeds do, in the graphs meant for them.
    for (selector, frames) in [(0u8, vec![0usize, 1, 2]), (1, vec![3, 4])] {
        let seeds = seeds();
        let frames: Vec<Vec<u8>> = frames.iter().map(|&i| seeds[i].to_vec()).collect();
        let mut g: Graph = Graph::new();
        g.configure(FUZZ_CONFIGS[usize::from(selector)]).unwrap();
        for f in &frames {
            let mut buf = f.clone();
            let mut pkt = Packet::whole(&mut buf);
            assert!(matches!(g.push(&mut pkt), Verdict::Transmit { .. }));
            assert_eq!(testing::checksums(pkt.data()), Some((true, Some(true))));
        }
        check_graph(&input(selector, &frames));
    }
}

/// Characters that matter to the lexer and to element arguments.
const INTERESTING: &[u8] = b" \n\t;:->[](),/*!&|%?-.0123456789abcdefxyzABC@\"'{}#";

fn mutate_text(rng: &mut Rng, text: &mut Vec<u8>) {
    for _ in 0..=rng.below(3) {
        let at = rng.below(text.len() + 1);
        match rng.below(5) {
            0 if at < text.len() => {
                text.remove(at);
            }
            1 => text.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < text.len() => text[at] = INTERESTING[rng.below(INTERESTING.len())],
            3 => {
                // Duplicate a slice (repeats statements, arguments, nesting).
                let end = (at + rng.below(40)).min(text.len());
                let piece: Vec<u8> = text[at..end].to_vec();
                let to = rng.below(text.len() + 1);
                text.splice(to..to, piece);
            }
            _ => {
                let end = (at + rng.below(20)).min(text.len());
                text.drain(at..end);
            }
        }
    }
}

#[test]
fn mutated_configurations_are_refused_with_a_place_or_run_safely() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let seeds = seeds();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..4000 {
        let mut text = FUZZ_CONFIGS[rng.below(FUZZ_CONFIGS.len())]
            .as_bytes()
            .to_vec();
        mutate_text(&mut rng, &mut text);
        let text = String::from_utf8_lossy(&text);
        match check(&text) {
            Err(e) => {
                refused += 1;
                let lines = text.split('\n').count() as u32;
                assert!(e.line >= 1 && e.line <= lines, "{e}\n{text}");
                assert!(e.column >= 1, "{e}");
                let _ = e.to_string();
            }
            Ok(_) => {
                accepted += 1;
                let mut g: Graph = Graph::new();
                g.configure(&text).expect("check and configure agree");
                for _ in 0..8 {
                    let mut f = seeds[rng.below(seeds.len())].to_vec();
                    mutate(&mut rng, &mut f);
                    let mut buf = vec![0u8; 32 + f.len()];
                    buf[32..].copy_from_slice(&f);
                    let mut pkt = Packet::new(&mut buf, 32, f.len()).unwrap();
                    match g.push(&mut pkt) {
                        Verdict::Transmit { at } => assert_eq!(g.class(at), Some(Class::ToRing)),
                        Verdict::Queued { at } => assert_eq!(g.class(at), Some(Class::Queue)),
                        Verdict::Discarded { at } => assert_eq!(g.class(at), Some(Class::Discard)),
                        Verdict::Dropped { at, .. } => assert!(at.is_some()),
                    }
                    let mut out = [0u8; 1600];
                    for _ in 0..64 {
                        if g.pull(&mut out, 0).is_none() {
                            break;
                        }
                    }
                }
            }
        }
    }
    // Both sides are exercised.
    assert!(
        accepted > 100 && refused > 1000,
        "accepted {accepted}, refused {refused}"
    );
}

#[test]
fn arbitrary_text_never_panics_the_parser() {
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let len = rng.below(200);
        let text: Vec<u8> = (0..len)
            .map(|_| INTERESTING[rng.below(INTERESTING.len())])
            .collect();
        let text = String::from_utf8_lossy(&text);
        let _ = check(&text);
        let raw: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        let _ = check(&String::from_utf8_lossy(&raw));
    }
}
