//! The memcached tenant's service: memcached's text protocol on one port,
//! over TCP (several connections, pipelined requests, requests split across
//! segments) and over UDP (memcached's 8-byte frame header), into
//! `edgeos_memcache`'s protocol and store. Built once by the template's
//! initialisation (interface, sockets listening, empty store) and driven by
//! [`Memcached::serve`] from the serving loop.
//!
//! All memory is lent by the caller and fixed in size: the sockets' and
//! connections' buffers ([`MemcachedStorage`], in the template's writable
//! state, which a checkpoint restores) and the store's arena (the slot's
//! private memory region, its size from the system configuration). A
//! respawned FWP starts from the empty store: the restored index holds no
//! item, whatever bytes the arena still has.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod area;
mod connection;

pub use area::{connection_cost, connection_memory, MAX_CONNECTIONS};
pub use connection::Connection as ConnectionSlot;

use edgeos_config::{Protocol, TenantConfig};
use edgeos_memcache::protocol::{udp, MAX_LINE, OUT_MIN};
use edgeos_memcache::{Conn, Store};
use heapless::Vec;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{tcp, udp as udp_socket};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// TCP connections served at once.
pub const CONNECTIONS: usize = 8;
/// Largest item (key plus value) the store accepts: the default, and the
/// most a configuration may ask for (the connection buffers are sized for
/// it).
pub const ITEM_SIZE_MAX: usize = 8 * 1024;
/// Bytes of a connection's input buffer: a whole request must fit, the
/// longest line plus the largest value and its CRLF.
pub const INPUT: usize = MAX_LINE + ITEM_SIZE_MAX + 2;
/// Bytes of the reply buffer: a `get` reply must fit whole (memcached
/// refuses one larger than its buffers), so the largest item plus its
/// `VALUE` line and `END`.
pub const OUTPUT: usize = ITEM_SIZE_MAX + 512;
/// Bytes of each TCP socket's send buffer: room for a whole reply.
pub const SOCKET_TX_BUFFER: usize = OUTPUT + 4 * 1024;
/// Bytes of each TCP socket's receive buffer (the window it offers): every
/// poll drains it into the connection's input, so it need not hold a
/// whole request.
pub const SOCKET_RX_BUFFER: usize = 4 * 1024;
/// Datagrams queued per UDP direction.
pub const DATAGRAMS: usize = 8;
/// Index slots of the store (items it can hold at most).
pub const ITEMS: usize = 1024;
/// What memcached writes to a connection past its limit (`-c`), before
/// closing it.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"ERROR Too many open connections\r\n";
/// Buffers of the socket that turns away connections past the limit: the
/// refusal out, and nothing worth keeping in.
const OVERFLOW_BUFFER: usize = 64;

const _: () = assert!(OUTPUT >= OUT_MIN);

/// One TCP connection's protocol state and unprocessed input.
struct Connection {
    handle: SocketHandle,
    conn: Conn,
    input: [u8; INPUT],
    filled: usize,
    /// Close once the replies are sent (`quit`, an over-long line).
    closing: bool,
}

/// The memory the service lives in.
pub struct MemcachedStorage<'a> {
    sockets: [SocketStorage<'a>; CONNECTIONS + 2],
    tcp: [([u8; SOCKET_RX_BUFFER], [u8; SOCKET_TX_BUFFER]); CONNECTIONS],
    overflow: ([u8; OVERFLOW_BUFFER], [u8; OVERFLOW_BUFFER]),
    udp_meta: [[udp_socket::PacketMetadata; DATAGRAMS]; 2],
    udp: [[u8; DATAGRAMS * udp::MAX_DATAGRAM]; 2],
}

impl MemcachedStorage<'_> {
    /// Empty storage, usable as a `static` initialiser.
    pub const fn new() -> Self {
        Self {
            sockets: [SocketStorage::EMPTY; CONNECTIONS + 2],
            tcp: [([0; SOCKET_RX_BUFFER], [0; SOCKET_TX_BUFFER]); CONNECTIONS],
            overflow: ([0; OVERFLOW_BUFFER], [0; OVERFLOW_BUFFER]),
            udp_meta: [[udp_socket::PacketMetadata::EMPTY; DATAGRAMS]; 2],
            udp: [[0; DATAGRAMS * udp::MAX_DATAGRAM]; 2],
        }
    }
}

impl Default for MemcachedStorage<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a configuration cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreConfigError {
    /// The item limit asked for is above what the buffers hold.
    ItemSizeTooLarge {
        /// The configured limit.
        asked: u32,
    },
    /// The arena cannot hold even one item of the limit.
    ArenaTooSmall {
        /// The arena's bytes.
        arena: usize,
        /// The item limit.
        item_size_max: usize,
    },
}

