//! Structural checks shared by both directions, all through `smoltcp::wire` views.
//!
//! smoltcp's `new_checked` answers only "safe to read or not"; we need to say
//! *why* a frame is refused, so each step reads the few fields that decide
//! it through the view's accessors (once the length makes them safe), then
//! lets `check_len` confirm that every later accessor is safe too.
//!
//! Under `cfg(fuzzing)` smoltcp's `verify_checksum` always succeeds, so the
//! fuzzer reaches the checks behind the checksums.

use smoltcp::wire::{
    Icmpv4Packet, IpAddress, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket, IPV4_HEADER_LEN,
    TCP_HEADER_LEN, UDP_HEADER_LEN,
};

use crate::{DropReason, FiveTuple, Protocol, TxReject, MTU};

/// A structural fault of an IPv4 packet, in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    Truncated,
    Oversized,
    BadIpv4,
    BadChecksum,
    Ipv4Options,
    Fragment,
    UnsupportedProtocol,
    BadUdp,
    BadTcp,
}

impl From<Malformed> for DropReason {
    fn from(m: Malformed) -> Self {
        match m {
            Malformed::Truncated => Self::Truncated,
            Malformed::Oversized => Self::Oversized,
            Malformed::BadIpv4 => Self::BadIpv4,
            Malformed::BadChecksum => Self::BadChecksum,
            Malformed::Ipv4Options => Self::Ipv4Options,
            Malformed::Fragment => Self::Fragment,
            Malformed::UnsupportedProtocol => Self::UnsupportedProtocol,
            Malformed::BadUdp => Self::BadUdp,
            Malformed::BadTcp => Self::BadTcp,
        }
    }
}

impl From<Malformed> for TxReject {
    fn from(m: Malformed) -> Self {
        match m {
            Malformed::Truncated => Self::Truncated,
            Malformed::Oversized => Self::Oversized,
            Malformed::BadIpv4 => Self::BadIpv4,
            Malformed::BadChecksum => Self::BadChecksum,
            Malformed::Ipv4Options => Self::Ipv4Options,
            Malformed::Fragment => Self::Fragment,
            Malformed::UnsupportedProtocol => Self::UnsupportedProtocol,
            Malformed::BadUdp => Self::BadUdp,
            Malformed::BadTcp => Self::BadTcp,
        }
    }
}

/// ICMP header: type, code, checksum and four type-specific bytes.
const ICMP_HEADER_LEN: usize = 8;

/// Validates an IPv4 header (and its checksum) at the start of `buf`.
///
/// Trailing bytes past the total length are Ethernet padding and ignored;
/// the returned packet's `payload()` stops at the total length.
pub(crate) fn ipv4(buf: &[u8]) -> Result<Ipv4Packet<&[u8]>, Malformed> {
    if buf.len() < IPV4_HEADER_LEN {
        return Err(Malformed::Truncated);
    }
    // Safe to read the fixed header from here on.
    let ip = Ipv4Packet::new_unchecked(buf);
    let header_len = usize::from(ip.header_len());
    let total_len = usize::from(ip.total_len());
    if ip.version() != 4 || header_len < IPV4_HEADER_LEN {
        return Err(Malformed::BadIpv4);
    }
    if buf.len() < header_len {
        return Err(Malformed::Truncated);
    }
    if total_len > MTU {
        return Err(Malformed::Oversized);
    }
    if total_len < header_len || total_len > buf.len() {
        return Err(Malformed::BadIpv4);
    }
    // Implied by the checks above; kept as the guard smoltcp documents.
    ip.check_len().map_err(|_| Malformed::BadIpv4)?;
    if !ip.verify_checksum() {
        return Err(Malformed::BadChecksum);
    }
    if header_len > IPV4_HEADER_LEN {
        return Err(Malformed::Ipv4Options);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(Malformed::Fragment);
    }
    Ok(ip)
}

/// An IPv4 payload that passed its transport's checks.
pub(crate) enum Transport<'a> {
    Udp(UdpPacket<&'a [u8]>),
    Tcp(TcpPacket<&'a [u8]>),
    Icmp(Icmpv4Packet<&'a [u8]>),
}

impl Transport<'_> {
    /// The 5-tuple of a UDP or TCP packet carried by `ip`.
    pub(crate) fn tuple(&self, ip: &Ipv4Packet<&[u8]>) -> Option<FiveTuple> {
        let (protocol, src_port, dst_port) = match self {
            Self::Udp(p) => (Protocol::Udp, p.src_port(), p.dst_port()),
            Self::Tcp(p) => (Protocol::Tcp, p.src_port(), p.dst_port()),
            Self::Icmp(_) => return None,
        };
        Some(FiveTuple { protocol, src: (ip.src_addr(), src_port), dst: (ip.dst_addr(), dst_port) })
    }
}

/// Validates the UDP, TCP or ICMP packet inside a validated IPv4 packet.
pub(crate) fn transport<'a>(ip: &Ipv4Packet<&'a [u8]>) -> Result<Transport<'a>, Malformed> {
    let payload = ip.payload();
    let src = IpAddress::Ipv4(ip.src_addr());
    let dst = IpAddress::Ipv4(ip.dst_addr());
    match ip.next_header() {
        IpProtocol::Udp => {
            if payload.len() < UDP_HEADER_LEN {
                return Err(Malformed::Truncated);
            }
            let udp = UdpPacket::new_unchecked(payload);
            // The length must match exactly: bytes beyond it would be data
            // the checksum does not cover but a careless stack might read.
            if usize::from(udp.len()) != payload.len() || udp.dst_port() == 0 {
                return Err(Malformed::BadUdp);
            }
            udp.check_len().map_err(|_| Malformed::BadUdp)?;
            // smoltcp treats a zero checksum as "none sent", as RFC 768 says.
            if !udp.verify_checksum(&src, &dst) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Udp(udp))
        }
        IpProtocol::Tcp => {
            if payload.len() < TCP_HEADER_LEN {
                return Err(Malformed::Truncated);
            }
            let tcp = TcpPacket::new_unchecked(payload);
            let header_len = usize::from(tcp.header_len());
            if header_len < TCP_HEADER_LEN
                || header_len > payload.len()
                || tcp.src_port() == 0
                || tcp.dst_port() == 0
            {
                return Err(Malformed::BadTcp);
            }
            tcp.check_len().map_err(|_| Malformed::BadTcp)?;
            if !tcp.verify_checksum(&src, &dst) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Tcp(tcp))
        }
        IpProtocol::Icmp => {
            if payload.len() < ICMP_HEADER_LEN {
                return Err(Malformed::Truncated);
            }
            let icmp = Icmpv4Packet::new_checked(payload).map_err(|_| Malformed::Truncated)?;
            if !icmp.verify_checksum() {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Icmp(icmp))
        }
        _ => Err(Malformed::UnsupportedProtocol),
    }
}
