extern crate std;

use std::vec;
use std::vec::Vec;

use edgeos_ring::testing::MemQueue;
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::udp;
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr,
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, HardwareAddress, IpAddress,
    IpCidr, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use core::cell::RefCell;

use edgeos_ring::testing::Shared;

use super::*;

const BUF: usize = 2048;
const SLOTS: usize = 4;
const TENANT_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
const TENANT_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const PEER_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 0x0a, 0, 2, 2]);
const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

type Q = MemQueue<8>;
type Dev<'m> = RingDevice<Shared<'m, Q>, Shared<'m, Q>, Shared<'m, Vec<u8>>, SLOTS>;

/// The multiplexer's side of the tenant's four rings and two regions.
struct Mux {
    rx_empty: RefCell<Q>,
    rx_filled: RefCell<Q>,
    tx_outgoing: RefCell<Q>,
    tx_done: RefCell<Q>,
    rx_mem: RefCell<Vec<u8>>,
    tx_mem: RefCell<Vec<u8>>,
}

impl Mux {
    fn new() -> Self {
        Self {
            rx_empty: RefCell::new(Q::new()),
            rx_filled: RefCell::new(Q::new()),
            tx_outgoing: RefCell::new(Q::new()),
            tx_done: RefCell::new(Q::new()),
            rx_mem: RefCell::new(vec![0; SLOTS * BUF]),
            tx_mem: RefCell::new(vec![0; SLOTS * BUF]),
        }
    }

    fn device(&self) -> Dev<'_> {
        // The mux waits on the tenant's outgoing frames from the start.
        self.tx_outgoing.borrow_mut().request_wake();
        RingDevice::new(
            RxSide { filled: Shared(&self.rx_filled), empty: Shared(&self.rx_empty), mem: Shared(&self.rx_mem) },
            TxSide { outgoing: Shared(&self.tx_outgoing), done: Shared(&self.tx_done), mem: Shared(&self.tx_mem) },
            BUF,
        )
    }

    /// Copies a frame into a buffer the tenant offered, as the mux does.
    fn deliver(&self, frame: &[u8]) {
        let offered = self.rx_empty.borrow_mut().dequeue().unwrap().expect("an offered buffer");
        self.rx_mem.borrow_mut()[offered.offset..offered.offset + frame.len()].copy_from_slice(frame);
        let mut filled = self.rx_filled.borrow_mut();
        filled.enqueue(Buf { len: frame.len(), ..offered }).unwrap().unwrap();
        filled.commit();
    }

    /// Takes the next frame the tenant sent, returning its buffer as the mux
    /// does, and asks to be woken for the next one.
    fn take_sent(&self) -> Option<Vec<u8>> {
        self.tx_outgoing.borrow_mut().request_wake();
        let sent = self.tx_outgoing.borrow_mut().dequeue().unwrap()?;
        let bytes = self.tx_mem.borrow()[sent.offset..sent.offset + sent.len].to_vec();
        let mut done = self.tx_done.borrow_mut();
        done.enqueue(sent).unwrap().unwrap();
        done.commit();
        Some(bytes)
    }
}

fn udp_frame(payload: &[u8], dst_port: u16) -> Vec<u8> {
    let udp = UdpRepr { src_port: 40000, dst_port };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: TENANT_IP,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr { src_addr: PEER_MAC, dst_addr: TENANT_MAC, ethertype: EthernetProtocol::Ipv4 };
    let mut bytes = vec![0; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    eth.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet, &Default::default());
    let mut datagram = UdpPacket::new_unchecked(packet.payload_mut());
    udp.emit(
        &mut datagram,
        &IpAddress::Ipv4(PEER_IP),
        &IpAddress::Ipv4(TENANT_IP),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &Default::default(),
    );
    bytes
}

#[test]
fn every_rx_buffer_is_offered_at_start() {
    let mux = Mux::new();
    let mut dev = mux.device();
    assert!(!dev.take_notify(), "the mux does not wait on offered buffers");
    assert_eq!(dev.tx_available(), SLOTS);
    assert_eq!(mux.rx_empty.borrow().len(), SLOTS);
}

struct Echo<'a> {
    iface: Interface,
    sockets: SocketSet<'a>,
    handle: smoltcp::iface::SocketHandle,
}

fn udp_echo<'a>(dev: &mut Dev<'_>, storage: &'a mut [SocketStorage<'a>], bufs: &'a mut EchoBufs) -> Echo<'a> {
    let mut iface = Interface::new(Config::new(HardwareAddress::Ethernet(TENANT_MAC)), dev, Instant::ZERO);
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(TENANT_IP), 24)).unwrap());
    let mut sockets = SocketSet::new(storage);
    let mut socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut bufs.rx_meta[..], &mut bufs.rx_data[..]),
        udp::PacketBuffer::new(&mut bufs.tx_meta[..], &mut bufs.tx_data[..]),
    );
    socket.bind(7).unwrap();
    let handle = sockets.add(socket);
    Echo { iface, sockets, handle }
}

