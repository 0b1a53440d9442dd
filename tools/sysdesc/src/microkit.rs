//! The Microkit tool: where its SDK is, how it is run, and what its errors
//! mean in terms of the system description.
//!
//! The SDK is looked up as `ci/find-sdk.sh` does: `$MICROKIT_SDK`, then
//! `.sdk/microkit-sdk-2.3.0` (relative to the current directory), then
//! `/opt/microkit-sdk-2.3.0`. The tool reports a rejected file as one line,
//! `Error: ...` or `ERROR: ...` (sometimes debug-quoted); that line is kept
//! in the tool's own words and tied to the element it is about.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diagnostic::{Diagnostic, Location};
use crate::model::System;

/// The SDK directory name of the pinned release.
pub const SDK_DIR: &str = "microkit-sdk-2.3.0";

/// What went wrong with the Microkit tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicrokitIssue {
    /// No SDK at any of the places looked at.
    SdkNotFound {
        /// Each place, and why it did not do.
        tried: Vec<String>,
    },
    /// The tool could not be started.
    CannotRun {
        /// The reason, from the operating system.
        reason: String,
    },
    /// The tool rejected the system.
    Rejected {
        /// The tool's message, without its `Error:` prefix.
        message: String,
        /// The element it is about, when that could be found.
        element: Option<String>,
    },
    /// The tool crashed.
    Panicked {
        /// The panic message.
        message: String,
    },
}

impl fmt::Display for MicrokitIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MicrokitIssue::SdkNotFound { tried } => {
                write!(
                    f,
                    "no Microkit SDK 2.3.0 found; tried: {}",
                    tried.join("; ")
                )
            }
            MicrokitIssue::CannotRun { reason } => {
                write!(f, "cannot run the Microkit tool: {reason}")
            }
            MicrokitIssue::Rejected {
                message,
                element: Some(element),
            } => {
                write!(
                    f,
                    "the Microkit tool rejected the system: {message} [{element}]"
                )
            }
            MicrokitIssue::Rejected {
                message,
                element: None,
            } => {
                write!(f, "the Microkit tool rejected the system: {message}")
            }
            MicrokitIssue::Panicked { message } => {
                write!(f, "the Microkit tool crashed: {message}")
            }
        }
    }
}

/// Finds the SDK: `explicit` if given, else the places `ci/find-sdk.sh` tries.
pub fn find_sdk(explicit: Option<&Path>) -> Result<PathBuf, MicrokitIssue> {
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    match explicit {
        Some(p) => candidates.push((p.to_path_buf(), "--sdk")),
        None => {
            match std::env::var_os("MICROKIT_SDK").filter(|v| !v.is_empty()) {
                Some(v) => candidates.push((PathBuf::from(v), "$MICROKIT_SDK")),
                None => candidates.push((PathBuf::new(), "$MICROKIT_SDK")),
            }
            candidates.push((Path::new(".sdk").join(SDK_DIR), "checkout"));
            candidates.push((Path::new("/opt").join(SDK_DIR), "system"));
        }
    }
    let mut tried = Vec::new();
    for (dir, what) in candidates {
        if dir.as_os_str().is_empty() {
            tried.push(format!("{what} (not set)"));
        } else if dir.join("bin").join("microkit").is_file() {
            return Ok(dir);
        } else {
            tried.push(format!("{} (no bin/microkit)", dir.display()));
        }
    }
    Err(MicrokitIssue::SdkNotFound { tried })
}

/// One run of the Microkit tool.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    /// The SDK directory.
    pub sdk: &'a Path,
    /// The system description to build.
    pub system: &'a Path,
    /// Where the program images are.
    pub search_paths: &'a [PathBuf],
    /// `--board`
    pub board: &'a str,
    /// `--config` (`debug`, `release`, `benchmark`).
    pub config: &'a str,
    /// `-o`: the image to write.
    pub output: &'a Path,
    /// `-r`: the report to write, if any.
    pub report: Option<&'a Path>,
}

