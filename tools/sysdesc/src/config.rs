//! The TOML configuration (`system.toml`) the generator reads.
//!
//! Every table rejects unknown fields. Loading never panics: syntax errors,
//! unknown or missing fields, wrong types and impossible values all become
//! [`ConfigIssue`] diagnostics with the file, line and column of the field
//! (see `tools/sysdesc/README.md` for every field and its default).

mod spans;
mod types;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use spans::SpanIndex;
pub use types::{
    Config, DriverConfig, Ipv4Cidr, MacAddr, MuxConfig, Network, Overflow, Protocol, Rings, Service,
    Spawn, Template, MAX_STORE_MB, memcached_memory_size,
};

use crate::boards::{self, Board, UnknownBoard};
use crate::diagnostic::{Diagnostics, Severity, Span};

/// What can be wrong with a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigIssue {
    /// The file could not be read.
    Read {
        /// The reason, from the operating system.
        reason: String,
    },
    /// Not TOML, or not the configuration's shape: unknown field, missing
    /// field, wrong type, or a value its type rejects.
    Invalid {
        /// The field the error is in, when it could be found (`templates[0].priority`).
        field: Option<String>,
        /// The TOML parser's message.
        message: String,
    },
    /// `board` names a board sysdesc has no table for.
    UnknownBoard(UnknownBoard),
    /// A Click template's configuration file cannot be read, or the Click
    /// parser refuses it (`message` names its file, line and column).
    Click {
        /// The template.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// A value that no system can have.
    Impossible {
        /// The rule it breaks.
        rule: String,
        /// The field (`rings.buffer_size`).
        field: String,
        /// The value as written.
        value: String,
    },
}

impl ConfigIssue {
    /// All configuration issues are errors.
    pub fn severity(&self) -> Severity {
        Severity::Error
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigIssue::Read { reason } => write!(f, "cannot read the configuration: {reason}"),
            ConfigIssue::Invalid {
                field: Some(field),
                message,
            } => {
                write!(f, "invalid configuration: {message} (field `{field}`)")
            }
            ConfigIssue::Invalid {
                field: None,
                message,
            } => {
                write!(f, "invalid configuration: {message}")
            }
            ConfigIssue::UnknownBoard(e) => write!(f, "{e}"),
            ConfigIssue::Click { template, message } => write!(f, "template '{template}': {message}"),
            ConfigIssue::Impossible { rule, field, value } => {
                write!(f, "{rule}: `{field}` = {value}")
            }
        }
    }
}

/// A configuration that parsed, with its board and the position of every field.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Its board.
    pub board: &'static Board,
    /// Where each field was written.
    pub spans: SpanIndex,
    /// Each Click template's configuration text, by template name: read by
    /// [`load`] from the file its `click` names (relative to the
    /// configuration's directory) and checked with the parser the FWPs run.
    pub click: BTreeMap<String, String>,
}

/// Largest number of FWP slots a configuration may ask for: Microkit allows
/// 63 PDs in all (`MAX_PDS`), so more slots can never be built. The precise
/// limits (PD count with the driver and the mux, ids up to 61) are checked on
/// the generated model, with their figures.
pub const MAX_SLOTS: u64 = 63;

/// Reads and parses the configuration at `path`, recording problems in
/// `diags`. `None` when nothing can be generated from it.
pub fn load(path: &Path, diags: &mut Diagnostics) -> Option<Loaded> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => parse(&text, diags).and_then(|loaded| {
                read_click(loaded, path.parent().unwrap_or(Path::new(".")), diags)
            }),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let issue = ConfigIssue::Invalid {
                    field: None,
                    message: "the file is not UTF-8 text".to_string(),
                };
                diags.push(issue, Span::at_offset(&text, offset));
                None
            }
        },
        Err(e) => {
            diags.push(
                ConfigIssue::Read {
                    reason: e.to_string(),
                },
                Span::UNKNOWN,
            );
            None
        }
    }
}

/// Reads and checks every Click template's configuration file (relative
/// to `dir`, the configuration's directory), with the parser its FWPs run:
/// a broken graph never reaches an image. `None` when one fails.
fn read_click(mut loaded: Loaded, dir: &Path, diags: &mut Diagnostics) -> Option<Loaded> {
    let mut ok = true;
    for (i, t) in loaded.config.templates.iter().enumerate() {
        let Some(file) = &t.click else { continue };
        let path = dir.join(file);
        let checked = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read its Click configuration {}: {e}", path.display()))
            .and_then(|text| match edgeos_click::check(&text) {
                Ok(_) => Ok(text),
                Err(e) => Err(format!("Click configuration: {}", e.in_file(&path.display().to_string()))),
            });
        match checked {
            Ok(text) => {
                loaded.click.insert(t.name.clone(), text);
            }
            Err(message) => {
                ok = false;
                let span = loaded.spans.get(&format!("templates[{i}].click"));
                diags.push(ConfigIssue::Click { template: t.name.clone(), message }, span);
            }
        }
    }
    ok.then_some(loaded)
}

/// Parses configuration text, recording problems in `diags` (whose file is
/// the one spans refer to). `None` when nothing can be generated from it.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<Loaded> {
    let spans = match SpanIndex::build(text) {
        Ok(spans) => spans,
        Err(e) => {
            let span = e
                .span()
                .map_or(Span::UNKNOWN, |r| Span::at_offset(text, r.start));
            diags.push(
                ConfigIssue::Invalid {
                    field: None,
                    message: clean(e.message()),
                },
                span,
            );
            return None;
        }
    };
    let config: Config = match toml::from_str(text) {
        Ok(config) => config,
        Err(e) => {
            let (field, span) = match e.span() {
                Some(r) => (spans.field_at(r.clone()), Span::at_offset(text, r.start)),
                None => (None, Span::UNKNOWN),
            };
            diags.push(
                ConfigIssue::Invalid {
                    field,
                    message: clean(e.message()),
                },
                span,
            );
            return None;
        }
    };
    let board = match boards::board(&config.board) {
        Ok(board) => board,
        Err(e) => {
            diags.push(ConfigIssue::UnknownBoard(e), spans.get("board"));
            return None;
        }
    };
    let usable = validate::validate(&config, &spans, diags);
    usable.then_some(Loaded {
        config,
        board,
        spans,
        click: BTreeMap::new(),
    })
}

/// The TOML parser's message on one line.
fn clean(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let mut diags = Diagnostics::new(Some(Path::new("t.toml")));
        let loaded = parse(text, &mut diags);
        assert!(loaded.is_none() || diags.has_errors());
        diags.items().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unknown_field_names_field_and_line() {
        let e = errors("[driver]\npriority = 1\nbudget = 1\nperiod = 1\nprio = 3\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("invalid configuration: unknown field `prio`"),
            "{}",
            e[0]
        );
        assert!(e[0].ends_with("@ t.toml:5:1"), "{}", e[0]);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = errors("[driver]\npriority = \"high\"\n");
        assert!(e[0].contains("(field `driver.priority`)"), "{}", e[0]);
        assert!(e[0].ends_with("t.toml:2:12"), "{}", e[0]);
    }
}
