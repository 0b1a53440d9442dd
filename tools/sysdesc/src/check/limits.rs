//! Limits the Microkit tool (2.3.0) and the kernel impose, checked before the
//! tool runs so that every violation is reported at once with its figure.
//! Some the tool checks too (it stops at the first); some it does not check
//! at all (over-long names, which it truncates) or meets with a panic.

mod issue;

use std::collections::BTreeMap;

pub use issue::LimitIssue;

use crate::boards::Board;
use crate::diagnostic::{Diagnostics, Span};
use crate::model::{ProtectionDomain, System};

/// At most 63 PDs in a system (`MAX_PDS` in the tool; the monitor's tables
/// are sized by it).
pub const MAX_PDS: usize = 63;
/// Channel, irq and child ids are 0..=61: an id is a bit in a 64-bit badge,
/// and the top two bits mark PPCs and faults (`PD_MAX_ID` in the tool's
/// `sdf.rs`; the manual's "less than 63" is one too many).
pub const MAX_ID: u64 = 61;
/// PD names longer than 64 bytes are cut silently in the `microkit_name`
/// symbol (`PD_MAX_NAME_LENGTH`), so fault reports would name the wrong PD.
pub const MAX_NAME_LEN: usize = 64;
/// Priorities are 0..=254; 255 is the monitor's.
pub const MAX_PRIORITY: u64 = 254;
/// Stack sizes are 4 KiB to 16 MiB (`PD_MIN_STACK_SIZE`, `PD_MAX_STACK_SIZE`).
pub const STACK_SIZE_RANGE: (u64, u64) = (0x1000, 0x100_0000);

/// Checks every limit in `system`.
pub fn check(system: &System, board: &Board, diags: &mut Diagnostics) {
    let pds = system.all_pds();
    if pds.len() > MAX_PDS {
        let span = pds.get(MAX_PDS).map_or(Span::UNKNOWN, |r| r.pd.span);
        diags.push(LimitIssue::TooManyPds { count: pds.len() }, span);
    }
    names(system, diags);
    regions(system, board, diags);
    for r in &pds {
        pd_values(r.pd, board, diags);
        maps(system, r.pd, diags);
        child_ids(r.pd, diags);
    }
    channel_ids(system, diags);
}

fn names(system: &System, diags: &mut Diagnostics) {
    let mut seen = BTreeMap::new();
    for r in system.all_pds() {
        let name = r.pd.name.as_str();
        if name.len() > MAX_NAME_LEN {
            diags.push(
                LimitIssue::NameTooLong {
                    name: name.to_string(),
                },
                r.pd.span,
            );
        }
        if name == "monitor" {
            let issue = LimitIssue::BadName {
                rule: "the name 'monitor' is reserved for the Microkit monitor",
                kind: "protection domain",
                name: name.into(),
            };
            diags.push(issue, r.pd.span);
        }
        if seen.insert(name, ()).is_some() {
            let issue = LimitIssue::BadName {
                rule: "PD names must be unique",
                kind: "protection domain",
                name: name.into(),
            };
            diags.push(issue, r.pd.span);
        }
    }
    let mut seen = BTreeMap::new();
    for mr in &system.memory_regions {
        if seen.insert(mr.name.as_str(), ()).is_some() {
            let issue = LimitIssue::BadName {
                rule: "memory region names must be unique",
                kind: "memory region",
                name: mr.name.clone(),
            };
            diags.push(issue, mr.span);
        }
    }
}

fn regions(system: &System, board: &Board, diags: &mut Diagnostics) {
    for mr in &system.memory_regions {
        let page = mr.page_size.unwrap_or(board.small_page());
        if !board.page_sizes.contains(&page) {
            let supported: Vec<_> = board.page_sizes.iter().map(|p| format!("{p:#x}")).collect();
            let rule = format!("page_size must be one of {}", supported.join(", "));
            let issue = LimitIssue::Rule {
                rule,
                name: format!("{page:#x}"),
                by: format!("memory region '{}'", mr.name),
            };
            diags.push(issue, mr.span);
            continue;
        }
        if mr.size == 0 || mr.size % page != 0 {
            let what = format!(
                "size of memory region '{}' (non-zero, whole pages)",
                mr.name
            );
            diags.push(
                LimitIssue::Unaligned {
                    what,
                    value: mr.size,
                    align: page,
                },
                mr.span,
            );
        }
        if let Some(paddr) = mr.phys_addr.filter(|p| p % page != 0) {
            let what = format!("phys_addr of memory region '{}'", mr.name);
            diags.push(
                LimitIssue::Unaligned {
                    what,
                    value: paddr,
                    align: page,
                },
                mr.span,
            );
        }
    }
}

fn pd_values(pd: &ProtectionDomain, board: &Board, diags: &mut Diagnostics) {
    let name = pd.name.to_string();
    let mut bad = |rule: String, attribute: &'static str, value: String| {
        diags.push(
            LimitIssue::PdValue {
                rule,
                attribute,
                value,
                pd: name.clone(),
            },
            pd.span,
        );
    };
    if pd.priority > MAX_PRIORITY {
        bad(
            format!("priority must be 0..={MAX_PRIORITY} (255 is the monitor's)"),
            "priority",
            pd.priority.to_string(),
        );
    }
    if pd.budget == 0 {
        bad(
            "a budget must be at least 1 µs".into(),
            "budget",
            "0".into(),
        );
    }
    if pd.budget > pd.period {
        bad(
            format!("budget must not exceed period ({} µs)", pd.period),
            "budget",
            pd.budget.to_string(),
        );
    }
    let (min, max) = STACK_SIZE_RANGE;
    if !(min..=max).contains(&pd.stack_size) {
        bad(
            format!("stack_size must be {min:#x}..={max:#x} bytes"),
            "stack_size",
            format!("{:#x}", pd.stack_size),
        );
    } else if pd.stack_size % board.small_page() != 0 {
        bad(
            format!("stack_size must be a multiple of {:#x}", board.small_page()),
            "stack_size",
            format!("{:#x}", pd.stack_size),
        );
    }
    if pd.cpu >= board.cores {
        bad(
            format!("cpu must be below {} on this board", board.cores),
            "cpu",
            pd.cpu.to_string(),
        );
    }
}

