//! Configuration errors: what rule was broken, the offending text, the
//! element, and where (1-based line and column, in characters).

use core::fmt;

use heapless::String;

use crate::{Name, MAX_NAME_LEN};

/// Longest quoted value an error keeps (longer ones end in `...`).
pub const MAX_SNIPPET_LEN: usize = 40;

/// The offending text an error quotes.
pub type Snippet = String<MAX_SNIPPET_LEN>;

/// What a configuration got wrong. The quoted text is in
/// [`ConfigError::value`]; the kind says which rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not follow the grammar; the message says what was expected.
    Syntax(&'static str),
    /// A Click construct this subset does not have (`elementclass`, `require`, ...).
    Unsupported,
    /// A word in element position that is neither a declared element nor a class.
    UnknownClass,
    /// A name declared twice.
    DuplicateName,
    /// A name that is also an element class.
    NameIsClass,
    /// A name longer than [`MAX_NAME_LEN`] bytes.
    NameTooLong,
    /// Arguments after the name of an already declared element.
    ArgumentsToDeclared,
    /// An element's arguments are wrong; the message says what was expected.
    BadArgument(&'static str),
    /// A connection to an input port the element does not have.
    NoSuchInput {
        /// The port named.
        port: u32,
        /// How many inputs the element has.
        inputs: u8,
    },
    /// A connection from an output port the element does not have.
    NoSuchOutput {
        /// The port named.
        port: u32,
        /// How many outputs the element has.
        outputs: u8,
    },
    /// A push output connected twice (each output feeds exactly one input).
    OutputConnectedTwice {
        /// The port.
        port: u8,
    },
    /// An output the element uses is not connected.
    OutputUnconnected {
        /// The port.
        port: u8,
    },
    /// An input port of the element is not connected.
    InputUnconnected {
        /// The port.
        port: u8,
    },
    /// A connection closes a loop of push connections with no Queue in it.
    Cycle,
    /// More elements than [`MAX_ELEMENTS`](crate::MAX_ELEMENTS).
    TooManyElements,
    /// A graph-wide table is full; the message names it and its capacity.
    TableFull(&'static str),
    /// The Queues' capacities add up to more than the graph's slots.
    QueueSlots {
        /// Slots the Queues declared so far ask for, this one included.
        wanted: usize,
        /// Slots the graph has.
        available: usize,
    },
    /// No `FromRing`: nothing would feed the graph.
    NoSource,
    /// A second `FromRing` (an FWP has one receive ring).
    SecondSource,
    /// An IPRewriter input spec names no RoundRobinIPMapper declared before it.
    UnknownMapper,
}

/// A configuration error: the first one found, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line of the offending text.
    pub line: u32,
    /// 1-based column (in characters) of the offending text.
    pub column: u32,
    /// The element it concerns (a generated `Class@N` for anonymous ones);
    /// empty when the error is about no element in particular.
    pub element: Name,
    /// The offending text, truncated to [`MAX_SNIPPET_LEN`] bytes; may be empty.
    pub value: Snippet,
    /// The rule it broke.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// The message without the location: the rule, the quoted value and the
    /// element, for callers that render the location their own way (sysdesc
    /// adds `file:line:col`).
    pub fn message(&self) -> Message<'_> {
        Message(self)
    }

    /// The error rendered with `file` in front of the location:
    /// `<message> at <file>:<line>:<column>`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> InFile<'a> {
        InFile { error: self, file }
    }
}

/// [`ConfigError::message`]'s rendering.
pub struct Message<'a>(&'a ConfigError);

