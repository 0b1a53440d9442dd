//! Echo templates: the simplest tenant services, used to prove the data
//! path. A template is built once from its [`TenantConfig`] (the template's
//! initialisation) and then driven by [`Echo::serve`] from the serving loop.
//!
//! All storage is lent by the caller ([`EchoStorage`]), fixed in size, so
//! the template's whole writable state is a known, small block.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod probe;

use edgeos_config::{Protocol, TenantConfig};
pub use probe::Probe;
use heapless::Vec;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// TCP connections served at once (one listening socket each).
pub const TCP_CONNECTIONS: usize = 4;
/// Bytes of buffer per socket direction.
pub const SOCKET_BUFFER: usize = 4096;
/// Datagrams queued per UDP direction.
pub const UDP_PACKETS: usize = 16;

/// The memory an echo template's sockets live in.
pub struct EchoStorage<'a> {
    sockets: [SocketStorage<'a>; TCP_CONNECTIONS],
    udp_meta: [[udp::PacketMetadata; UDP_PACKETS]; 2],
    buffers: [[[u8; SOCKET_BUFFER]; 2]; TCP_CONNECTIONS],
}

impl EchoStorage<'_> {
    /// Empty storage, usable as a `static` initialiser.
    pub const fn new() -> Self {
        Self {
            sockets: [SocketStorage::EMPTY; TCP_CONNECTIONS],
            udp_meta: [[udp::PacketMetadata::EMPTY; UDP_PACKETS]; 2],
            buffers: [[[0; SOCKET_BUFFER]; 2]; TCP_CONNECTIONS],
        }
    }
}

impl Default for EchoStorage<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// A UDP or TCP echo service on one port of the system's address.
pub struct Echo<'a> {
    iface: Interface,
    /// Holds one datagram or one read between receive and send.
    scratch: [u8; SOCKET_BUFFER],
    sockets: SocketSet<'a>,
    handles: Vec<SocketHandle, TCP_CONNECTIONS>,
    protocol: Protocol,
    port: u16,
    echoed: u64,
    /// Obey fault probes (test templates only).
    probes: bool,
    /// The probe a datagram asked for, not yet taken.
    probe: Option<Probe>,
    /// Per TCP socket: a connection was established on it since it last listened.
    connected: [bool; TCP_CONNECTIONS],
    closed: u64,
}

/// The configuration asks an echo to answer TCP and UDP at once; it
/// answers one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneProtocolOnly;

impl core::fmt::Display for OneProtocolOnly {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("an echo template answers one protocol, not tcp and udp")
    }
}

impl<'a> Echo<'a> {
    /// The one protocol an echo of `config` answers: [`OneProtocolOnly`]
    /// for a configuration with both.
    pub fn protocol_of(config: &TenantConfig) -> Result<Protocol, OneProtocolOnly> {
        config.protocols.single().ok_or(OneProtocolOnly)
    }

