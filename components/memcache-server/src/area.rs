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

/// Bytes one served connection adds to the area: its socket, its state
/// and its two buffers.
pub const fn connection_cost() -> usize {
    size_of::<SocketStorage<'static>>() + size_of::<Connection>() + SOCKET_RX_BUFFER + SOCKET_TX_BUFFER
}

/// Bytes of the connection area for `connections` served connections:
/// what the private region holds before the store. Each typed part may
/// need up to its alignment in padding, counted here.
pub const fn connection_memory(connections: usize) -> usize {
    let sockets = connections + 2;
    let states = connections + 1;
    size_of::<SocketStorage<'static>>() * sockets
        + align_of::<SocketStorage<'static>>()
        + size_of::<Connection>() * states
        + align_of::<Connection>()
        + size_of::<PacketMetadata>() * 2 * DATAGRAMS
        + align_of::<PacketMetadata>()
        + 2 * DATAGRAMS * MAX_DATAGRAM
        + states * (SOCKET_RX_BUFFER + SOCKET_TX_BUFFER)
}
