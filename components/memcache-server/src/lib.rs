//! The memcached tenant's service: memcached's text protocol on one port,
//! over TCP (up to `max_connections` connections, pipelined requests,
//! values streamed through each connection) and over UDP (memcached's
//! 8-byte frame header), into `edgeos_memcache`'s protocol and store.
//!
//! Two kinds of memory, both lent by the caller and fixed in size:
//! - the template's state, built once by its initialisation and restored
//!   by every spawn: the interface, the store's index, and scratch buffers
//!   ([`Memcached::new`]);
//! - the FWP's private region, never copied: the store's arena, and the
//!   connection area ([`ConnectionArea`], `area.rs`), laid out afresh each
//!   time an FWP starts serving ([`Memcached::open`]). A connection's
//!   socket is created when a client first needs it, so an FWP that
//!   serves few connections touches little of the area.
//!
//! A respawned FWP starts from the empty store: the restored index holds
//! no item, whatever bytes the arena still has.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod area;
mod connection;

pub use area::{
    connection_cost, connection_memory, index_items, index_memory, AreaTooSmall, ConnectionArea, DATAGRAMS,
    INDEX_SLOT_BYTES, MAX_CONNECTIONS, SOCKET_RX_BUFFER, SOCKET_TX_BUFFER, STORE_BYTES_PER_ITEM,
};
pub use connection::Connection;
/// The store's index memory, which the FWP lends [`Memcached::new`].
pub use edgeos_memcache::{Index, IndexSlot};
/// The parts of a [`ConnectionArea`] that are smoltcp's.
pub use smoltcp::{iface::SocketStorage, socket::udp::PacketMetadata};

use edgeos_config::{Protocol, TenantConfig};
use edgeos_memcache::protocol::{udp, OUT_MIN};
use edgeos_memcache::Store;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::udp as udp_socket;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// Largest item (key plus value) the store accepts by default and at most:
/// memcached's default `-I 1m`. Values stream, so no buffer is this large.
pub const ITEM_SIZE_MAX: usize = 1024 * 1024;
/// Connections served when the configuration names no limit (memcached's
/// default `-c`).
pub const DEFAULT_CONNECTIONS: usize = 1024;
/// Bytes of the reply scratch: what one pass may write to a socket.
pub const OUTPUT: usize = SOCKET_TX_BUFFER;
/// What memcached writes to a connection past its limit (`-c`), before
/// closing it.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"ERROR Too many open connections\r\n";

const _: () = assert!(OUTPUT >= OUT_MIN);

/// Why a configuration cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreConfigError {
    /// The item limit asked for is above what this program stores.
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
                "a store of {arena} bytes cannot hold an item of {item_size_max} bytes (item_size_max)"
            ),
        }
    }
}

/// The sockets of one FWP's life (see [`Memcached::open`]).
struct Open<'a> {
    sockets: SocketSet<'a>,
    connections: &'a mut [Connection],
    /// Bytes not yet given to a socket.
    spare: &'a mut [u8],
    /// Connection slots that have a socket: the first `created`.
    created: usize,
    /// The slot whose socket listens for the next connection.
    listener: Option<usize>,
    udp: Option<SocketHandle>,
    /// Connections open now (memcached's `curr_connections`).
    open: usize,
}

/// memcached on one TCP and UDP port of the system's address.
pub struct Memcached<'a> {
    iface: Interface,
    store: Store<'a>,
    port: u16,
    tcp: bool,
    udp: bool,
    max_connections: usize,
    /// `None` until [`open`](Self::open): the checkpoint holds no socket.
    open: Option<Open<'a>>,
    /// TCP connections that were open and have ended since the start.
    closed: u64,
    input: [u8; SOCKET_RX_BUFFER],
    output: [u8; OUTPUT],
    datagram: [u8; udp::MAX_DATAGRAM],
}

impl<'a> Memcached<'a> {
    /// The template's state: the interface and an empty store in `arena`,
    /// found through `index`, with `config`'s item size limit. It serves
    /// once [`open`](Self::open)ed.
    pub fn new<D: Device>(
        config: &TenantConfig,
        dev: &mut D,
        arena: &'a mut [u8],
        index: Index<'a>,
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
        let max_connections = match config.max_connections {
            0 => DEFAULT_CONNECTIONS,
            n => (n as usize).min(MAX_CONNECTIONS),
        };
        Ok(Self {
            iface,
            store: Store::new(arena, index, item_size_max),
            port: config.port,
            tcp: config.protocols.contains(Protocol::Tcp),
            udp: config.protocols.contains(Protocol::Udp),
            max_connections,
            open: None,
            closed: 0,
            input: [0; SOCKET_RX_BUFFER],
            output: [0; OUTPUT],
            datagram: [0; udp::MAX_DATAGRAM],
        })
    }

