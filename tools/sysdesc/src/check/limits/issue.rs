//! The limits a system can exceed, and how each is reported.

use std::fmt;

use super::{MAX_ID, MAX_NAME_LEN, MAX_PDS};

/// A limit a system exceeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitIssue {
    /// More PDs than Microkit supports.
    TooManyPds {
        /// PDs in the system, children included.
        count: usize,
    },
    /// A channel, irq or child id above [`MAX_ID`].
    IdOutOfRange {
        /// `channel`, `irq` or `child`.
        kind: &'static str,
        /// The id.
        id: u64,
        /// The PD it belongs to.
        pd: String,
    },
    /// The same id twice in one id space.
    DuplicateId {
        /// `channel/irq` (they share one space) or `child`.
        kind: &'static str,
        /// The id.
        id: u64,
        /// The PD whose space it is.
        pd: String,
    },
    /// A name used twice, or reserved.
    BadName {
        /// The rule.
        rule: &'static str,
        /// `protection domain`, `memory region`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A PD name longer than [`MAX_NAME_LEN`].
    NameTooLong {
        /// The name.
        name: String,
    },
    /// A PD's scheduling or stack attribute out of range.
    PdValue {
        /// The rule.
        rule: String,
        /// The attribute.
        attribute: &'static str,
        /// The value as text.
        value: String,
        /// The PD.
        pd: String,
    },
    /// A size or address that is not a multiple of its page size.
    Unaligned {
        /// What it is (`size of memory region 'x'`).
        what: String,
        /// The value.
        value: u64,
        /// The required alignment.
        align: u64,
    },
    /// Any other rule: a reference to something that does not exist, a
    /// malformed map, an unsupported page size.
    Rule {
        /// The rule.
        rule: String,
        /// The thing referred to.
        name: String,
        /// Who refers to it.
        by: String,
    },
}

impl fmt::Display for LimitIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitIssue::TooManyPds { count } => write!(
                f,
                "Microkit allows at most {MAX_PDS} protection domains: this system has {count} ({} too many)",
                count - MAX_PDS
            ),
            LimitIssue::IdOutOfRange { kind, id, pd } => {
                write!(f, "{kind} ids must be 0..={MAX_ID} (Microkit's PD_MAX_ID): id {id} in '{pd}'")
            }
            LimitIssue::DuplicateId { kind, id, pd } => {
                write!(f, "{kind} ids must be unique in a PD: id {id} is used twice in '{pd}'")
            }
            LimitIssue::BadName { rule, kind, name } => write!(f, "{rule}: {kind} '{name}'"),
            LimitIssue::NameTooLong { name } => write!(
                f,
                "a PD name is at most {MAX_NAME_LEN} bytes (the Microkit tool truncates longer ones silently): '{name}' is {} bytes",
                name.len()
            ),
            LimitIssue::PdValue { rule, attribute, value, pd } => {
                write!(f, "{rule}: {attribute}=\"{value}\" on '{pd}'")
            }
            LimitIssue::Unaligned { what, value, align } => {
                write!(f, "{what} must be a multiple of {align:#x}: {value:#x}")
            }
            LimitIssue::Rule { rule, name, by } => write!(f, "{rule}: '{name}' in {by}"),
        }
    }
}
