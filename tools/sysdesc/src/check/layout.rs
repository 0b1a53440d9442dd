//! Each PD's address space: maps must not overlap each other, must end below
//! the PD's stack (Microkit puts the IPC buffer in the top page, a guard
//! page under it, then the stack), and must not overlap the pages of the
//! PD's program image. The image is read from the search path when it is
//! there; otherwise that part is skipped with a note.

use std::fmt;
use std::path::PathBuf;

use super::CheckOptions;
use crate::diagnostic::{Diagnostics, Severity, Span};
use crate::elf::Images;
use crate::model::{ProtectionDomain, System};

/// A half-open address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First address.
    pub start: u64,
    /// One past the last.
    pub end: u64,
}

impl Range {
    /// Whether the two ranges share an address.
    pub fn overlaps(self, other: Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}..{:#x})", self.start, self.end)
    }
}

/// A layout problem in one PD's address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutIssue {
    /// Two maps overlap.
    MapsOverlap {
        /// The PD.
        pd: String,
        /// The later map's region and range.
        mr: String,
        /// Its range.
        range: Range,
        /// The earlier map's region.
        other: String,
        /// Its range.
        other_range: Range,
    },
    /// A map reaches into the stack, guard page or IPC buffer.
    AboveLimit {
        /// The PD.
        pd: String,
        /// The region.
        mr: String,
        /// The map's range.
        range: Range,
        /// The first address maps may not reach.
        limit: u64,
    },
    /// A map overlaps the pages of the program image.
    OverlapsImage {
        /// The PD.
        pd: String,
        /// The region.
        mr: String,
        /// The map's range.
        range: Range,
        /// The ELF file.
        elf: PathBuf,
        /// The segment's pages.
        segment: Range,
    },
    /// No program image was checked: no search path was given.
    ImagesNotChecked,
    /// The program image could not be checked.
    ImageNotChecked {
        /// The PD.
        pd: String,
        /// The program image.
        program: String,
        /// Why.
        reason: String,
    },
}

impl LayoutIssue {
    /// [`LayoutIssue::ImageNotChecked`] is a note; the rest are errors.
    pub fn severity(&self) -> Severity {
        match self {
            LayoutIssue::ImageNotChecked { .. } | LayoutIssue::ImagesNotChecked => Severity::Note,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for LayoutIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutIssue::MapsOverlap { pd, mr, range, other, other_range } => write!(
                f,
                "maps in one PD must not overlap: '{mr}' {range} overlaps '{other}' {other_range} in '{pd}'"
            ),
            LayoutIssue::AboveLimit { pd, mr, range, limit } => write!(
                f,
                "maps must end below the PD's stack at {limit:#x}: '{mr}' {range} in '{pd}'"
            ),
            LayoutIssue::OverlapsImage { pd, mr, range, elf, segment } => write!(
                f,
                "maps must not overlap the program image: '{mr}' {range} overlaps segment pages {segment} of '{}' in '{pd}'",
                elf.display()
            ),
            LayoutIssue::ImagesNotChecked => {
                f.write_str("program images not checked against maps: no --search-path given")
            }
            LayoutIssue::ImageNotChecked { pd, program, reason } => write!(
                f,
                "program image '{program}' of '{pd}' not checked against its maps: {reason}"
            ),
        }
    }
}

/// The ranges `pd`'s maps cover (each region's size rounded up to its pages).
pub(crate) fn map_ranges(system: &System, pd: &ProtectionDomain) -> Vec<(String, Range, Span)> {
    pd.maps
        .iter()
        .filter_map(|m| {
            let mr = system.memory_region(&m.mr)?; // Unknown regions: the limits pass.
            let page = mr.page_size.unwrap_or(0x1000).max(1);
            let len = mr.size.div_ceil(page).saturating_mul(page);
            Some((
                m.mr.clone(),
                Range {
                    start: m.vaddr,
                    end: m.vaddr.saturating_add(len),
                },
                m.span,
            ))
        })
        .collect()
}

/// Checks every PD's address space; `images` holds the program images
/// found (empty when no search path was given).
pub fn check(system: &System, options: &CheckOptions, images: &Images, diags: &mut Diagnostics) {
    if options.search_paths.is_empty() {
        diags.push(LayoutIssue::ImagesNotChecked, Span::UNKNOWN);
    }
    for r in system.all_pds() {
        let pd = r.pd;
        let name = pd.name.to_string();
        let ranges = map_ranges(system, pd);
        let limit = options.board.map_limit(pd.stack_size);
        for (i, (mr, range, span)) in ranges.iter().enumerate() {
            if let Some((other, other_range, _)) =
                ranges[..i].iter().find(|(_, o, _)| o.overlaps(*range))
            {
                let issue = LayoutIssue::MapsOverlap {
                    pd: name.clone(),
                    mr: mr.clone(),
                    range: *range,
                    other: other.clone(),
                    other_range: *other_range,
                };
                diags.push(issue, *span);
            }
            if range.end > limit {
                diags.push(
                    LayoutIssue::AboveLimit {
                        pd: name.clone(),
                        mr: mr.clone(),
                        range: *range,
                        limit,
                    },
                    *span,
                );
            }
        }
        image(pd, &ranges, images, diags);
    }
}

fn image(
    pd: &ProtectionDomain,
    ranges: &[(String, Range, Span)],
    images: &Images,
    diags: &mut Diagnostics,
) {
    let image = match images.get(&pd.program) {
        Some(Ok(image)) => image,
        Some(Err(reason)) => {
            let issue = LayoutIssue::ImageNotChecked {
                pd: pd.name.to_string(),
                program: pd.program.clone(),
                reason: reason.clone(),
            };
            diags.push(issue, pd.span);
            return;
        }
        None => return,
    };
    for (mr, range, span) in ranges {
        for s in &image.segments {
            let segment = Range {
                start: s.start,
                end: s.end,
            };
            if segment.overlaps(*range) {
                let issue = LayoutIssue::OverlapsImage {
                    pd: pd.name.to_string(),
                    mr: mr.clone(),
                    range: *range,
                    elf: image.path.clone(),
                    segment,
                };
                diags.push(issue, *span);
            }
        }
    }
}
