//! The answers the multiplexer gives itself: ARP replies and ICMP echo replies.
//!
//! Both are built with smoltcp's `Repr::emit`, with checksums filled in. Replies
//! are not padded to Ethernet's 60-byte minimum: the NIC pads on transmit.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4Packet,
    Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, ETHERNET_HEADER_LEN,
};

use crate::classify::{inbound, Inbound};
use crate::NetIdentity;

/// Hop limit (TTL) of the replies we originate: the common default.
pub const REPLY_HOP_LIMIT: u8 = 64;

/// Why no reply was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespondError {
    /// The input is not a request we answer (classify it first).
    NotAnswerable,
    /// `out` is shorter than the reply.
    BufferTooSmall {
        /// The reply's length in bytes.
        needed: usize,
    },
}

impl core::fmt::Display for RespondError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAnswerable => f.write_str("not a request the multiplexer answers"),
            Self::BufferTooSmall { needed } => write!(f, "reply needs {needed} bytes"),
        }
    }
}

/// Writes the Ethernet frame answering `request` (an ARP request for
/// `me.ip`, as [`classify`](crate::classify) returns it) into `out`, and
/// returns its length.
///
/// The request is checked again, so a caller mix-up cannot make us answer
/// for another address or towards a broadcast sender.
pub fn answer_arp(
    request: &ArpRepr,
    me: &NetIdentity,
    out: &mut [u8],
) -> Result<usize, RespondError> {
    let (sender_mac, sender_ip) = match *request {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } if target_protocol_addr == me.ip
            && source_hardware_addr.is_unicast()
            && source_hardware_addr != me.mac =>
        {
            (source_hardware_addr, source_protocol_addr)
        }
        _ => return Err(RespondError::NotAnswerable),
    };
    let eth =
        EthernetRepr { src_addr: me.mac, dst_addr: sender_mac, ethertype: EthernetProtocol::Arp };
    let reply = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: me.mac,
        source_protocol_addr: me.ip,
        target_hardware_addr: sender_mac,
        target_protocol_addr: sender_ip,
    };
    let len = eth.buffer_len() + reply.buffer_len();
    let out = out.get_mut(..len).ok_or(RespondError::BufferTooSmall { needed: len })?;
    let mut frame = EthernetFrame::new_unchecked(out);
    eth.emit(&mut frame);
    reply.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    Ok(len)
}

/// Writes the echo reply to `frame` (an ICMP echo request to `me`) into
/// `out`, and returns its length.
///
/// The reply carries the request's identifier, sequence number and data,
/// goes back to the request's MAC and IP from ours, and has valid IPv4 and
/// ICMP checksums. `frame` is validated again exactly as
/// [`classify`](crate::classify) does, because it sits in memory the
/// driver can still write.
pub fn answer_echo(frame: &[u8], me: &NetIdentity, out: &mut [u8]) -> Result<usize, RespondError> {
    let Ok(Inbound::Echo { from_mac, from_ip, icmp }) = inbound(frame, me) else {
        return Err(RespondError::NotAnswerable);
    };
    // The checksum was verified by `inbound`.
    let (ident, seq_no, data) = match Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::ignored()) {
        Ok(Icmpv4Repr::EchoRequest { ident, seq_no, data }) => (ident, seq_no, data),
        _ => return Err(RespondError::NotAnswerable),
    };
    let reply = Icmpv4Repr::EchoReply { ident, seq_no, data };
    let ip = Ipv4Repr {
        src_addr: me.ip,
        dst_addr: from_ip,
        next_header: IpProtocol::Icmp,
        payload_len: reply.buffer_len(),
        hop_limit: REPLY_HOP_LIMIT,
    };
    let eth =
        EthernetRepr { src_addr: me.mac, dst_addr: from_mac, ethertype: EthernetProtocol::Ipv4 };
    // No larger than the request, which fit the MTU: same data, no options.
    let len = ETHERNET_HEADER_LEN + ip.buffer_len() + reply.buffer_len();
    let out = out.get_mut(..len).ok_or(RespondError::BufferTooSmall { needed: len })?;
    let caps = ChecksumCapabilities::default();
    let mut frame = EthernetFrame::new_unchecked(out);
    eth.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet, &caps);
    reply.emit(&mut Icmpv4Packet::new_unchecked(packet.payload_mut()), &caps);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::{EthernetAddress, Ipv4Address};

    use super::*;
    use crate::testing::{self, Ends, PEER_IP, PEER_MAC};

    const ME: NetIdentity = testing::ME;

    fn request() -> ArpRepr {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: PEER_MAC,
            source_protocol_addr: PEER_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ME.ip,
        }
    }

    #[test]
    fn arp_reply_parses_back_with_our_addresses() {
        let mut out = [0u8; 64];
        let n = answer_arp(&request(), &ME, &mut out).unwrap();
        assert_eq!(n, 42);
        let eth = EthernetFrame::new_checked(&out[..n]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, PEER_MAC));
        assert_eq!(eth.ethertype(), EthernetProtocol::Arp);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
        assert_eq!(
            arp,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: ME.mac,
                source_protocol_addr: ME.ip,
                target_hardware_addr: PEER_MAC,
                target_protocol_addr: PEER_IP,
            }
        );
    }

    #[test]
    fn arp_answers_only_requests_for_us_and_needs_room() {
        let mut out = [0u8; 64];
        assert_eq!(
            answer_arp(&request(), &ME, &mut out[..41]),
            Err(RespondError::BufferTooSmall { needed: 42 })
        );
        let ArpRepr::EthernetIpv4 {
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            ..
        } = request()
        else {
            unreachable!()
        };
        for (op, tpa) in
            [(ArpOperation::Reply, ME.ip), (ArpOperation::Request, Ipv4Address::new(10, 0, 2, 3))]
        {
            let r = ArpRepr::EthernetIpv4 {
                operation: op,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr: tpa,
            };
            assert_eq!(answer_arp(&r, &ME, &mut out), Err(RespondError::NotAnswerable));
        }
    }

    #[test]
    fn echo_reply_mirrors_the_request_with_valid_checksums() {
        let request = testing::echo_request(&Ends::inbound(&ME), 0x1234, 7, b"abcdefgh-payload");
        let mut out = [0u8; 1514];
        let n = answer_echo(&request, &ME, &mut out).unwrap();
        assert_eq!(n, request.len());
        let eth = EthernetFrame::new_checked(&out[..n]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, PEER_MAC));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
        assert_eq!((ip_repr.src_addr, ip_repr.dst_addr), (ME.ip, PEER_IP));
        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(
            Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).unwrap(),
            Icmpv4Repr::EchoReply { ident: 0x1234, seq_no: 7, data: b"abcdefgh-payload" }
        );
    }

    #[test]
    fn echo_refuses_non_echo_frames_and_short_buffers() {
        let ends = Ends::inbound(&ME);
        let mut out = [0u8; 1514];
        let udp = testing::udp(&ends, 1, 7, b"x");
        assert_eq!(answer_echo(&udp, &ME, &mut out), Err(RespondError::NotAnswerable));
        let mut bad = testing::echo_request(&ends, 1, 1, b"x");
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert_eq!(answer_echo(&bad, &ME, &mut out), Err(RespondError::NotAnswerable));
        let ok = testing::echo_request(&ends, 1, 1, b"x");
        assert_eq!(
            answer_echo(&ok, &ME, &mut out[..10]),
            Err(RespondError::BufferTooSmall { needed: ok.len() })
        );
    }
}
