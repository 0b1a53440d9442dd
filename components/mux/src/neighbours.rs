use heapless::FnvIndexMap;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Ipv4Address,
};

use edgeos_flow::NetIdentity;

/// Remote hosts' MAC addresses, learnt from frames the multiplexer accepted.
///
/// Tenants run their own smoltcp stacks, which ask for a peer's MAC before
/// answering it. Their ARP requests never reach the wire (tx validation
/// admits IPv4 only): the multiplexer answers them from this cache, on
/// behalf of the peer, so tenants cannot probe the network or see each
/// other's ARP traffic. `N` (a power of two) bounds the cache; when full,
/// the oldest entry is forgotten.
#[derive(Debug, Default)]
pub struct Neighbours<const N: usize> {
    map: FnvIndexMap<[u8; 4], EthernetAddress, N>,
}

/// What the multiplexer does with a tenant's ARP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantArp {
    /// Not an ARP frame: validate it as IPv4.
    NotArp,
    /// An answer of this many bytes was written; deliver it to the tenant.
    Answered(usize),
    /// A request for a host we have not heard from: dropped; the tenant retries.
    Unknown(Ipv4Address),
    /// ARP, but not a request from our own addresses: refused.
    Refused,
}

impl<const N: usize> Neighbours<N> {
    /// An empty cache.
    pub fn new() -> Self {
        Self { map: FnvIndexMap::new() }
    }

    /// Records that `ip` is reachable at `mac` (only unicast hosts are kept).
    pub fn learn(&mut self, ip: Ipv4Address, mac: EthernetAddress) {
        if !mac.is_unicast() {
            return;
        }
        let key = ip.octets();
        if self.map.contains_key(&key) {
            self.map[&key] = mac;
            return;
        }
        if self.map.len() == N {
            let oldest = self.map.keys().next().copied();
            if let Some(oldest) = oldest {
                self.map.remove(&oldest);
            }
        }
        let _ = self.map.insert(key, mac);
    }

    /// The MAC learnt for `ip`.
    pub fn get(&self, ip: Ipv4Address) -> Option<EthernetAddress> {
        self.map.get(&ip.octets()).copied()
    }

    /// Number of hosts known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no host is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Handles a frame a tenant sent if it is ARP, writing the answer to `out`.
    pub fn answer_tenant(&self, frame: &[u8], me: &NetIdentity, out: &mut [u8]) -> TenantArp {
        let Ok(eth) = EthernetFrame::new_checked(frame) else { return TenantArp::NotArp };
        if eth.ethertype() != EthernetProtocol::Arp {
            return TenantArp::NotArp;
        }
        let Ok(packet) = ArpPacket::new_checked(eth.payload()) else { return TenantArp::Refused };
        let Ok(ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = ArpRepr::parse(&packet)
        else {
            return TenantArp::Refused;
        };
        if source_hardware_addr != me.mac || source_protocol_addr != me.ip || eth.src_addr() != me.mac {
            return TenantArp::Refused;
        }
        let Some(peer_mac) = self.get(target_protocol_addr) else {
            return TenantArp::Unknown(target_protocol_addr);
        };
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: peer_mac,
            source_protocol_addr: target_protocol_addr,
            target_hardware_addr: me.mac,
            target_protocol_addr: me.ip,
        };
        let eth = EthernetRepr { src_addr: peer_mac, dst_addr: me.mac, ethertype: EthernetProtocol::Arp };
        let len = eth.buffer_len() + arp.buffer_len();
        if out.len() < len {
            return TenantArp::Refused;
        }
        let mut reply = EthernetFrame::new_unchecked(&mut out[..len]);
        eth.emit(&mut reply);
        arp.emit(&mut ArpPacket::new_unchecked(reply.payload_mut()));
        TenantArp::Answered(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
    const PEER_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 10, 0, 2, 2]);

    fn request(me: &NetIdentity, sender_mac: EthernetAddress, target: Ipv4Address) -> [u8; 42] {
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: sender_mac,
            source_protocol_addr: me.ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        let eth = EthernetRepr { src_addr: sender_mac, dst_addr: EthernetAddress::BROADCAST, ethertype: EthernetProtocol::Arp };
        let mut bytes = [0u8; 42];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        eth.emit(&mut frame);
        arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        bytes
    }

    #[test]
    fn a_known_peer_is_answered_on_its_behalf() {
        let me = NetIdentity::QEMU_USER_NET;
        let mut n = Neighbours::<4>::new();
        n.learn(PEER_IP, PEER_MAC);
        let mut out = [0u8; 64];
        let TenantArp::Answered(len) = n.answer_tenant(&request(&me, me.mac, PEER_IP), &me, &mut out) else {
            panic!("expected an answer");
        };
        let frame = EthernetFrame::new_checked(&out[..len]).unwrap();
        assert_eq!((frame.src_addr(), frame.dst_addr()), (PEER_MAC, me.mac));
        let repr = ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()).unwrap();
        let ArpRepr::EthernetIpv4 { operation, source_hardware_addr, source_protocol_addr, .. } = repr else {
            panic!()
        };
        assert_eq!((operation, source_hardware_addr, source_protocol_addr), (ArpOperation::Reply, PEER_MAC, PEER_IP));
    }

    #[test]
    fn unknown_hosts_spoofed_senders_and_non_arp_are_not_answered() {
        let me = NetIdentity::QEMU_USER_NET;
        let n = Neighbours::<4>::new();
        let mut out = [0u8; 64];
        assert_eq!(n.answer_tenant(&request(&me, me.mac, PEER_IP), &me, &mut out), TenantArp::Unknown(PEER_IP));
        let spoofed = request(&me, EthernetAddress([2, 0, 0, 0, 0, 9]), PEER_IP);
        assert_eq!(n.answer_tenant(&spoofed, &me, &mut out), TenantArp::Refused);
        let mut ipv4 = request(&me, me.mac, PEER_IP);
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(n.answer_tenant(&ipv4, &me, &mut out), TenantArp::NotArp);
        assert_eq!(n.answer_tenant(&[0u8; 5], &me, &mut out), TenantArp::NotArp);
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_the_oldest() {
        let mut n = Neighbours::<2>::new();
        for i in 1..=3u8 {
            n.learn(Ipv4Address::new(10, 0, 2, i), EthernetAddress([2, 0, 0, 0, 0, i]));
        }
        assert_eq!(n.len(), 2);
        assert_eq!(n.get(Ipv4Address::new(10, 0, 2, 1)), None);
        assert!(n.get(Ipv4Address::new(10, 0, 2, 3)).is_some());
        n.learn(Ipv4Address::new(10, 0, 2, 9), EthernetAddress::BROADCAST);
        assert_eq!(n.get(Ipv4Address::new(10, 0, 2, 9)), None);
    }
}