/// What a run of the tool printed.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs the tool.
pub fn run(inv: &Invocation<'_>) -> Result<RunOutput, MicrokitIssue> {
    let mut cmd = Command::new(inv.sdk.join("bin").join("microkit"));
    cmd.arg(inv.system)
        .args(["--board", inv.board, "--config", inv.config])
        .arg("-o")
        .arg(inv.output);
    if let Some(r) = inv.report {
        cmd.arg("-r").arg(r);
    }
    if !inv.search_paths.is_empty() {
        cmd.arg("--search-path").args(inv.search_paths);
    }
    let out = cmd.output().map_err(|e| MicrokitIssue::CannotRun {
        reason: e.to_string(),
    })?;
    Ok(RunOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Turns a failed run's output into a diagnostic about `system` (parsed from
/// the file the tool read, `file`, so spans point into it).
pub fn interpret(output: &RunOutput, file: &Path, system: &System) -> Diagnostic {
    let all = format!("{}\n{}", output.stderr, output.stdout);
    if let Some(i) = all.find("panicked at") {
        let rest = &all[i..];
        let message = rest
            .lines()
            .take(2)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        return Diagnostic {
            kind: MicrokitIssue::Panicked { message }.into(),
            span: None,
        };
    }
    let line = all
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Error:") || l.starts_with("ERROR:"))
        .or_else(|| all.lines().map(str::trim).rfind(|l| !l.is_empty()))
        .unwrap_or("exited with an error and printed nothing");
    let message = strip_error_prefix(line);
    let location = trailing_location(&message);
    let (element, span) = element_of(&message, location.as_ref(), file, system);
    let span = location.or(span);
    Diagnostic {
        kind: MicrokitIssue::Rejected { message, element }.into(),
        span,
    }
}

/// Removes `Error:`/`ERROR:` prefixes and the debug quotes `main` adds.
fn strip_error_prefix(line: &str) -> String {
    let mut s = line.trim().to_string();
    loop {
        let before = s.clone();
        for prefix in ["Error:", "ERROR:"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim().to_string();
            }
        }
        if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
            s = s[1..s.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\");
        }
        if s == before {
            return s;
        }
    }
}

/// A `file:line:col` the message ends with.
fn trailing_location(message: &str) -> Option<Location> {
    let last = message.split_whitespace().last()?;
    let mut parts = last.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|f| !f.is_empty())?;
    Some(Location {
        file: PathBuf::from(file),
        line,
        col,
    })
}

/// The text between `prefix` and the next `'`.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let start = message.find(prefix)? + prefix.len();
    let len = message[start..].find('\'')?;
    Some(&message[start..start + len])
}

