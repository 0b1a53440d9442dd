//! The configuration's tokens: names, port numbers, `::`, `->`, `[`, `]`,
//! `;`, and an element's whole parenthesised argument text as one token
//! (each element class parses its own arguments, as in Click).

use crate::error::{ConfigError, ErrorKind, Source};

/// One token; every slice is a slice of the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'s> {
    /// `[A-Za-z_][A-Za-z0-9_]*`
    Ident(&'s str),
    /// `[0-9]+` (inside port brackets)
    Number(&'s str),
    /// `::`
    Declare,
    /// `->`
    Arrow,
    /// `[`
    Open,
    /// `]`
    Close,
    /// `;`
    Semi,
    /// `( ... )`: the text between the parentheses.
    Args(&'s str),
    /// The end of the text.
    End,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub at: usize,
}

impl Token<'_> {
    /// The token's text, for quoting it in an error.
    pub fn text<'a>(&self, src: &Source<'a>) -> &'a str {
        let t = src.text;
        let len = match self.tok {
            Tok::Ident(s) | Tok::Number(s) => s.len(),
            Tok::Declare | Tok::Arrow => 2,
            Tok::Open | Tok::Close | Tok::Semi => 1,
            Tok::Args(inner) => inner.len() + 2,
            Tok::End => 0,
        };
        t.get(self.at..self.at + len).unwrap_or("")
    }
}

/// Longest nesting of parentheses inside one element's arguments.
///
/// IPFilter expressions are the only arguments that nest; 8 levels is more
/// than any rule needs, and the bound keeps a hostile configuration from
/// costing more than a linear scan.
pub(crate) const MAX_ARG_NESTING: usize = 32;

pub(crate) struct Lexer<'s> {
    src: Source<'s>,
    i: usize,
}

impl<'s> Lexer<'s> {
    pub fn new(src: Source<'s>) -> Self {
        Self { src, i: 0 }
    }

    fn err(&self, at: usize, len: usize, kind: ErrorKind) -> ConfigError {
        let end = (at + len).min(self.src.text.len());
        let mut e = end;
        while !self.src.text.is_char_boundary(e) {
            e += 1;
        }
        self.src
            .error(at, kind, self.src.text.get(at..e).unwrap_or(""), "")
    }

    /// Skips whitespace and comments; an unterminated `/*` is an error.
    fn skip_blank(&mut self) -> Result<(), ConfigError> {
        let b = self.src.text.as_bytes();
        loop {
            while self.i < b.len() && b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if b.get(self.i) == Some(&b'/') && b.get(self.i + 1) == Some(&b'/') {
                while self.i < b.len() && b[self.i] != b'\n' {
                    self.i += 1;
                }
            } else if b.get(self.i) == Some(&b'/') && b.get(self.i + 1) == Some(&b'*') {
                let start = self.i;
                self.i += 2;
                loop {
                    if self.i + 1 >= b.len() {
                        return Err(self.err(start, 2, ErrorKind::Syntax("unterminated comment")));
                    }
                    if b[self.i] == b'*' && b[self.i + 1] == b'/' {
                        self.i += 2;
                        break;
                    }
                    self.i += 1;
                }
            } else {
                return Ok(());
            }
        }
    }

