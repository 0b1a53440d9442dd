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
//! The pieces, usable on their own:
//! - [`Spec`]: the TOML spec file (see the crate's README for the format);
//! - [`Matcher`]: the matching rules, free of processes and clocks;
//! - [`Runner`]: starts the command and drives the matcher;
//! - [`Report`]: the outcome, with the `N passed, N failed` summary.

#![warn(missing_docs)]

pub mod matcher;
mod process;
pub mod report;
pub mod runner;
pub mod spec;

pub use matcher::Matcher;
pub use report::{ExpectationResult, Outcome, Report, Stopped};
pub use runner::{Console, Interrupter, RunError, Runner};
pub use spec::{Expectation, Spec, SpecError};
