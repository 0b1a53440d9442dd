//! Element arguments: the text between an element's parentheses, split at
//! top-level commas (Click's rule), and the words inside each argument.
//!
//! Everything here returns slices of the configuration text, so an error
//! about any of them can point at its exact line and column.

use crate::error::ErrorKind;

/// An element's arguments are wrong: the offending text (a slice of the
/// configuration, possibly empty) and the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArgError<'s> {
    pub at: &'s str,
    pub kind: ErrorKind,
}

/// A [`ErrorKind::BadArgument`] at `at`.
pub(crate) fn bad<'s>(at: &'s str, expected: &'static str) -> ArgError<'s> {
    ArgError {
        at,
        kind: ErrorKind::BadArgument(expected),
    }
}

/// The arguments in `inner` (the text between the parentheses, which the
/// lexer already found balanced): split at commas outside nested
/// parentheses, quotes and comments, each trimmed of whitespace and
/// comments. `Foo()` has no arguments; `Foo(a,)` has an empty second one.
pub(crate) fn split(inner: &str) -> Args<'_> {
    Args {
        rest: Some(inner),
        first: true,
    }
}

/// Iterator over the arguments of one element (see [`split`]).
pub(crate) struct Args<'s> {
    rest: Option<&'s str>,
    first: bool,
}

impl<'s> Iterator for Args<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        let rest = self.rest?;
        if self.first {
            self.first = false;
            if trim(rest).is_empty() {
                self.rest = None;
                return None;
            }
        }
        let end = top_level_comma(rest);
        match end {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(trim(&rest[..i]))
            }
            None => {
                self.rest = None;
                Some(trim(rest))
            }
        }
    }
}

/// Byte index of the first comma outside parentheses, quotes and comments.
fn top_level_comma(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// `s` from its first word to the end of its last (whitespace and comments
/// around it removed); an empty slice at the end of `s` when it has none.
pub(crate) fn trim(s: &str) -> &str {
    let mut words = words(s);
    let Some(first) = words.next() else {
        return &s[s.len()..];
    };
    let last = words.last().unwrap_or(first);
    let start = first.as_ptr() as usize - s.as_ptr() as usize;
    let end = last.as_ptr() as usize - s.as_ptr() as usize + last.len();
    &s[start..end]
}

/// The whitespace-separated words of `s`, comments (`// ...` to the end of
/// the line, `/* ... */`) skipped.
pub(crate) fn words(s: &str) -> Words<'_> {
    Words { s, i: 0 }
}

/// Iterator over words (see [`words`]).
#[derive(Clone)]
pub(crate) struct Words<'s> {
    s: &'s str,
    i: usize,
}

impl<'s> Words<'s> {
    /// The rest of the text after the words consumed so far.
    pub fn rest(&self) -> &'s str {
        &self.s[self.i..]
    }
}

fn comment_at(b: &[u8], i: usize) -> bool {
    b[i] == b'/' && matches!(b.get(i + 1), Some(b'/' | b'*'))
}

/// Index just past the whitespace and comments starting at `i`.
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
        } else {
            break;
        }
    }
    i
}

impl<'s> Iterator for Words<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        let b = self.s.as_bytes();
        let start = skip_blank(b, self.i);
        let mut end = start;
        while end < b.len() && !b[end].is_ascii_whitespace() && !comment_at(b, end) {
            end += 1;
        }
        self.i = end;
        // Words end only at ASCII bytes, so both ends are character boundaries.
        (end > start).then(|| &self.s[start..end])
    }
}

/// A decimal number of at most 10 digits that fits a `u32`: digits only, no sign.
pub(crate) fn uint(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A Click boolean: `true`/`false`, `yes`/`no`, `1`/`0`.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    match s {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A keyword argument `KEYWORD value`: an all-capitals first word (Click's
/// convention) and the rest of the argument.
pub(crate) fn keyword(arg: &str) -> Option<(&str, &str)> {
    let mut w = words(arg);
    let kw = w.next()?;
    if !kw.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return None;
    }
    Some((kw, trim(w.rest())))
}

/// An IPv4 address in dotted quad form.
pub(crate) fn ipv4(s: &str) -> Option<core::net::Ipv4Addr> {
    // core's parser accepts exactly four decimal octets.
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn all(inner: &str) -> Vec<&str> {
        split(inner).collect()
    }

    #[test]
    fn arguments_split_at_top_level_commas_only() {
        assert_eq!(all(""), Vec::<&str>::new());
        assert_eq!(all("  "), Vec::<&str>::new());
        assert_eq!(all("a"), ["a"]);
        assert_eq!(all(" a , b c ,d"), ["a", "b c", "d"]);
        assert_eq!(
            all("allow (tcp, udp), deny all"),
            ["allow (tcp, udp)", "deny all"]
        );
        assert_eq!(all("\"x,y\", z"), ["\"x,y\"", "z"]);
        assert_eq!(all("a // one, two\n, b"), ["a", "b"]);
        assert_eq!(all("a /* , */ b, c"), ["a /* , */ b", "c"]);
        assert_eq!(all("a,"), ["a", ""]);
        assert_eq!(all(", a"), ["", "a"]);
    }

    #[test]
    fn words_skip_comments_and_stop_at_them() {
        let w: Vec<&str> = words("12/0800 // ip\n /* x */ - 14/45//v4").collect();
        assert_eq!(w, ["12/0800", "-", "14/45"]);
        assert_eq!(trim("  /* a */ b c // d"), "b c");
        assert_eq!(trim(" // only a comment"), "");
        let w = words("/* unterminated");
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn numbers_are_plain_decimal() {
        assert_eq!(uint("0"), Some(0));
        assert_eq!(uint("4294967295"), Some(u32::MAX));
        assert_eq!(uint("4294967296"), None);
        assert_eq!(uint("+1"), None);
        assert_eq!(uint("0x10"), None);
        assert_eq!(uint(""), None);
        assert_eq!(uint("12345678901"), None);
    }

    #[test]
    fn keywords_are_capitalised_first_words() {
        assert_eq!(keyword("CHECKSUM false"), Some(("CHECKSUM", "false")));
        assert_eq!(keyword("checksum false"), None);
        assert_eq!(keyword("14"), None);
    }
}
