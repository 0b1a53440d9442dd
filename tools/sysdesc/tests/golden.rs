//! Golden-file test for generation: `fixtures/golden/system.toml` must
//! generate exactly `fixtures/golden/expected.xml`. After an intended change
//! to the generator, regenerate the expected file with
//!
//! ```sh
//! SYSDESC_BLESS=1 cargo test -p edgeos-sysdesc --test golden
//! ```
//!
//! and review its diff.

mod common;

use common::{fixture, temp_dir};
use edgeos_sysdesc::commands;

#[test]
fn golden_generation() {
    let dir = temp_dir("golden");
    let out = dir.join("system.xml");
    let diags = commands::generate_file(&fixture("golden/system.toml"), &out);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let generated = std::fs::read_to_string(&out).expect("generated file");
    let expected_path = fixture("golden/expected.xml");
    if std::env::var_os("SYSDESC_BLESS").is_some() {
        std::fs::write(&expected_path, &generated).expect("write expected.xml");
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert!(
        generated == expected,
        "generated output differs from {}; if the change is intended, run \
         `SYSDESC_BLESS=1 cargo test -p edgeos-sysdesc --test golden`\n--- generated ---\n{generated}",
        expected_path.display()
    );
}

#[test]
fn same_input_same_bytes() {
    let dir = temp_dir("determinism");
    let (a, b) = (dir.join("a.xml"), dir.join("b.xml"));
    assert!(!commands::generate_file(&fixture("golden/system.toml"), &a).has_errors());
    assert!(!commands::generate_file(&fixture("golden/system.toml"), &b).has_errors());
    assert_eq!(std::fs::read(a).ok(), std::fs::read(b).ok());
}
