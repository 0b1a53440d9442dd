//! The multiplexer's logic, free of seL4 so it runs on the host.
//!
//! ```text
//!   driver ⇄ rx/tx rings ⇄ DriverLink (buffer pool over net_dma) ⇄ flows ⇄ FWP slots
//! ```
//!
//! The multiplexer owns the `net_dma` buffers shared with the driver and lends
//! them through the rings ([`DriverLink`]). Everything the driver hands back
//! is checked against what was lent, so a confused or hostile driver cannot
//! make the multiplexer read outside a buffer or lose track of one.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod channel_index;
pub mod config;
mod driver_link;
pub mod first_reply;
mod fwps;
pub mod middlebox;
mod multiplexer;
mod neighbours;
mod slot_set;
mod stats;
mod tenant_link;

pub use channel_index::{ChannelIndex, CHANNELS};
pub use driver_link::{ConnectError, DriverLink, LinkStats, SendError};
pub use first_reply::FirstReply;
pub use fwps::{FwpStats, Fwps, TemplateRoute, MAX_SERVICES, MAX_TEMPLATES};
pub use multiplexer::{DriverPorts, Multiplexer, MuxStats, TenantPorts, Wake, DROPS_QUERY, FRAME_BUF, HOPS_QUERY};
pub use neighbours::{Neighbours, TenantArp};
pub use slot_set::{SlotSet, SLOT_SET_CAPACITY};
pub use stats::{udp_reply, StatsLine, STATS_LINE};
pub use tenant_link::{DeliverError, TenantLink, TenantStats};
