//! Click-style network functions for a middlebox FWP: element graphs built
//! from a configuration in (a subset of) Click's language, and pushed one
//! Ethernet frame at a time.
//!
//! ```text
//!   configuration text ──▶ lexer ──▶ build (statements, per-element arguments,
//!        (template init)              ports, whole-graph checks) ──▶ Graph
//!                                                                     │
//!   rx ring frame ──▶ Packet ──▶ Graph::push ──▶ FromRing ─▶ … elements … ─┬▶ ToRing   ─▶ Verdict::Transmit (caller sends pkt.data())
//!   (caller's buffer,                                                       ├▶ Queue    ─▶ Verdict::Queued ─▶ Graph::pull ─▶ …
//!    headroom in front)                                                     ├▶ Discard  ─▶ Verdict::Discarded
//!                                                                           └▶ (drop)   ─▶ Verdict::Dropped { reason }, counted
//! ```
//!
//! Layers depend only downwards: `packet` and `verdict` know nothing of
//! elements; `elements` parse their own arguments and process packets with
//! `smoltcp::wire` views (`new_checked` before any field is read); `graph`
//! walks connections; `build` is the only part that knows the language.
//!
//! A template PD calls [`Graph::configure`] once while it initialises, so
//! every FWP spawned from its checkpoint starts with the graph built
//! ([`Middlebox`] holds the graph and serves it over a smoltcp device, and
//! [`FlowEnd`] tells a per-flow FWP when its flow is over); the
//! tools call [`check`] over the same text, so a configuration that would
//! fail there never reaches an image. Nothing allocates: every table has a
//! fixed capacity (the constants below), and exceeding one is a
//! configuration error naming it, never a failure at run time. No input,
//! configuration or frame, makes anything here panic.
//!
//! `docs/click.md` describes the elements, the language subset, the error
//! format and the capacities.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod build;
mod class;
mod elements;
mod error;
mod flow_end;
mod graph;
mod lexer;
mod middlebox;
mod packet;
pub mod testing;
mod verdict;

pub use class::Class;
pub use error::{ConfigError, ErrorKind, InFile, Message, Snippet, MAX_SNIPPET_LEN};
pub use flow_end::FlowEnd;
pub use graph::{Graph, Summary};
pub use middlebox::{Middlebox, HEADROOM};
pub use packet::Packet;
pub use verdict::{DropReason, ElementId, ElementStats, Verdict};

/// An element's name.
pub type Name = heapless::String<MAX_NAME_LEN>;

/// Longest frame: a 1500-byte MTU plus the 14-byte Ethernet header, the
/// largest the multiplexer hands a tenant. Also the size of a Queue slot
/// and the largest offset or byte count an argument may name.
pub const MAX_FRAME_LEN: usize = 1514;

/// Most elements in a graph. A firewall and NAT in both directions takes
/// about 15; 32 leaves room, and bounds the graph walk and cycle search.
pub const MAX_ELEMENTS: usize = 32;

/// Most inputs or outputs of one element: connections are kept in a
/// 16-bit mask per element. Bounds Classifier patterns, IPRewriter specs
/// and output numbers.
pub const MAX_PORTS: usize = 16;

/// Longest element name, in bytes; names are stored inline in the graph.
pub const MAX_NAME_LEN: usize = 32;

/// Classifier patterns in the whole graph (two full Classifiers).
pub const MAX_CLASSIFIER_PATTERNS: usize = 32;

/// Classifier clauses in the whole graph (two per pattern on average).
pub const MAX_CLASSIFIER_CLAUSES: usize = 64;

/// Longest Classifier value: 16 bytes is an IPv6 address, more than any
/// IPv4 or Ethernet header field.
pub const MAX_CLAUSE_BYTES: usize = 16;

/// IPFilter rules in the whole graph.
pub const MAX_FILTER_RULES: usize = 32;

/// IPFilter terms (primitives and operators) in the whole graph; a rule
/// like `allow src net 10.0.0.0/8 && tcp dst port 80` is 3.
pub const MAX_FILTER_OPS: usize = 256;

/// IPRewriter input specs in the whole graph (one IPRewriter's inputs at most).
pub const MAX_REWRITER_SPECS: usize = 16;

/// Rewrite patterns (IPRewriter `pattern` specs and RoundRobinIPMapper
/// patterns) in the whole graph.
pub const MAX_REWRITER_PATTERNS: usize = 16;

/// RoundRobinIPMappers in a graph.
pub const MAX_MAPPERS: usize = 4;

/// Flow mappings all IPRewriters hold together. An FWP serves one flow
/// (or the flows of one tenant) and is torn down when idle, and mappings
/// never expire, so this bounds the flows one FWP rewrites over its life;
/// lookups are a linear scan, about 30 bytes per entry.
pub const MAX_MAPPINGS: usize = 64;

/// Queue slots of a [`Graph`] by default (its `QUEUE_SLOTS` parameter):
/// 16 frames, 24 KiB. An FWP drains its queues whenever its transmit ring
/// has room, so they only absorb a burst.
pub const DEFAULT_QUEUE_SLOTS: usize = 16;

/// Capacity of a `Queue` written without one (Click's default, 1000, would
/// be 1.5 MB of frames).
pub const DEFAULT_QUEUE_CAPACITY: usize = 8;

/// Checks a configuration the way [`Graph::configure`] does (for a graph
/// with [`DEFAULT_QUEUE_SLOTS`]): the tools' entry point, so a broken
/// graph never reaches an image. Builds the graph on the stack (about
/// 40 KiB), then drops it.
pub fn check(text: &str) -> Result<Summary, ConfigError> {
    let mut graph: Graph = Graph::new();
    graph.configure(text)
}
