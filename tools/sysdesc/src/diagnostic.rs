//! Diagnostics: what a pass found, where, and how bad it is.
//!
//! Every pass (configuration loading, SDF parsing, each semantic check, the
//! Microkit tool's verdict) pushes typed [`DiagnosticKind`]s into one
//! [`Diagnostics`] collection; nothing is printed until all passes ran. A
//! message states the rule, quotes the value, names the element, and the
//! rendered diagnostic ends with `file:line:col` when there is one. Only the
//! command line adds the `error:` / `warning:` / `note:` prefix.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::check::blobs::BlobIssue;
use crate::check::checkpoint::CheckpointIssue;
use crate::check::isolation::IsolationIssue;
use crate::check::layout::LayoutIssue;
use crate::check::limits::LimitIssue;
use crate::check::priority::PriorityIssue;
use crate::check::schedule::ScheduleIssue;
use crate::check::symbols::SymbolIssue;
use crate::config::ConfigIssue;
use crate::microkit::MicrokitIssue;
use crate::parse_sdf::SdfIssue;

/// A 1-based line and column in the file a model was read or generated from.
///
/// Spans never take part in equality: two models are equal when they describe
/// the same system, wherever each was written. Line 0 means "unknown".
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

impl Span {
    /// A span for something that has no position (a default value, say).
    pub const UNKNOWN: Span = Span { line: 0, col: 0 };

    /// The span at a byte `offset` into `text` (clamped to the text).
    pub fn at_offset(text: &str, offset: usize) -> Span {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Span {
            line: clamp_u32(line),
            col: clamp_u32(col),
        }
    }

    /// Whether the span points somewhere.
    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

/// A span in a named file: what a rendered diagnostic ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as it was named on the command line.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// How bad a diagnostic is. Only errors make `check` and `build` fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The system is wrong or would be rejected.
    Error,
    /// Suspicious, or something sysdesc does not model and so did not check.
    Warning,
    /// A check that was skipped, and why.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// What was found, by the pass that found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// The TOML configuration (syntax, shape, impossible values).
    Config(ConfigIssue),
    /// The XML system description (syntax, elements, attributes).
    Sdf(SdfIssue),
    /// CPU utilisation per core.
    Schedule(ScheduleIssue),
    /// sDDF priority order and protected procedure call direction.
    Priority(PriorityIssue),
    /// Tenant isolation.
    Isolation(IsolationIssue),
    /// Limits the Microkit tool or the kernel impose.
    Limit(LimitIssue),
    /// Address-space layout inside each PD.
    Layout(LayoutIssue),
    /// Setvar symbols against the program images.
    Symbol(SymbolIssue),
    /// Configuration blobs against the maps.
    Blob(BlobIssue),
    /// Template checkpoints against their image regions.
    Checkpoint(CheckpointIssue),
    /// The Microkit tool itself.
    Microkit(MicrokitIssue),
    /// An output file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// The reason, from the operating system.
        reason: String,
    },
}

impl DiagnosticKind {
    /// How bad this is.
    pub fn severity(&self) -> Severity {
        match self {
            DiagnosticKind::Config(i) => i.severity(),
            DiagnosticKind::Sdf(i) => i.severity(),
            DiagnosticKind::Priority(i) => i.severity(),
            DiagnosticKind::Layout(i) => i.severity(),
            DiagnosticKind::Symbol(i) => i.severity(),
            DiagnosticKind::Blob(i) => i.severity(),
            DiagnosticKind::Schedule(_)
            | DiagnosticKind::Isolation(_)
            | DiagnosticKind::Limit(_)
            | DiagnosticKind::Checkpoint(_)
            | DiagnosticKind::Microkit(_)
            | DiagnosticKind::Write { .. } => Severity::Error,
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagnosticKind::Config(i) => i.fmt(f),
            DiagnosticKind::Sdf(i) => i.fmt(f),
            DiagnosticKind::Schedule(i) => i.fmt(f),
            DiagnosticKind::Priority(i) => i.fmt(f),
            DiagnosticKind::Isolation(i) => i.fmt(f),
            DiagnosticKind::Limit(i) => i.fmt(f),
            DiagnosticKind::Layout(i) => i.fmt(f),
            DiagnosticKind::Symbol(i) => i.fmt(f),
            DiagnosticKind::Blob(i) => i.fmt(f),
            DiagnosticKind::Checkpoint(i) => i.fmt(f),
            DiagnosticKind::Microkit(i) => i.fmt(f),
            DiagnosticKind::Write { path, reason } => {
                write!(f, "cannot write {}: {reason}", path.display())
            }
        }
    }
}

macro_rules! into_kind {
    ($($issue:ty => $variant:ident),* $(,)?) => {
        $(impl From<$issue> for DiagnosticKind {
            fn from(issue: $issue) -> Self {
                DiagnosticKind::$variant(issue)
            }
        })*
    };
}

into_kind! {
    ConfigIssue => Config,
    SdfIssue => Sdf,
    ScheduleIssue => Schedule,
    PriorityIssue => Priority,
    IsolationIssue => Isolation,
    LimitIssue => Limit,
    LayoutIssue => Layout,
    CheckpointIssue => Checkpoint,
    SymbolIssue => Symbol,
    BlobIssue => Blob,
    MicrokitIssue => Microkit,
}

/// One finding: what, and where (when it has a place in a file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What was found.
    pub kind: DiagnosticKind,
    /// Where, if anywhere.
    pub span: Option<Location>,
}

impl Diagnostic {
    /// How bad this is.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(location) => write!(f, "{} @ {location}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// All diagnostics of one run, about one source file.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    file: Option<PathBuf>,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection whose spans point into `file`.
    pub fn new(file: Option<&Path>) -> Self {
        Diagnostics {
            file: file.map(Path::to_path_buf),
            items: Vec::new(),
        }
    }

    /// The file spans point into.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Records `kind` at `span` in this collection's file (no location when
    /// the span is unknown or there is no file).
    pub fn push(&mut self, kind: impl Into<DiagnosticKind>, span: Span) {
        let span = match (&self.file, span.is_known()) {
            (Some(file), true) => Some(Location {
                file: file.clone(),
                line: span.line,
                col: span.col,
            }),
            _ => None,
        };
        self.items.push(Diagnostic {
            kind: kind.into(),
            span,
        });
    }

    /// Records an already located diagnostic.
    pub fn push_diagnostic(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Moves every diagnostic of `other` into this collection.
    pub fn append(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity() == Severity::Error)
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count()
    }

    /// All diagnostics, in the order they were found.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Whether nothing was found at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            (Span::at_offset(text, 0).line, Span::at_offset(text, 0).col),
            (1, 1)
        );
        let s = Span::at_offset(text, 10);
        assert_eq!((s.line, s.col), (2, 4));
        let end = Span::at_offset(text, 1000);
        assert_eq!(end.line, 3);
        // Inside a multi-byte character: clamped back to its start.
        let mid = Span::at_offset(text, 8);
        assert_eq!((mid.line, mid.col), (2, 2));
    }
}
