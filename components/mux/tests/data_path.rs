//! The multiplexer between a driver double and two tenants running smoltcp
//! over `edgeos-tenant-net`: routing, isolation, ARP/ICMP answers, spoofing
//! and a full tenant ring.

use std::cell::RefCell;

use edgeos_flow::{DropReason, FlowTable, NetIdentity, Protocol, ServiceKey, TenantId};
use edgeos_mux::{DriverLink, DriverPorts, Multiplexer, TenantLink, TenantPorts};
use edgeos_ring::testing::{MemQueue, Shared};
use edgeos_ring::{Buf, Consumer, Producer, Region};
use edgeos_tenant_net::{RingDevice, RxSide, TxSide};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::udp;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::*;

const BUF: usize = 2048;
const DMA_SLOTS: usize = 16;
const TENANT_SLOTS: usize = 4;
const ME: NetIdentity = NetIdentity::QEMU_USER_NET;
const PEER_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 10, 0, 2, 2]);
const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

type Q = RefCell<MemQueue<32>>;
type Mem = RefCell<Vec<u8>>;
type S<'a> = Shared<'a, MemQueue<32>>;
type SM<'a> = Shared<'a, Vec<u8>>;
type Mux<'a> = Multiplexer<S<'a>, S<'a>, SM<'a>, 2, DMA_SLOTS, 16>;
type Dev<'a> = RingDevice<S<'a>, S<'a>, SM<'a>, TENANT_SLOTS>;

fn q() -> Q {
    RefCell::new(MemQueue::new())
}

/// Both ends' shared state: four rings and the regions of one link.
struct Wires {
    rings: [Q; 4],
    mem: [Mem; 2],
}

impl Wires {
    fn new(len: usize) -> Self {
        Self { rings: [q(), q(), q(), q()], mem: [RefCell::new(vec![0; len]), RefCell::new(vec![0; len])] }
    }
}

struct Tenant<'a> {
    dev: Dev<'a>,
    iface: Interface,
    sockets: SocketSet<'a>,
    udp: SocketHandle,
    /// Advanced by more than smoltcp's ARP retry interval on every serve.
    now: Instant,
}

impl<'a> Tenant<'a> {
    fn new(w: &'a Wires, port: u16) -> Self {
        let [rx_empty, rx_filled, tx_outgoing, tx_done] = &w.rings;
        let mut dev = RingDevice::new(
            RxSide { filled: Shared(rx_filled), empty: Shared(rx_empty), mem: Shared(&w.mem[0]) },
            TxSide { outgoing: Shared(tx_outgoing), done: Shared(tx_done), mem: Shared(&w.mem[1]) },
            BUF,
        );
        let mut iface = Interface::new(Config::new(HardwareAddress::Ethernet(ME.mac)), &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(ME.ip), 24)).unwrap());
        let storage: &'a mut [SocketStorage<'a>] = Box::leak(Box::new([SocketStorage::EMPTY; 1]));
        let mut sockets = SocketSet::new(storage);
        let buffer = || {
            udp::PacketBuffer::new(
                Vec::leak(vec![udp::PacketMetadata::EMPTY; 8]) as &mut [_],
                Vec::leak(vec![0u8; 8192]) as &mut [_],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket.bind(port).unwrap();
        let udp = sockets.add(socket);
        Self { dev, iface, sockets, udp, now: Instant::ZERO }
    }

    /// Echoes every datagram back; returns what it saw.
    fn serve(&mut self) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        self.now += smoltcp::time::Duration::from_millis(1100);
        for _ in 0..2 {
            self.iface.poll(self.now, &mut self.dev, &mut self.sockets);
            let socket = self.sockets.get_mut::<udp::Socket>(self.udp);
            while let Ok((payload, meta)) = socket.recv() {
                let payload = payload.to_vec();
                socket.send_slice(&payload, meta.endpoint).unwrap();
                seen.push(payload);
            }
        }
        self.iface.poll(self.now, &mut self.dev, &mut self.sockets);
        // The tenant's sleep step: ask to be woken, unless more came meanwhile.
        if !self.dev.ready_to_sleep() {
            seen.extend(self.serve());
        }
        seen
    }
}