    pub fn next(&mut self) -> Result<Token<'s>, ConfigError> {
        self.skip_blank()?;
        let t = self.src.text;
        let b = t.as_bytes();
        let at = self.i;
        let Some(&c) = b.get(at) else {
            return Ok(Token { tok: Tok::End, at });
        };
        let (tok, len) = match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let mut end = at + 1;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                (Tok::Ident(&t[at..end]), end - at)
            }
            b'0'..=b'9' => {
                let mut end = at + 1;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                (Tok::Number(&t[at..end]), end - at)
            }
            b':' if b.get(at + 1) == Some(&b':') => (Tok::Declare, 2),
            b'-' if b.get(at + 1) == Some(&b'>') => (Tok::Arrow, 2),
            b'[' => (Tok::Open, 1),
            b']' => (Tok::Close, 1),
            b';' => (Tok::Semi, 1),
            b'(' => {
                let end = self.args_end(at)?;
                (Tok::Args(&t[at + 1..end]), end + 1 - at)
            }
            b')' => return Err(self.err(at, 1, ErrorKind::Syntax("unbalanced \")\""))),
            b'{' | b'}' | b'=' | b'.' => {
                return Err(self.err(
                    at,
                    1,
                    ErrorKind::Syntax("expected an element, \"->\", \"::\", \"[\" or \";\" (compound elements are not supported)"),
                ))
            }
            _ => {
                return Err(self.err(
                    at,
                    1,
                    ErrorKind::Syntax("expected an element, \"->\", \"::\", \"[\" or \";\""),
                ))
            }
        };
        self.i = at + len;
        Ok(Token { tok, at })
    }

    pub fn peek(&mut self) -> Result<Token<'s>, ConfigError> {
        let save = self.i;
        let t = self.next();
        self.i = save;
        t
    }

    /// The index of the `)` matching the `(` at `open`, skipping quoted
    /// strings and comments.
    fn args_end(&self, open: usize) -> Result<usize, ConfigError> {
        let b = self.src.text.as_bytes();
        let mut depth = 0usize;
        let mut i = open;
        while i < b.len() {
            match b[i] {
                b'(' => {
                    depth += 1;
                    if depth > MAX_ARG_NESTING {
                        return Err(self.err(
                            i,
                            1,
                            ErrorKind::Syntax("parentheses nested too deeply"),
                        ));
                    }
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    if i >= b.len() {
                        return Err(self.err(start, 1, ErrorKind::Syntax("unterminated string")));
                    }
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    let start = i;
                    i += 2;
                    while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                        i += 1;
                    }
                    if i + 1 >= b.len() {
                        return Err(self.err(start, 2, ErrorKind::Syntax("unterminated comment")));
                    }
                    i += 1;
                }
                _ => {}
            }
            i += 1;
        }
        Err(self.err(
            open,
            1,
            ErrorKind::Syntax("unbalanced \"(\": no matching \")\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn toks(text: &str) -> Result<Vec<Tok<'_>>, ConfigError> {
        let mut lx = Lexer::new(Source { text });
        let mut v = Vec::new();
        loop {
            let t = lx.next()?;
            if t.tok == Tok::End {
                return Ok(v);
            }
            v.push(t.tok);
        }
    }

    #[test]
    fn statements_become_tokens_and_arguments_stay_whole() {
        assert_eq!(
            toks("c :: Classifier(12/0800, -); // x\nc[1] -> [0]d;").unwrap(),
            [
                Tok::Ident("c"),
                Tok::Declare,
                Tok::Ident("Classifier"),
                Tok::Args("12/0800, -"),
                Tok::Semi,
                Tok::Ident("c"),
                Tok::Open,
                Tok::Number("1"),
                Tok::Close,
                Tok::Arrow,
                Tok::Open,
                Tok::Number("0"),
                Tok::Close,
                Tok::Ident("d"),
                Tok::Semi,
            ]
        );
        assert_eq!(
            toks("f :: IPFilter(allow (tcp || udp) /* ) */, deny all)").unwrap()[3],
            Tok::Args("allow (tcp || udp) /* ) */, deny all")
        );
    }

    #[test]
    fn lexical_errors_point_at_the_offending_character() {
        let e = toks("a :: Counter;\n  b :: Strip(14;").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(
            e.kind,
            ErrorKind::Syntax("unbalanced \"(\": no matching \")\"")
        );
        let e = toks("a /* never closed").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
        let e = toks("a -> b } ;").unwrap_err();
        assert_eq!((e.line, e.column, e.value.as_str()), (1, 8, "}"));
        let e = toks("x :: Counter(\"a)").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax("unterminated string"));
        let e = toks("é").unwrap_err();
        assert_eq!(e.value.as_str(), "é");
    }
}
