//! Where each field of a TOML document was written.
//!
//! The serde types stay plain; this index, built from the same text with
//! toml's span-keeping parser, answers "which line is `templates[0].slots`
//! on" for diagnostics, and "which field is at this offset" for the
//! deserialiser's errors.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::Span;

/// One field: its dotted path, and the byte ranges of its key and value.
#[derive(Clone, Debug)]
struct Entry {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

/// The positions of every key and value in a TOML document.
#[derive(Clone, Debug, Default)]
pub struct SpanIndex {
    text: String,
    entries: Vec<Entry>,
}

impl SpanIndex {
    /// Indexes `text`; the TOML parser's error if it is not TOML.
    pub fn build(text: &str) -> Result<SpanIndex, toml::de::Error> {
        let root = DeTable::parse(text)?;
        let mut entries = Vec::new();
        walk_table("", root.get_ref(), &mut entries);
        Ok(SpanIndex {
            text: text.to_string(),
            entries,
        })
    }

    /// The span of the field at `path` (`templates[0].slots`). A field that
    /// was not written (it took its default) gets the span of the nearest
    /// enclosing table that was; the whole document's start otherwise.
    pub fn get(&self, path: &str) -> Span {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return Span::at_offset(&self.text, e.key.start);
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => return Span { line: 1, col: 1 },
            }
        }
    }

    /// The innermost field whose key or value covers the byte range `span`
    /// (a deserialiser error's span: a key, a value, or the table missing a
    /// field); `None` for the document itself.
    pub fn field_at(&self, span: Range<usize>) -> Option<String> {
        let covers = |r: &Range<usize>| r.start <= span.start && span.end <= r.end;
        self.entries
            .iter()
            .filter(|e| covers(&e.key) || covers(&e.value))
            .min_by_key(|e| {
                if covers(&e.key) {
                    e.key.len()
                } else {
                    e.value.len()
                }
            })
            .map(|e| e.path.clone())
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(prefix: &str, table: &DeTable<'_>, out: &mut Vec<Entry>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        walk_value(path, key.span(), value, out);
    }
}

fn walk_value(path: String, key: Range<usize>, value: &Spanned<DeValue<'_>>, out: &mut Vec<Entry>) {
    out.push(Entry {
        path: path.clone(),
        key,
        value: value.span(),
    });
    match value.get_ref() {
        DeValue::Table(t) => walk_table(&path, t, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(format!("{path}[{i}]"), item.span(), item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "board = \"x\"\n\n[driver]\npriority = 1\n\n[[templates]]\nname = \"a\"\nslots = 2\n\n[[templates]]\nname = \"b\"\n";

    #[test]
    fn paths_resolve_to_lines() {
        let idx = SpanIndex::build(DOC).unwrap();
        assert_eq!(idx.get("board").line, 1);
        assert_eq!(idx.get("driver.priority").line, 4);
        assert_eq!(idx.get("templates[0].slots").line, 8);
        assert_eq!(idx.get("templates[1].name").line, 11);
        // Not written: falls back to the enclosing table.
        assert_eq!(
            idx.get("templates[1].slots").line,
            idx.get("templates[1]").line
        );
        assert_eq!(idx.get("rings.buffer_size").line, 1);
    }

    #[test]
    fn offsets_resolve_to_fields() {
        let idx = SpanIndex::build(DOC).unwrap();
        let at = DOC.find("2\n").unwrap();
        assert_eq!(
            idx.field_at(at..at + 1).as_deref(),
            Some("templates[0].slots")
        );
        assert_eq!(idx.field_at(0..DOC.len()), None);
    }
}
