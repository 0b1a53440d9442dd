//! Any bytes as a sequence of frames through one of the sample graphs: no
//! panic, verdicts that name the right elements, checksums kept valid,
//! counters that add up (see `edgeos_click::testing::check_graph`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgeos_click::testing::check_graph(data));
