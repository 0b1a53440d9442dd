//! The `aarch64-sel4` target spec for Microkit protection domains, derived
//! from rustc's own `aarch64-unknown-none` spec rather than copied from
//! rust-sel4's `support/targets/aarch64-sel4.json`.
//!
//! For nightly-2026-04-04 the two differ in exactly these keys (checked with
//! `rustc -Z unstable-options --print target-spec-json --target aarch64-unknown-none`
//! against rust-sel4 v5.0.0's file):
//!
//! | key | built-in | aarch64-sel4 | why |
//! | --- | --- | --- | --- |
//! | `has-thread-local` | absent (false) | `true` | rust-sel4 keeps the IPC buffer pointer in a `#[thread_local]`; its runtime sets up TLS |
//! | `exe-suffix` | absent | `.elf` | PD images are named `<crate>.elf`, which `system.xml` refers to |
//! | `metadata` | tier 2 description | nulls | a custom target has no tier; rustc ignores it either way |
//!
//! Everything else (static relocation model, `panic-strategy: abort`,
//! `+v8a,+strict-align,+neon`, the Cortex-A53 erratum 843419 link fix,
//! `disable-redzone`) is already in the built-in spec, and taking it from
//! rustc keeps the data layout in step with the pinned nightly.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use serde_json::{Map, Value};

/// Name of the derived target; the spec file is `<TARGET_NAME>.json`.
pub const TARGET_NAME: &str = "aarch64-sel4";

/// The built-in target the spec is derived from.
pub const BASE_TARGET: &str = "aarch64-unknown-none";

/// Why a built-in spec could not be turned into `aarch64-sel4`.
#[derive(Debug)]
pub enum DeriveError {
    /// The input is not JSON.
    NotJson(serde_json::Error),
    /// The input is JSON but not an `aarch64` target spec object.
    NotAarch64Spec,
}

impl core::fmt::Display for DeriveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "rustc's target spec is not valid JSON: {e}"),
            Self::NotAarch64Spec => {
                write!(f, "rustc's output is not a target spec with \"arch\": \"aarch64\"")
            }
        }
    }
}

impl std::error::Error for DeriveError {}

/// Applies the documented differences to rustc's built-in spec text.
pub fn derive(builtin: &str) -> Result<String, DeriveError> {
    let mut spec: Map<String, Value> = match serde_json::from_str(builtin) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(DeriveError::NotAarch64Spec),
        Err(e) => return Err(DeriveError::NotJson(e)),
    };
    if spec.get("arch").and_then(Value::as_str) != Some("aarch64") {
        return Err(DeriveError::NotAarch64Spec);
    }
    spec.insert("has-thread-local".into(), Value::Bool(true));
    spec.insert("exe-suffix".into(), Value::String(".elf".into()));
    spec.insert(
        "metadata".into(),
        serde_json::json!({ "description": null, "host_tools": null, "std": null, "tier": null }),
    );
    let mut text = serde_json::to_string_pretty(&Value::Object(spec)).expect("a map serialises");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTIN: &str = r#"{
        "arch": "aarch64",
        "data-layout": "e-m:e",
        "features": "+v8a,+strict-align,+neon",
        "llvm-target": "aarch64-unknown-none",
        "metadata": {"description": "Bare ARM64, hardfloat", "host_tools": false, "std": false, "tier": 2},
        "panic-strategy": "abort",
        "relocation-model": "static",
        "target-pointer-width": 64
    }"#;

    #[test]
    fn adds_thread_local_and_elf_suffix_and_keeps_the_rest() {
        let out: Value = serde_json::from_str(&derive(BUILTIN).unwrap()).unwrap();
        assert_eq!(out["has-thread-local"], true);
        assert_eq!(out["exe-suffix"], ".elf");
        assert_eq!(out["metadata"]["tier"], Value::Null);
        assert_eq!(out["relocation-model"], "static");
        assert_eq!(out["features"], "+v8a,+strict-align,+neon");
        assert_eq!(out["llvm-target"], "aarch64-unknown-none");
    }

    #[test]
    fn refuses_other_architectures_and_garbage() {
        assert!(matches!(derive(r#"{"arch": "x86_64"}"#), Err(DeriveError::NotAarch64Spec)));
        assert!(matches!(derive("[1]"), Err(DeriveError::NotAarch64Spec)));
        assert!(matches!(derive("error: unknown target"), Err(DeriveError::NotJson(_))));
    }
}
