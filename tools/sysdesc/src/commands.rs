//! The commands, as library functions: the CLI is a thin layer over these,
//! and tests call them directly. Each returns every diagnostic it found;
//! none prints anything.

use std::path::{Path, PathBuf};

use crate::blobs::{self, Blob};
use crate::boards::{self, Board};
use crate::check::blobs::BlobIssue;
use crate::check::{self, CheckOptions};
use crate::config::{self, ConfigIssue};
use crate::diagnostic::{DiagnosticKind, Diagnostics, Span};
use crate::microkit::{self, Invocation};
use crate::model::System;
use crate::parse_sdf::{self, SdfIssue};
use crate::{emit, generate};

/// What a configuration generates: its board, its system, and the blobs
/// that system's prefilled regions start with.
#[derive(Debug)]
pub struct Generated {
    /// The configuration's board.
    pub board: &'static Board,
    /// The system.
    pub system: System,
    /// The configuration blobs (empty when they cannot be made; the
    /// diagnostics say why).
    pub blobs: Vec<Blob>,
}

/// Loads the configuration at `path`, generates its model and blobs, and
/// runs every check on them (spans point into the TOML file). The result is
/// returned when a model could be generated, even if checks found errors.
pub fn load_generate_check(
    path: &Path,
    search_paths: &[PathBuf],
) -> (Option<Generated>, Diagnostics) {
    let mut diags = Diagnostics::new(Some(path));
    let Some(loaded) = config::load(path, &mut diags) else {
        return (None, diags);
    };
    let system = generate::generate(&loaded);
    // Where the dynamic FWPs go depends on the generated system: its
    // problems are the configuration's, reported at `templates`.
    if let Err(issue) = generate::manager::plan(&loaded, &system) {
        diags.push(issue, loaded.spans.get("templates"));
    }
    let blobs = match blobs::blobs(&loaded) {
        Ok(blobs) => blobs,
        Err(reason) => {
            // A configuration error says the same first; don't repeat it.
            if !diags.has_errors() {
                diags.push(BlobIssue::Unbuildable { reason }, Span::UNKNOWN);
            }
            Vec::new()
        }
    };
    let options = CheckOptions {
        board: loaded.board,
        search_paths: search_paths.to_vec(),
        blobs: blobs
            .iter()
            .map(|b| (b.file.clone(), b.bytes.clone()))
            .collect(),
    };
    check::check(&system, &options, &mut diags);
    let generated = Generated {
        board: loaded.board,
        system,
        blobs,
    };
    (Some(generated), diags)
}

/// [`load_generate_check`] without the blobs.
pub fn load_and_check(
    path: &Path,
    search_paths: &[PathBuf],
) -> (Option<(&'static Board, System)>, Diagnostics) {
    let (generated, diags) = load_generate_check(path, search_paths);
    (generated.map(|g| (g.board, g.system)), diags)
}

fn write(path: &Path, text: &str, diags: &mut Diagnostics) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => true,
        Err(e) => {
            let kind = DiagnosticKind::Write {
                path: path.to_path_buf(),
                reason: e.to_string(),
            };
            diags.push(kind, Span::UNKNOWN);
            false
        }
    }
}

/// `sysdesc generate`: writes the SDF for the configuration at `config` to
/// `output`, unless the configuration or the generated system has errors.
pub fn generate_file(config: &Path, output: &Path) -> Diagnostics {
    let (model, mut diags) = load_and_check(config, &[]);
    if let (Some((_, system)), false) = (model, diags.has_errors()) {
        write(output, &emit::emit(&system), &mut diags);
    }
    diags
}

/// Writes `blobs` into `dir` (created if need be).
fn write_blobs(dir: &Path, blobs: &[Blob], diags: &mut Diagnostics) -> bool {
    if let Err(e) = std::fs::create_dir_all(dir) {
        let kind = DiagnosticKind::Write {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        };
        diags.push(kind, Span::UNKNOWN);
        return false;
    }
    blobs.iter().all(|b| {
        let path = dir.join(&b.file);
        match std::fs::write(&path, &b.bytes) {
            Ok(()) => true,
            Err(e) => {
                let kind = DiagnosticKind::Write {
                    path,
                    reason: e.to_string(),
                };
                diags.push(kind, Span::UNKNOWN);
                false
            }
        }
    })
}

/// `sysdesc blobs`: writes the configuration blobs of the configuration at
/// `config` into `dir` (`mux_config.bin`, `fwp_manager.bin`,
/// `tmpl_<name>_config.bin`), unless the configuration or its system has
/// errors. Returns the files written too.
pub fn blobs_to_dir(config: &Path, dir: &Path) -> (Diagnostics, Vec<PathBuf>) {
    let (generated, mut diags) = load_generate_check(config, &[]);
    let mut written = Vec::new();
    if let (Some(g), false) = (generated, diags.has_errors()) {
        if write_blobs(dir, &g.blobs, &mut diags) {
            written = g.blobs.iter().map(|b| dir.join(&b.file)).collect();
        }
    }
    (diags, written)
}

