//! One TCP connection slot of the connection area: the socket it drives
//! and the protocol state between polls.

use edgeos_memcache::Conn;
use smoltcp::iface::SocketHandle;

/// A connection slot's state. Slots are taken in order as connections
/// arrive and reused once their connection ended.
pub struct Connection {
    /// The slot's socket, once one was created for it.
    pub(crate) handle: Option<SocketHandle>,
    /// Where the request stream stands.
    pub(crate) conn: Conn,
    /// Close once the replies are sent (`quit`, an over-long line, or the
    /// connection past the limit).
    pub(crate) closing: bool,
}

impl Connection {
    /// A slot with no socket yet.
    pub const EMPTY: Connection = Connection { handle: None, conn: Conn::new(), closing: false };
}
