//! The test spec: a TOML file saying what the console must print, in order,
//! and how long each line may take.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

/// Everything that can be wrong with a spec file. Each variant names the file
/// so that a CI log pointing at a failed run says which spec to fix.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("spec {path}: cannot read: {source}")]
    Read {
        /// The spec file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the spec's shape (this
    /// includes unknown fields, which are rejected so that a typo such as
    /// `within_sec` cannot silently drop a deadline).
    #[error("spec {path}: {message}")]
    Parse {
        /// The spec file.
        path: PathBuf,
        /// The TOML parser's explanation, with line and column.
        message: String,
    },
    /// An expectation's pattern is not a valid regex.
    #[error("spec {path}: expectation #{number} ({description:?}): invalid pattern: {source}")]
    Pattern {
        /// The spec file.
        path: PathBuf,
        /// 1-based position of the expectation in the file.
        number: usize,
        /// The expectation's description.
        description: String,
        /// The regex compiler's explanation.
        source: Box<regex::Error>,
    },
    /// A value parsed but makes no sense (no expectations, a zero deadline, ...).
    #[error("spec {path}: {message}")]
    Invalid {
        /// The spec file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The spec file exactly as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    timeout_secs: f64,
    #[serde(default)]
    fail_on: Vec<String>,
    #[serde(default)]
    expect: Vec<RawExpectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    description: String,
    pattern: String,
    within_secs: Option<f64>,
}

/// A validated spec, ready to match console lines against.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Name of the test, for the report; defaults to the file's stem.
    pub name: String,
    /// Deadline for the whole run, counted from when the command starts.
    pub timeout: Duration,
    /// Substrings that fail the run as soon as any console line contains one.
    pub fail_on: Vec<String>,
    /// What the console must print, in order.
    pub expect: Vec<Expectation>,
}

/// One line the console must print.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Human-readable name used in the report.
    pub description: String,
    /// Matched against each console line with its line ending removed.
    pub pattern: Regex,
    /// Deadline counted from when the previous expectation passed (or from
    /// the start for the first one); `None` leaves only the run's deadline.
    pub within: Option<Duration>,
}

impl Spec {
    /// Reads and validates the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Spec::parse(&text, path)
    }

    /// Parses and validates spec text; `path` is only used to name the file
    /// in errors and to default the name.
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| SpecError::Parse {
            path: path.to_owned(),
            // toml's message spans several lines (it quotes the offending
            // source); trimming keeps the error from ending in a blank line.
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |message: String| SpecError::Invalid {
            path: path.to_owned(),
            message,
        };
        let timeout =
            seconds(raw.timeout_secs).map_err(|why| invalid(format!("timeout_secs {why}")))?;
        if raw.expect.is_empty() {
            return Err(invalid(
                "no [[expect]] entries: a spec that expects nothing would always pass".into(),
            ));
        }
        if let Some(empty) = raw.fail_on.iter().position(String::is_empty) {
            return Err(invalid(format!(
                "fail_on[{empty}] is empty, which would match every line"
            )));
        }
        let expect = raw
            .expect
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                let number = index + 1;
                let pattern = Regex::new(&e.pattern).map_err(|source| SpecError::Pattern {
                    path: path.to_owned(),
                    number,
                    description: e.description.clone(),
                    source: Box::new(source),
                })?;
                let within = e.within_secs.map(seconds).transpose().map_err(|why| {
                    invalid(format!(
                        "expectation #{number} ({:?}): within_secs {why}",
                        e.description
                    ))
                })?;
                Ok(Expectation {
                    description: e.description,
                    pattern,
                    within,
                })
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "qemu-test".into())
        });
        Ok(Spec {
            name,
            timeout,
            fail_on: raw.fail_on,
            expect,
        })
    }
}