/// `sysdesc check --config`: every diagnostic about a configuration.
pub fn check_config(config: &Path, search_paths: &[PathBuf]) -> Diagnostics {
    load_and_check(config, search_paths).1
}

/// Reads and parses the SDF at `path`; `None` when it has errors.
pub fn read_system(path: &Path, diags: &mut Diagnostics) -> Option<System> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            diags.push(
                SdfIssue::Read {
                    reason: e.to_string(),
                },
                Span::UNKNOWN,
            );
            return None;
        }
    };
    let system = parse_sdf::parse(&text, diags)?;
    (!diags.has_errors()).then_some(system)
}

/// `sysdesc check --system`: every diagnostic about an existing SDF file.
/// Semantic checks run only when the file parsed without errors.
pub fn check_system(path: &Path, board: &str, search_paths: &[PathBuf]) -> Diagnostics {
    let mut diags = Diagnostics::new(Some(path));
    let board = match boards::board(board) {
        Ok(b) => b,
        Err(e) => {
            diags.push(ConfigIssue::UnknownBoard(e), Span::UNKNOWN);
            return diags;
        }
    };
    if let Some(system) = read_system(path, &mut diags) {
        check::check(
            &system,
            &CheckOptions {
                board,
                search_paths: search_paths.to_vec(),
                blobs: Default::default(),
            },
            &mut diags,
        );
    }
    diags
}

/// What `sysdesc build` needs.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The TOML configuration.
    pub config: PathBuf,
    /// Where the program images are.
    pub search_paths: Vec<PathBuf>,
    /// `--board`; must match the configuration's when given.
    pub board: Option<String>,
    /// The Microkit config (`debug`, `release`, `benchmark`).
    pub config_name: String,
    /// The image to write.
    pub output: PathBuf,
    /// The Microkit report to write.
    pub report: Option<PathBuf>,
    /// Where to write the generated SDF (default: beside the image, `<image>.system.xml`).
    pub system_out: Option<PathBuf>,
    /// The SDK (default: looked up as `ci/find-sdk.sh` does).
    pub sdk: Option<PathBuf>,
}

/// The outcome of `sysdesc build`.
#[derive(Debug)]
pub struct BuildOutcome {
    /// Everything found.
    pub diagnostics: Diagnostics,
    /// Where the generated SDF was written, if it was.
    pub system_xml: Option<PathBuf>,
    /// What the Microkit tool printed, if it ran.
    pub tool_output: Option<String>,
}

/// `sysdesc build`: generates, checks, and runs the Microkit tool.
pub fn build(opts: &BuildOptions) -> BuildOutcome {
    let mut outcome = BuildOutcome {
        diagnostics: Diagnostics::default(),
        system_xml: None,
        tool_output: None,
    };
    let (generated, mut diags) = load_generate_check(&opts.config, &opts.search_paths);
    let Some(Generated {
        board,
        system,
        blobs,
    }) = generated
    else {
        outcome.diagnostics = diags;
        return outcome;
    };
    if let Some(b) = opts.board.as_deref().filter(|b| *b != board.name) {
        let rule = format!(
            "--board must be the configuration's board ('{}')",
            board.name
        );
        diags.push(
            ConfigIssue::Impossible {
                rule,
                field: "--board".into(),
                value: format!("\"{b}\""),
            },
            Span::UNKNOWN,
        );
    }
    if diags.has_errors() {
        outcome.diagnostics = diags;
        return outcome;
    }
    let xml_path = opts
        .system_out
        .clone()
        .unwrap_or_else(|| opts.output.with_extension("system.xml"));
    let text = emit::emit(&system);
    if !write(&xml_path, &text, &mut diags) {
        outcome.diagnostics = diags;
        return outcome;
    }
    outcome.system_xml = Some(xml_path.clone());
    // The blobs go beside the SDF, and the Microkit tool looks there first.
    let blobs_dir = match xml_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !write_blobs(&blobs_dir, &blobs, &mut diags) {
        outcome.diagnostics = diags;
        return outcome;
    }
    let mut search_paths = vec![blobs_dir];
    search_paths.extend(opts.search_paths.iter().cloned());
    let sdk = match microkit::find_sdk(opts.sdk.as_deref()) {
        Ok(sdk) => sdk,
        Err(issue) => {
            diags.push(issue, Span::UNKNOWN);
            outcome.diagnostics = diags;
            return outcome;
        }
    };
    let inv = Invocation {
        sdk: &sdk,
        system: &xml_path,
        search_paths: &search_paths,
        board: board.name,
        config: &opts.config_name,
        output: &opts.output,
        report: opts.report.as_deref(),
    };
    match microkit::run(&inv) {
        Err(issue) => diags.push(issue, Span::UNKNOWN),
        Ok(out) => {
            outcome.tool_output = Some(format!("{}{}", out.stdout, out.stderr));
            if !out.success {
                // Spans must point into the file the tool read.
                let mut xml_diags = Diagnostics::new(Some(&xml_path));
                let parsed = parse_sdf::parse(&text, &mut xml_diags).unwrap_or_default();
                diags.push_diagnostic(microkit::interpret(&out, &xml_path, &parsed));
            }
        }
    }
    outcome.diagnostics = diags;
    outcome
}
