//! The multiplexer's addresses, templates and slot pool from its
//! configuration blob.

use edgeos_config::{MuxConfig, Protocol as ConfigProtocol, TemplateLayout};
use edgeos_flow::{NetIdentity, Protocol, ServiceKey};
use edgeos_fwp::{SlotError, SlotPool, SpawnPolicy, TemplateConfig, TemplateId};
use heapless::Vec;
use smoltcp::wire::{EthernetAddress, Ipv4Address};

use crate::fwps::{Fwps, TemplateRoute, MAX_TEMPLATES};

/// The system's addresses as the configuration gives them.
pub fn identity(config: &MuxConfig) -> NetIdentity {
    NetIdentity { mac: EthernetAddress(config.mac), ip: Ipv4Address::from_octets(config.ip) }
}

/// A template's spawn limits as the slot pool takes them.
pub fn template_config(t: &TemplateLayout) -> TemplateConfig {
    let policy = match t.warm_pool {
        0 => SpawnPolicy::OnDemand,
        size => SpawnPolicy::WarmPool { size: usize::from(size) },
    };
    let config = TemplateConfig { policy, max_active: usize::from(t.max_active), idle_timeout_ns: None };
    match t.idle_timeout_ms {
        0 => config,
        ms => config.with_idle_timeout(u64::from(ms) * 1_000_000),
    }
}

