//! Any bytes as a received frame: classify must not panic, and its verdict
//! must hold up (see `edgeos_flow::testing::check_classify`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| edgeos_flow::testing::check_classify(frame));