    /// Connections served at once; one more is accepted and turned away.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Starts serving from `area`: clears the store's index (its memory
    /// is no checkpoint's: it holds what an earlier FWP left), binds UDP and
    /// listens for the first connection. An FWP calls it once, when it
    /// starts serving, on the empty store the checkpoint restored.
    pub fn open(&mut self, area: ConnectionArea<'a>) -> Result<(), AreaTooSmall> {
        if !area.holds(self.max_connections) {
            return Err(AreaTooSmall { connections: self.max_connections });
        }
        self.store.clear_index();
        let ConnectionArea { sockets, connections, udp_meta, bytes } = area;
        let mut sockets = SocketSet::new(sockets);
        let (udp_bytes, spare) = bytes.split_at_mut(2 * DATAGRAMS * udp::MAX_DATAGRAM);
        let udp = self.udp.then(|| {
            let (rx_meta, tx_meta) = udp_meta.split_at_mut(DATAGRAMS);
            let (rx, tx) = udp_bytes.split_at_mut(DATAGRAMS * udp::MAX_DATAGRAM);
            let mut socket = udp_socket::Socket::new(
                udp_socket::PacketBuffer::new(rx_meta, rx),
                udp_socket::PacketBuffer::new(&mut tx_meta[..DATAGRAMS], tx),
            );
            let _ = socket.bind(self.port);
            sockets.add(socket)
        });
        let connections = &mut connections[..self.max_connections + 1];
        self.open = Some(Open { sockets, connections, spare, created: 0, listener: None, udp, open: 0 });
        self.keep_listening();
        Ok(())
    }

    /// The store (its statistics, for tests and the stats line).
    pub fn store(&self) -> &Store<'a> {
        &self.store
    }

    /// TCP connections that were open and have ended since the start (a
    /// per-flow FWP exits once its one connection has ended).
    pub fn connections_closed(&self) -> u64 {
        self.closed
    }

    /// Connections turned away because `max_connections` were open: the
    /// store's `rejected_connections`, which `stats reset` zeroes.
    pub fn connections_rejected(&self) -> u64 {
        self.store.stats().rejected_connections
    }

    /// TCP connections open now, the one being turned away included.
    pub fn connections_open(&self) -> usize {
        self.open.as_ref().map_or(0, |open| open.open)
    }

    /// Whether a TCP connection is open: connected, or closing.
    pub fn has_open_connections(&self) -> bool {
        self.connections_open() > 0
    }

    /// Serves everything the device has; `unix_now` is the time in seconds
    /// the store's expiry times are measured against.
    pub fn serve<D: Device>(&mut self, dev: &mut D, now: Instant, unix_now: u64) {
        if self.open.is_none() {
            return;
        }
        self.iface.poll_maintenance(now);
        // A pass over the connections costs in proportion to them: run one
        // when frames came in (or, the first time, for what an earlier
        // batch left, such as replies waiting for send room), not again
        // merely because the last one made progress. What a pass writes
        // leaves in the egress after it; more can only come with frames.
        let mut first = true;
        loop {
            let frames = self.ingress(dev, now);
            if frames == 0 && !first {
                return;
            }
            first = false;
            self.serve_udp(unix_now);
            let created = self.open.as_ref().map_or(0, |open| open.created);
            for i in 0..created {
                self.serve_tcp(i, unix_now);
            }
            if let Some(open) = &mut self.open {
                self.iface.poll_egress(now, dev, &mut open.sockets);
            }
        }
    }

    /// Takes in every frame the device has, one at a time, so a SYN finds
    /// a listening socket even when many arrive together: each connection
    /// that starts gets the next one listening.
    /// How many frames it took in.
    fn ingress<D: Device>(&mut self, dev: &mut D, now: Instant) -> usize {
        use smoltcp::iface::PollIngressSingleResult::None as Drained;
        let mut frames = 0;
        loop {
            let Some(open) = &mut self.open else { return frames };
            if self.iface.poll_ingress_single(now, dev, &mut open.sockets) == Drained {
                return frames;
            }
            frames += 1;
            self.keep_listening();
        }
    }
}

#[cfg(test)]
mod tests;
