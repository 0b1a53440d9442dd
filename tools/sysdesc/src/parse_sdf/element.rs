//! One XML element's attributes, read the way the Microkit tool reads them.

use super::{Node, SdfIssue};
use crate::diagnostic::{Diagnostics, Span};

/// An element being read: its attributes are checked against allow-lists
/// when it is opened, and every bad value is reported as it is read.
pub(super) struct Element<'p, 'd, 'input> {
    node: Node<'d, 'input>,
    /// Where the element starts.
    pub span: Span,
    diags: &'p mut Diagnostics,
}

impl<'p, 'd, 'input> Element<'p, 'd, 'input> {
    /// Opens `node`: attributes in `known` are read later; those in
    /// `unmodelled` (accepted by the Microkit tool, ignored by sysdesc) give a
    /// warning; any other attribute is an error.
    pub fn new(
        node: Node<'d, 'input>,
        span: Span,
        diags: &'p mut Diagnostics,
        known: &[&str],
        unmodelled: &[&str],
    ) -> Self {
        let element = node.tag_name().name().to_string();
        for attr in node.attributes() {
            let name = attr.name();
            if known.contains(&name) {
                continue;
            }
            let issue = if unmodelled.contains(&name) {
                SdfIssue::NotModelled {
                    element: element.clone(),
                    what: format!("attribute '{name}'"),
                }
            } else {
                SdfIssue::UnknownAttribute {
                    element: element.clone(),
                    attribute: name.to_string(),
                }
            };
            diags.push(issue, span);
        }
        Element { node, span, diags }
    }

    fn tag(&self) -> String {
        self.node.tag_name().name().to_string()
    }

    /// Reports `value` of `attribute` as not being `expected`.
    pub fn bad(&mut self, attribute: &str, value: &str, expected: &'static str) {
        let issue = SdfIssue::BadValue {
            element: self.tag(),
            attribute: attribute.to_string(),
            value: value.to_string(),
            expected,
        };
        self.diags.push(issue, self.span);
    }

    /// An optional string attribute.
    pub fn str(&mut self, attribute: &str) -> Option<String> {
        self.node.attribute(attribute).map(str::to_string)
    }

    /// A required string attribute.
    pub fn required_str(&mut self, attribute: &str) -> Option<String> {
        let value = self.str(attribute);
        if value.is_none() {
            let issue = SdfIssue::Missing {
                element: self.tag(),
                what: format!("attribute '{attribute}'"),
            };
            self.diags.push(issue, self.span);
        }
        value
    }

    fn parsed(
        &mut self,
        attribute: &str,
        required: bool,
        parse: fn(&str) -> Option<u64>,
        expected: &'static str,
    ) -> Option<u64> {
        let raw = if required {
            self.required_str(attribute)
        } else {
            self.str(attribute)
        }?;
        let value = parse(&raw);
        if value.is_none() {
            self.bad(attribute, &raw, expected);
        }
        value
    }

    /// An optional number, decimal or `0x` hex, `_` allowed (the Microkit
    /// tool's `sdf_parse_number`).
    pub fn number(&mut self, attribute: &str) -> Option<u64> {
        self.parsed(attribute, false, parse_number, NUMBER)
    }

    /// A required number, as [`Element::number`].
    pub fn required_number(&mut self, attribute: &str) -> Option<u64> {
        self.parsed(attribute, true, parse_number, NUMBER)
    }

    /// A required plain decimal number: the Microkit tool parses channel and
    /// irq ids and irq numbers with `str::parse(..).unwrap()`, so anything
    /// else (hex, `_`, a typo) makes it panic.
    pub fn required_decimal(&mut self, attribute: &str) -> Option<u64> {
        self.parsed(attribute, true, parse_decimal, DECIMAL)
    }

    /// An optional `true`/`false`.
    pub fn bool(&mut self, attribute: &str) -> Option<bool> {
        let raw = self.str(attribute)?;
        match raw.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.bad(attribute, &raw, "'true' or 'false'");
                None
            }
        }
    }
}

const NUMBER: &str = "a non-negative integer, decimal or 0x hex";
const DECIMAL: &str =
    "a decimal integer (the Microkit tool parses it without hex or '_' and panics on anything else)";

/// Decimal or `0x` hex, with `_` separators.
pub(super) fn parse_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().filter(|c| *c != '_').collect();
    match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => digits.parse().ok(),
    }
}

/// Plain decimal digits only.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1_000"), Some(0x1000));
        assert_eq!(parse_number("4_096"), Some(4096));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_decimal("12"), Some(12));
        assert_eq!(parse_decimal("+12"), None);
        assert_eq!(parse_decimal("0x1"), None);
    }
}