struct EchoBufs {
    rx_meta: [udp::PacketMetadata; 4],
    rx_data: [u8; 2048],
    tx_meta: [udp::PacketMetadata; 4],
    tx_data: [u8; 2048],
}

impl EchoBufs {
    fn new() -> Self {
        Self {
            rx_meta: [udp::PacketMetadata::EMPTY; 4],
            rx_data: [0; 2048],
            tx_meta: [udp::PacketMetadata::EMPTY; 4],
            tx_data: [0; 2048],
        }
    }
}

impl Echo<'_> {
    fn serve(&mut self, dev: &mut Dev<'_>) {
        self.iface.poll(Instant::ZERO, dev, &mut self.sockets);
        let socket = self.sockets.get_mut::<udp::Socket>(self.handle);
        while let Ok((payload, meta)) = socket.recv() {
            let payload = payload.to_vec();
            socket.send_slice(&payload, meta.endpoint).unwrap();
        }
        self.iface.poll(Instant::ZERO, dev, &mut self.sockets);
    }
}

#[test]
fn a_udp_echo_over_smoltcp_goes_through_the_rings_and_buffers_come_back() {
    let mux = Mux::new();
    let mut dev = mux.device();
    let mut storage = [SocketStorage::EMPTY; 1];
    let mut bufs = EchoBufs::new();
    let mut echo = udp_echo(&mut dev, &mut storage, &mut bufs);
    dev.take_notify();

    // More requests than there are buffers: every buffer must come back.
    for round in 0..3 * SLOTS {
        let text = std::format!("hello, tenant {round}");
        mux.deliver(&udp_frame(text.as_bytes(), 7));
        echo.serve(&mut dev);
        assert!(dev.take_notify());
        let mut reply = mux.take_sent().expect("a reply frame");
        if let Some(answer) = arp_answer(&reply) {
            // The tenant asks who has the peer's address; the mux answers.
            assert_eq!(round, 0, "the neighbour is learnt once");
            mux.deliver(&answer);
            echo.serve(&mut dev);
            reply = mux.take_sent().expect("the reply, now addressed");
        }
        let frame = EthernetFrame::new_checked(&reply[..]).unwrap();
        assert_eq!(frame.dst_addr(), PEER_MAC);
        let packet = Ipv4Packet::new_checked(frame.payload()).unwrap();
        assert_eq!((packet.src_addr(), packet.dst_addr()), (TENANT_IP, PEER_IP));
        let datagram = UdpPacket::new_checked(packet.payload()).unwrap();
        assert_eq!((datagram.src_port(), datagram.dst_port()), (7, 40000));
        assert_eq!(datagram.payload(), text.as_bytes());
        assert!(mux.take_sent().is_none());
    }
    assert_eq!(mux.rx_empty.borrow().len(), SLOTS);
    // Every request and every reply, plus the one ARP exchange.
    assert_eq!(dev.frames(), (3 * SLOTS as u64 + 1, 3 * SLOTS as u64 + 1));
    echo.serve(&mut dev);
    assert_eq!(dev.tx_available(), SLOTS);
    assert_eq!(dev.errors(), 0);
}

/// The ARP reply for `frame` if it is an ARP request for the peer.
fn arp_answer(frame: &[u8]) -> Option<Vec<u8>> {
    let frame = EthernetFrame::new_checked(frame).ok()?;
    let ArpRepr::EthernetIpv4 { operation: ArpOperation::Request, source_hardware_addr, source_protocol_addr, target_protocol_addr, .. } =
        ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).ok()?).ok()?
    else {
        return None;
    };
    assert_eq!(target_protocol_addr, PEER_IP);
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: source_hardware_addr,
        target_protocol_addr: source_protocol_addr,
    };
    let eth = EthernetRepr { src_addr: PEER_MAC, dst_addr: source_hardware_addr, ethertype: EthernetProtocol::Arp };
    let mut bytes = vec![0; eth.buffer_len() + arp.buffer_len()];
    let mut out = EthernetFrame::new_unchecked(&mut bytes[..]);
    eth.emit(&mut out);
    arp.emit(&mut ArpPacket::new_unchecked(out.payload_mut()));
    Some(bytes)
}

#[test]
fn bad_descriptors_from_the_mux_are_counted_and_skipped() {
    let mux = Mux::new();
    let mut dev = mux.device();
    {
        let mut filled = mux.rx_filled.borrow_mut();
        filled.enqueue(Buf { offset: 1 << 30, len: 60, cookie: 0 }).unwrap().unwrap();
        filled.enqueue(Buf { offset: 0, len: 1600, cookie: 0 }).unwrap().unwrap();
        filled.commit();
    }
    assert!(phy::Device::receive(&mut dev, Instant::ZERO).is_none());
    assert_eq!(dev.errors(), 2);
}