impl core::fmt::Display for StoreConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ItemSizeTooLarge { asked } => {
                write!(f, "item_size_max {asked} is above this program's {ITEM_SIZE_MAX}")
            }
            Self::ArenaTooSmall { arena, item_size_max } => write!(
                f,
                "a store of {arena} bytes (memory_size) cannot hold an item of {item_size_max} bytes (item_size_max)"
            ),
        }
    }
}

/// memcached on one TCP and UDP port of the system's address.
pub struct Memcached<'a> {
    iface: Interface,
    sockets: SocketSet<'a>,
    /// Empty when the tenant serves no TCP.
    connections: Vec<Connection, CONNECTIONS>,
    /// `None` when the tenant serves no UDP.
    udp: Option<SocketHandle>,
    /// Listens behind the connection sockets, so it takes a connection
    /// only when all of them are busy: it answers as memcached does past
    /// its limit ([`TOO_MANY_CONNECTIONS`]) and closes. `None` without TCP.
    overflow: Option<SocketHandle>,
    /// Connections turned away so (memcached's `rejected_connections`).
    rejected: u64,
    store: Store<'a, ITEMS>,
    output: [u8; OUTPUT],
    datagram: [u8; udp::MAX_DATAGRAM],
    port: u16,
    /// TCP connections that were open and have ended since the start.
    closed: u64,
}

