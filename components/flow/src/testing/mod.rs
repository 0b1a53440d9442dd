//! Frame fixtures and invariant checks for host tests, fuzz targets and benchmarks.
//!
//! Every fixture is built with smoltcp's `Repr::emit`, so it is valid unless a
//! test patches it afterwards (through smoltcp's setters, e.g. [`ipv4_mut`]).
//! The builders panic when a fixture does not fit [`FRAME_CAP`]: they are for
//! tests, never for frames from a peer.

mod invariants;

pub use invariants::{check_classify, check_validate_tx, fuzz_table, FUZZ_TENANTS};

use heapless::Vec;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
    ETHERNET_HEADER_LEN,
};

use crate::NetIdentity;

/// Room for any fixture, including oversized ones that tests must see refused.
pub const FRAME_CAP: usize = 2048;

/// A fixture frame.
pub type Frame = Vec<u8, FRAME_CAP>;

/// The identity the fixtures address: QEMU's user network.
pub const ME: NetIdentity = NetIdentity::QEMU_USER_NET;

/// The far end: QEMU's user-network gateway MAC and IP.
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);

/// The far end's IP (QEMU's user-network gateway).
pub const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// The addresses of a fixture frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    /// Ethernet source.
    pub src_mac: EthernetAddress,
    /// Ethernet destination.
    pub dst_mac: EthernetAddress,
    /// IPv4 source.
    pub src_ip: Ipv4Address,
    /// IPv4 destination.
    pub dst_ip: Ipv4Address,
}

impl Ends {
    /// From the peer to `me`, as frames arrive from the wire.
    pub const fn inbound(me: &NetIdentity) -> Self {
        Self { src_mac: PEER_MAC, dst_mac: me.mac, src_ip: PEER_IP, dst_ip: me.ip }
    }

    /// From `me` to the peer, as a tenant's replies leave.
    pub const fn outbound(me: &NetIdentity) -> Self {
        Self { src_mac: me.mac, dst_mac: PEER_MAC, src_ip: me.ip, dst_ip: PEER_IP }
    }
}

fn zeroed(len: usize) -> Frame {
    let mut f = Frame::new();
    f.resize(len, 0).expect("fixture larger than FRAME_CAP");
    f
}

/// An Ethernet frame from `eth_src` to the broadcast address carrying `arp`.
pub fn arp(eth_src: EthernetAddress, arp: &ArpRepr) -> Frame {
    let eth = EthernetRepr {
        src_addr: eth_src,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut f = zeroed(eth.buffer_len() + arp.buffer_len());
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    f
}

/// A broadcast ARP request from `sender` asking who has `target`.
pub fn arp_request(
    sender_mac: EthernetAddress,
    sender_ip: Ipv4Address,
    target: Ipv4Address,
) -> Frame {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: sender_mac,
        source_protocol_addr: sender_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    arp(sender_mac, &repr)
}

/// An IPv4 frame whose transport header and payload `emit` writes into the
/// IP payload (given the pseudo-header addresses).
pub fn ipv4(
    ends: &Ends,
    protocol: IpProtocol,
    payload_len: usize,
    emit: impl FnOnce(&mut [u8], &IpAddress, &IpAddress),
) -> Frame {
    let eth = EthernetRepr {
        src_addr: ends.src_mac,
        dst_addr: ends.dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: ends.src_ip,
        dst_addr: ends.dst_ip,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
    };
    let mut f = zeroed(eth.buffer_len() + ip.buffer_len() + payload_len);
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    eth.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    let (src, dst) = (IpAddress::Ipv4(ends.src_ip), IpAddress::Ipv4(ends.dst_ip));
    emit(packet.payload_mut(), &src, &dst);
    f
}

/// An ICMP echo request.
pub fn echo_request(ends: &Ends, ident: u16, seq_no: u16, data: &[u8]) -> Frame {
    let icmp = Icmpv4Repr::EchoRequest { ident, seq_no, data };
    ipv4(ends, IpProtocol::Icmp, icmp.buffer_len(), |buf, _, _| {
        icmp.emit(&mut Icmpv4Packet::new_unchecked(buf), &ChecksumCapabilities::default())
    })
}

/// A UDP datagram with a valid checksum.
pub fn udp(ends: &Ends, src_port: u16, dst_port: u16, payload: &[u8]) -> Frame {
    let udp = UdpRepr { src_port, dst_port };
    ipv4(ends, IpProtocol::Udp, udp.header_len() + payload.len(), |buf, src, dst| {
        udp.emit(
            &mut UdpPacket::new_unchecked(buf),
            src,
            dst,
            payload.len(),
            |p| p.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        )
    })
}

/// A UDP datagram whose frame is exactly `frame_len` bytes (at least 42).
pub fn udp_sized(ends: &Ends, src_port: u16, dst_port: u16, frame_len: usize) -> Frame {
    let mut payload: Vec<u8, FRAME_CAP> = Vec::new();
    let len = frame_len.checked_sub(42).expect("a UDP frame has at least 42 bytes");
    payload.extend((0..len).map(|i| i as u8));
    udp(ends, src_port, dst_port, &payload)
}

/// A TCP segment (PSH+ACK, no options) with a valid checksum.
pub fn tcp(ends: &Ends, src_port: u16, dst_port: u16, payload: &[u8]) -> Frame {
    tcp_with(ends, src_port, dst_port, TcpControl::Psh, payload)
}

/// A TCP segment with `control` (no options) and a valid checksum: a SYN
/// carries no ACK, any other segment acknowledges.
pub fn tcp_with(ends: &Ends, src_port: u16, dst_port: u16, control: TcpControl, payload: &[u8]) -> Frame {
    let tcp = TcpRepr {
        src_port,
        dst_port,
        control,
        seq_number: TcpSeqNumber(1000),
        ack_number: (control != TcpControl::Syn).then_some(TcpSeqNumber(2000)),
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    ipv4(ends, IpProtocol::Tcp, tcp.buffer_len(), |buf, src, dst| {
        tcp.emit(&mut TcpPacket::new_unchecked(buf), src, dst, &ChecksumCapabilities::default())
    })
}

/// The IPv4 header of a fixture, for patching.
///
/// # Panics
/// If `frame` is shorter than an Ethernet header.
pub fn ipv4_mut(frame: &mut [u8]) -> Ipv4Packet<&mut [u8]> {
    Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..])
}

/// The transport header of an IPv4 fixture with a 20-byte header, for patching.
///
/// # Panics
/// If `frame` is shorter than the Ethernet and IPv4 headers.
pub fn l4_mut(frame: &mut [u8]) -> &mut [u8] {
    &mut frame[ETHERNET_HEADER_LEN + 20..]
}