/// The FWP bookkeeping a configuration describes: every template's route
/// and limits, every slot bound to its template and Free (no slot runs the
/// initialisation: the template PDs do). Templates the pool refuses (a
/// warm pool larger than the slots, no slots) are reported to `refused`
/// and get no route.
pub fn fwps<const N: usize>(config: &MuxConfig, mut refused: impl FnMut(usize, SlotError)) -> Fwps<N> {
    let mut pool = SlotPool::<N, MAX_TEMPLATES>::new();
    let mut routes = Vec::new();
    for (t, layout) in config.templates.iter().enumerate() {
        let id = TemplateId(t as u8);
        let port = layout.service.port;
        let services = layout.service.protocols.iter().map(|p| {
            let protocol = match p {
                ConfigProtocol::Udp => Protocol::Udp,
                ConfigProtocol::Tcp => Protocol::Tcp,
            };
            ServiceKey { protocol, port }
        });
        let route = match pool.configure(id, template_config(layout)) {
            Ok(()) => {
                let route = TemplateRoute::new(services, layout.per_flow).with_ports_to(layout.service.last_port);
                let route = if layout.middlebox { route.as_middlebox() } else { route };
                Some(if layout.share_overflow { route.sharing_overflow() } else { route })
            }
            Err(e) => {
                refused(t, e);
                None
            }
        };
        // Fits: the configuration has at most MAX_TEMPLATES templates.
        let _ = routes.push(route);
    }
    // A dynamic slot exists once the FWP manager created it
    // (`Multiplexer::slot_created`); until then it stays Initialising.
    for (slot, layout) in config.slots.iter().enumerate().take(N).filter(|(_, l)| l.dynamic.is_none()) {
        if let Err(e) = pool.bind(slot, TemplateId(layout.template), false) {
            refused(usize::from(layout.template), e);
        }
    }
    // Slots beyond the configuration's stay Initialising for template 0:
    // never ready, so never spawned, and left out of the stats.
    Fwps::new(pool, routes)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use edgeos_config::{Protocols, SlotLayout, SlotService};
    use edgeos_fwp::{SlotState, StateKind};

    use super::*;

    fn slot(i: u8, template: u8) -> SlotLayout {
        let base = 0x6000_0000 + u64::from(i) * 0x40_0000;
        SlotLayout {
            template,
            child_id: i,
            channel: i + 1,
            ctrl: base,
            rings: [base + 0x1_0000, base + 0x1_4000, base + 0x1_8000, base + 0x1_c000],
            rx_buf: (base + 0x10_0000, 0x1_0000),
            tx_buf: (base + 0x20_0000, 0x1_0000),
            dynamic: None,
        }
    }

    fn template(protocols: Protocols, port: u16, warm_pool: u16, max_active: u16) -> TemplateLayout {
        TemplateLayout {
            service: SlotService { protocols, port, last_port: port },
            per_flow: protocols == Protocols::TCP,
            renew: false,
            middlebox: false,
            share_overflow: false,
            warm_pool,
            max_active,
            idle_timeout_ms: 250,
            child_id: 40,
            channel: 41,
            ctrl: 0x5000_0000,
            rings: [0x5001_0000, 0x5002_0000, 0x5003_0000, 0x5004_0000],
        }
    }

    /// A packet from the host to our `port` over `protocol`.
    fn to(protocol: Protocol, port: u16) -> edgeos_flow::FiveTuple {
        edgeos_flow::FiveTuple {
            protocol,
            src: (Ipv4Address::new(10, 0, 2, 2), 5000),
            dst: (Ipv4Address::new(10, 0, 2, 15), port),
        }
    }

    #[test]
    fn templates_route_their_services_and_slots_start_free() {
        let mut config = MuxConfig {
            ip: [10, 0, 2, 15],
            mac: [2, 0, 0, 0, 0, 1],
            stats_port: 0,
            timer_channel: Some(50),
            templates: heapless::Vec::new(),
            slots: heapless::Vec::new(),
            manager: None,
        };
        config.templates.push(template(Protocols::UDP, 7, 1, 2)).unwrap();
        config.templates.push(template(Protocols::TCP, 8, 0, 3)).unwrap();
        config.templates.push(template(Protocols::BOTH, 11211, 0, 1)).unwrap();
        for (i, t) in [0, 0, 1, 1, 1, 2].into_iter().enumerate() {
            config.slots.push(slot(i as u8, t)).unwrap();
        }
        let mut refused = Vec::new();
        let fwps: Fwps<8> = fwps(&config, |t, e| refused.push((t, e)));
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(fwps.templates(), 3);
        let pool = fwps.pool();
        assert_eq!(pool.count_of(TemplateId(0), StateKind::Free), 2);
        assert_eq!(pool.count_of(TemplateId(1), StateKind::Free), 3);
        assert_eq!(pool.state(6), Ok(SlotState::Initialising), "an unconfigured slot is never spawned");
        for (protocol, port, routed) in [
            (Protocol::Udp, 7, Some(0)),
            (Protocol::Tcp, 7, None),
            (Protocol::Tcp, 8, Some(1)),
            (Protocol::Tcp, 11211, Some(2)),
            (Protocol::Udp, 11211, Some(2)),
        ] {
            let template = fwps.template_for(&to(protocol, port)).map(|(t, _)| t.0);
            assert_eq!(template, routed, "{protocol:?} port {port}");
        }
        let udp = pool.config(TemplateId(0)).unwrap();
        assert_eq!(udp.policy, SpawnPolicy::WarmPool { size: 1 });
        assert_eq!((udp.max_active, udp.idle_timeout_ns), (2, Some(250_000_000)));
        assert_eq!(pool.config(TemplateId(1)).unwrap().policy, SpawnPolicy::OnDemand);
        assert_eq!(identity(&config).ip, Ipv4Address::new(10, 0, 2, 15));
    }

    #[test]
    fn a_template_the_pool_cannot_meet_is_reported() {
        let mut config = MuxConfig {
            ip: [10, 0, 2, 15],
            mac: [2, 0, 0, 0, 0, 1],
            stats_port: 0,
            timer_channel: None,
            templates: heapless::Vec::new(),
            slots: heapless::Vec::new(),
            manager: None,
        };
        // A warm pool of 9 cannot be kept in an 8-slot pool.
        config.templates.push(template(Protocols::UDP, 7, 9, 9)).unwrap();
        let mut refused = Vec::new();
        let fwps: Fwps<8> = fwps(&config, |t, e| refused.push((t, e)));
        assert_eq!(refused, [(0, SlotError::BadConfig(TemplateId(0)))]);
        assert_eq!(fwps.template_for(&to(Protocol::Udp, 7)), None, "no route to a refused template");
    }
}