    /// Builds the template's state: interface, addresses, and bound or
    /// listening sockets for `protocol` (see [`Echo::protocol_of`]).
    ///
    /// Infallible and returned by value: the template PD builds it on its
    /// small boot stack.
    pub fn new<D: Device>(
        config: &TenantConfig,
        protocol: Protocol,
        dev: &mut D,
        storage: &'a mut EchoStorage<'a>,
        now: Instant,
    ) -> Self {
        let mac = HardwareAddress::Ethernet(EthernetAddress(config.mac));
        let mut iface = Interface::new(Config::new(mac), dev, now);
        let ip = Ipv4Address::from_octets(config.ip);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), config.prefix_len));
        });
        let _ = iface.routes_mut().add_default_ipv4_route(Ipv4Address::from_octets(config.gateway));
        let EchoStorage { sockets, udp_meta, buffers } = storage;
        let mut set = SocketSet::new(&mut sockets[..]);
        let mut handles = Vec::new();
        match protocol {
            Protocol::Udp => {
                let [rx_meta, tx_meta] = udp_meta;
                let [[rx, tx], ..] = buffers;
                let mut socket = udp::Socket::new(
                    udp::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
                    udp::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
                );
                let _ = socket.bind(config.port);
                let _ = handles.push(set.add(socket));
            }
            Protocol::Tcp => {
                for [rx, tx] in buffers.iter_mut() {
                    let mut socket = tcp::Socket::new(
                        tcp::SocketBuffer::new(&mut rx[..]),
                        tcp::SocketBuffer::new(&mut tx[..]),
                    );
                    // An echo answers at once: a delayed ACK or a segment held
                    // back for Nagle would wait for a poll that only the next
                    // packet brings (the FWP runs when frames arrive).
                    socket.set_ack_delay(None);
                    socket.set_nagle_enabled(false);
                    // Listening already in the template's state: a spawned
                    // FWP's first poll must accept the SYN that spawned it.
                    let _ = socket.listen(config.port);
                    let _ = handles.push(set.add(socket));
                }
            }
        }
        Self {
            iface,
            scratch: [0; SOCKET_BUFFER],
            sockets: set,
            handles,
            protocol,
            port: config.port,
            echoed: 0,
            probes: config.probes,
            probe: None,
            connected: [false; TCP_CONNECTIONS],
            closed: 0,
        }
    }

    /// Bytes (TCP) or datagrams (UDP) echoed so far.
    pub fn echoed(&self) -> u64 {
        self.echoed
    }

    /// Whether every socket is ready for its first packet: TCP sockets
    /// listening, the UDP socket bound.
    pub fn listening(&self) -> bool {
        self.handles.iter().all(|h| match self.protocol {
            Protocol::Udp => self.sockets.get::<udp::Socket>(*h).is_open(),
            Protocol::Tcp => self.sockets.get::<tcp::Socket>(*h).state() == tcp::State::Listen,
        })
    }

    /// The fault probe a datagram asked for since the last call (only with
    /// `TenantConfig::probes`); the caller carries it out.
    pub fn take_probe(&mut self) -> Option<Probe> {
        self.probe.take()
    }

    /// TCP connections that were established and have closed since.
    pub fn connections_closed(&self) -> u64 {
        self.closed
    }

    /// Whether a TCP connection is established or closing.
    pub fn has_open_connections(&self) -> bool {
        self.connected.iter().any(|c| *c)
    }

    /// Processes everything the device has: echoes what arrived and sends
    /// it. Returns when no more progress is possible without new input.
    pub fn serve<D: Device>(&mut self, dev: &mut D, now: Instant) {
        loop {
            self.iface.poll(now, dev, &mut self.sockets);
            let progressed = match self.protocol {
                Protocol::Udp => self.echo_udp(),
                Protocol::Tcp => self.echo_tcp(),
            };
            if !progressed {
                self.iface.poll(now, dev, &mut self.sockets);
                return;
            }
        }
    }

    fn echo_udp(&mut self) -> bool {
        let socket = self.sockets.get_mut::<udp::Socket>(self.handles[0]);
        let mut progressed = false;
        while socket.can_send() {
            let Ok((len, meta)) = socket.recv_slice(&mut self.scratch) else { break };
            if let Some(probe) = Probe::parse(&self.scratch[..len]).filter(|_| self.probes) {
                self.probe = Some(probe);
                return true;
            }
            if socket.send_slice(&self.scratch[..len], meta.endpoint).is_ok() {
                self.echoed += 1;
            }
            progressed = true;
        }
        progressed
    }

    fn echo_tcp(&mut self) -> bool {
        let mut progressed = false;
        for (handle, connected) in self.handles.iter().zip(&mut self.connected) {
            let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
            if socket.is_active() {
                *connected = true;
            }
            if !socket.is_open() {
                if core::mem::take(connected) {
                    self.closed += 1;
                }
                let _ = socket.listen(self.port);
            }
            if socket.may_recv() && socket.can_send() {
                let room = socket.send_capacity() - socket.send_queue();
                if let Ok(n) = socket.recv_slice(&mut self.scratch[..room.min(SOCKET_BUFFER)]) {
                    if n > 0 {
                        let _ = socket.send_slice(&self.scratch[..n]);
                        self.echoed += n as u64;
                        progressed = true;
                    }
                }
            } else if !socket.may_recv() && socket.may_send() {
                // The peer finished sending and everything was echoed: close our side.
                socket.close();
            }
        }
        progressed
    }
}
