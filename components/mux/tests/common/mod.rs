//! The test doubles the multiplexer's integration tests share: a driver
//! played by hand over in-memory rings, and smoltcp tenants.
#![allow(dead_code)]

use std::cell::RefCell;

use edgeos_flow::testing::{self, Ends};
use edgeos_flow::{FlowTable, Protocol, ServiceKey, TenantId};
use edgeos_mux::{DriverLink, DriverPorts, Multiplexer, TenantLink, TenantPorts};
use edgeos_ring::testing::{MemQueue, Shared};
use edgeos_ring::{Buf, Consumer, Producer, Region};
use edgeos_tenant_net::{RingDevice, RxSide, TxSide};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::*;

pub const BUF: usize = 2048;
pub const DMA_SLOTS: usize = 16;
pub const TENANT_SLOTS: usize = 4;
pub use edgeos_flow::testing::{ME, PEER_IP, PEER_MAC};

pub type Q = RefCell<MemQueue<32>>;
pub type Mem = RefCell<Vec<u8>>;
pub type S<'a> = Shared<'a, MemQueue<32>>;
pub type SM<'a> = Shared<'a, Vec<u8>>;
pub type Mux<'a> = Multiplexer<S<'a>, S<'a>, SM<'a>, 2, DMA_SLOTS, 16>;
pub type Dev<'a> = RingDevice<S<'a>, S<'a>, SM<'a>, TENANT_SLOTS>;

pub fn q() -> Q {
    RefCell::new(MemQueue::new())
}

/// Both ends' shared state: four rings and the regions of one link.
pub struct Wires {
    pub rings: [Q; 4],
    pub mem: [Mem; 2],
}

impl Wires {
    pub fn new(len: usize) -> Self {
        Self { rings: [q(), q(), q(), q()], mem: [RefCell::new(vec![0; len]), RefCell::new(vec![0; len])] }
    }
}

pub struct Tenant<'a> {
    pub dev: Dev<'a>,
    pub iface: Interface,
    pub sockets: SocketSet<'a>,
    pub udp: SocketHandle,
    /// Advanced by more than smoltcp's ARP retry interval on every serve.
    pub now: Instant,
}

impl<'a> Tenant<'a> {
    pub fn new(w: &'a Wires, port: u16) -> Self {
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
    pub fn serve(&mut self) -> Vec<Vec<u8>> {
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

/// The mux's ends of a tenant's rings and regions.
pub fn tenant_ports(w: &Wires) -> TenantPorts<S<'_>, S<'_>, SM<'_>> {
    let [rx_empty, rx_filled, tx_outgoing, tx_done] = &w.rings;
    TenantPorts {
        rx_empty: Shared(rx_empty),
        rx_filled: Shared(rx_filled),
        tx_outgoing: Shared(tx_outgoing),
        tx_done: Shared(tx_done),
        rx_mem: Shared(&w.mem[0]),
        tx_mem: Shared(&w.mem[1]),
    }
}

pub fn mux<'a>(driver: &'a Wires, tenants: [&'a Wires; 2], table: FlowTable<16>) -> Mux<'a> {
    let link = DriverLink::new(Region::new(DMA_SLOTS * BUF, BUF), DMA_SLOTS / 2, DMA_SLOTS);
    mux_with_link(driver, tenants, table, link)
}

/// As [`mux`], over `link` (to play with its limits).
pub fn mux_with_link<'a>(
    driver: &'a Wires,
    tenants: [&'a Wires; 2],
    table: FlowTable<16>,
    link: DriverLink<DMA_SLOTS>,
) -> Mux<'a> {
    let [rx_free, rx_used, tx_free, tx_used] = &driver.rings;
    let ports = |w: &'a Wires| (tenant_ports(w), TenantLink::new(TENANT_SLOTS * BUF, TENANT_SLOTS * BUF, BUF));
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
        link,
        heapless::Vec::from_iter([ports(tenants[0]), ports(tenants[1])]),
        table,
    )
}

/// Plays the driver going to sleep: it asks to be woken for tx frames, and
/// for rx buffers when it has none left (the signalling protocol's consumer
/// step, as the real driver does it).
pub fn driver_sleeps(driver: &Wires) {
    let [rx_free, _, tx_free, _] = &driver.rings;
    let (mut rx_free, mut tx_free) = (Shared(rx_free), Shared(tx_free));
    if rx_free.has_pending() {
        edgeos_ring::signal::ready_to_sleep(&mut [&mut tx_free]);
    } else {
        edgeos_ring::signal::ready_to_sleep(&mut [&mut rx_free, &mut tx_free]);
    }
}

/// Plays the driver: puts `frame` into the next rx buffer the mux lent.
pub fn arrive(driver: &Wires, frame: &[u8]) -> bool {
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
pub fn departed(driver: &Wires) -> Vec<Vec<u8>> {
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

/// A TCP segment from the peer to us: a SYN when `syn`, else a bare ACK.
pub fn tcp_to_us(src_port: u16, dst_port: u16, syn: bool) -> Vec<u8> {
    let control = if syn { TcpControl::Syn } else { TcpControl::None };
    testing::tcp_with(&Ends::inbound(&ME), src_port, dst_port, control, &[]).to_vec()
}

pub fn udp_to_us(payload: &[u8], src_port: u16, dst_port: u16) -> Vec<u8> {
    testing::udp(&Ends::inbound(&ME), src_port, dst_port, payload).to_vec()
}

pub fn udp_payload(frame: &[u8]) -> (u16, u16, Vec<u8>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, PEER_MAC));
    assert_eq!((ip.src_addr(), ip.dst_addr()), (ME.ip, PEER_IP));
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    (udp.src_port(), udp.dst_port(), udp.payload().to_vec())
}

pub fn table() -> FlowTable<16> {
    let mut table = FlowTable::new();
    table.insert_service(ServiceKey { protocol: Protocol::Udp, port: 7 }, TenantId(0)).unwrap();
    table.insert_service(ServiceKey { protocol: Protocol::Udp, port: 9 }, TenantId(1)).unwrap();
    table
}

