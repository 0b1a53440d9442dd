//! Configuration blobs: written by `tools/sysdesc`, placed in read-only
//! memory regions with Microkit's `prefill_path`, and parsed by the PDs at
//! start. PDs thus carry no topology constants: which slot serves which port
//! and the system's addresses come from the one configuration file.
//!
//! Each blob starts with a magic and a version, then fixed little-endian
//! fields; `parse` treats it as untrusted input (a stale or foreign file
//! yields an error, never a panic), `emit` writes it.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod bytes;
mod mux;
mod tenant;

pub use mux::{MuxConfig, SlotLayout, SlotService, TemplateLayout, MAX_SLOTS, MAX_TEMPLATES, MUX_SLOT_CAPACITY};
pub use tenant::TenantConfig;

/// Why a blob was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// Shorter than its header or its declared contents.
    Truncated,
    /// Not a blob of this kind (wrong magic).
    BadMagic,
    /// Written by another version of the tool.
    Version(u32),
    /// A field holds a value no configuration can have.
    BadValue(&'static str),
    /// The output buffer is too small for `emit`.
    NoRoom,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("configuration blob is truncated"),
            Self::BadMagic => f.write_str("not an EdgeOS configuration blob of this kind"),
            Self::Version(v) => write!(f, "configuration blob version {v}, expected {VERSION}"),
            Self::BadValue(field) => write!(f, "configuration field `{field}` is out of range"),
            Self::NoRoom => f.write_str("buffer too small for the configuration blob"),
        }
    }
}

/// Version of every blob layout in this crate.
pub const VERSION: u32 = 2;

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

impl Protocol {
    fn to_byte(self) -> u8 {
        match self {
            Self::Udp => 17,
            Self::Tcp => 6,
        }
    }

    fn from_byte(b: u8) -> Result<Self, ConfigError> {
        match b {
            17 => Ok(Self::Udp),
            6 => Ok(Self::Tcp),
            _ => Err(ConfigError::BadValue("protocol")),
        }
    }
}
