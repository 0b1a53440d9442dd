//! Any text as a Click configuration: the parser must not panic, an error
//! must point inside the text, and an accepted graph must handle frames
//! (see `edgeos_click::testing::check_config`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data) {
        edgeos_click::testing::check_config(text);
    }
});