impl<'a> Memcached<'a> {
    /// The template's state: interface, a bound UDP socket and listening
    /// TCP sockets (for the protocols `config` names), an empty store in
    /// `arena` with `config`'s item size limit.
    pub fn new<D: Device>(
        config: &TenantConfig,
        dev: &mut D,
        storage: &'a mut MemcachedStorage<'a>,
        arena: &'a mut [u8],
        now: Instant,
    ) -> Result<Self, StoreConfigError> {
        let item_size_max = match config.item_size_max {
            0 => ITEM_SIZE_MAX,
            asked if asked as usize > ITEM_SIZE_MAX => return Err(StoreConfigError::ItemSizeTooLarge { asked }),
            asked => asked as usize,
        };
        if arena.len() < item_size_max {
            return Err(StoreConfigError::ArenaTooSmall { arena: arena.len(), item_size_max });
        }
        let mac = HardwareAddress::Ethernet(EthernetAddress(config.mac));
        let mut iface = Interface::new(Config::new(mac), dev, now);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from_octets(config.ip)), config.prefix_len));
        });
        let _ = iface.routes_mut().add_default_ipv4_route(Ipv4Address::from_octets(config.gateway));
        let MemcachedStorage { sockets, tcp, overflow, udp_meta, udp: udp_buffers } = storage;
        let mut set = SocketSet::new(&mut sockets[..]);
        let mut connections = Vec::new();
        let tcp_sockets = if config.protocols.contains(Protocol::Tcp) { &mut tcp[..] } else { &mut [] };
        for (rx, tx) in tcp_sockets.iter_mut() {
            let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
            // Replies go out at once: the FWP runs only when frames arrive,
            // so a delayed ACK or a segment held for Nagle would wait.
            socket.set_ack_delay(None);
            socket.set_nagle_enabled(false);
            let _ = socket.listen(config.port);
            let connection = Connection { handle: set.add(socket), conn: Conn::new(), input: [0; INPUT], filled: 0, closing: false };
            let _ = connections.push(connection);
        }
        // Added after the connection sockets: smoltcp gives a SYN to the
        // first socket listening on its port, so this one gets only what
        // they cannot take.
        let overflow = config.protocols.contains(Protocol::Tcp).then(|| {
            let (rx, tx) = overflow;
            let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
            socket.set_ack_delay(None);
            let _ = socket.listen(config.port);
            set.add(socket)
        });
        let [rx_meta, tx_meta] = udp_meta;
        let [rx, tx] = udp_buffers;
        let mut socket = udp_socket::Socket::new(
            udp_socket::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
            udp_socket::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
        );
        let udp = config.protocols.contains(Protocol::Udp).then(|| {
            let _ = socket.bind(config.port);
            set.add(socket)
        });
        Ok(Self {
            iface,
            sockets: set,
            connections,
            udp,
            overflow,
            rejected: 0,
            store: Store::new(arena, item_size_max),
            output: [0; OUTPUT],
            datagram: [0; udp::MAX_DATAGRAM],
            port: config.port,
            closed: 0,
        })
    }

    /// The store (its statistics, for tests and the stats line).
    pub fn store(&self) -> &Store<'a, ITEMS> {
        &self.store
    }

    /// TCP connections that were open and have ended since the start (a
    /// per-flow FWP exits once its one connection has ended).
    pub fn connections_closed(&self) -> u64 {
        self.closed
    }

    /// Connections turned away because every connection socket was busy.
    pub fn connections_rejected(&self) -> u64 {
        self.rejected
    }

    /// Whether a TCP connection is open: connected, or closing.
    pub fn has_open_connections(&self) -> bool {
        self.connections.iter().any(|c| {
            let state = self.sockets.get::<tcp::Socket>(c.handle).state();
            !matches!(state, tcp::State::Listen | tcp::State::Closed)
        })
    }

    /// Serves everything the device has; `unix_now` is the time in seconds
    /// the store's expiry times are measured against.
    pub fn serve<D: Device>(&mut self, dev: &mut D, now: Instant, unix_now: u64) {
        loop {
            self.iface.poll(now, dev, &mut self.sockets);
            let mut progressed = self.serve_udp(unix_now);
            for i in 0..self.connections.len() {
                progressed |= self.serve_tcp(i, unix_now);
            }
            progressed |= self.turn_away();
            if !progressed {
                self.iface.poll(now, dev, &mut self.sockets);
                return;
            }
        }
    }

    fn serve_udp(&mut self, now: u64) -> bool {
        let Some(udp) = self.udp else { return false };
        let socket = self.sockets.get_mut::<udp_socket::Socket>(udp);
        let mut progressed = false;
        while socket.can_send() {
            let Ok((len, meta)) = socket.recv_slice(&mut self.datagram) else { break };
            progressed = true;
            let request = &self.datagram[..len];
            // A reply that does not fit the tx queue loses its tail, as a
            // lost datagram would: the client sees the sequence gap.
            let _ = udp::serve(&mut self.store, request, now, &mut self.output, |reply| {
                let _ = socket.send_slice(reply, meta.endpoint);
            });
        }
        progressed
    }

    /// A connection past the limit: memcached's refusal, then close. The
    /// socket listens again once it is done with it.
    fn turn_away(&mut self) -> bool {
        let Some(handle) = self.overflow else { return false };
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        match socket.state() {
            // As memcached, whatever the client sent or whether it already
            // closed its side: the refusal, then our FIN.
            tcp::State::Established | tcp::State::CloseWait => {
                if socket.send_slice(TOO_MANY_CONNECTIONS) == Ok(TOO_MANY_CONNECTIONS.len()) {
                    socket.close();
                    self.rejected += 1;
                    return true;
                }
                false
            }
            tcp::State::TimeWait | tcp::State::Closed => {
                socket.abort();
                let _ = socket.listen(self.port);
                false
            }
            _ => false,
        }
    }

    fn serve_tcp(&mut self, i: usize, now: u64) -> bool {
        let c = &mut self.connections[i];
        let socket = self.sockets.get_mut::<tcp::Socket>(c.handle);
        if socket.state() == tcp::State::TimeWait {
            // Both sides have closed; TIME-WAIT (10 s in smoltcp) would keep
            // one of the few connection sockets from listening, and a client
            // that opens a connection per command (libmemcached's tools)
            // would find none. Free it at once, as a server closing with
            // SO_LINGER 0 does.
            socket.abort();
        }
        if !socket.is_open() {
            // The connection ended: a fresh one starts from nothing.
            (c.conn, c.filled, c.closing) = (Conn::new(), 0, false);
            self.closed += 1;
            let _ = socket.listen(self.port);
            return false;
        }
        if c.closing {
            if socket.send_queue() == 0 {
                socket.close();
            }
            return false;
        }
        let mut progressed = false;
        if socket.can_recv() && c.filled < INPUT {
            if let Ok(n) = socket.recv_slice(&mut c.input[c.filled..]) {
                c.filled += n;
                progressed |= n > 0;
            }
        }
        // Requests run only while their replies fit the socket's send room.
        if c.filled > 0 && socket.send_capacity() - socket.send_queue() >= OUTPUT {
            let progress = c.conn.process(&mut self.store, &c.input[..c.filled], now, &mut self.output);
            let _ = socket.send_slice(&self.output[..progress.written]);
            c.input.copy_within(progress.consumed..c.filled, 0);
            c.filled -= progress.consumed;
            c.closing = progress.close;
            progressed |= progress.consumed > 0 || progress.written > 0;
        }
        if !socket.may_recv() && c.filled == 0 && socket.may_send() {
            // The client finished sending and everything was answered.
            socket.close();
        }
        progressed
    }
}
