//! The hosts of the middlebox test and the frames they exchange, built and
//! parsed with `smoltcp::wire` only.
//!
//! The clients are made up: each exists only as the addresses on the
//! frames this client injects. A made-up host `10.0.2.X` has the MAC
//! `52:54:00:00:02:X`, so a frame's two addresses name the same host at a
//! glance in a capture. The backend is real: sockets of this test at
//! 10.0.2.100, which QEMU's user network reaches on the host, so its frames
//! come from the user network's MAC (`backend`).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber, UdpPacket, UdpRepr, ETHERNET_HEADER_LEN,
};

use crate::frames::{GUEST_IP, GUEST_MAC, HOST_MAC};

/// A host on the node's link: its IPv4 address and MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Its address on QEMU's user network, 10.0.2.0/24.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: EthernetAddress,
}

/// The node itself (the guest NIC).
pub const NODE: Host = Host {
    ip: GUEST_IP,
    mac: GUEST_MAC,
};
/// The MAC of QEMU's user network: every frame it puts on the hub comes
/// from it, whichever address it speaks for.
pub const USER_NETWORK_MAC: EthernetAddress = HOST_MAC;
/// The backend every allowed flow is translated to
/// (`click/firewall-nat.click`). It is reached through QEMU's user
/// network, so that is its link-layer address: the frames the node sends
/// it go to that MAC, and its answers come from it.
pub const BACKEND: Host = Host {
    ip: Ipv4Addr::new(10, 0, 2, 100),
    mac: USER_NETWORK_MAC,
};
/// The client the Click configuration refuses whatever it sends.
pub const BLOCKED_CLIENT: Host = made_up(66);

/// The clients' last octets: clients are 10.0.2.50 to 10.0.2.57.
pub const CLIENT_OCTETS: RangeInclusive<u8> = 50..=57;

/// Client `n` (counted from 0, wrapping over [`CLIENT_OCTETS`]).
pub const fn client(n: u32) -> Host {
    let count = (*CLIENT_OCTETS.end() - *CLIENT_OCTETS.start()) as u32 + 1;
    made_up(*CLIENT_OCTETS.start() + (n % count) as u8)
}

/// Whether `ip` is a client this test plays. The hub never hands the
/// test's own frames back to it, so a captured frame from such an address
/// was sent by someone else in that client's name (QEMU's user network
/// answers the node's segments to it: a SYN-ACK it has no connection for
/// draws a RST).
pub fn is_played(ip: Ipv4Addr) -> bool {
    let [a, b, c, last] = ip.octets();
    [a, b, c] == [10, 0, 2]
        && (last == BLOCKED_CLIENT.ip.octets()[3] || CLIENT_OCTETS.contains(&last))
}

/// The made-up host `10.0.2.last`, MAC `52:54:00:00:02:last`. The user
/// network's own addresses (the gateway .2, DNS .3), the node's (.15) and
/// the backend's (.100) are not made up.
pub const fn made_up(last: u8) -> Host {
    assert!(
        last != 2 && last != 3 && last != 15 && last != 100,
        "an address of the user network, the node or the backend"
    );
    Host {
        ip: Ipv4Addr::new(10, 0, 2, last),
        mac: EthernetAddress([0x52, 0x54, 0x00, 0x00, 0x02, last]),
    }
}

/// The TTL every injected datagram carries (and every datagram the user
/// network sends: `IPDEFTTL`).
pub const SENT_TTL: u8 = 64;
/// The TCP window every injected segment advertises.
const WINDOW: u16 = 64_240;

/// The TCP header fields the test sets and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    /// SYN, RST, ...; an ACK is `ack: Some`.
    pub control: TcpControl,
    /// The sequence number.
    pub seq: u32,
    /// The acknowledgement number, when the ACK flag is set.
    pub ack: Option<u32>,
}

/// The transport protocol of a [`Datagram`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP, with these header fields.
    Tcp(Tcp),
}

/// An IPv4 datagram carrying UDP or TCP: what the test compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// IPv4 time to live.
    pub ttl: u8,
    /// UDP or TCP.
    pub transport: Transport,
    /// The UDP or TCP payload.
    pub payload: Vec<u8>,
}

impl Datagram {
    /// A UDP datagram with [`SENT_TTL`].
    pub fn udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Datagram {
        Datagram {
            src,
            dst,
            ttl: SENT_TTL,
            transport: Transport::Udp,
            payload: payload.to_vec(),
        }
    }

