//! A tenant's view of the network: smoltcp's `phy::Device` over the rings it
//! shares with the multiplexer, without allocation.
//!
//! ```text
//!   smoltcp Interface ─ RingDevice ─┬─ rx: used ring (frames from mux) → rx free ring (buffers back)
//!                                   └─ tx: tx free ring (frames to mux)  ← tx used ring (buffers back)
//! ```
//!
//! The tenant owns both of its buffer regions and *provides* them, as the
//! multiplexer does towards the driver: empty rx buffers for the multiplexer
//! to copy frames into, and filled tx buffers for it to copy out. Nothing of
//! another tenant or of the driver is ever mapped here.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod device;
#[cfg(feature = "wire")]
pub mod wire;

pub use device::{RingDevice, RxSide, TxSide};
