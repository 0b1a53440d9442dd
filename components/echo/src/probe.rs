//! Fault probes: commands a test sends to an echo FWP configured to obey
//! them (`TenantConfig::probes`), to make it misbehave in a chosen way. They
//! exist to prove that the multiplexer contains a misbehaving FWP; an echo
//! template without the flag echoes these payloads like any other.

/// Every command starts with this.
pub const PREFIX: &[u8] = b"probe:";

/// A way to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Write to an unmapped address.
    FaultAddress,
    /// Execute an undefined instruction.
    Undefined,
    /// Recurse until the stack runs out.
    StackOverflow,
    /// Loop forever without blocking.
    Spin,
    /// Corrupt the tx ring's indices, then notify the mux.
    BadRing,
}

impl Probe {
    /// Every probe with its command word.
    pub const ALL: [(Self, &'static str); 5] = [
        (Self::FaultAddress, "fault-address"),
        (Self::Undefined, "undefined"),
        (Self::StackOverflow, "stack-overflow"),
        (Self::Spin, "spin"),
        (Self::BadRing, "bad-ring"),
    ];

    /// The probe a datagram's payload asks for: `probe:<word>`, optionally
    /// followed by a newline.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let word = payload.strip_prefix(PREFIX)?;
        let word = word.strip_suffix(b"\n").unwrap_or(word);
        Self::ALL.iter().find(|(_, w)| w.as_bytes() == word).map(|(p, _)| *p)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn commands_parse_exactly() {
        for (probe, word) in Probe::ALL {
            assert_eq!(Probe::parse(format!("probe:{word}").as_bytes()), Some(probe));
            assert_eq!(Probe::parse(format!("probe:{word}\n").as_bytes()), Some(probe));
        }
        for other in [&b"probe:"[..], b"probe:spinning", b"spin", b"PROBE:spin", b"probe:spin\n\n", b""] {
            assert_eq!(Probe::parse(other), None, "{other:?}");
        }
    }
}
