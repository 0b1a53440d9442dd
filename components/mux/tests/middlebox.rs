//! A Click template's FWP through the multiplexer: the node's own
//! firewall-NAT configuration (`click/firewall-nat.click`) runs in a real
//! `edgeos_click::Graph` behind a slot's rings. A flow to the middlebox's
//! port range spawns it; its translated output leaves with our link
//! addresses; the backend's answer, routed by the flow the output opened,
//! comes back through the same FWP to the client; the teardown removes
//! every route.

mod common;

use common::*;
use edgeos_click::{Graph, Packet, Verdict};
use edgeos_flow::testing::{self, Ends};
use edgeos_flow::{FlowTable, Protocol, ServiceKey};
use edgeos_fwp::{SlotPool, TeardownReason, TemplateConfig, TemplateId, TemplateReady};
use edgeos_mux::{Fwps, TemplateRoute, MAX_TEMPLATES};
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, EthernetFrame, Ipv4Address, Ipv4Packet, UdpPacket};

const NAT: TemplateId = TemplateId(0);
const READY: TemplateReady =
    TemplateReady { serve_entry: 0x20_1000, restore_entry: 0x20_2000, park_entry: 0x20_3000, stack_top: 0x40_0000, image: 0x7800_0000 };
const BACKEND: Ipv4Address = Ipv4Address::new(10, 0, 2, 100);
const BACKEND_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 2, 100]);
const HEADROOM: usize = 64;

/// The middlebox template on TCP and UDP ports 20000-20099, one FWP per flow.
fn fwps() -> Fwps<2> {
    fwps_with(2, |route| route)
}

/// As [`fwps`], with at most `max_active` FWPs serving and the route as `route` makes it.
fn fwps_with(max_active: usize, route: impl FnOnce(TemplateRoute) -> TemplateRoute) -> Fwps<2> {
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(NAT, TemplateConfig::warm_pool(1, max_active)).unwrap();
    pool.bind(0, NAT, false).unwrap();
    pool.bind(1, NAT, false).unwrap();
    let services = [Protocol::Udp, Protocol::Tcp].map(|protocol| ServiceKey { protocol, port: 20000 });
    let route = route(TemplateRoute::new(services, true).with_ports_to(20099).as_middlebox());
    Fwps::new(pool, heapless::Vec::from_iter([Some(route)]))
}

/// Starts `mux`, reports `templates` ready and restores their warm pools.
fn ready(mux: &mut Mux<'_>, templates: &[TemplateId]) {
    mux.start();
    for &t in templates {
        mux.set_checkpoint(t, READY).unwrap();
    }
    for plan in mux.fwps_mut().take_plans() {
        mux.restored(plan.slot).unwrap();
    }
}

/// An FWP of the Click template: every frame through the graph, what it
/// transmits onto the tx ring.
struct Middlebox<'a> {
    dev: Dev<'a>,
    graph: Box<Graph>,
}

impl<'a> Middlebox<'a> {
    fn new(w: &'a Wires) -> Self {
        Self::with(w, include_str!("../../../click/firewall-nat.click"))
    }

    /// An FWP of a Click template configured with `text`.
    fn with(w: &'a Wires, text: &str) -> Self {
        let [rx_empty, rx_filled, tx_outgoing, tx_done] = &w.rings;
        let dev = Dev::new(
            edgeos_tenant_net::RxSide { filled: edgeos_ring::testing::Shared(rx_filled), empty: edgeos_ring::testing::Shared(rx_empty), mem: edgeos_ring::testing::Shared(&w.mem[0]) },
            edgeos_tenant_net::TxSide { outgoing: edgeos_ring::testing::Shared(tx_outgoing), done: edgeos_ring::testing::Shared(tx_done), mem: edgeos_ring::testing::Shared(&w.mem[1]) },
            BUF,
        );
        let mut graph = Box::new(Graph::new());
        graph.configure(text).expect("a valid configuration");
        Self { dev, graph }
    }

    /// Pushes every received frame; returns how many it transmitted.
    fn serve(&mut self) -> usize {
        let mut sent = 0;
        while let Some((rx, tx)) = self.dev.receive(Instant::ZERO) {
            let mut scratch = [0u8; HEADROOM + BUF];
            let len = rx.consume(|frame| {
                scratch[HEADROOM..][..frame.len()].copy_from_slice(frame);
                frame.len()
            });
            let mut packet = Packet::new(&mut scratch, HEADROOM, len).unwrap();
            if let Verdict::Transmit { .. } = self.graph.push(&mut packet) {
                let data = packet.data();
                tx.consume(data.len(), |buf| buf.copy_from_slice(data));
                sent += 1;
            }
        }
        sent
    }
}

