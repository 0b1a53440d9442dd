//! Who is who: the system's own address, tenants, and the keys flows are routed by.

use smoltcp::wire::{EthernetAddress, Ipv4Address};

/// The system's own link and network address: every tenant shares it.
///
/// Frames come in addressed to it, and tenants must send from it; tenants
/// are told apart by port, never by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetIdentity {
    /// Our MAC address, as the NIC reports it.
    pub mac: EthernetAddress,
    /// Our IPv4 address.
    pub ip: Ipv4Address,
}

impl NetIdentity {
    /// QEMU's user-mode network: the guest gets 10.0.2.15, and QEMU's
    /// default NIC MAC is 52:54:00:12:34:56.
    pub const QEMU_USER_NET: Self = Self {
        mac: EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
        ip: Ipv4Address::new(10, 0, 2, 15),
    };

    /// Whether `ip` may appear as the far end of a conversation with us.
    ///
    /// Replies (ours and tenants') go back to the source, so a source that
    /// is no single remote host (unspecified, broadcast, multicast,
    /// loopback, or ourselves) would turn an answer into a flood or a loop.
    pub fn is_remote_host(&self, ip: Ipv4Address) -> bool {
        !(ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_loopback()
            || ip == self.ip)
    }
}

impl Default for NetIdentity {
    fn default() -> Self {
        Self::QEMU_USER_NET
    }
}

/// The transport protocols tenants may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// UDP (IP protocol 17).
    Udp,
    /// TCP (IP protocol 6).
    Tcp,
}

/// A tenant, named by the FWP slot it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub u16);

/// A per-tenant service: every packet of `protocol` to our `port` goes to one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Our (destination) port.
    pub port: u16,
}

/// A per-flow service: one conversation, as seen arriving from the wire.
///
/// `src` is the remote end and `dst` is ours; [`FiveTuple::reversed`] gives
/// the same flow as a tenant's reply sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source address and port.
    pub src: (Ipv4Address, u16),
    /// Destination address and port.
    pub dst: (Ipv4Address, u16),
}

impl FiveTuple {
    /// The same flow in the other direction.
    pub const fn reversed(&self) -> Self {
        Self { protocol: self.protocol, src: self.dst, dst: self.src }
    }

    /// The service this packet would reach by destination port alone.
    pub const fn service_key(&self) -> ServiceKey {
        ServiceKey { protocol: self.protocol, port: self.dst.1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversing_twice_is_identity_and_service_key_uses_dst_port() {
        let t = FiveTuple {
            protocol: Protocol::Tcp,
            src: (Ipv4Address::new(10, 0, 2, 2), 40000),
            dst: (Ipv4Address::new(10, 0, 2, 15), 80),
        };
        assert_eq!(t.reversed().reversed(), t);
        assert_eq!(t.reversed().src, t.dst);
        assert_eq!(t.service_key(), ServiceKey { protocol: Protocol::Tcp, port: 80 });
    }

    #[test]
    fn remote_hosts_exclude_addresses_no_reply_may_go_to() {
        let me = NetIdentity::default();
        assert!(me.is_remote_host(Ipv4Address::new(10, 0, 2, 2)));
        for bad in [
            Ipv4Address::UNSPECIFIED,
            Ipv4Address::BROADCAST,
            Ipv4Address::new(224, 0, 0, 1),
            Ipv4Address::new(127, 0, 0, 1),
            me.ip,
        ] {
            assert!(!me.is_remote_host(bad), "{bad}");
        }
    }
}