    /// A TCP segment without payload, with [`SENT_TTL`].
    pub fn tcp(src: SocketAddrV4, dst: SocketAddrV4, tcp: Tcp) -> Datagram {
        Datagram {
            src,
            dst,
            ttl: SENT_TTL,
            transport: Transport::Tcp(tcp),
            payload: Vec::new(),
        }
    }

    /// `udp` or `tcp`.
    pub fn protocol(&self) -> IpProtocol {
        match self.transport {
            Transport::Udp => IpProtocol::Udp,
            Transport::Tcp(_) => IpProtocol::Tcp,
        }
    }
}

/// An Ethernet frame carrying a [`Datagram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Ethernet source.
    pub eth_src: EthernetAddress,
    /// Ethernet destination.
    pub eth_dst: EthernetAddress,
    /// What it carries.
    pub datagram: Datagram,
}

impl Frame {
    /// `datagram` sent by `from` to the node's NIC.
    pub fn to_node(from: Host, datagram: Datagram) -> Frame {
        Frame {
            eth_src: from.mac,
            eth_dst: NODE.mac,
            datagram,
        }
    }

    /// The frame's bytes, every checksum filled.
    pub fn emit(&self) -> Vec<u8> {
        let d = &self.datagram;
        let (src, dst) = (IpAddress::Ipv4(*d.src.ip()), IpAddress::Ipv4(*d.dst.ip()));
        let caps = ChecksumCapabilities::default();
        let tcp_repr = match d.transport {
            Transport::Udp => None,
            Transport::Tcp(tcp) => Some(TcpRepr {
                src_port: d.src.port(),
                dst_port: d.dst.port(),
                control: tcp.control,
                seq_number: TcpSeqNumber(tcp.seq as i32),
                ack_number: tcp.ack.map(|ack| TcpSeqNumber(ack as i32)),
                window_len: WINDOW,
                window_scale: None,
                max_seg_size: (tcp.control == TcpControl::Syn).then_some(1460),
                sack_permitted: false,
                sack_ranges: [None; 3],
                timestamp: None,
                payload: &d.payload,
            }),
        };
        let udp_repr = UdpRepr {
            src_port: d.src.port(),
            dst_port: d.dst.port(),
        };
        let transport_len = match &tcp_repr {
            Some(tcp) => tcp.buffer_len(),
            None => udp_repr.header_len() + d.payload.len(),
        };
        let ip = Ipv4Repr {
            src_addr: *d.src.ip(),
            dst_addr: *d.dst.ip(),
            next_header: d.protocol(),
            payload_len: transport_len,
            hop_limit: d.ttl,
        };
        let mut bytes = vec![0u8; ETHERNET_HEADER_LEN + ip.buffer_len() + transport_len];
        let mut eth = EthernetFrame::new_unchecked(&mut bytes[..]);
        EthernetRepr {
            src_addr: self.eth_src,
            dst_addr: self.eth_dst,
            ethertype: EthernetProtocol::Ipv4,
        }
        .emit(&mut eth);
        let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
        ip.emit(&mut packet, &caps);
        match tcp_repr {
            Some(tcp) => tcp.emit(
                &mut TcpPacket::new_unchecked(packet.payload_mut()),
                &src,
                &dst,
                &caps,
            ),
            None => udp_repr.emit(
                &mut UdpPacket::new_unchecked(packet.payload_mut()),
                &src,
                &dst,
                d.payload.len(),
                |buf| buf.copy_from_slice(&d.payload),
                &caps,
            ),
        }
        bytes
    }
}

/// A captured frame that carries IPv4 with UDP or TCP, with whether its
/// checksums hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The frame's fields.
    pub frame: Frame,
    /// The IPv4 header checksum is right.
    pub ip_checksum_valid: bool,
    /// The UDP or TCP checksum is right (a UDP checksum of 0, "none", is
    /// not: every frame the test sends has one, and a NAT must keep it).
    pub transport_checksum_valid: bool,
}

