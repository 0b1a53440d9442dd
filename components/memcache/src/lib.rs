//! memcached for a tenant template: the text protocol as memcached 1.6
//! speaks it (TCP byte streams and UDP datagrams) over a bounded store in
//! memory the caller lends. No heap, no clock, no sockets: the template
//! passes bytes in and `now` (unix seconds from its timer service), and
//! sends the reply bytes back out over smoltcp.
//!
//! ```text
//!   smoltcp TCP socket ──► protocol::Conn ──┐
//!   smoltcp UDP socket ──► protocol::udp  ──┼──► protocol::parse ─► execute ─► store::Store
//!                                           │        (stateless)               (arena + index,
//!                                           └────── reply bytes ◄──────────────  LRU, expiry)
//! ```
//!
//! Layers depend only downwards: `store` knows nothing of the protocol,
//! `protocol::parse` nothing of the store's state.
//!
//! What is left out of memcached 1.6's text protocol: the meta commands
//! (`mg`, `ms`, `md`, `ma`, `mn`, `me`), `stats <group>` other than
//! `stats reset`, `shutdown`, `cache_memlimit`, `slabs`, `lru_crawler`,
//! `watch` and the binary protocol; all of them answer `ERROR`.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod number;
pub mod protocol;
pub mod store;
pub mod testing;

pub use protocol::{Conn, Progress};
pub use store::{ConnectionEvent, Index, IndexSlot, Item, Key, OwnedIndex, Reading, Reservation, ReserveError, Store, StoreOp, Stored};
