//! Any bytes as a TCP stream: the parser and store must not panic, must stay
//! consistent, and must leave a key the input never names untouched (see
//! `edgeos_memcache::testing::check_tcp`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| edgeos_memcache::testing::check_tcp(input));