/// Parses a captured frame; `None` for anything but IPv4 with UDP or TCP
/// (ARP, IPv6, fragments, truncated frames: other traffic on the hub).
pub fn parse(bytes: &[u8]) -> Option<Captured> {
    let eth = EthernetFrame::new_checked(bytes).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    // Checksums are judged below, so that a wrong one is reported rather
    // than making the frame vanish.
    let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::ignored()).ok()?;
    let (src, dst) = (
        IpAddress::Ipv4(ip_repr.src_addr),
        IpAddress::Ipv4(ip_repr.dst_addr),
    );
    let ignored = ChecksumCapabilities::ignored();
    let (ports, transport, payload, transport_checksum_valid) = match ip_repr.next_header {
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(ip.payload()).ok()?;
            let repr = UdpRepr::parse(&udp, &src, &dst, &ignored).ok()?;
            let valid = udp.checksum() != 0 && udp.verify_checksum(&src, &dst);
            (
                (repr.src_port, repr.dst_port),
                Transport::Udp,
                udp.payload().to_vec(),
                valid,
            )
        }
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            let repr = TcpRepr::parse(&tcp, &src, &dst, &ignored).ok()?;
            let fields = Tcp {
                control: repr.control,
                seq: repr.seq_number.0 as u32,
                ack: repr.ack_number.map(|ack| ack.0 as u32),
            };
            let valid = tcp.verify_checksum(&src, &dst);
            (
                (repr.src_port, repr.dst_port),
                Transport::Tcp(fields),
                repr.payload.to_vec(),
                valid,
            )
        }
        _ => return None,
    };
    let datagram = Datagram {
        src: SocketAddrV4::new(ip_repr.src_addr, ports.0),
        dst: SocketAddrV4::new(ip_repr.dst_addr, ports.1),
        ttl: ip_repr.hop_limit,
        transport,
        payload,
    };
    Some(Captured {
        frame: Frame {
            eth_src: eth.src_addr(),
            eth_dst: eth.dst_addr(),
            datagram,
        },
        ip_checksum_valid: ip.verify_checksum(),
        transport_checksum_valid,
    })
}

/// An ARP request from `asker`, broadcast: who has `wanted`?
pub fn arp_request(asker: Host, wanted: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        asker.mac,
        EthernetAddress::BROADCAST,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: asker.mac,
            source_protocol_addr: asker.ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: wanted,
        },
    )
}

/// `replier`'s ARP reply to `asker`: `replier.ip` is at `replier.mac`.
#[cfg(test)]
pub fn arp_reply(replier: Host, asker: Host) -> Vec<u8> {
    arp_frame(
        replier.mac,
        asker.mac,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: replier.mac,
            source_protocol_addr: replier.ip,
            target_hardware_addr: asker.mac,
            target_protocol_addr: asker.ip,
        },
    )
}

/// `arp` in an Ethernet frame.
fn arp_frame(eth_src: EthernetAddress, eth_dst: EthernetAddress, arp: ArpRepr) -> Vec<u8> {
    let mut bytes = vec![0u8; ETHERNET_HEADER_LEN + arp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut bytes[..]);
    EthernetRepr {
        src_addr: eth_src,
        dst_addr: eth_dst,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    bytes
}

/// A captured ARP packet for IPv4 over Ethernet, with its frame's
/// Ethernet source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturedArp {
    /// Ethernet source.
    pub eth_src: EthernetAddress,
    /// Ethernet destination.
    pub eth_dst: EthernetAddress,
    /// The ARP packet.
    pub arp: ArpRepr,
}

/// Parses a captured ARP frame; `None` for anything else.
pub fn parse_arp(bytes: &[u8]) -> Option<CapturedArp> {
    let eth = EthernetFrame::new_checked(bytes).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?;
    Some(CapturedArp {
        eth_src: eth.src_addr(),
        eth_dst: eth.dst_addr(),
        arp,
    })
}

/// A captured frame in a report: its datagram and Ethernet ends, or its
/// length when it carries no UDP or TCP.
pub fn describe(bytes: &[u8]) -> String {
    match parse(bytes) {
        Some(Captured { frame, .. }) => {
            format!(
                "{} from {} to {}",
                frame.datagram,
                Mac(frame.eth_src),
                Mac(frame.eth_dst)
            )
        }
        None => format!("a frame of {} bytes", bytes.len()),
    }
}

