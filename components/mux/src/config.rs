//! The multiplexer's routing and addresses from its configuration blob.

use edgeos_config::{MuxConfig, Protocol as ConfigProtocol};
use edgeos_flow::{FlowTable, FlowTableError, NetIdentity, Protocol, ServiceKey, TenantId};
use smoltcp::wire::{EthernetAddress, Ipv4Address};

/// The system's addresses as the configuration gives them.
pub fn identity(config: &MuxConfig) -> NetIdentity {
    NetIdentity { mac: EthernetAddress(config.mac), ip: Ipv4Address::from_octets(config.ip) }
}

/// A flow table routing each slot's service to it. Slots whose service
/// cannot be routed (a port claimed twice, a full table) are reported to
/// `refused` and left without traffic.
pub fn service_table<const N: usize>(
    config: &MuxConfig,
    mut refused: impl FnMut(usize, FlowTableError),
) -> FlowTable<N> {
    let mut table = FlowTable::new();
    for (slot, layout) in config.slots.iter().enumerate() {
        let Some(service) = layout.service else { continue };
        let protocol = match service.protocol {
            ConfigProtocol::Udp => Protocol::Udp,
            ConfigProtocol::Tcp => Protocol::Tcp,
        };
        let key = ServiceKey { protocol, port: service.port };
        if let Err(e) = table.insert_service(key, TenantId(slot as u16)) {
            refused(slot, e);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use edgeos_config::{SlotLayout, SlotService};

    use super::*;

    fn slot(i: u8, service: Option<SlotService>) -> SlotLayout {
        let base = 0x6000_0000 + u64::from(i) * 0x40_0000;
        SlotLayout {
            service,
            child_id: i,
            channel: i + 1,
            ctrl: base,
            rings: [base + 0x1_0000, base + 0x1_4000, base + 0x1_8000, base + 0x1_c000],
            rx_buf: (base + 0x10_0000, 0x1_0000),
            tx_buf: (base + 0x20_0000, 0x1_0000),
        }
    }

    #[test]
    fn each_service_routes_to_its_slot_and_clashes_are_reported() {
        let udp7 = SlotService { protocol: ConfigProtocol::Udp, port: 7 };
        let tcp7 = SlotService { protocol: ConfigProtocol::Tcp, port: 7 };
        let mut slots = heapless::Vec::new();
        for (i, service) in [Some(udp7), Some(tcp7), None, Some(udp7)].into_iter().enumerate() {
            slots.push(slot(i as u8, service)).unwrap();
        }
        let config = MuxConfig { ip: [10, 0, 2, 15], mac: [2, 0, 0, 0, 0, 1], stats_port: 0, slots };
        let mut refused = Vec::new();
        let table: FlowTable<16> = service_table(&config, |slot, e| refused.push((slot, e)));
        assert_eq!(table.get_service(&ServiceKey { protocol: Protocol::Udp, port: 7 }), Some(TenantId(0)));
        assert_eq!(table.get_service(&ServiceKey { protocol: Protocol::Tcp, port: 7 }), Some(TenantId(1)));
        assert_eq!(table.len(), 2);
        assert_eq!(refused, [(3, FlowTableError::AlreadyMapped(TenantId(0)))]);
        assert_eq!(identity(&config).ip, Ipv4Address::new(10, 0, 2, 15));
    }
}
