//! `qemu-test`: a system-test runner for EdgeOS images.
//!
//! It starts a command (normally QEMU booting an image with the serial
//! console on stdio), watches the console for an ordered list of expected
//! lines, each with a deadline, and reports every expectation as passed or
//! failed. It never sleeps for a fixed time: it blocks on the console until
//! the next line or the nearest deadline, whichever comes first. Whatever
//! happens (pass, failure, timeout, early exit, a signal to the runner), the
//! command's whole process group is killed and reaped before the report ends.
//!
//! A spec may also list clients: host commands (such as `net-client`
//! talking to the guest through QEMU's forwarded ports) that run one at a
//! time, in spec order, each once a named expectation has passed, while the
//! console is still watched. Each runs in its own process group, which is
//! killed when it exits, overruns its timeout, or the run stops.
//!
//! The pieces, usable on their own:
//! - [`Spec`]: the TOML spec file (see the crate's README for the format);
//! - [`Matcher`]: the matching rules, free of processes and clocks;
//! - [`Runner`]: starts the command, drives the matcher and runs the clients;
//! - [`Report`]: the outcome, with the `N passed, N failed` summary.

#![warn(missing_docs)]

mod clients;
pub mod matcher;
mod process;
pub mod report;
pub mod runner;
pub mod spec;

pub use matcher::Matcher;
pub use report::{ClientResult, ExpectationResult, Outcome, Report, Stopped};
pub use runner::{Console, Interrupter, RunError, Runner};
pub use spec::{Client, Expectation, Spec, SpecError};
