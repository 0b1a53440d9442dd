//! Any bytes as a tenant's frame, sent as every tenant in turn: at most one
//! may send it, and only from its own ports (see
//! `edgeos_flow::testing::check_validate_tx`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| edgeos_flow::testing::check_validate_tx(frame));
