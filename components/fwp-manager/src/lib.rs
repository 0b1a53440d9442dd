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

pub mod caps;
pub mod clone;
pub mod comm;
