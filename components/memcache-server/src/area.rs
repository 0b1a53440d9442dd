//! The connection area: the part of a memcached FWP's private memory that
//! holds its sockets and their buffers. It sits before the store in the
//! slot's private region (`store_mb` plus [`connection_memory`] of
//! `max_connections`, sized by `sysdesc`), outside the checkpoint: a spawn
//! restores no connection, so the FWP lays the area out afresh when it
//! starts serving ([`ConnectionArea`]), and its bytes are never copied.
//!
//! ```text
//!  [SocketStorage; n + 2] [Connection; n + 1] [udp meta; 2 * DATAGRAMS]
//!  [udp bytes; 2 * DATAGRAMS * MAX_DATAGRAM] [(rx, tx) bytes; n + 1] | store ...
//! ```
//!
//! `n` connections are served; one socket more accepts the connection
//! past the limit and turns it away as memcached does, and one is UDP.

use core::mem::{align_of, size_of};

use edgeos_memcache::protocol::udp::MAX_DATAGRAM;
use smoltcp::iface::SocketStorage;
use smoltcp::socket::udp::PacketMetadata;

use crate::connection::Connection;

/// Bytes of each TCP socket's receive buffer, the window it offers: room
/// for the longest command line ([`edgeos_memcache::protocol::MAX_LINE`])
/// and its `\n`; a value streams through it into the store.
pub const SOCKET_RX_BUFFER: usize = 8 * 1024;
/// Bytes of each TCP socket's send buffer; a value streams out through it.
pub const SOCKET_TX_BUFFER: usize = 8 * 1024;
/// Datagrams queued per UDP direction.
pub const DATAGRAMS: usize = 8;
/// The most connections a template may ask for (memcached's `-c`); the
/// area of a smaller limit is smaller.
pub const MAX_CONNECTIONS: usize = 65_536;

const _: () = assert!(SOCKET_RX_BUFFER > edgeos_memcache::protocol::MAX_LINE + 1);

/// Bytes the area sets aside per socket slot, per connection state and
/// per UDP packet record: fixed figures at or above the types' sizes, so
/// the area's size is the same in every build (smoltcp's types grow with
/// its `std` feature, which a host build may turn on for another crate)
/// and `sysdesc` sizes the region the PD lays out.
pub const SOCKET_SLOT_BYTES: usize = 512;
/// See [`SOCKET_SLOT_BYTES`].
pub const CONNECTION_BYTES: usize = 128;
/// See [`SOCKET_SLOT_BYTES`].
pub const PACKET_METADATA_BYTES: usize = 64;
/// Alignment the area's start and each typed part get.
const ALIGN: usize = 64;

const _: () = {
    assert!(size_of::<SocketStorage<'static>>() <= SOCKET_SLOT_BYTES && align_of::<SocketStorage<'static>>() <= ALIGN);
    assert!(size_of::<Connection>() <= CONNECTION_BYTES && align_of::<Connection>() <= ALIGN);
    assert!(size_of::<PacketMetadata>() <= PACKET_METADATA_BYTES && align_of::<PacketMetadata>() <= ALIGN);
};

/// Bytes one served connection adds to the area: its socket, its state
/// and its two buffers.
pub const fn connection_cost() -> usize {
    SOCKET_SLOT_BYTES + CONNECTION_BYTES + SOCKET_RX_BUFFER + SOCKET_TX_BUFFER
}

/// Bytes of the connection area for `connections` served connections:
/// what the private region holds before the store, laid out as the module
/// docs show (each typed part may need up to [`ALIGN`] bytes of padding).
pub const fn connection_memory(connections: usize) -> usize {
    let sockets = connections + 2;
    let states = connections + 1;
    SOCKET_SLOT_BYTES * sockets
        + CONNECTION_BYTES * states
        + PACKET_METADATA_BYTES * 2 * DATAGRAMS
        + 3 * ALIGN
        + 2 * DATAGRAMS * MAX_DATAGRAM
        + states * (SOCKET_RX_BUFFER + SOCKET_TX_BUFFER)
}

/// Store bytes per index slot: the store holds at most one item per KiB
/// of it (a 64 MiB store, 65,536 items), however small the items are. A
/// cache of smaller items evicts for its index before its bytes run out.
pub const STORE_BYTES_PER_ITEM: usize = 1024;
/// Fewest index slots, for the smallest stores.
pub const MIN_ITEMS: usize = 64;
/// Bytes the index sets aside per slot: the slot and its bucket head, at
/// or above their sizes (the same in every build, as the area's parts).
pub const INDEX_SLOT_BYTES: usize = 96 + 4;

const _: () = assert!(size_of::<edgeos_memcache::IndexSlot>() + 4 <= INDEX_SLOT_BYTES);

/// Items the index of a `store_size`-byte store holds.
pub const fn index_items(store_size: usize) -> usize {
    let items = store_size / STORE_BYTES_PER_ITEM;
    if items < MIN_ITEMS { MIN_ITEMS } else { items }
}

/// Bytes of the index of a `store_size`-byte store: what the private
/// region holds between the connection area and the store.
pub const fn index_memory(store_size: usize) -> usize {
    index_items(store_size) * INDEX_SLOT_BYTES + ALIGN
}

/// The connection area, laid out: what [`Memcached::open`](crate::Memcached::open)
/// serves from. Built by the FWP from its private region each time it
/// starts serving, every slot empty.
pub struct ConnectionArea<'a> {
    /// One socket slot per connection slot, and one for UDP.
    pub sockets: &'a mut [SocketStorage<'a>],
    /// The connection slots: the limit plus the one that turns away.
    pub connections: &'a mut [Connection],
    /// UDP packet metadata, rx half then tx half.
    pub udp_meta: &'a mut [PacketMetadata],
    /// UDP payload bytes, then each connection's rx and tx buffers.
    pub bytes: &'a mut [u8],
}

/// Why a connection area cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaTooSmall {
    /// Connections it was asked to serve.
    pub connections: usize,
}

impl core::fmt::Display for AreaTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the connection area holds fewer than {} connections ({} bytes needed)",
            self.connections,
            connection_memory(self.connections)
        )
    }
}

impl ConnectionArea<'_> {
    /// Whether the parts hold `connections` served connections.
    pub fn holds(&self, connections: usize) -> bool {
        self.connections.len() > connections
            && self.sockets.len() > connections + 1
            && self.udp_meta.len() >= 2 * DATAGRAMS
            && self.bytes.len() >= 2 * DATAGRAMS * MAX_DATAGRAM + (connections + 1) * (SOCKET_RX_BUFFER + SOCKET_TX_BUFFER)
    }
}
