//! Classifier: Click's byte patterns. Each argument is a pattern and has its
//! own output; a packet leaves on the output of the first pattern it
//! matches, and is dropped when none does.
//!
//! A pattern is `-` (matches everything) or clauses separated by spaces,
//! all of which must hold: `[!]OFFSET/VALUE[%MASK]`, where VALUE and MASK
//! are hex strings of the same even length (`?` in VALUE is a wildcard
//! nibble), compared against the bytes at OFFSET of the packet's data.
//! A clause that reaches past the packet's end is false (`!` makes it true).

use heapless::Vec;

use crate::args::{self, bad, ArgError};
use crate::error::ErrorKind;
use crate::{MAX_CLASSIFIER_CLAUSES, MAX_CLASSIFIER_PATTERNS, MAX_CLAUSE_BYTES, MAX_PORTS};

#[derive(Debug, Clone, Copy)]
struct Clause {
    offset: u16,
    len: u8,
    negate: bool,
    /// Already masked.
    value: [u8; MAX_CLAUSE_BYTES],
    mask: [u8; MAX_CLAUSE_BYTES],
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    first: u16,
    /// 0 for `-`.
    clauses: u8,
}

/// Every Classifier's patterns and clauses, shared by the graph's Classifiers.
#[derive(Debug)]
pub(crate) struct Tables {
    clauses: Vec<Clause, MAX_CLASSIFIER_CLAUSES>,
    patterns: Vec<Pattern, MAX_CLASSIFIER_PATTERNS>,
}

/// One Classifier: its patterns in [`Tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classifier {
    first: u8,
    /// Also the number of outputs.
    pub patterns: u8,
}

const CLAUSE: &str =
    "a Classifier clause is [!]OFFSET/HEXVALUE[%HEXMASK] (e.g. 12/0800), or a pattern is -";

impl Tables {
    pub const fn new() -> Self {
        Self {
            clauses: Vec::new(),
            patterns: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.clauses.clear();
        self.patterns.clear();
    }

    /// Parses `Classifier(PATTERN, ...)` into the tables.
    pub fn parse<'s>(&mut self, inner: &'s str) -> Result<Classifier, ArgError<'s>> {
        let first = self.patterns.len() as u8;
        let mut count = 0usize;
        for arg in args::split(inner) {
            if count == MAX_PORTS {
                return Err(bad(
                    arg,
                    "a Classifier has at most 16 patterns (one output each)",
                ));
            }
            let pattern = self.pattern(arg)?;
            if self.patterns.push(pattern).is_err() {
                return Err(ArgError {
                    at: arg,
                    kind: ErrorKind::TableFull("more than 32 Classifier patterns in the graph"),
                });
            }
            count += 1;
        }
        if count == 0 {
            return Err(bad(inner, "a Classifier needs at least one pattern"));
        }
        Ok(Classifier {
            first,
            patterns: count as u8,
        })
    }

    fn pattern<'s>(&mut self, arg: &'s str) -> Result<Pattern, ArgError<'s>> {
        let first = self.clauses.len() as u16;
        if arg.is_empty() {
            return Err(bad(arg, "an empty pattern (use - to match every packet)"));
        }
        if arg == "-" {
            return Ok(Pattern { first, clauses: 0 });
        }
        let mut n = 0u8;
        for word in args::words(arg) {
            let clause = clause(word)?;
            if self.clauses.push(clause).is_err() {
                return Err(ArgError {
                    at: word,
                    kind: ErrorKind::TableFull("more than 64 Classifier clauses in the graph"),
                });
            }
            n += 1;
        }
        Ok(Pattern { first, clauses: n })
    }

    /// The output of the first of `c`'s patterns that `data` matches.
    pub fn classify(&self, c: Classifier, data: &[u8]) -> Option<u8> {
        let first = usize::from(c.first);
        let patterns = self.patterns.get(first..first + usize::from(c.patterns))?;
        patterns
            .iter()
            .position(|p| self.matches(p, data))
            .map(|i| i as u8)
    }

    fn matches(&self, p: &Pattern, data: &[u8]) -> bool {
        let first = usize::from(p.first);
        let Some(clauses) = self.clauses.get(first..first + usize::from(p.clauses)) else {
            return false;
        };
        clauses.iter().all(|c| {
            let start = usize::from(c.offset);
            let len = usize::from(c.len);
            let hit = data.get(start..start + len).is_some_and(|bytes| {
                bytes
                    .iter()
                    .zip(&c.value[..len])
                    .zip(&c.mask[..len])
                    .all(|((b, v), m)| b & m == *v)
            });
            hit != c.negate
        })
    }
}

