//! Raw Ethernet frames for the guest's NIC, each malformed in one intended
//! way.
//!
//! Every frame starts as a well-formed one emitted with `smoltcp::wire`
//! reprs (Ethernet, IPv4, UDP or TCP, from the host side of QEMU's user
//! network, 52:55:0a:00:02:02 / 10.0.2.2, to the guest, 52:54:00:12:34:56 /
//! 10.0.2.15), and is then corrupted in exactly one respect, keeping
//! everything else valid (a frame with a wrong IPv4 total length still has
//! a correct header checksum, for example), so that each kind exercises one
//! check of the guest's receive path. The unit tests parse every kind back
//! with smoltcp to show that.

use std::fmt;
use std::net::Ipv4Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
    ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN, UDP_HEADER_LEN,
};

/// The guest NIC's MAC (QEMU's `-device virtio-net-device,mac=...`).
pub const GUEST_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
/// The guest's address on QEMU's user network.
pub const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The MAC QEMU's user network uses for its gateway, 10.0.2.2.
pub const HOST_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
/// The user network's gateway, the source of everything the host forwards.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// An address on the guest's subnet that is not the guest.
pub const OTHER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 99);
/// Tenant A's UDP echo port in the guest: a frame that wrongly got through
/// would be answered, which makes the mistake visible.
pub const UDP_PORT: u16 = 7;
/// Tenant B's TCP echo port in the guest.
pub const TCP_PORT: u16 = 8;
/// Size of the oversized frame: above the 1514 bytes an Ethernet frame with
/// a 1500-byte MTU can have (without FCS).
pub const OVERSIZED_LEN: usize = 1600;
/// The EtherType nobody speaks: IEEE 802's "local experimental" 2.
pub const UNKNOWN_ETHERTYPE: u16 = 0x88b5;
/// Bytes of IPv4 options in the options kind: three NOPs and an end of list.
const OPTIONS: [u8; 4] = [1, 1, 1, 0];

/// The kinds of malformed frame, in the order a mix cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    /// Shorter than an Ethernet header.
    TruncatedEthernet,
    /// IPv4 EtherType, but shorter than an IPv4 header.
    TruncatedIpv4,
    /// A valid IPv4 header for UDP whose payload is shorter than a UDP header.
    TruncatedUdp,
    /// A valid IPv4 header for TCP whose payload is shorter than a TCP header.
    TruncatedTcp,
    /// An IPv4 total length larger than the bytes present (header checksum
    /// correct for the wrong length).
    WrongIpv4TotalLength,
    /// A UDP datagram whose IPv4 header checksum is wrong.
    BadIpv4Checksum,
    /// A UDP datagram whose UDP checksum is wrong (and not zero).
    BadUdpChecksum,
    /// A TCP SYN whose TCP checksum is wrong.
    BadTcpChecksum,
    /// A UDP datagram whose IPv4 header carries options.
    Ipv4Options,
    /// The first fragment of a UDP datagram (more-fragments set).
    Fragment,
    /// A valid UDP datagram in a [`OVERSIZED_LEN`]-byte frame.
    Oversized,
    /// An Ethernet frame with EtherType [`UNKNOWN_ETHERTYPE`].
    UnknownEtherType,
    /// A valid UDP datagram for [`OTHER_IP`] on the guest's MAC.
    OtherDestinationIp,
}

