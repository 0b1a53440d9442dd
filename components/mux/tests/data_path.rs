//! The multiplexer between a driver double and two tenants running smoltcp
//! over `edgeos-tenant-net`: routing, isolation, ARP/ICMP answers, spoofing
//! and a full tenant ring.


mod common;

use common::*;
use edgeos_flow::DropReason;
use smoltcp::socket::udp;
use smoltcp::wire::*;

#[test]
fn udp_echo_reaches_only_its_tenant_and_every_byte_comes_back() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut a = Tenant::new(&wa, 7);
    let mut b = Tenant::new(&wb, 9);
    let mut mux = mux(&driver, [&wa, &wb], table());
    assert!(mux.start().driver);

    for round in 0..20u16 {
        let payload = format!("to A #{round}").into_bytes();
        assert!(arrive(&driver, &udp_to_us(&payload, 40000 + round, 7)));
        let wake = mux.on_driver();
        assert_eq!(wake.tenants, [0].into_iter().collect(), "only tenant A is woken");
        assert!(mux.driver_idle());
        assert_eq!(a.serve(), vec![payload.clone()]);
        assert!(b.serve().is_empty(), "tenant B never sees A's traffic");
        // The first time, A asks for the peer's MAC and the mux answers for it.
        let mut wake = mux.on_tenant(0);
        if round == 0 {
            a.serve();
            wake = mux.on_tenant(0);
        }
        assert!(wake.driver);
        let sent = departed(&driver);
        assert_eq!(sent.len(), 1);
        assert_eq!(udp_payload(&sent[0]), (7, 40000 + round, payload));
    }
    assert_eq!(mux.tenant(1).unwrap().stats().delivered, 0);
    mux.on_driver(); // the driver's last "transmitted" notification
    assert_eq!(mux.link().available() + mux.link().rx_lent(), DMA_SLOTS, "no driver buffer lost");
}

#[test]
fn a_tenant_cannot_send_from_another_tenants_port() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut b = Tenant::new(&wb, 7); // B binds A's port inside its own stack...
    let _a = Tenant::new(&wa, 9);
    let mut mux = mux(&driver, [&wa, &wb], table());
    mux.start();
    // ...and tries to talk to the peer from it.
    let socket = b.sockets.get_mut::<udp::Socket>(b.udp);
    socket.send_slice(b"spoof", (IpAddress::Ipv4(PEER_IP), 40000)).unwrap();
    b.serve();
    mux.on_tenant(1); // the ARP request; the mux does not know the peer yet
    assert!(departed(&driver).is_empty());
    // Make the peer known (it sent to tenant A), then let B try again.
    arrive(&driver, &udp_to_us(b"hi", 40000, 9));
    mux.on_driver();
    let socket = b.sockets.get_mut::<udp::Socket>(b.udp);
    socket.send_slice(b"spoof", (IpAddress::Ipv4(PEER_IP), 40000)).unwrap();
    for _ in 0..3 {
        b.serve();
        mux.on_tenant(1);
    }
    assert!(departed(&driver).is_empty(), "nothing B sent from port 7 reached the wire");
    assert!(mux.tenant(1).unwrap().stats().rejected >= 1);
    // Frames handled count what arrived and what tenants sent, refused
    // frames included (the per-frame time samples divide by it).
    let tenants: u64 = (0..2).map(|t| mux.tenant(t).unwrap().stats()).map(|s| s.sent + s.rejected).sum();
    assert_eq!(mux.frames_handled(), mux.link().stats().rx_frames + tenants);
}

#[test]
fn arp_and_ping_are_answered_by_the_mux_and_junk_is_counted() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut mux = mux(&driver, [&wa, &wb], table());
    mux.start();
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: ME.ip,
    };
    let eth = EthernetRepr { src_addr: PEER_MAC, dst_addr: EthernetAddress::BROADCAST, ethertype: EthernetProtocol::Arp };
    let mut request = vec![0u8; 42];
    let mut frame = EthernetFrame::new_unchecked(&mut request[..]);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    arrive(&driver, &request);
    let mut junk = udp_to_us(b"x", 1, 7);
    junk[12] = 0x86; // an unknown EtherType
    arrive(&driver, &junk);
    arrive(&driver, &udp_to_us(b"nobody", 1, 5555));
    assert!(mux.on_driver().driver);
    let sent = departed(&driver);
    assert_eq!(sent.len(), 1);
    let reply = EthernetFrame::new_checked(&sent[0][..]).unwrap();
    assert_eq!(reply.ethertype(), EthernetProtocol::Arp);
    assert_eq!(mux.drops().get(DropReason::UnknownEtherType), 1);
    assert_eq!(mux.stats().no_flow, 1);
    assert_eq!(mux.tenant(0).unwrap().stats().delivered, 0);
}