fn clause(word: &str) -> Result<Clause, ArgError<'_>> {
    let body = word.strip_prefix('!').unwrap_or(word);
    let negate = body.len() != word.len();
    let (offset, rest) = body.split_once('/').ok_or(bad(word, CLAUSE))?;
    let offset = match args::uint(offset) {
        Some(o) if o as usize <= crate::MAX_FRAME_LEN => o as u16,
        _ => {
            return Err(bad(
                word,
                "a Classifier offset is a decimal byte offset from 0 to 1514",
            ))
        }
    };
    let (value, mask) = match rest.split_once('%') {
        Some((v, m)) => (v, Some(m)),
        None => (rest, None),
    };
    if value.is_empty() || value.len() % 2 != 0 {
        return Err(bad(
            word,
            "a Classifier value is an even number of hex digits",
        ));
    }
    if value.len() / 2 > MAX_CLAUSE_BYTES {
        return Err(bad(
            word,
            "a Classifier value is at most 16 bytes (32 hex digits)",
        ));
    }
    if mask.is_some_and(|m| m.len() != value.len()) {
        return Err(bad(
            word,
            "a Classifier mask has as many hex digits as its value",
        ));
    }
    let mut c = Clause {
        offset,
        len: (value.len() / 2) as u8,
        negate,
        value: [0; MAX_CLAUSE_BYTES],
        mask: [0; MAX_CLAUSE_BYTES],
    };
    for (i, nibble) in value.bytes().enumerate() {
        let (v, m) = match nibble {
            b'?' => (0, 0),
            _ => (hex(nibble).ok_or(bad(word, CLAUSE))?, 0xf),
        };
        let shift = if i % 2 == 0 { 4 } else { 0 };
        c.value[i / 2] |= v << shift;
        c.mask[i / 2] |= m << shift;
    }
    if let Some(mask) = mask {
        for (i, nibble) in mask.bytes().enumerate() {
            let m = hex(nibble).ok_or(bad(word, "a Classifier mask is hex digits"))?;
            let shift = if i % 2 == 0 { 4 } else { 0 };
            c.mask[i / 2] &= (m << shift) | !(0xf << shift);
        }
    }
    for i in 0..MAX_CLAUSE_BYTES {
        c.value[i] &= c.mask[i];
    }
    Ok(c)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier(args: &'static str) -> (Tables, Classifier) {
        let mut t = Tables::new();
        let c = t.parse(args).unwrap();
        (t, c)
    }

    #[test]
    fn first_matching_pattern_wins_and_no_match_is_none() {
        let (t, c) = classifier("12/0800, 12/0806 20/0001, -");
        let mut ipv4 = [0u8; 60];
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(t.classify(c, &ipv4), Some(0));
        let mut arp = [0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(t.classify(c, &arp), Some(2), "ARP reply: opcode 2, not 1");
        arp[20..22].copy_from_slice(&[0x00, 0x01]);
        assert_eq!(t.classify(c, &arp), Some(1));
        let (t, c) = classifier("12/0800");
        assert_eq!(t.classify(c, &arp), None);
    }

    #[test]
    fn truncated_packets_fail_clauses_and_negation_flips_them() {
        let (t, c) = classifier("12/0800, !12/0800");
        assert_eq!(t.classify(c, &[0u8; 13]), Some(1));
        assert_eq!(t.classify(c, &[]), Some(1));
        let mut f = [0u8; 14];
        f[12] = 0x08;
        assert_eq!(t.classify(c, &f), Some(0));
    }

    #[test]
    fn masks_and_wildcards() {
        // IPv4 with any header length: high nibble 4.
        let (t, c) = classifier("14/4?, 14/40%f0");
        assert_eq!(t.classify(c, &[0; 14]), None);
        let mut f = [0u8; 15];
        f[14] = 0x45;
        assert_eq!(t.classify(c, &f), Some(0));
        let (t, c) = classifier("14/40%f0");
        assert_eq!(t.classify(c, &f), Some(0));
        f[14] = 0x65;
        assert_eq!(t.classify(c, &f), None);
        // Upper-case hex is hex too.
        let (t, c) = classifier("0/ABcd");
        assert_eq!(t.classify(c, &[0xab, 0xcd]), Some(0));
    }

    #[test]
    fn bad_clauses_are_refused_with_the_offending_word() {
        let mut t = Tables::new();
        for (args, at) in [
            ("12/08g0", "12/08g0"),
            ("12/080", "12/080"),
            ("12/", "12/"),
            ("12", "12"),
            ("x/0800", "x/0800"),
            ("1515/00", "1515/00"),
            ("12/0800%ff", "12/0800%ff"),
            ("12/0800%fz00", "12/0800%fz00"),
            ("12/0800 - ", "-"),
            (
                "0/000000000000000000000000000000000000",
                "0/000000000000000000000000000000000000",
            ),
            ("12/0800, ", ""),
        ] {
            let e = t.parse(args).unwrap_err();
            assert_eq!(e.at, at, "{args}");
            assert!(matches!(e.kind, ErrorKind::BadArgument(_)), "{args}");
        }
        assert!(t.parse("").is_err());
    }

    #[test]
    fn capacities_are_enforced() {
        let mut t = Tables::new();
        let seventeen = "-, -, -, -, -, -, -, -, -, -, -, -, -, -, -, -, -";
        assert!(matches!(
            t.parse(seventeen).unwrap_err().kind,
            ErrorKind::BadArgument(_)
        ));
        let mut t = Tables::new();
        let sixteen = "-, -, -, -, -, -, -, -, -, -, -, -, -, -, -, -";
        t.parse(sixteen).unwrap();
        t.parse(sixteen).unwrap();
        assert!(matches!(
            t.parse("-").unwrap_err().kind,
            ErrorKind::TableFull(_)
        ));
    }
}