impl Malformed {
    /// Every kind, in mix order.
    pub const ALL: [Malformed; 13] = [
        Malformed::TruncatedEthernet,
        Malformed::TruncatedIpv4,
        Malformed::TruncatedUdp,
        Malformed::TruncatedTcp,
        Malformed::WrongIpv4TotalLength,
        Malformed::BadIpv4Checksum,
        Malformed::BadUdpChecksum,
        Malformed::BadTcpChecksum,
        Malformed::Ipv4Options,
        Malformed::Fragment,
        Malformed::Oversized,
        Malformed::UnknownEtherType,
        Malformed::OtherDestinationIp,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Malformed::TruncatedEthernet => "truncated-ethernet",
            Malformed::TruncatedIpv4 => "truncated-ipv4",
            Malformed::TruncatedUdp => "truncated-udp",
            Malformed::TruncatedTcp => "truncated-tcp",
            Malformed::WrongIpv4TotalLength => "wrong-ipv4-total-length",
            Malformed::BadIpv4Checksum => "bad-ipv4-checksum",
            Malformed::BadUdpChecksum => "bad-udp-checksum",
            Malformed::BadTcpChecksum => "bad-tcp-checksum",
            Malformed::Ipv4Options => "ipv4-options",
            Malformed::Fragment => "ipv4-fragment",
            Malformed::Oversized => "oversized",
            Malformed::UnknownEtherType => "unknown-ethertype",
            Malformed::OtherDestinationIp => "other-destination-ip",
        }
    }

    /// The `n`th frame of this kind. `n` varies the IPv4 identification,
    /// ports and payload text, so repeated frames are distinct.
    pub fn frame(self, n: u32) -> Vec<u8> {
        let payload = format!("edgeos net-client inject {} #{n}", self.name()).into_bytes();
        let ident = (n as u16).wrapping_add(1);
        let src_port = 40_000 + (n % 10_000) as u16;
        match self {
            Malformed::TruncatedEthernet => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                frame.truncate(ETHERNET_HEADER_LEN - 4);
                frame
            }
            Malformed::TruncatedIpv4 => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                frame.truncate(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN - 8);
                frame
            }
            Malformed::TruncatedUdp => {
                // Source and destination port only: half a UDP header.
                let mut head = src_port.to_be_bytes().to_vec();
                head.extend_from_slice(&UDP_PORT.to_be_bytes());
                ipv4_frame(GUEST_IP, IpProtocol::Udp, ident, &head)
            }
            Malformed::TruncatedTcp => {
                // Ports and sequence number: 8 of a TCP header's 20 bytes.
                let mut head = src_port.to_be_bytes().to_vec();
                head.extend_from_slice(&TCP_PORT.to_be_bytes());
                head.extend_from_slice(&n.to_be_bytes());
                debug_assert!(head.len() < TCP_HEADER_LEN);
                ipv4_frame(GUEST_IP, IpProtocol::Tcp, ident, &head)
            }
            Malformed::WrongIpv4TotalLength => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                let mut ip = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
                let claimed = ip.total_len() + 100;
                ip.set_total_len(claimed);
                ip.fill_checksum();
                frame
            }
            Malformed::BadIpv4Checksum => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                let mut ip = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
                let wrong = wrong_checksum(ip.checksum());
                ip.set_checksum(wrong);
                frame
            }
            Malformed::BadUdpChecksum => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                let start = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
                let mut udp = UdpPacket::new_unchecked(&mut frame[start..]);
                let wrong = wrong_checksum(udp.checksum());
                udp.set_checksum(wrong);
                frame
            }
            Malformed::BadTcpChecksum => {
                let mut frame = tcp_syn_frame(src_port, n, ident);
                let start = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
                let mut tcp = TcpPacket::new_unchecked(&mut frame[start..]);
                let wrong = wrong_checksum(tcp.checksum());
                tcp.set_checksum(wrong);
                frame
            }
            Malformed::Ipv4Options => udp_frame_with_options(src_port, &payload, ident),
            Malformed::Fragment => {
                let mut frame = udp_frame(GUEST_IP, src_port, &payload, ident);
                let mut ip = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
                ip.set_dont_frag(false);
                ip.set_more_frags(true);
                ip.set_frag_offset(0);
                ip.fill_checksum();
                frame
            }
            Malformed::Oversized => {
                let room = OVERSIZED_LEN - ETHERNET_HEADER_LEN - IPV4_HEADER_LEN - UDP_HEADER_LEN;
                let mut big = payload.clone();
                big.resize(room, b'.');
                udp_frame(GUEST_IP, src_port, &big, ident)
            }
            Malformed::UnknownEtherType => {
                let eth = EthernetRepr {
                    src_addr: HOST_MAC,
                    dst_addr: GUEST_MAC,
                    ethertype: EthernetProtocol::Unknown(UNKNOWN_ETHERTYPE),
                };
                let mut frame = vec![0u8; eth.buffer_len() + payload.len()];
                let mut view = EthernetFrame::new_unchecked(&mut frame[..]);
                eth.emit(&mut view);
                view.payload_mut().copy_from_slice(&payload);
                frame
            }
            Malformed::OtherDestinationIp => udp_frame(OTHER_IP, src_port, &payload, ident),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The deterministic mix of `count` frames: every kind in turn, repeated.
pub fn malformed_mix(count: u32) -> impl Iterator<Item = (Malformed, Vec<u8>)> {
    (0..count).map(|i| {
        let kind = Malformed::ALL[i as usize % Malformed::ALL.len()];
        let n = i / Malformed::ALL.len() as u32;
        (kind, kind.frame(n))
    })
}