fn mux<'a>(driver: &'a Wires, tenants: [&'a Wires; 2], table: FlowTable<16>) -> Mux<'a> {
    let [rx_free, rx_used, tx_free, tx_used] = &driver.rings;
    let ports = |w: &'a Wires| {
        let [rx_empty, rx_filled, tx_outgoing, tx_done] = &w.rings;
        (
            TenantPorts {
                rx_empty: Shared(rx_empty),
                rx_filled: Shared(rx_filled),
                tx_outgoing: Shared(tx_outgoing),
                tx_done: Shared(tx_done),
                rx_mem: Shared(&w.mem[0]),
                tx_mem: Shared(&w.mem[1]),
            },
            TenantLink::new(TENANT_SLOTS * BUF, TENANT_SLOTS * BUF, BUF),
        )
    };
    driver_sleeps(driver);
    Multiplexer::new(
        ME,
        DriverPorts {
            rx_free: Shared(rx_free),
            rx_used: Shared(rx_used),
            tx_free: Shared(tx_free),
            tx_used: Shared(tx_used),
            mem: Shared(&driver.mem[0]),
        },
        DriverLink::new(Region::new(DMA_SLOTS * BUF, BUF), DMA_SLOTS / 2),
        heapless::Vec::from_iter([ports(tenants[0]), ports(tenants[1])]),
        table,
    )
}

/// Plays the driver going to sleep: it asks to be woken for tx frames, and
/// for rx buffers when it has none left (the signalling protocol's consumer
/// step, as the real driver does it).
fn driver_sleeps(driver: &Wires) {
    let [rx_free, _, tx_free, _] = &driver.rings;
    let (mut rx_free, mut tx_free) = (Shared(rx_free), Shared(tx_free));
    if rx_free.has_pending() {
        edgeos_ring::signal::ready_to_sleep(&mut [&mut tx_free]);
    } else {
        edgeos_ring::signal::ready_to_sleep(&mut [&mut rx_free, &mut tx_free]);
    }
}

/// Plays the driver: puts `frame` into the next rx buffer the mux lent.
fn arrive(driver: &Wires, frame: &[u8]) -> bool {
    let [rx_free, rx_used, ..] = &driver.rings;
    let Some(buf) = rx_free.borrow_mut().dequeue().unwrap() else { return false };
    driver.mem[0].borrow_mut()[buf.offset..buf.offset + frame.len()].copy_from_slice(frame);
    let mut used = rx_used.borrow_mut();
    used.enqueue(Buf { len: frame.len(), ..buf }).unwrap().unwrap();
    used.commit();
    drop(used);
    driver_sleeps(driver);
    true
}

/// Plays the driver: transmits everything queued, returning the frames.
fn departed(driver: &Wires) -> Vec<Vec<u8>> {
    let [_, _, tx_free, tx_used] = &driver.rings;
    let mut out = Vec::new();
    while let Some(buf) = tx_free.borrow_mut().dequeue().unwrap() {
        out.push(driver.mem[0].borrow()[buf.offset..buf.offset + buf.len].to_vec());
        tx_used.borrow_mut().enqueue(buf).unwrap().unwrap();
    }
    tx_used.borrow_mut().commit();
    driver_sleeps(driver);
    out
}

fn udp_to_us(payload: &[u8], src_port: u16, dst_port: u16) -> Vec<u8> {
    let udp = UdpRepr { src_port, dst_port };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: ME.ip,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr { src_addr: PEER_MAC, dst_addr: ME.mac, ethertype: EthernetProtocol::Ipv4 };
    let mut bytes = vec![0; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    eth.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    udp.emit(
        &mut UdpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(PEER_IP),
        &IpAddress::Ipv4(ME.ip),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    bytes
}

fn udp_payload(frame: &[u8]) -> (u16, u16, Vec<u8>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, PEER_MAC));
    assert_eq!((ip.src_addr(), ip.dst_addr()), (ME.ip, PEER_IP));
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    (udp.src_port(), udp.dst_port(), udp.payload().to_vec())
}

fn table() -> FlowTable<16> {
    let mut table = FlowTable::new();
    table.insert_service(ServiceKey { protocol: Protocol::Udp, port: 7 }, TenantId(0)).unwrap();
    table.insert_service(ServiceKey { protocol: Protocol::Udp, port: 9 }, TenantId(1)).unwrap();
    table
}

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
        assert_eq!(wake.tenants, 0b01, "only tenant A is woken");
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
    assert!(line.contains(" drop.unknown_ethertype=1"), "{line}");
    assert!(line.contains(" t1.delivered=0"), "{line}");
    assert_eq!(mux.stats().no_flow, 0, "a stats request is not an unrouted packet");
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