/// [`ConfigError::in_file`]'s rendering.
pub struct InFile<'a> {
    error: &'a ConfigError,
    file: &'a str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message(),
            self.line,
            self.column
        )
    }
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.error;
        write!(
            f,
            "{} at {}:{}:{}",
            e.message(),
            self.file,
            e.line,
            e.column
        )
    }
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let v = e.value.as_str();
        match e.kind {
            ErrorKind::Syntax(expected) if v.is_empty() => write!(f, "{expected}, found the end")?,
            ErrorKind::Syntax(expected) => write!(f, "{expected}, found \"{v}\"")?,
            ErrorKind::Unsupported => write!(f, "\"{v}\" is not in the supported Click subset")?,
            ErrorKind::UnknownClass => write!(f, "unknown element class \"{v}\"")?,
            ErrorKind::DuplicateName => write!(f, "element name \"{v}\" declared twice")?,
            ErrorKind::NameIsClass => write!(f, "element name \"{v}\" is an element class")?,
            ErrorKind::NameTooLong => {
                write!(f, "element name \"{v}\" is longer than {MAX_NAME_LEN} bytes")?
            }
            ErrorKind::ArgumentsToDeclared => {
                write!(f, "arguments given to \"{v}\", which is already declared")?
            }
            ErrorKind::BadArgument(expected) if v.is_empty() => {
                write!(f, "bad argument: {expected}")?
            }
            ErrorKind::BadArgument(expected) => write!(f, "bad argument \"{v}\": {expected}")?,
            ErrorKind::NoSuchInput { port, inputs } => {
                write!(f, "no input port {port} (the element has {inputs})")?
            }
            ErrorKind::NoSuchOutput { port, outputs } => {
                write!(f, "no output port {port} (the element has {outputs})")?
            }
            ErrorKind::OutputConnectedTwice { port } => {
                write!(f, "output port {port} connected twice (a push output feeds one input)")?
            }
            ErrorKind::OutputUnconnected { port } => {
                write!(f, "output port {port} is not connected")?
            }
            ErrorKind::InputUnconnected { port } => write!(f, "input port {port} is not connected")?,
            ErrorKind::Cycle => write!(
                f,
                "connection to \"{v}\" closes a push cycle (put a Queue in the loop)"
            )?,
            ErrorKind::TooManyElements => {
                write!(f, "more than {} elements", crate::MAX_ELEMENTS)?
            }
            ErrorKind::TableFull(what) => write!(f, "{what}")?,
            ErrorKind::QueueSlots { wanted, available } => write!(
                f,
                "Queue capacities add up to {wanted} packets, more than the graph's {available} slots"
            )?,
            ErrorKind::NoSource => write!(f, "no FromRing: nothing feeds the graph")?,
            ErrorKind::SecondSource => {
                write!(f, "a second FromRing (an FWP has one receive ring)")?
            }
            ErrorKind::UnknownMapper => write!(
                f,
                "\"{v}\" is no input spec (drop, pass, keep, pattern) and no RoundRobinIPMapper declared before"
            )?,
        }
        if !e.element.is_empty() {
            write!(f, " (element \"{}\")", e.element)?;
        }
        Ok(())
    }
}

/// The configuration text, for turning byte offsets into lines and columns.
#[derive(Clone, Copy)]
pub(crate) struct Source<'s> {
    pub text: &'s str,
}

impl<'s> Source<'s> {
    /// The byte offset of `sub`, which must be a slice of the source text
    /// (clamped to the text when it is not).
    pub fn offset_of(&self, sub: &str) -> usize {
        let base = self.text.as_ptr() as usize;
        (sub.as_ptr() as usize)
            .saturating_sub(base)
            .min(self.text.len())
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (clamp(line), clamp(column))
    }

    /// An error at byte `offset`, quoting `value`, about `element`.
    pub fn error(&self, offset: usize, kind: ErrorKind, value: &str, element: &str) -> ConfigError {
        let (line, column) = self.position(offset);
        ConfigError {
            line,
            column,
            element: truncated(element),
            value: truncated(value),
            kind,
        }
    }

    /// An error quoting `sub` (a slice of the source) at its own position.
    pub fn error_at(&self, sub: &str, kind: ErrorKind, element: &str) -> ConfigError {
        self.error(self.offset_of(sub), kind, sub, element)
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `s` cut to the capacity at a character boundary, ending in `...` when cut.
fn truncated<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    if s.len() <= N {
        let _ = out.push_str(s);
        return out;
    }
    let mut end = N - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let _ = out.push_str(&s[..end]);
    let _ = out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let src = Source {
            text: "ab\ncé d\n"
        };
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(3), (2, 1));
        // "é" is two bytes but one column.
        assert_eq!(src.position(6), (2, 3));
        assert_eq!(src.position(7), (2, 4));
        assert_eq!(src.position(100), (3, 1));
        // Inside a multi-byte character: the character's own column.
        assert_eq!(src.position(5), (2, 2));
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        let long = "é".repeat(40);
        let s: Snippet = truncated(&long);
        assert!(s.ends_with("..."));
        assert!(s.len() <= MAX_SNIPPET_LEN);
    }

    #[test]
    fn the_rendering_states_rule_value_element_and_place() {
        let src = Source {
            text: "x :: Clasifier;",
        };
        let e = src.error_at(&src.text[5..14], ErrorKind::UnknownClass, "x");
        assert_eq!(
            e.to_string(),
            "unknown element class \"Clasifier\" (element \"x\") at line 1, column 6"
        );
        assert_eq!(
            e.in_file("nat.click").to_string(),
            "unknown element class \"Clasifier\" (element \"x\") at nat.click:1:6"
        );
    }
}