/// A UDP datagram to us from `src` (IP, MAC).
fn udp_from(src: (Ipv4Address, EthernetAddress), src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let ends = Ends { src_mac: src.1, dst_mac: ME.mac, src_ip: src.0, dst_ip: ME.ip };
    testing::udp(&ends, src_port, dst_port, payload).to_vec()
}

/// The link and network addresses, ports, TTL and payload of a departed datagram.
fn seen(frame: &[u8]) -> (EthernetAddress, Ipv4Address, Ipv4Address, u16, u16, u8, Vec<u8>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.src_addr(), ME.mac, "the mux writes our link address");
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
    (eth.dst_addr(), ip.src_addr(), ip.dst_addr(), udp.src_port(), udp.dst_port(), ip.hop_limit(), udp.payload().to_vec())
}

#[test]
fn a_flow_through_the_nodes_firewall_nat_goes_out_translated_and_its_answer_comes_back() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut nat = Middlebox::new(&wa);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps());
    ready(&mut mux, &[NAT]);
    // Before the backend has spoken, the mux cannot address a frame to it.
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41000, 20001, b"early"));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans().len(), 1, "the flow spawned the middlebox");
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    assert!(departed(&driver).is_empty());
    assert!(mux.stats_line().as_str().contains(" mbox.no_neighbour=1 "), "{}", mux.stats_line().as_str());
    // The backend asks for our address: answered, and its own is learnt.
    let ask = edgeos_flow::testing::arp(
        BACKEND_MAC,
        &smoltcp::wire::ArpRepr::EthernetIpv4 {
            operation: smoltcp::wire::ArpOperation::Request,
            source_hardware_addr: BACKEND_MAC,
            source_protocol_addr: BACKEND,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ME.ip,
        },
    );
    arrive(&driver, &ask);
    mux.on_driver();
    assert_eq!(departed(&driver).len(), 1, "the ARP answer");
    // The client's next datagram goes to the backend, translated.
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41000, 20001, b"hello backend"));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty(), "the same flow, the same FWP");
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    let out = departed(&driver);
    assert_eq!(out.len(), 1);
    assert_eq!(seen(&out[0]), (BACKEND_MAC, ME.ip, BACKEND, 41000, 20001, 63, b"hello backend".to_vec()));
    // The backend's answer routes to the FWP by the flow its output opened,
    // and leaves for the client as if from our port 20001.
    arrive(&driver, &udp_from((BACKEND, BACKEND_MAC), 20001, 41000, b"hello client"));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty(), "an answer spawns nothing");
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    let back = departed(&driver);
    assert_eq!(seen(&back[0]), (PEER_MAC, ME.ip, PEER_IP, 20001, 41000, 63, b"hello client".to_vec()));
    // A port the filter does not admit spawns an FWP that forwards nothing;
    // a port past the range spawns nothing.
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41001, 20060, b"refused"));
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41002, 20100, b"not ours"));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans().iter().map(|p| p.slot).collect::<Vec<_>>(), [1]);
    assert_eq!(mux.stats().no_flow, 1);
    let line = mux.stats_line();
    for pair in [" mbox.forwarded=2 ", " mbox.flows_opened=1 ", " flows=3 "] {
        assert!(line.as_str().contains(pair), "{pair} in {}", line.as_str());
    }
    // Tearing the first FWP down removes its flow and the one it opened.
    mux.teardown(0, TeardownReason::Closed).unwrap();
    assert!(mux.stats_line().as_str().contains(" flows=1 "), "{}", mux.stats_line().as_str());
    arrive(&driver, &udp_from((BACKEND, BACKEND_MAC), 20001, 41000, b"late"));
    mux.on_driver();
    assert_eq!(mux.stats().no_flow, 2, "an answer after the teardown is unrouted");
}

