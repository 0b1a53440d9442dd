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
mod manager;
mod mux;
mod tenant;

pub use mux::{ManagerLink, MuxConfig, SlotLayout, SlotService, TemplateLayout, MAX_SLOTS, MAX_TEMPLATES, MUX_SLOT_CAPACITY};
pub use manager::{ManagedFwp, ManagedTemplate, ManagerConfig, Region, MAX_MANAGED_FWPS, REGION_COUNT};
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
pub const VERSION: u32 = 6;

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// The protocols a service answers on its port: TCP, UDP or both (as
/// memcached serves one port over both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocols {
    tcp: bool,
    udp: bool,
}

impl Protocols {
    /// TCP only.
    pub const TCP: Self = Self { tcp: true, udp: false };
    /// UDP only.
    pub const UDP: Self = Self { tcp: false, udp: true };
    /// TCP and UDP on the same port.
    pub const BOTH: Self = Self { tcp: true, udp: true };

    /// The set holding just `protocol`.
    pub const fn only(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Tcp => Self::TCP,
            Protocol::Udp => Self::UDP,
        }
    }

    /// The set of `protocol`s; `None` when it is empty.
    pub fn of(protocols: impl IntoIterator<Item = Protocol>) -> Option<Self> {
        let mut set = Self { tcp: false, udp: false };
        for p in protocols {
            match p {
                Protocol::Tcp => set.tcp = true,
                Protocol::Udp => set.udp = true,
            }
        }
        (set.tcp || set.udp).then_some(set)
    }

    /// Whether `protocol` is in the set.
    pub const fn contains(self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        }
    }

    /// The protocol, when the set holds exactly one.
    pub const fn single(self) -> Option<Protocol> {
        match (self.tcp, self.udp) {
            (true, false) => Some(Protocol::Tcp),
            (false, true) => Some(Protocol::Udp),
            _ => None,
        }
    }

    /// The protocols in the set, TCP first.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        [(self.tcp, Protocol::Tcp), (self.udp, Protocol::Udp)]
            .into_iter()
            .filter_map(|(present, p)| present.then_some(p))
    }

    fn to_byte(self) -> u8 {
        u8::from(self.tcp) | u8::from(self.udp) << 1
    }

    fn from_byte(b: u8) -> Result<Self, ConfigError> {
        match b {
            1..=3 => Ok(Self { tcp: b & 1 != 0, udp: b & 2 != 0 }),
            _ => Err(ConfigError::BadValue("protocols")),
        }
    }
}

impl core::fmt::Display for Protocols {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.tcp, self.udp) {
            (true, true) => f.write_str("tcp+udp"),
            (true, false) => f.write_str("tcp"),
            _ => f.write_str("udp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_sets() {
        assert_eq!(Protocols::of([Protocol::Udp, Protocol::Tcp]), Some(Protocols::BOTH));
        assert_eq!(Protocols::of([]), None);
        assert_eq!(Protocols::only(Protocol::Udp).single(), Some(Protocol::Udp));
        assert_eq!(Protocols::BOTH.single(), None);
        assert!(Protocols::BOTH.iter().eq([Protocol::Tcp, Protocol::Udp]));
        assert!(!Protocols::TCP.contains(Protocol::Udp));
        for set in [Protocols::TCP, Protocols::UDP, Protocols::BOTH] {
            assert_eq!(Protocols::from_byte(set.to_byte()), Ok(set));
        }
        assert_eq!(Protocols::from_byte(0), Err(ConfigError::BadValue("protocols")));
        assert_eq!(Protocols::from_byte(4), Err(ConfigError::BadValue("protocols")));
    }
}