/// Turns a seconds value from the file into a deadline, refusing values that
/// would make a deadline meaningless (zero, negative, NaN, infinite).
fn seconds(value: f64) -> Result<Duration, String> {
    if value.is_nan() || value <= 0.0 {
        return Err(format!("must be a positive number of seconds, got {value}"));
    }
    Duration::try_from_secs_f64(value).map_err(|e| format!("{value} is out of range: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("specs/boot.toml"))
    }

    #[test]
    fn parses_the_documented_example() {
        let spec = parse(
            r#"
            # What a boot of the image must print, in order.
            name = "boot"
            timeout_secs = 120
            fail_on = ["panicked", "FAULT"]
            [[expect]]
            description = "driver reports its MAC"
            pattern = '^net_driver: MAC ([0-9a-f]{2}:){5}[0-9a-f]{2}$'
            within_secs = 60
            [[expect]]
            description = "shell prompt"
            pattern = 'edgeos> '
            "#,
        )
        .unwrap();
        assert_eq!(spec.name, "boot");
        assert_eq!(spec.timeout, Duration::from_secs(120));
        assert_eq!(spec.fail_on, ["panicked", "FAULT"]);
        assert_eq!(spec.expect.len(), 2);
        assert_eq!(spec.expect[0].within, Some(Duration::from_secs(60)));
        assert!(spec.expect[0]
            .pattern
            .is_match("net_driver: MAC 52:54:00:12:34:56"));
        assert_eq!(spec.expect[1].within, None);
    }

    #[test]
    fn name_defaults_to_file_stem_and_fractional_seconds_work() {
        let spec = parse(
            "timeout_secs = 2.5\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_secs = 0.25\n",
        )
        .unwrap();
        assert_eq!(spec.name, "boot");
        assert_eq!(spec.timeout, Duration::from_millis(2500));
        assert_eq!(spec.expect[0].within, Some(Duration::from_millis(250)));
        assert!(spec.fail_on.is_empty());
    }

    #[test]
    fn unknown_top_level_field_is_rejected_naming_file_and_field() {
        let err = parse(
            "timeout_secs = 1\ntimeout = 3\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpecError::Parse { .. }), "{msg}");
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("unknown field `timeout`"), "{msg}");
    }

    #[test]
    fn unknown_expectation_field_is_rejected() {
        let msg = parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_sec = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("unknown field `within_sec`"), "{msg}");
    }

    #[test]
    fn invalid_regex_names_the_expectation() {
        let msg = parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"fine\"\npattern = \"ok\"\n\
             [[expect]]\ndescription = \"broken one\"\npattern = \"(unclosed\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("expectation #2"), "{msg}");
        assert!(msg.contains("\"broken one\""), "{msg}");
        assert!(msg.contains("invalid pattern"), "{msg}");
    }

    #[test]
    fn missing_required_fields_are_rejected() {
        assert!(parse("[[expect]]\ndescription = \"x\"\npattern = \"x\"\n").is_err());
        assert!(parse("timeout_secs = 1\n[[expect]]\npattern = \"x\"\n").is_err());
        assert!(parse("timeout_secs = 1\n[[expect]]\ndescription = \"x\"\n").is_err());
    }

    #[test]
    fn nonsense_values_are_rejected() {
        let expect = "[[expect]]\ndescription = \"x\"\npattern = \"x\"\n";
        for bad in [
            format!("timeout_secs = 0\n{expect}"),
            format!("timeout_secs = -1\n{expect}"),
            format!("timeout_secs = nan\n{expect}"),
            format!("timeout_secs = inf\n{expect}"),
            format!("timeout_secs = 1\n{expect}within_secs = 0\n"),
            format!("timeout_secs = 1\nfail_on = [\"\"]\n{expect}"),
            "timeout_secs = 1\n".to_owned(),
        ] {
            let err = parse(&bad).expect_err(&bad);
            assert!(err.to_string().contains("specs/boot.toml"), "{err}");
        }
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let msg = Spec::load(Path::new("/nonexistent/spec.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("spec /nonexistent/spec.toml: cannot read"),
            "{msg}"
        );
    }
}