/// A MAC written the usual way, `52:54:00:12:34:56` (smoltcp writes
/// dashes).
pub struct Mac(pub EthernetAddress);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0 .0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Display for Tcp {
    /// `SYN seq 100`, `SYN-ACK seq 7 ack 101`, `RST seq 101`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = match self.control {
            TcpControl::None => "",
            TcpControl::Psh => "PSH",
            TcpControl::Syn => "SYN",
            TcpControl::Fin => "FIN",
            TcpControl::Rst => "RST",
        };
        match (flags, self.ack) {
            ("", Some(ack)) => write!(f, "ACK seq {} ack {ack}", self.seq),
            (flags, Some(ack)) => write!(f, "{flags}-ACK seq {} ack {ack}", self.seq),
            ("", None) => write!(f, "no flags, seq {}", self.seq),
            (flags, None) => write!(f, "{flags} seq {}", self.seq),
        }
    }
}

impl fmt::Display for Datagram {
    /// `udp 10.0.2.50:41000 -> 10.0.2.15:20001 (45 bytes)`,
    /// `tcp SYN seq 100 10.0.2.51:42000 -> 10.0.2.15:20002`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            Transport::Udp => write!(
                f,
                "udp {} -> {} ({} bytes)",
                self.src,
                self.dst,
                self.payload.len()
            ),
            Transport::Tcp(tcp) => write!(f, "tcp {tcp} {} -> {}", self.src, self.dst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: Host = made_up(50);

    fn to_node(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(NODE.ip, port)
    }

    #[test]
    fn a_udp_frame_parses_back_with_valid_checksums() {
        let sent = Frame::to_node(
            CLIENT,
            Datagram::udp(
                SocketAddrV4::new(CLIENT.ip, 41_000),
                to_node(20_001),
                b"a distinctive payload",
            ),
        );
        let bytes = sent.emit();
        let captured = parse(&bytes).expect("an IPv4 UDP frame");
        assert_eq!(captured.frame, sent);
        assert!(captured.ip_checksum_valid && captured.transport_checksum_valid);
        // smoltcp's own checked parse agrees.
        let ip = Ipv4Packet::new_checked(&bytes[ETHERNET_HEADER_LEN..]).unwrap();
        Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).expect("valid IPv4");
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        let (src, dst) = (IpAddress::Ipv4(CLIENT.ip), IpAddress::Ipv4(NODE.ip));
        UdpRepr::parse(&udp, &src, &dst, &ChecksumCapabilities::default()).expect("valid UDP");
        assert_ne!(udp.checksum(), 0);
    }

    #[test]
    fn tcp_frames_parse_back_with_their_flags_and_valid_checksums() {
        for tcp in [
            Tcp {
                control: TcpControl::Syn,
                seq: 0x1111_0000,
                ack: None,
            },
            Tcp {
                control: TcpControl::Syn,
                seq: 7,
                ack: Some(0x1111_0001),
            },
            Tcp {
                control: TcpControl::Rst,
                seq: 0x1111_0001,
                ack: None,
            },
            Tcp {
                control: TcpControl::Rst,
                seq: u32::MAX,
                ack: Some(8),
            },
        ] {
            let sent = Frame::to_node(
                CLIENT,
                Datagram::tcp(SocketAddrV4::new(CLIENT.ip, 42_000), to_node(20_002), tcp),
            );
            let bytes = sent.emit();
            let captured = parse(&bytes).expect("an IPv4 TCP frame");
            assert_eq!(captured.frame, sent, "{tcp}");
            assert!(
                captured.ip_checksum_valid && captured.transport_checksum_valid,
                "{tcp}"
            );
            let ip = Ipv4Packet::new_checked(&bytes[ETHERNET_HEADER_LEN..]).unwrap();
            let segment = TcpPacket::new_checked(ip.payload()).unwrap();
            let (src, dst) = (IpAddress::Ipv4(CLIENT.ip), IpAddress::Ipv4(NODE.ip));
            TcpRepr::parse(&segment, &src, &dst, &ChecksumCapabilities::default())
                .expect("valid TCP");
        }
    }

    #[test]
    fn a_corrupted_checksum_is_parsed_and_flagged() {
        let sent = Frame::to_node(
            CLIENT,
            Datagram::udp(
                SocketAddrV4::new(CLIENT.ip, 41_000),
                to_node(20_001),
                b"payload",
            ),
        );
        let mut bytes = sent.emit();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let captured = parse(&bytes).unwrap();
        assert!(captured.ip_checksum_valid);
        assert!(!captured.transport_checksum_valid);
        let mut bytes = sent.emit();
        bytes[ETHERNET_HEADER_LEN + 8] ^= 1; // the TTL
        let captured = parse(&bytes).unwrap();
        assert!(!captured.ip_checksum_valid);
    }

    #[test]
    fn the_arp_request_is_a_broadcast_who_has() {
        let bytes = arp_request(BACKEND, NODE.ip);
        let captured = parse_arp(&bytes).expect("an ARP frame");
        assert_eq!(captured.eth_src, BACKEND.mac);
        assert!(captured.eth_dst.is_broadcast());
        assert_eq!(
            captured.arp,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr: BACKEND.mac,
                source_protocol_addr: BACKEND.ip,
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: NODE.ip,
            }
        );
        assert_eq!(parse(&bytes), None, "not IPv4");
    }

    #[test]
    fn other_traffic_does_not_parse_as_a_datagram() {
        use crate::frames::Malformed;
        assert_eq!(parse(&[]), None);
        for kind in [
            Malformed::TruncatedEthernet,
            Malformed::TruncatedIpv4,
            Malformed::TruncatedUdp,
            Malformed::TruncatedTcp,
            Malformed::WrongIpv4TotalLength,
            Malformed::Fragment,
            Malformed::UnknownEtherType,
        ] {
            assert_eq!(parse(&kind.frame(0)), None, "{kind}");
        }
        let bad_ip =
            parse(&Malformed::BadIpv4Checksum.frame(0)).expect("well formed but for its checksum");
        assert!(!bad_ip.ip_checksum_valid && bad_ip.transport_checksum_valid);
        let bad_udp =
            parse(&Malformed::BadUdpChecksum.frame(0)).expect("well formed but for its checksum");
        assert!(bad_udp.ip_checksum_valid && !bad_udp.transport_checksum_valid);
        let bad_tcp =
            parse(&Malformed::BadTcpChecksum.frame(0)).expect("well formed but for its checksum");
        assert!(bad_tcp.ip_checksum_valid && !bad_tcp.transport_checksum_valid);
        let udp = Frame::to_node(
            CLIENT,
            Datagram::udp(SocketAddrV4::new(CLIENT.ip, 1), to_node(2), b"x"),
        )
        .emit();
        assert_eq!(parse_arp(&udp), None);
    }

    #[test]
    fn made_up_hosts_name_their_address_in_their_mac() {
        assert_eq!(BACKEND.ip, Ipv4Addr::new(10, 0, 2, 100));
        assert_eq!(Mac(BACKEND.mac).to_string(), "52:55:0a:00:02:02");
        assert_eq!(Mac(made_up(50).mac).to_string(), "52:54:00:00:02:32");
        assert_eq!(Mac(NODE.mac).to_string(), "52:54:00:12:34:56");
        assert_ne!(made_up(50).mac, made_up(51).mac);
        assert_eq!(
            (client(0), client(7), client(8)),
            (made_up(50), made_up(57), made_up(50))
        );
    }

    #[test]
    fn datagrams_read_naturally() {
        let syn = Datagram::tcp(
            SocketAddrV4::new(CLIENT.ip, 42_000),
            to_node(20_002),
            Tcp {
                control: TcpControl::Syn,
                seq: 100,
                ack: None,
            },
        );
        assert_eq!(
            syn.to_string(),
            "tcp SYN seq 100 10.0.2.50:42000 -> 10.0.2.15:20002"
        );
        let syn_ack = Tcp {
            control: TcpControl::Syn,
            seq: 7,
            ack: Some(101),
        };
        assert_eq!(syn_ack.to_string(), "SYN-ACK seq 7 ack 101");
        let udp = Datagram::udp(
            SocketAddrV4::new(CLIENT.ip, 41_000),
            to_node(20_001),
            b"abc",
        );
        assert_eq!(
            udp.to_string(),
            "udp 10.0.2.50:41000 -> 10.0.2.15:20001 (3 bytes)"
        );
    }

    #[test]
    fn played_hosts_are_the_clients_and_the_blocked_one() {
        for last in [50, 57, 66] {
            assert!(is_played(Ipv4Addr::new(10, 0, 2, last)), "{last}");
        }
        for ip in [
            NODE.ip,
            BACKEND.ip,
            crate::frames::HOST_IP,
            Ipv4Addr::new(10, 0, 2, 3),
            Ipv4Addr::new(10, 0, 2, 58),
            Ipv4Addr::new(10, 0, 3, 100),
        ] {
            assert!(!is_played(ip), "{ip}");
        }
    }
}