#[test]
fn a_flow_that_finds_no_fwp_is_dropped_or_shares_the_fallback_as_configured() {
    for share in [false, true] {
        let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
        let mut first = Middlebox::new(&wa);
        let route = |r: TemplateRoute| if share { r.sharing_overflow() } else { r };
        let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps_with(1, route));
        ready(&mut mux, &[NAT]);
        arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41000, 20001, b"first flow"));
        mux.on_driver();
        assert_eq!(mux.fwps_mut().take_plans().len(), 1, "the first flow spawned the only FWP allowed");
        // A second flow: past max_active.
        let other = (Ipv4Address::new(10, 0, 2, 51), EthernetAddress([0x52, 0x54, 0, 0, 2, 51]));
        arrive(&driver, &udp_from(other, 41001, 20002, b"second flow"));
        mux.on_driver();
        assert!(mux.fwps_mut().take_plans().is_empty(), "no second FWP");
        let line = mux.stats_line();
        let (shared, refused) = if share { (1, 0) } else { (0, 1) };
        for pair in [format!(" fwp.shared={shared} "), format!(" fwp.refused_limit={refused} ")] {
            assert!(line.as_str().contains(&pair), "{pair} in {}", line.as_str());
        }
        // Shared, the first flow's FWP got the second flow's datagram too;
        // dropped, it did not. The first flow is served either way.
        assert_eq!(first.serve(), if share { 2 } else { 1 }, "share: {share}");
        assert_eq!(mux.tenant(0).unwrap().stats().delivered, if share { 2 } else { 1 });
    }
}

/// Template 1: the UDP echo on port 7, one FWP for the service (slot 1).
const ECHO: TemplateId = TemplateId(1);

#[test]
fn a_frame_passed_on_to_a_local_tenant_is_answered_back_through_the_middlebox() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut nat = Middlebox::new(&wa);
    let mut echo = Tenant::new(&wb, 7);
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(NAT, TemplateConfig::warm_pool(1, 1)).unwrap();
    pool.configure(ECHO, TemplateConfig::warm_pool(1, 1)).unwrap();
    pool.bind(0, NAT, false).unwrap();
    pool.bind(1, ECHO, false).unwrap();
    let services = [Protocol::Udp, Protocol::Tcp].map(|protocol| ServiceKey { protocol, port: 20000 });
    let nat_route = TemplateRoute::new(services, true).with_ports_to(20099).as_middlebox();
    let echo_route = TemplateRoute::new([ServiceKey { protocol: Protocol::Udp, port: 7 }], false);
    let fwps = Fwps::new(pool, heapless::Vec::from_iter([Some(nat_route), Some(echo_route)]));
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps);
    ready(&mut mux, &[NAT, ECHO]);
    // The client's datagram to port 20007 spawns the middlebox, which passes
    // it on to our port 7 (the client's address kept): that spawns the echo.
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41020, 20007, b"echo me"));
    mux.on_driver();
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    assert_eq!(mux.fwps_mut().take_plans().iter().map(|p| p.slot).collect::<Vec<_>>(), [0, 1], "both spawned");
    assert!(departed(&driver).is_empty(), "nothing went to the wire");
    // The echo answers the client (after its ARP request, which the mux
    // answers); the answer is steered to the middlebox, not the driver.
    assert_eq!(echo.serve(), vec![b"echo me".to_vec()]);
    mux.on_tenant(1);
    echo.serve();
    mux.on_tenant(1);
    assert!(departed(&driver).is_empty(), "the echo's answer went to the middlebox");
    // The middlebox translates it back: from our port 20007 to the client.
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    let out = departed(&driver);
    assert_eq!(out.len(), 1);
    assert_eq!(seen(&out[0]), (PEER_MAC, ME.ip, PEER_IP, 20007, 41020, 63, b"echo me".to_vec()));
    let line = mux.stats_line();
    for pair in [" mbox.passed_on=1 ", " mbox.steered=1 ", " mbox.forwarded=1 "] {
        assert!(line.as_str().contains(pair), "{pair} in {}", line.as_str());
    }
    // The teardown removes the middlebox's flow and the route of the echo's
    // answers; the echo keeps its service entry.
    mux.teardown(0, TeardownReason::Closed).unwrap();
    assert!(mux.stats_line().as_str().contains(" flows=1 "), "{}", mux.stats_line().as_str());
}

#[test]
fn a_middlebox_cannot_pass_frames_on_to_a_middlebox() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    // Passes every flow on to our port 20002: its own template's range.
    let looping = "FromRing -> Strip(14) -> CheckIPHeader -> IPRewriter(pattern - - 10.0.2.15 20002 0 0) -> Unstrip(14) -> ToRing;";
    let mut nat = Middlebox::with(&wa, looping);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps());
    ready(&mut mux, &[NAT]);
    arrive(&driver, &udp_from((PEER_IP, PEER_MAC), 41000, 20001, b"round and round"));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans().len(), 1);
    assert_eq!(nat.serve(), 1);
    mux.on_tenant(0);
    assert!(mux.fwps_mut().take_plans().is_empty(), "no second middlebox spawned");
    assert!(departed(&driver).is_empty());
    let line = mux.stats_line();
    for pair in [" mbox.refused=1 ", " mbox.passed_on=0 "] {
        assert!(line.as_str().contains(pair), "{pair} in {}", line.as_str());
    }
}