/// Names the element a message is about, and where it is in `system`.
fn element_of(
    message: &str,
    location: Option<&Location>,
    file: &Path,
    system: &System,
) -> (Option<String>, Option<Location>) {
    let at = |span: crate::diagnostic::Span| {
        span.is_known().then(|| Location {
            file: file.to_path_buf(),
            line: span.line,
            col: span.col,
        })
    };
    let pds = system.all_pds();
    if let Some(loc) = location {
        let near = |s: crate::diagnostic::Span| s.line == loc.line;
        for r in &pds {
            if let Some(m) = r.pd.maps.iter().find(|m| near(m.span)) {
                return (
                    Some(format!("<map mr=\"{}\"> in '{}'", m.mr, r.pd.name)),
                    None,
                );
            }
            if near(r.pd.span) {
                return (
                    Some(format!("<protection_domain name=\"{}\">", r.pd.name)),
                    None,
                );
            }
        }
        if let Some(mr) = system.memory_regions.iter().find(|m| near(m.span)) {
            return (Some(format!("<memory_region name=\"{}\">", mr.name)), None);
        }
        return (None, None);
    }
    let pd =
        quoted_after(message, "PD '").and_then(|n| pds.iter().find(|r| r.pd.name.as_str() == n));
    let mr = quoted_after(message, "MR '").or_else(|| quoted_after(message, "memory region '"));
    if let (Some(r), Some(mr)) = (pd, mr) {
        if let Some(m) = r.pd.maps.iter().find(|m| m.mr == mr) {
            return (
                Some(format!("<map mr=\"{mr}\"> in '{}'", r.pd.name)),
                at(m.span),
            );
        }
    }
    if let Some(r) = pd {
        return (
            Some(format!("<protection_domain name=\"{}\">", r.pd.name)),
            at(r.pd.span),
        );
    }
    if let Some(mr) = mr.and_then(|n| system.memory_region(n)) {
        return (
            Some(format!("<memory_region name=\"{}\">", mr.name)),
            at(mr.span),
        );
    }
    if let Some(program) = quoted_after(message, "program image: '") {
        if let Some(r) = pds.iter().find(|r| r.pd.program == program) {
            return (
                Some(format!(
                    "<program_image path=\"{program}\"> in '{}'",
                    r.pd.name
                )),
                at(r.pd.span),
            );
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_quotes_are_removed() {
        let s = strip_error_prefix(r#"Error: "ERROR: mapping MR 'a' to PD 'b' with \"x\"""#);
        assert_eq!(s, r#"mapping MR 'a' to PD 'b' with "x""#);
        let loc = trailing_location(
            "priority must be between 0 and 254 on element 'protection_domain': bad.xml:42:5",
        )
        .unwrap();
        assert_eq!(
            (loc.file, loc.line, loc.col),
            (PathBuf::from("bad.xml"), 42, 5)
        );
        assert!(trailing_location("unable to find program image: 'nope.elf'").is_none());
    }

    fn output(stderr: &str) -> RunOutput {
        RunOutput {
            success: false,
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }

    const SDF: &str = "<system>\n  <memory_region name=\"m\" size=\"0x1000\" />\n  <protection_domain name=\"a\" priority=\"255\">\n    <program_image path=\"a.elf\" />\n    <map mr=\"m\" vaddr=\"0x200000\" />\n  </protection_domain>\n</system>\n";

    fn system() -> System {
        let mut diags = crate::diagnostic::Diagnostics::new(None);
        crate::parse_sdf::parse(SDF, &mut diags).expect("parses")
    }

    #[test]
    fn located_errors_name_the_element_there() {
        let d = interpret(
            &output("Error: priority must be between 0 and 254 on element 'protection_domain': s.xml:3:3\n"),
            Path::new("s.xml"),
            &system(),
        );
        assert_eq!(
            d.to_string(),
            "the Microkit tool rejected the system: priority must be between 0 and 254 on element \
             'protection_domain': s.xml:3:3 [<protection_domain name=\"a\">] @ s.xml:3:3"
        );
    }

    #[test]
    fn unlocated_errors_are_tied_to_the_map_they_name() {
        let d = interpret(
            &output("Error: \"ERROR: mapping MR 'm' to PD 'a' with vaddr [0x200000..0x201000) will overlap with an ELF segment\"\n"),
            Path::new("s.xml"),
            &system(),
        );
        let text = d.to_string();
        assert!(
            text.ends_with("[<map mr=\"m\"> in 'a'] @ s.xml:5:5"),
            "{text}"
        );
    }

    #[test]
    fn panics_are_reported_as_crashes() {
        let d = interpret(
            &output("\nthread 'main' (1) panicked at tool/microkit/src/sdf.rs:2068:74:\ncalled `Result::unwrap()` on an `Err` value\n"),
            Path::new("s.xml"),
            &system(),
        );
        assert!(
            d.to_string().starts_with(
                "the Microkit tool crashed: panicked at tool/microkit/src/sdf.rs:2068:74: called"
            ),
            "{d}"
        );
    }
}
