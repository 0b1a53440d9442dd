//! Replays the fuzz corpora as regression tests on stable: every file under
//! `fuzz/corpus/classify` and `fuzz/corpus/validate_tx` goes through the
//! same invariant checks the fuzz targets run.
//!
//! The hand-made seeds (valid ARP, ICMP, UDP and TCP frames) are built here;
//! `cargo test -p edgeos-flow --test fuzz_corpus -- --ignored` writes them
//! into the corpora as `seed-*` files.

use std::path::{Path, PathBuf};

use edgeos_flow::testing::{
    self, check_classify, check_validate_tx, fuzz_table, Ends, Frame, FUZZ_TENANTS, ME, PEER_IP,
    PEER_MAC,
};
use edgeos_flow::{classify, validate_tx, Classified};
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Packet, IpAddress, IpProtocol, Ipv4Packet, TcpPacket,
    UdpPacket,
};

const INBOUND: Ends = Ends::inbound(&ME);
const OUTBOUND: Ends = Ends::outbound(&ME);

/// Frames from the wire that reach each branch of `classify` against `fuzz_table`.
fn classify_seeds() -> Vec<(&'static str, Frame)> {
    vec![
        ("arp-request", testing::arp_request(PEER_MAC, PEER_IP, ME.ip)),
        ("echo-request", testing::echo_request(&INBOUND, 0x4242, 1, b"abcdefghijklmnop")),
        ("udp-service-7", testing::udp(&INBOUND, 5000, 7, b"echo")),
        ("udp-service-53", testing::udp(&INBOUND, 5001, 53, b"\x12\x34\x01\x00\x00\x01")),
        ("udp-flow-9999", testing::udp(&INBOUND, 5353, 9999, b"flow")),
        ("udp-miss", testing::udp(&INBOUND, 5000, 9000, b"miss")),
        ("tcp-service-80", testing::tcp(&INBOUND, 40001, 80, b"GET / HTTP/1.0\r\n\r\n")),
        ("tcp-flow-80", testing::tcp(&INBOUND, 40000, 80, b"GET / HTTP/1.0\r\n\r\n")),
        ("tcp-miss", testing::tcp(&INBOUND, 40000, 8080, b"")),
    ]
}

/// Tenant frames that some tenant of `fuzz_table` may send.
fn validate_tx_seeds() -> Vec<(&'static str, Frame)> {
    vec![
        ("udp-reply-7", testing::udp(&OUTBOUND, 7, 5000, b"echo")),
        ("udp-reply-53", testing::udp(&OUTBOUND, 53, 5001, b"\x12\x34\x81\x80")),
        ("udp-flow-reply", testing::udp(&OUTBOUND, 9999, 5353, b"flow")),
        ("tcp-reply-80", testing::tcp(&OUTBOUND, 80, 40001, b"HTTP/1.0 200 OK\r\n\r\n")),
        ("tcp-flow-reply", testing::tcp(&OUTBOUND, 80, 40000, b"HTTP/1.0 200 OK\r\n\r\n")),
    ]
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

/// The same input with its IPv4, UDP, TCP or ICMP checksums filled in,
/// where the structure allows (all through smoltcp's setters).
///
/// The fuzzer ran with smoltcp's checksum checks off (`cfg(fuzzing)`), so
/// the inputs that reached deep paths there mostly fail a checksum here;
/// fixing them lets the stable replay reach the same paths.
fn with_checksums_fixed(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut frame = bytes.to_vec();
    let mut eth = EthernetFrame::new_checked(&mut frame[..]).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let mut ip = Ipv4Packet::new_checked(eth.payload_mut()).ok()?;
    ip.fill_checksum();
    let (src, dst) = (IpAddress::Ipv4(ip.src_addr()), IpAddress::Ipv4(ip.dst_addr()));
    match ip.next_header() {
        IpProtocol::Udp => {
            let mut udp = UdpPacket::new_checked(ip.payload_mut()).ok()?;
            if udp.checksum() != 0 {
                udp.fill_checksum(&src, &dst);
            }
        }
        IpProtocol::Tcp => TcpPacket::new_checked(ip.payload_mut()).ok()?.fill_checksum(&src, &dst),
        IpProtocol::Icmp => Icmpv4Packet::new_checked(ip.payload_mut()).ok()?.fill_checksum(),
        _ => {}
    }
    Some(frame)
}

/// Runs `check` on every file of a corpus (as is, and with fixed
/// checksums), naming the file that fails; returns the number of files.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else { return 0 };
    let mut paths: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    paths.sort();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let fixed = with_checksums_fixed(&bytes);
        for (what, input) in [("", Some(&bytes)), (" with fixed checksums", fixed.as_ref())] {
            let Some(input) = input else { continue };
            if std::panic::catch_unwind(|| check(input)).is_err() {
                panic!("{}{what} breaks an invariant", path.display());
            }
        }
    }
    paths.len()
}

#[test]
fn classify_corpus_holds_every_invariant() {
    let n = replay("classify", check_classify);
    // How much of the corpus gets past the drop paths once checksums are right.
    let table = fuzz_table();
    let deep = std::fs::read_dir(corpus_dir("classify"))
        .into_iter()
        .flatten()
        .filter_map(|e| with_checksums_fixed(&std::fs::read(e.unwrap().path()).unwrap()))
        .filter(|f| !matches!(classify(f, &ME, &table), Classified::Drop(_)))
        .count();
    eprintln!("replayed {n} classify corpus files, {deep} past the drop paths");
}

#[test]
fn validate_tx_corpus_holds_every_invariant() {
    let n = replay("validate_tx", check_validate_tx);
    eprintln!("replayed {n} validate_tx corpus files");
}

#[test]
fn hand_made_seeds_hold_every_invariant_in_both_directions() {
    for (_, frame) in classify_seeds().iter().chain(&validate_tx_seeds()) {
        check_classify(frame);
        check_validate_tx(frame);
    }
    // The seeds are worth seeding with: each reaches the branch it is named for.
    let table = fuzz_table();
    for (name, frame) in classify_seeds() {
        let verdict = classify(&frame, &ME, &table);
        assert!(!matches!(verdict, Classified::Drop(_)), "{name}: {verdict:?}");
    }
    for (name, frame) in validate_tx_seeds() {
        let senders = FUZZ_TENANTS.iter().filter(|t| validate_tx(&frame, **t, &ME, &table).is_ok());
        assert_eq!(senders.count(), 1, "{name}");
    }
}

#[test]
fn the_corpora_are_small_enough_to_commit() {
    for target in ["classify", "validate_tx"] {
        let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else { continue };
        let sizes: Vec<u64> = entries.map(|e| e.unwrap().metadata().unwrap().len()).collect();
        assert!(sizes.len() <= 250, "{target}: {} files", sizes.len());
        assert!(sizes.iter().sum::<u64>() < 1 << 20, "{target}: over 1 MiB");
    }
}

#[test]
#[ignore = "writes the seed files; run by hand after changing the seeds"]
fn write_seeds() {
    for (target, seeds) in [("classify", classify_seeds()), ("validate_tx", validate_tx_seeds())] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, frame) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), &frame[..]).unwrap();
        }
    }
}
