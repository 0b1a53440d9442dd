//! `edgeos-sysdesc`: EdgeOS's Microkit system description, generated from a
//! TOML configuration and checked beyond what the Microkit tool checks.
//!
//! ```text
//!   system.toml ──config──▶ Config ──generate──▶ ┐
//!                                               ├─▶ System (model) ──check──▶ Diagnostics
//!   system.xml ───parse_sdf────────────────────▶ ┘        │
//!                                                         └─emit──▶ system.xml ──microkit──▶ loader.img
//! ```
//!
//! - [`config`]: the TOML configuration, with spans for every field;
//! - [`boards`]: per-board facts (RAM, devices, interrupts, address space);
//! - [`model`]: the typed system (`PdName`, `ChannelId`, maps, irqs, ...);
//! - [`generate`] builds a model from a configuration, [`parse_sdf`] from an
//!   existing SDF file, and [`emit`] writes a model as SDF;
//! - [`blobs`]: the configuration blobs the mux and the FWP slots read,
//!   written from the same configuration;
//! - [`check`]: semantic passes (limits, schedulability, priorities,
//!   isolation, layout, symbols, blobs), all run, all findings collected;
//! - [`diagnostic`]: the typed findings and how they print;
//! - [`microkit`]: finding and running the Microkit tool, and mapping its
//!   errors back to elements;
//! - [`variant`]: a configuration with a few fields changed (for a test);
//! - [`commands`]: the CLI's commands as library functions.
//!
//! Nothing here panics on user input: files that are not TOML or XML,
//! values out of range and absurd sizes all become diagnostics.

#![warn(missing_docs)]
// `u64::is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#![allow(clippy::manual_is_multiple_of)]

pub mod blobs;
pub mod boards;
pub mod check;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod elf;
pub mod emit;
pub mod generate;
pub mod microkit;
pub mod model;
pub mod parse_sdf;
pub mod variant;

pub use diagnostic::{Diagnostic, DiagnosticKind, Diagnostics, Location, Severity, Span};
pub use model::System;
