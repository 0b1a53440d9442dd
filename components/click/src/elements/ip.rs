//! CheckIPHeader and DecIPTTL, and the incremental checksum update they and
//! IPRewriter share.
//!
//! Checksums are updated incrementally (RFC 1624, equation 3:
//! `HC' = ~(~HC + ~m + m')`) over exactly the 16-bit words that changed,
//! never recomputed: the cost does not grow with the payload, and a packet
//! that arrived with a wrong checksum leaves with one that is wrong by the
//! same amount, so the receiver still sees the corruption (a full recompute
//! would launder it). smoltcp 0.13 keeps its `wire::ip::checksum` helpers
//! crate-private, so the update is written here; tests check every result
//! against smoltcp's `verify_checksum` and `fill_checksum`.

use smoltcp::wire::Ipv4Packet;

use crate::args::{self, bad, ArgError};
use crate::verdict::{DropReason, Step};
use crate::Packet;

/// The checksum field value after the 16-bit big-endian words `old` of the
/// covered data were replaced by `new` (RFC 1624, equation 3).
pub(crate) fn adjust<const N: usize>(check: u16, old: &[u8; N], new: &[u8; N]) -> u16 {
    let mut acc = u32::from(!check);
    for w in old.chunks_exact(2) {
        acc += u32::from(!u16::from_be_bytes([w[0], w[1]]));
    }
    for w in new.chunks_exact(2) {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// CheckIPHeader's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckIpHeader {
    /// Where the IP header starts in the packet (14 after an Ethernet header
    /// that was not stripped).
    pub offset: u16,
    /// Whether the header checksum is verified.
    pub checksum: bool,
}

impl CheckIpHeader {
    /// `CheckIPHeader([OFFSET] [, OFFSET n] [, CHECKSUM bool])`.
    pub fn parse(inner: &str) -> Result<Self, ArgError<'_>> {
        const USAGE: &str =
            "CheckIPHeader takes [OFFSET] and the keywords OFFSET n, CHECKSUM true|false";
        let mut me = Self {
            offset: 0,
            checksum: true,
        };
        for (i, arg) in args::split(inner).enumerate() {
            match args::keyword(arg) {
                Some(("OFFSET", v)) => me.offset = offset(v)?,
                Some(("CHECKSUM", v)) => {
                    me.checksum = args::boolean(v).ok_or(bad(v, "CHECKSUM is true or false"))?
                }
                Some(_) => return Err(bad(arg, USAGE)),
                None if i == 0 => me.offset = offset(arg)?,
                None => return Err(bad(arg, USAGE)),
            }
        }
        Ok(me)
    }

    pub fn process(self, pkt: &mut Packet<'_>) -> Step {
        let offset = usize::from(self.offset);
        let Some(window) = pkt.data().get(offset..) else {
            return Step::OutOr(1, DropReason::BadIpHeader);
        };
        let ip = match Ipv4Packet::new_checked(window) {
            Ok(ip) if ip.version() == 4 => ip,
            _ => return Step::OutOr(1, DropReason::BadIpHeader),
        };
        if self.checksum && !ip.verify_checksum() {
            return Step::OutOr(1, DropReason::BadIpChecksum);
        }
        let src = ip.src_addr();
        if src.is_broadcast() || src.is_multicast() {
            return Step::OutOr(1, DropReason::BadSourceAddress);
        }
        let total = usize::from(ip.total_len());
        // Ethernet pads short frames; the IP total length says where the packet ends.
        pkt.truncate(offset + total);
        pkt.set_ip_header_offset(offset);
        Step::Out(0)
    }
}

/// Largest offset an argument may name: past it no frame has a byte.
fn offset(s: &str) -> Result<u16, ArgError<'_>> {
    match args::uint(s) {
        Some(n) if n as usize <= crate::MAX_FRAME_LEN => Ok(n as u16),
        _ => Err(bad(s, "expected a byte offset from 0 to 1514")),
    }
}

