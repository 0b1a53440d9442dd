//! The network driver domain's logic, free of seL4 so it runs on the host.
//!
//! ```text
//!   NIC (smoltcp phy::Device)  ⇄  DriverCore  ⇄  rx/tx rings  ⇄  multiplexer
//! ```
//!
//! The NIC is [`VirtioNic`] over virtio-drivers' raw, non-blocking calls
//! ([`RawNic`]): it submits frames and reaps their completions later, so
//! nothing here ever waits for the device.
//!
//! The multiplexer owns the shared buffer region and *provides* buffers: empty
//! ones on the rx free ring, filled frames on the tx free ring. The driver
//! *uses* them: it fills rx buffers from the NIC and hands them back on the rx
//! used ring, and transmits tx buffers and hands them back on the tx used ring
//! (rust-sel4's `Provide`/`Use` roles). Every descriptor the multiplexer hands
//! over is checked against the region before a byte moves; a bad one is
//! counted and handed back untouched, and the driver keeps running.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod core;
mod nic;
pub mod protocol;

pub use crate::core::{DriverCore, DriverStats, Moved};
pub use crate::nic::{
    NicRxToken, NicStats, NicTxToken, RawNic, RawNicError, VirtioNic, BUFFER_LEN,
};

/// Shortest frame the driver transmits: an Ethernet header.
pub const MIN_FRAME_LEN: usize = 14;

/// Longest frame the driver transmits: a 1500-byte payload plus the Ethernet
/// header (virtio-net is set up without VLAN tags or offloads).
pub const MAX_FRAME_LEN: usize = 1514;