/// A checksum that differs from `good` and is not equivalent to it in
/// ones'-complement arithmetic (0x0000 and 0xffff are the same sum), nor
/// zero (which in UDP means "no checksum").
fn wrong_checksum(good: u16) -> u16 {
    let wrong = good ^ 0x0101;
    if wrong == 0 || wrong == 0xffff {
        good ^ 0x0202
    } else {
        wrong
    }
}

fn ethernet_header(frame: &mut [u8]) {
    EthernetRepr {
        src_addr: HOST_MAC,
        dst_addr: GUEST_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(frame));
}

fn ipv4_repr(dst: Ipv4Addr, protocol: IpProtocol, payload_len: usize) -> Ipv4Repr {
    Ipv4Repr {
        src_addr: HOST_IP,
        dst_addr: dst,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
    }
}

/// Ethernet + a valid, checksummed IPv4 header with room for `payload_len`
/// bytes, which `fill` writes (given the packet, so it can checksum over it).
fn ipv4_frame_with(
    dst: Ipv4Addr,
    protocol: IpProtocol,
    ident: u16,
    payload_len: usize,
    fill: impl FnOnce(&mut Ipv4Packet<&mut [u8]>),
) -> Vec<u8> {
    let ip = ipv4_repr(dst, protocol, payload_len);
    let mut frame = vec![0u8; ETHERNET_HEADER_LEN + ip.buffer_len() + payload_len];
    ethernet_header(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    packet.set_ident(ident);
    packet.fill_checksum();
    fill(&mut packet);
    frame
}

/// Ethernet + IPv4 (valid, checksummed) carrying `payload` as is.
fn ipv4_frame(dst: Ipv4Addr, protocol: IpProtocol, ident: u16, payload: &[u8]) -> Vec<u8> {
    ipv4_frame_with(dst, protocol, ident, payload.len(), |packet| {
        packet.payload_mut().copy_from_slice(payload)
    })
}

/// A valid Ethernet + IPv4 + UDP frame to `dst`:[`UDP_PORT`].
fn udp_frame(dst: Ipv4Addr, src_port: u16, payload: &[u8], ident: u16) -> Vec<u8> {
    let udp = UdpRepr {
        src_port,
        dst_port: UDP_PORT,
    };
    ipv4_frame_with(dst, IpProtocol::Udp, ident, udp.header_len() + payload.len(), |packet| {
        udp.emit(
            &mut UdpPacket::new_unchecked(packet.payload_mut()),
            &IpAddress::Ipv4(HOST_IP),
            &IpAddress::Ipv4(dst),
            payload.len(),
            |buf| buf.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        )
    })
}

/// Like [`udp_frame`] to the guest, with [`OPTIONS`] in the IPv4 header
/// (header length 24) and both checksums correct.
fn udp_frame_with_options(src_port: u16, payload: &[u8], ident: u16) -> Vec<u8> {
    let udp = UdpRepr {
        src_port,
        dst_port: UDP_PORT,
    };
    let udp_len = udp.header_len() + payload.len();
    // The repr emits a 20-byte header and a total length of 20 + payload
    // length; counting the options as payload makes the total right, and
    // the header length is then moved past them.
    let ip = ipv4_repr(GUEST_IP, IpProtocol::Udp, OPTIONS.len() + udp_len);
    let mut frame = vec![0u8; ETHERNET_HEADER_LEN + ip.buffer_len() + ip.payload_len];
    ethernet_header(&mut frame);
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
    ip.emit(&mut packet, &caps);
    packet.set_ident(ident);
    packet.set_header_len((IPV4_HEADER_LEN + OPTIONS.len()) as u8);
    packet.into_inner()[IPV4_HEADER_LEN..IPV4_HEADER_LEN + OPTIONS.len()].copy_from_slice(&OPTIONS);
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]);
    packet.fill_checksum();
    udp.emit(
        &mut UdpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(HOST_IP),
        &IpAddress::Ipv4(GUEST_IP),
        payload.len(),
        |buf| buf.copy_from_slice(payload),
        &caps,
    );
    frame
}