/// DecIPTTL: decrements the TTL, updating the header checksum; a packet
/// whose TTL is 0 or 1 goes to output 1, or is dropped when that output is
/// not connected.
pub(crate) fn dec_ip_ttl(pkt: &mut Packet<'_>) -> Step {
    let mut ip = match Ipv4Packet::new_checked(pkt.ip_mut()) {
        Ok(ip) if ip.version() == 4 => ip,
        _ => return Step::Drop(DropReason::BadIpHeader),
    };
    let ttl = ip.hop_limit();
    if ttl <= 1 {
        return Step::OutOr(1, DropReason::TtlExpired);
    }
    // TTL and protocol share one 16-bit word of the header.
    let proto = u8::from(ip.next_header());
    let check = adjust(ip.checksum(), &[ttl, proto], &[ttl - 1, proto]);
    ip.set_hop_limit(ttl - 1);
    ip.set_checksum(check);
    Step::Out(0)
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::{IpProtocol, Ipv4Address};

    use super::*;
    use crate::testing::{self, Frame};

    fn ip_frame(ttl: u8) -> Frame {
        let mut f = testing::udp_frame(testing::ends("10.0.0.1", "10.0.0.2"), 1000, 53, b"hello");
        let mut ip = testing::ipv4_mut(&mut f);
        ip.set_hop_limit(ttl);
        ip.fill_checksum();
        f
    }

    #[test]
    fn adjust_matches_a_full_recompute() {
        // Every TTL, with each protocol: the incremental result verifies.
        for proto in [IpProtocol::Udp, IpProtocol::Tcp, IpProtocol::Icmp] {
            for ttl in 2..=255u8 {
                let mut f = ip_frame(ttl);
                let mut ip = testing::ipv4_mut(&mut f);
                ip.set_next_header(proto);
                ip.fill_checksum();
                let p = u8::from(proto);
                let check = adjust(ip.checksum(), &[ttl, p], &[ttl - 1, p]);
                ip.set_hop_limit(ttl - 1);
                ip.fill_checksum();
                assert_eq!(check, ip.checksum(), "ttl {ttl}");
            }
        }
    }

    #[test]
    fn check_ip_header_accepts_a_good_header_and_trims_padding() {
        let mut f = ip_frame(64);
        let real = f.len();
        f.extend_from_slice(&[0; 10]).unwrap();
        let mut p = Packet::whole(&mut f);
        let c = CheckIpHeader {
            offset: 14,
            checksum: true,
        };
        assert_eq!(c.process(&mut p), Step::Out(0));
        assert_eq!(p.len(), real);
        assert_eq!(p.ip_header_offset(), Some(14));
    }

    #[test]
    fn check_ip_header_refuses_each_kind_of_bad_header() {
        let c = CheckIpHeader {
            offset: 14,
            checksum: true,
        };
        let bad = DropReason::BadIpHeader;
        // Truncated: every length short of the full header.
        let good = ip_frame(64);
        for len in 0..34 {
            let mut f = good.clone();
            assert_eq!(
                c.process(&mut Packet::whole(&mut f[..len])),
                Step::OutOr(1, bad),
                "{len}"
            );
        }
        // Version 6.
        let mut f = good.clone();
        testing::ipv4_mut(&mut f).set_version(6);
        testing::ipv4_mut(&mut f).fill_checksum();
        assert_eq!(c.process(&mut Packet::whole(&mut f)), Step::OutOr(1, bad));
        // Header length under 20, and total length past the frame.
        let mut f = good.clone();
        testing::ipv4_mut(&mut f).set_header_len(16);
        assert_eq!(c.process(&mut Packet::whole(&mut f)), Step::OutOr(1, bad));
        let mut f = good.clone();
        testing::ipv4_mut(&mut f).set_total_len(1000);
        assert_eq!(c.process(&mut Packet::whole(&mut f)), Step::OutOr(1, bad));
        // Checksum, unless told not to check it.
        let mut f = good.clone();
        testing::ipv4_mut(&mut f).set_checksum(0x1234);
        assert_eq!(
            c.process(&mut Packet::whole(&mut f)),
            Step::OutOr(1, DropReason::BadIpChecksum)
        );
        let lax = CheckIpHeader {
            checksum: false,
            ..c
        };
        assert_eq!(lax.process(&mut Packet::whole(&mut f)), Step::Out(0));
        // Broadcast and multicast sources.
        for src in [Ipv4Address::BROADCAST, Ipv4Address::new(224, 0, 0, 1)] {
            let mut f = good.clone();
            testing::ipv4_mut(&mut f).set_src_addr(src);
            testing::ipv4_mut(&mut f).fill_checksum();
            assert_eq!(
                c.process(&mut Packet::whole(&mut f)),
                Step::OutOr(1, DropReason::BadSourceAddress)
            );
        }
    }

    #[test]
    fn dec_ip_ttl_decrements_and_keeps_the_checksum_valid() {
        let mut f = ip_frame(64);
        let mut p = Packet::whole(&mut f);
        p.set_ip_header_offset(14);
        assert_eq!(dec_ip_ttl(&mut p), Step::Out(0));
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.hop_limit(), 63);
        assert!(ip.verify_checksum());
    }

    #[test]
    fn dec_ip_ttl_sends_expiring_packets_to_output_1_and_refuses_garbage() {
        for ttl in [0, 1] {
            let mut f = ip_frame(ttl);
            let mut p = Packet::whole(&mut f);
            p.set_ip_header_offset(14);
            assert_eq!(dec_ip_ttl(&mut p), Step::OutOr(1, DropReason::TtlExpired));
            assert_eq!(testing::ipv4_mut(&mut f).hop_limit(), ttl, "left as it was");
        }
        let mut f = ip_frame(64);
        let mut p = Packet::whole(&mut f[..20]);
        assert_eq!(dec_ip_ttl(&mut p), Step::Drop(DropReason::BadIpHeader));
    }

    #[test]
    fn arguments() {
        let p = |s: &'static str| CheckIpHeader::parse(s);
        assert_eq!(
            p(""),
            Ok(CheckIpHeader {
                offset: 0,
                checksum: true
            })
        );
        assert_eq!(
            p("14"),
            Ok(CheckIpHeader {
                offset: 14,
                checksum: true
            })
        );
        assert_eq!(
            p("OFFSET 14, CHECKSUM false"),
            Ok(CheckIpHeader {
                offset: 14,
                checksum: false
            })
        );
        assert!(p("1515").is_err());
        assert!(p("14, 15").is_err());
        assert!(p("CHECKSUM maybe").is_err());
        assert!(p("BADSRC 1.2.3.4").is_err());
    }
}