#[test]
fn the_stats_port_answers_with_the_counters() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut mux = mux(&driver, [&wa, &wb], table());
    mux.serve_stats_on(7777);
    mux.start();
    let mut junk = udp_to_us(b"x", 1, 7);
    junk[12] = 0x86;
    arrive(&driver, &junk);
    arrive(&driver, &udp_to_us(b"stats", 40001, 7777));
    mux.on_driver();
    let sent = departed(&driver);
    assert_eq!(sent.len(), 1);
    let (src, dst, line) = udp_payload(&sent[0]);
    assert_eq!((src, dst), (7777, 40001));
    let line = String::from_utf8(line).unwrap();
    assert!(line.starts_with("rx=2 "), "{line}");
    assert!(line.contains(" drops=1 "), "{line}");
    assert!(!line.contains("drop.unknown_ethertype"), "by reason only on request: {line}");
    assert!(line.contains(" mbox.forwarded=0"), "{line}");
    assert!(line.contains(" t0.delivered=0"), "{line}");
    assert!(line.contains(" slots.initialising=2"), "no templates: the slots never get ready: {line}");
    assert_eq!(mux.stats().no_flow, 0, "a stats request is not an unrouted packet");
    // The drops by reason answer their own query.
    arrive(&driver, &udp_to_us(b"drops", 40002, 7777));
    mux.on_driver();
    let sent = departed(&driver);
    let (_, dst, line) = udp_payload(&sent[0]);
    assert_eq!(dst, 40002);
    let line = String::from_utf8(line).unwrap();
    assert!(line.starts_with("drop.truncated=0 "), "{line}");
    assert!(line.contains(" drop.unknown_ethertype=1"), "{line}");
}

#[test]
fn a_tenant_with_full_rings_loses_only_its_own_packets() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let _a = Tenant::new(&wa, 7); // never serves: its rx buffers run out
    let mut b = Tenant::new(&wb, 9);
    let mut mux = mux(&driver, [&wa, &wb], table());
    mux.start();
    for i in 0..TENANT_SLOTS + 3 {
        arrive(&driver, &udp_to_us(format!("A{i}").as_bytes(), 1000, 7));
        mux.on_driver();
    }
    arrive(&driver, &udp_to_us(b"for B", 1000, 9));
    mux.on_driver();
    assert_eq!(b.serve(), vec![b"for B".to_vec()]);
    let a_stats = mux.tenant(0).unwrap().stats();
    assert_eq!((a_stats.delivered, a_stats.dropped_full), (TENANT_SLOTS as u64, 3));
    assert_eq!(mux.tenant(1).unwrap().stats().dropped_full, 0);
}

#[test]
fn a_tenant_waits_for_driver_buffers_and_loses_nothing() {
    // Rings of two: at most two tx buffers in flight to the driver.
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut a = Tenant::new(&wa, 7);
    let link = edgeos_mux::DriverLink::new(edgeos_ring::Region::new(DMA_SLOTS * BUF, BUF), DMA_SLOTS / 2, 2);
    let mut mux = mux_with_link(&driver, [&wa, &wb], table(), link);
    mux.start();
    // The first datagram resolves the peer's MAC (the mux answers A's ARP).
    assert!(arrive(&driver, &udp_to_us(b"hello", 40000, 7)));
    mux.on_driver();
    a.serve();
    mux.on_tenant(0);
    a.serve();
    mux.on_tenant(0);
    assert_eq!(departed(&driver).len(), 1);
    mux.on_driver();

    // Three echoes at once, two driver buffers: the third waits on A's ring.
    for i in 0..3u16 {
        assert!(arrive(&driver, &udp_to_us(format!("echo {i}").as_bytes(), 40001 + i, 7)));
        mux.on_driver();
    }
    assert_eq!(a.serve().len(), 3);
    let wake = mux.on_tenant(0);
    assert!(wake.driver);
    assert!(mux.tx_waiting(0) && mux.tenant_idle(0), "A waits, and is not polled meanwhile");
    assert!(!mux.on_tenant(0).driver, "a waiting tenant's signal takes nothing out of order");
    let first = departed(&driver);
    assert_eq!(first.iter().map(|f| udp_payload(f).2).collect::<Vec<_>>(), [b"echo 0".to_vec(), b"echo 1".to_vec()]);
    // The driver returns the buffers: the third goes out, A is resumed.
    let wake = mux.on_driver();
    assert!(wake.resumed.contains(0) && !mux.tx_waiting(0));
    let rest = departed(&driver);
    assert_eq!(rest.iter().map(|f| udp_payload(f).2).collect::<Vec<_>>(), [b"echo 2".to_vec()]);
    assert_eq!(mux.stats().tx_no_buffer, 0, "nothing dropped");
}
