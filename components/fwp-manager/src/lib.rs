//! FWPs created at run time by the FWP manager (the root task), and how
//! the multiplexer talks to it.
//!
//! ```text
//!  mux: Request::Create(k) ──comm page, signal──▶ manager (root task)
//!        creates FWP k from its template's prototype: own VSpace, CNode,
//!        TCB, SC; the prototype's read-only pages shared; fresh writable
//!        memory; rings, buffers and control region also mapped into the mux
//!  mux ◀──Completion(k, Ok)── installs FWP k's TCB and notification in the
//!        mux's CSpace (`caps`); the mux restores and starts it like a slot
//!  mux: Request::Destroy(k) ──▶ manager deletes every cap of FWP k
//! ```
//!
//! The comm page is shared memory the multiplexer writes: every request is
//! untrusted and validated (`comm`), a broken ring is reported, never
//! followed.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod caps;
pub mod clone;
pub mod comm;
pub mod timing;

/// The manager's place in the schedule: below the multiplexer (200),
/// above the FWPs (100), on a reservation of its own, which `sysdesc check`
/// counts in the CPU's utilisation when a system has dynamic FWPs.
pub mod schedule {
    /// Its priority.
    pub const PRIORITY: u8 = 150;
    /// Its budget, in µs per period: two creations of a TCP echo FWP
    /// (about 665 µs each in the debug build, a third of it moving caps
    /// to the FWP's store) fit one period, so most are not cut by a budget
    /// boundary, which adds a period's wait to their latency.
    pub const BUDGET_US: u64 = 1_500;
    /// Its period, in µs.
    pub const PERIOD_US: u64 = 10_000;
}