fn maps(system: &System, pd: &ProtectionDomain, diags: &mut Diagnostics) {
    let by = format!("'{}'", pd.name);
    let mut symbols = BTreeMap::new();
    for m in &pd.maps {
        match system.memory_region(&m.mr) {
            None => diags.push(
                LimitIssue::Rule {
                    rule: "a map must name a memory region".into(),
                    name: m.mr.clone(),
                    by: by.clone(),
                },
                m.span,
            ),
            Some(mr) => {
                let page = mr.page_size.unwrap_or(0x1000);
                if page > 0 && m.vaddr % page != 0 {
                    let what = format!(
                        "vaddr of the map of '{}' in '{}' (its page size)",
                        m.mr, pd.name
                    );
                    diags.push(
                        LimitIssue::Unaligned {
                            what,
                            value: m.vaddr,
                            align: page,
                        },
                        m.span,
                    );
                }
            }
        }
        if m.perms.write && !m.perms.read && !m.perms.execute {
            diags.push(
                LimitIssue::Rule {
                    rule: "write-only mappings are not allowed (perms \"w\")".into(),
                    name: m.mr.clone(),
                    by: by.clone(),
                },
                m.span,
            );
        }
        for s in [&m.setvar_vaddr, &m.setvar_size].into_iter().flatten() {
            if symbols.insert(s.clone(), ()).is_some() {
                diags.push(
                    LimitIssue::Rule {
                        rule: "a setvar symbol may be patched only once per PD".into(),
                        name: s.clone(),
                        by: by.clone(),
                    },
                    m.span,
                );
            }
        }
    }
    for s in &pd.setvars {
        if system.memory_region(&s.region_paddr).is_none() {
            diags.push(
                LimitIssue::Rule {
                    rule: "setvar region_paddr must name a memory region".into(),
                    name: s.region_paddr.clone(),
                    by: by.clone(),
                },
                s.span,
            );
        }
        if symbols.insert(s.symbol.clone(), ()).is_some() {
            diags.push(
                LimitIssue::Rule {
                    rule: "a setvar symbol may be patched only once per PD".into(),
                    name: s.symbol.clone(),
                    by: by.clone(),
                },
                s.span,
            );
        }
    }
}

fn child_ids(pd: &ProtectionDomain, diags: &mut Diagnostics) {
    let mut seen = BTreeMap::new();
    for c in &pd.children {
        let pd_name = pd.name.to_string();
        if c.id > MAX_ID {
            diags.push(
                LimitIssue::IdOutOfRange {
                    kind: "child",
                    id: c.id,
                    pd: pd_name.clone(),
                },
                c.pd.span,
            );
        }
        if seen.insert(c.id, ()).is_some() {
            diags.push(
                LimitIssue::DuplicateId {
                    kind: "child",
                    id: c.id,
                    pd: pd_name,
                },
                c.pd.span,
            );
        }
    }
}

fn channel_ids(system: &System, diags: &mut Diagnostics) {
    // Per PD, irq and channel-end ids share one space.
    let mut used: BTreeMap<String, BTreeMap<u64, ()>> = BTreeMap::new();
    let mut irqs = BTreeMap::new();
    let mut claim = |diags: &mut Diagnostics, pd: &str, id: u64, kind: &'static str, span: Span| {
        if id > MAX_ID {
            diags.push(
                LimitIssue::IdOutOfRange {
                    kind,
                    id,
                    pd: pd.to_string(),
                },
                span,
            );
        }
        if used
            .entry(pd.to_string())
            .or_default()
            .insert(id, ())
            .is_some()
        {
            diags.push(
                LimitIssue::DuplicateId {
                    kind: "channel/irq",
                    id,
                    pd: pd.to_string(),
                },
                span,
            );
        }
    };
    for r in system.all_pds() {
        for irq in &r.pd.irqs {
            claim(diags, r.pd.name.as_str(), irq.id.0, "irq", irq.span);
            if let Some(other) = irqs.insert(irq.irq, r.pd.name.to_string()) {
                let issue = LimitIssue::Rule {
                    rule: "an interrupt may be delivered to one PD only".into(),
                    name: format!("irq {}", irq.irq),
                    by: format!("'{}' (also '{other}')", r.pd.name),
                };
                diags.push(issue, irq.span);
            }
        }
    }
    for ch in &system.channels {
        for e in &ch.ends {
            if system.pd(e.pd.as_str()).is_none() {
                diags.push(
                    LimitIssue::Rule {
                        rule: "a channel end must name a PD".into(),
                        name: e.pd.to_string(),
                        by: "<channel>".into(),
                    },
                    e.span,
                );
                continue;
            }
            claim(diags, e.pd.as_str(), e.id.0, "channel", e.span);
        }
    }
}