/// A valid Ethernet + IPv4 + TCP SYN to the guest's [`TCP_PORT`].
fn tcp_syn_frame(src_port: u16, n: u32, ident: u16) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port,
        dst_port: TCP_PORT,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(0x1000_0000_i32.wrapping_add(n as i32)),
        ack_number: None,
        window_len: 64_240,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    ipv4_frame_with(GUEST_IP, IpProtocol::Tcp, ident, tcp.buffer_len(), |packet| {
        tcp.emit(
            &mut TcpPacket::new_unchecked(packet.payload_mut()),
            &IpAddress::Ipv4(HOST_IP),
            &IpAddress::Ipv4(GUEST_IP),
            &ChecksumCapabilities::default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: IpAddress = IpAddress::Ipv4(HOST_IP);
    const GUEST: IpAddress = IpAddress::Ipv4(GUEST_IP);

    /// The Ethernet layer every kind but the truncated one gets right.
    fn ethernet(frame: &[u8]) -> EthernetFrame<&[u8]> {
        let eth = EthernetFrame::new_checked(frame).expect("a whole Ethernet header");
        assert_eq!(eth.dst_addr(), GUEST_MAC);
        assert_eq!(eth.src_addr(), HOST_MAC);
        eth
    }

    /// An IPv4 packet that passes every check: length, version, checksum,
    /// no fragmentation.
    fn valid_ipv4(frame: &[u8]) -> Ipv4Packet<&[u8]> {
        let eth = ethernet(frame);
        assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
        let ip = Ipv4Packet::new_checked(eth.payload()).expect("IPv4 length checks");
        Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).expect("valid IPv4");
        assert_eq!(ip.src_addr(), HOST_IP);
        ip
    }

    fn valid_udp(ip: &Ipv4Packet<&[u8]>) {
        let udp = UdpPacket::new_checked(ip.payload()).expect("UDP length checks");
        UdpRepr::parse(
            &udp,
            &HOST,
            &IpAddress::Ipv4(ip.dst_addr()),
            &ChecksumCapabilities::default(),
        )
        .expect("valid UDP");
        assert_eq!(udp.dst_port(), UDP_PORT);
        assert_ne!(udp.checksum(), 0, "a real checksum, not 'none'");
    }

    #[test]
    fn the_unmodified_frames_are_valid() {
        let frame = udp_frame(GUEST_IP, 40_000, b"hello", 1);
        let ip = valid_ipv4(&frame);
        assert_eq!(ip.dst_addr(), GUEST_IP);
        valid_udp(&ip);
        let frame = tcp_syn_frame(40_000, 0, 1);
        let ip = valid_ipv4(&frame);
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        let repr = TcpRepr::parse(&tcp, &HOST, &GUEST, &ChecksumCapabilities::default()).unwrap();
        assert_eq!((repr.control, repr.dst_port), (TcpControl::Syn, TCP_PORT));
    }

    #[test]
    fn truncated_ethernet_is_shorter_than_a_header() {
        let frame = Malformed::TruncatedEthernet.frame(0);
        assert!(frame.len() < ETHERNET_HEADER_LEN);
        assert!(EthernetFrame::new_checked(&frame[..]).is_err());
    }

    #[test]
    fn truncated_ipv4_is_shorter_than_an_ipv4_header() {
        let frame = Malformed::TruncatedIpv4.frame(0);
        let eth = ethernet(&frame);
        assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
        assert!(eth.payload().len() < IPV4_HEADER_LEN);
        assert!(Ipv4Packet::new_checked(eth.payload()).is_err());
    }

    #[test]
    fn truncated_udp_and_tcp_have_valid_ipv4_but_short_transport_headers() {
        let frame = Malformed::TruncatedUdp.frame(0);
        let ip = valid_ipv4(&frame);
        assert_eq!(ip.next_header(), IpProtocol::Udp);
        assert!(ip.payload().len() < UDP_HEADER_LEN);
        assert!(UdpPacket::new_checked(ip.payload()).is_err());

        let frame = Malformed::TruncatedTcp.frame(0);
        let ip = valid_ipv4(&frame);
        assert_eq!(ip.next_header(), IpProtocol::Tcp);
        assert!(ip.payload().len() < TCP_HEADER_LEN);
        assert!(TcpPacket::new_checked(ip.payload()).is_err());
    }

    #[test]
    fn wrong_total_length_claims_more_than_is_there_with_a_good_checksum() {
        let frame = Malformed::WrongIpv4TotalLength.frame(0);
        let eth = ethernet(&frame);
        let ip = Ipv4Packet::new_unchecked(eth.payload());
        assert!(usize::from(ip.total_len()) > eth.payload().len());
        assert!(ip.verify_checksum(), "only the length is wrong");
        assert!(Ipv4Packet::new_checked(eth.payload()).is_err());
    }

    #[test]
    fn bad_ipv4_checksum_is_the_only_fault() {
        let frame = Malformed::BadIpv4Checksum.frame(0);
        let eth = ethernet(&frame);
        let ip = Ipv4Packet::new_checked(eth.payload()).expect("lengths are fine");
        assert!(!ip.verify_checksum());
        assert!(Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).is_err());
        assert!(Ipv4Repr::parse(&ip, &ChecksumCapabilities::ignored()).is_ok());
        // The UDP datagram inside is intact.
        valid_udp(&ip);
    }

    #[test]
    fn bad_udp_checksum_is_wrong_and_not_zero() {
        for n in 0..50 {
            let frame = Malformed::BadUdpChecksum.frame(n);
            let ip = valid_ipv4(&frame);
            let udp = UdpPacket::new_checked(ip.payload()).unwrap();
            assert_ne!(udp.checksum(), 0, "zero would mean 'no checksum'");
            assert!(!udp.verify_checksum(&HOST, &GUEST), "frame {n}");
            assert!(UdpRepr::parse(&udp, &HOST, &GUEST, &ChecksumCapabilities::default()).is_err());
        }
    }

    #[test]
    fn bad_tcp_checksum_is_a_syn_with_a_wrong_checksum() {
        for n in 0..50 {
            let frame = Malformed::BadTcpChecksum.frame(n);
            let ip = valid_ipv4(&frame);
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.syn() && !tcp.ack());
            assert_eq!(tcp.dst_port(), TCP_PORT);
            assert!(!tcp.verify_checksum(&HOST, &GUEST), "frame {n}");
        }
    }

    #[test]
    fn options_frame_has_a_24_byte_header_and_is_otherwise_valid() {
        let frame = Malformed::Ipv4Options.frame(0);
        let ip = valid_ipv4(&frame);
        assert_eq!(
            usize::from(ip.header_len()),
            IPV4_HEADER_LEN + OPTIONS.len()
        );
        let eth = ethernet(&frame);
        assert_eq!(
            &eth.payload()[IPV4_HEADER_LEN..IPV4_HEADER_LEN + 4],
            &OPTIONS
        );
        valid_udp(&ip);
    }

    #[test]
    fn fragment_has_more_fragments_set_and_is_otherwise_valid() {
        let frame = Malformed::Fragment.frame(0);
        let eth = ethernet(&frame);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.more_frags());
        assert!(!ip.dont_frag());
        assert_eq!(ip.frag_offset(), 0);
        assert!(ip.verify_checksum());
        // smoltcp without fragmentation support refuses it for exactly this.
        assert!(Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).is_err());
        valid_udp(&ip);
    }

    #[test]
    fn oversized_frame_is_valid_but_too_long_for_the_mtu() {
        let frame = Malformed::Oversized.frame(0);
        assert_eq!(frame.len(), OVERSIZED_LEN);
        assert!(frame.len() > ETHERNET_HEADER_LEN + 1500);
        let ip = valid_ipv4(&frame);
        assert_eq!(
            usize::from(ip.total_len()),
            OVERSIZED_LEN - ETHERNET_HEADER_LEN
        );
        valid_udp(&ip);
    }

    #[test]
    fn unknown_ethertype_is_0x88b5() {
        let frame = Malformed::UnknownEtherType.frame(0);
        let eth = ethernet(&frame);
        assert_eq!(
            eth.ethertype(),
            EthernetProtocol::Unknown(UNKNOWN_ETHERTYPE)
        );
        assert!(!eth.payload().is_empty());
    }

    #[test]
    fn other_destination_is_valid_but_not_for_the_guest() {
        let frame = Malformed::OtherDestinationIp.frame(0);
        let ip = valid_ipv4(&frame);
        assert_eq!(ip.dst_addr(), OTHER_IP);
        assert_ne!(ip.dst_addr(), GUEST_IP);
        valid_udp(&ip);
    }

    #[test]
    fn the_mix_cycles_through_every_kind_with_distinct_frames() {
        let mix: Vec<(Malformed, Vec<u8>)> = malformed_mix(30).collect();
        assert_eq!(mix.len(), 30);
        for (i, (kind, _)) in mix.iter().enumerate() {
            assert_eq!(*kind, Malformed::ALL[i % 13]);
        }
        // Repeats of a kind differ (identification, ports, payload text).
        assert_ne!(mix[2].1, mix[15].1);
        assert_eq!(mix[2].0, mix[15].0);
        // Deterministic.
        let again: Vec<(Malformed, Vec<u8>)> = malformed_mix(30).collect();
        assert_eq!(mix, again);
    }

    #[test]
    fn wrong_checksums_are_never_equivalent_to_the_right_one() {
        for good in [0x0000, 0xffff, 0x0101, 0xfefe, 0x1234, 0x0202, 0xfdfd] {
            let wrong = wrong_checksum(good);
            assert_ne!(wrong, good);
            assert_ne!(wrong, 0);
            assert_ne!(wrong, 0xffff);
        }
    }
}
