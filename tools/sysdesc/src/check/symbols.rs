//! Setvar symbols against the program images: every symbol a `setvar_*`
//! attribute names must exist in the PD's ELF (the Microkit tool stops at
//! the first one missing; this lists them all), and a global data symbol that
//! looks like a setvar (`*_vaddr`, `*_paddr`, `*_channel`, `*_child_id`, or
//! `*_size` beside a `*_vaddr`) but that nothing patches is a warning: the PD
//! would run with its built-in default, usually 0. (An FWP slot takes its
//! values from its template PD's checkpoint, so what the template PD of the
//! same program gets patched counts as patched in its slots.) So is a map whose address
//! reaches the PD neither through a setvar nor through a configuration blob
//! it maps (the mux learns its FWP slots' maps from `mux_config`; see
//! [`super::blobs`]): the PD could only know it as a constant copied by hand.

use std::collections::BTreeSet;
use std::fmt;

use super::blobs::Described;
use crate::diagnostic::{Diagnostics, Severity, Span};
use crate::elf::Images;
use crate::model::{ProtectionDomain, System};
use crate::generate::TEMPLATE_PD_PREFIX;

/// A mismatch between the setvars and a program image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SymbolIssue {
    /// A setvar names a symbol the image does not define.
    Missing {
        /// The PD.
        pd: String,
        /// The symbol.
        symbol: String,
        /// The program image.
        program: String,
    },
    /// The image defines a setvar-like symbol that nothing patches.
    Unpatched {
        /// The PD.
        pd: String,
        /// The symbol.
        symbol: String,
        /// The program image.
        program: String,
    },
    /// A map's address reaches the PD by no setvar and no configuration blob.
    Unaddressed {
        /// The PD.
        pd: String,
        /// The region.
        mr: String,
        /// The map's address.
        vaddr: u64,
    },
}

impl SymbolIssue {
    /// Missing symbols are errors; unpatched ones warnings.
    pub fn severity(&self) -> Severity {
        match self {
            SymbolIssue::Missing { .. } => Severity::Error,
            SymbolIssue::Unpatched { .. } | SymbolIssue::Unaddressed { .. } => Severity::Warning,
        }
    }
}

impl fmt::Display for SymbolIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolIssue::Missing { pd, symbol, program } => write!(
                f,
                "every setvar must name a symbol of the PD's program image: '{symbol}' is not in '{program}' of '{pd}'"
            ),
            SymbolIssue::Unpatched { pd, symbol, program } => write!(
                f,
                "a setvar-like symbol is patched by nothing, so it keeps its built-in value: '{symbol}' in '{program}' of '{pd}'"
            ),
            SymbolIssue::Unaddressed { pd, mr, vaddr } => write!(
                f,
                "a map's address must reach the PD through a setvar_vaddr or a configuration blob: '{mr}' at {vaddr:#x} in '{pd}' has neither"
            ),
        }
    }
}

/// Every symbol the system patches in `pd`, with the element that names it.
fn patched(system: &System, pd: &ProtectionDomain) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for m in &pd.maps {
        for s in [&m.setvar_vaddr, &m.setvar_size].into_iter().flatten() {
            out.push((s.clone(), m.span));
        }
    }
    out.extend(pd.setvars.iter().map(|s| (s.symbol.clone(), s.span)));
    for irq in &pd.irqs {
        out.extend(irq.setvar_id.iter().map(|s| (s.clone(), irq.span)));
    }
    for c in &pd.children {
        out.extend(c.setvar_id.iter().map(|s| (s.clone(), c.pd.span)));
    }
    for ch in &system.channels {
        for e in ch.ends.iter().filter(|e| e.pd == pd.name) {
            out.extend(e.setvar_id.iter().map(|s| (s.clone(), e.span)));
        }
    }
    out
}

fn looks_like_setvar(name: &str, all: &BTreeSet<String>) -> bool {
    if name.starts_with("microkit_") || name.starts_with('_') || name.contains(['.', '$']) {
        return false;
    }
    ["_vaddr", "_paddr", "_channel", "_child_id"]
        .iter()
        .any(|s| name.ends_with(s))
        || name
            .strip_suffix("_size")
            .is_some_and(|stem| all.contains(&format!("{stem}_vaddr")))
}

/// Checks each PD whose image was found; `described` holds the map
/// addresses the PDs learn from configuration blobs.
pub fn check(system: &System, images: &Images, described: &Described, diags: &mut Diagnostics) {
    // A slot runs on its template PD's checkpoint, which holds the values
    // the system patched into the template PD: what that PD gets patched is
    // patched for every PD of the same program.
    let mut by_template: BTreeSet<(&str, String)> = BTreeSet::new();
    for r in system.all_pds().iter().filter(|r| r.pd.name.as_str().starts_with(TEMPLATE_PD_PREFIX)) {
        by_template.extend(patched(system, r.pd).into_iter().map(|(s, _)| (r.pd.program.as_str(), s)));
    }
    for r in system.all_pds() {
        let pd = r.pd;
        let Some(Ok(image)) = images.get(&pd.program) else {
            continue; // The layout pass notes images it could not read.
        };
        let patched = patched(system, pd);
        for (symbol, span) in &patched {
            if !image.symbols.contains(symbol) {
                let issue = SymbolIssue::Missing {
                    pd: pd.name.to_string(),
                    symbol: symbol.clone(),
                    program: pd.program.clone(),
                };
                diags.push(issue, *span);
            }
        }
        for m in pd.maps.iter().filter(|m| m.setvar_vaddr.is_none()) {
            if !described.covers(&pd.name, m.vaddr) {
                let issue = SymbolIssue::Unaddressed {
                    pd: pd.name.to_string(),
                    mr: m.mr.clone(),
                    vaddr: m.vaddr,
                };
                diags.push(issue, m.span);
            }
        }
        let names: BTreeSet<&str> = patched.iter().map(|(s, _)| s.as_str()).collect();
        for symbol in &image.data_symbols {
            let from_template = by_template.contains(&(pd.program.as_str(), symbol.clone()));
            if !names.contains(symbol.as_str()) && !from_template && looks_like_setvar(symbol, &image.data_symbols) {
                let issue = SymbolIssue::Unpatched {
                    pd: pd.name.to_string(),
                    symbol: symbol.clone(),
                    program: pd.program.clone(),
                };
                diags.push(issue, pd.span);
            }
        }
    }
}
