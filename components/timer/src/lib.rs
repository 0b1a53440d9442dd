//! The timer service: one passive PD (priority 254) owns the ARM generic
//! timer (`CNTP_CVAL_EL0`/`CNTP_CTL_EL0`, IRQ 30 on QEMU `virt`) and hands out
//! timeouts to the multiplexer and the tenants. It also owns the real-time
//! clock, read once at boot (`wall_clock`), and answers unix time.
//!
//! ```text
//!  client ──ppc(SetTimeout/Cancel/Now/WallClock)──▶ timer PD ──▶ protocol::Request::from_message
//!                                              │
//!                                              ▼
//!                                   queue::TimerQueue::schedule / cancel
//!                                              │ next_deadline()
//!                                              ▼
//!                          clock::CounterFreq::ns_to_ticks ──▶ CNTP_CVAL_EL0
//!  IRQ 30 ──▶ TimerQueue::expire(now) ──▶ notify each client once per batch
//! ```
//!
//! This crate holds the decisions and the encodings; the PD reads the
//! counter, writes the compare register and moves message registers.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod protocol;
pub mod queue;
pub mod wall_clock;

pub use clock::CounterFreq;
pub use protocol::{Message, ProtocolError, Refusal, Reply, Request};
pub use queue::{ClientId, Timeout, TimerError, TimerQueue};
pub use wall_clock::WallClock;
