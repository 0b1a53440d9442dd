//! Featherweight Processes (FWPs): child protection domains of the
//! multiplexer, spawned from templates into a fixed pool of slots.
//!
//! ```text
//!  boot: slot runs template init ──▶ writes TemplateReady block ──▶ notifies mux ──▶ parks
//!  mux:  SlotPool::template_ready (first report = the template's checkpoint)
//!  spawn path:  SlotPool::take_ready(template, now) ──▶ Take::Warm(plan) | Take::Cold(plan: restore first)
//!  PD glue: TCB_WriteRegisters(pc, sp, x0 = slot, x1 = generation, resume)
//!  slot: serving entry point runs; it never re-runs initialisation
//!  teardown: idle deadline (SlotPool::idle_expired) | close | fault
//!        ──▶ SlotPool::teardown ──▶ Draining ──scrub, off the critical path──▶ SlotPool::scrubbed
//!        ──▶ Ready (warm pool below target) | Free (restored by the next cold spawn or refill)
//! ```
//!
//! This crate holds the decisions; the mux PD turns a [`SpawnPlan`] into the
//! seL4 invocation and a fault into [`SlotPool::fault`]. The slot lifecycle
//! itself is drawn in the `slot` module's docs.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod control;
pub mod image;
mod ready_block;
mod slot;
mod status;
pub mod timing;

pub use image::{ImageError, ImageLayout};
pub use ready_block::{ReadyBlockError, TemplateReady, READY_BLOCK_LEN};
pub use status::{SlotStatus, STATUS_AT, STATUS_LEN};

/// Where in a slot's control region the FWP publishes its per-frame time
/// summary (two little-endian words, `edgeos_cycles::Summary::to_words`),
/// after the ready block and the status block.
pub const HOP_SUMMARY_AT: usize = 80;

/// Where in a slot's control region the multiplexer writes unix time at
/// the counter's zero, in ns (one little-endian word; 0: the system has no
/// wall clock), before it starts the slot. The FWP adds the counter's time
/// for unix time (memcached's absolute expiry times need it).
pub const WALL_CLOCK_AT: usize = HOP_SUMMARY_AT + 16;

/// Bytes of the control region the multiplexer reads, writes and zeroes.
pub const CTRL_READ_LEN: usize = WALL_CLOCK_AT + 8;

const _: () = assert!(READY_BLOCK_LEN <= STATUS_AT && STATUS_AT + STATUS_LEN <= HOP_SUMMARY_AT);
pub use slot::{
    SlotError, SlotPool, SlotState, SpawnPlan, SpawnPolicy, StateCounts, StateKind, Take, TeardownReason,
    TemplateConfig, TemplateId, DEFAULT_TEMPLATES,
};
