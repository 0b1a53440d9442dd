//! The typed system model: what a Microkit system description says, with
//! Microkit's defaults already applied, whether it was generated from a
//! configuration or parsed from an existing `system.xml`.
//!
//! Values are kept as written (`u64`), not clamped to Microkit's limits: the
//! checks in [`crate::check`] report values out of range with their figure.
//! Every element keeps the [`Span`] it came from (ignored by equality), and
//! the generator attaches a [`Comment`] saying what the element is for.

use std::collections::BTreeSet;
use std::fmt;

use crate::diagnostic::Span;

/// Microkit's default budget, in microseconds (`BUDGET_DEFAULT` in the
/// tool's `sdf.rs`; the manual: "defaults to 1,000"). The period defaults to
/// the budget.
pub const DEFAULT_BUDGET_US: u64 = 1000;

/// Microkit's default PD stack size: 8 KiB (`PD_DEFAULT_STACK_SIZE`).
pub const DEFAULT_STACK_SIZE: u64 = 0x2000;

/// The name of a protection domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PdName(pub String);

impl PdName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PdName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PdName {
    fn from(s: &str) -> Self {
        PdName(s.to_string())
    }
}

/// A channel identifier in the context of one PD: a channel end's `id`, an
/// irq's `id` (both share one id space per PD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub u64);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An explanatory comment the generator writes before an element. Like
/// [`Span`], it never takes part in equality.
#[derive(Clone, Debug, Default)]
pub struct Comment(pub Option<String>);

impl Comment {
    /// A comment with this text.
    pub fn new(text: impl Into<String>) -> Self {
        Comment(Some(text.into()))
    }
}

impl PartialEq for Comment {
    fn eq(&self, _: &Comment) -> bool {
        true
    }
}

impl Eq for Comment {}

/// Mapping permissions: a combination of read, write and execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    /// `r`
    pub read: bool,
    /// `w`
    pub write: bool,
    /// `x`
    pub execute: bool,
}

impl Perms {
    /// Read-write, Microkit's default.
    pub const RW: Perms = Perms {
        read: true,
        write: true,
        execute: false,
    };
    /// Read-only.
    pub const R: Perms = Perms {
        read: true,
        write: false,
        execute: false,
    };

    /// Parses `r`, `w` and `x` in any combination (as the Microkit tool does);
    /// `None` for any other character.
    pub fn parse(s: &str) -> Option<Perms> {
        let mut perms = Perms {
            read: false,
            write: false,
            execute: false,
        };
        for c in s.chars() {
            match c {
                'r' => perms.read = true,
                'w' => perms.write = true,
                'x' => perms.execute = true,
                _ => return None,
            }
        }
        Some(perms)
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (set, c) in [(self.read, "r"), (self.write, "w"), (self.execute, "x")] {
            if set {
                f.write_str(c)?;
            }
        }
        Ok(())
    }
}

/// A `<memory_region>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// `name`
    pub name: String,
    /// `size` in bytes.
    pub size: u64,
    /// `page_size`, when given (Microkit picks the largest page that fits otherwise).
    pub page_size: Option<u64>,
    /// `phys_addr`, when given: a device region or a fixed physical range.
    pub phys_addr: Option<u64>,
    /// `prefill_path`, when given: a file, found through the search paths,
    /// whose bytes the region starts with (a configuration blob).
    pub prefill_path: Option<String>,
    /// Where it was written.
    pub span: Span,
    /// What it is for.
    pub comment: Comment,
}

/// A `<map>` of a memory region into a PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// `mr`: the region's name.
    pub mr: String,
    /// `vaddr`
    pub vaddr: u64,
    /// `perms` (default `rw`).
    pub perms: Perms,
    /// `cached` (default true).
    pub cached: bool,
    /// `setvar_vaddr`: symbol patched with `vaddr`.
    pub setvar_vaddr: Option<String>,
    /// `setvar_size`: symbol patched with the region's size.
    pub setvar_size: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// How an interrupt is triggered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IrqTrigger {
    /// Level triggered (Microkit's default).
    #[default]
    Level,
    /// Edge triggered.
    Edge,
}

/// An `<irq>` delivered to a PD on a channel id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// `irq`: the hardware interrupt number.
    pub irq: u64,
    /// `id`: the channel id it arrives on.
    pub id: ChannelId,
    /// `trigger`
    pub trigger: IrqTrigger,
    /// `setvar_id`: symbol patched with `id`.
    pub setvar_id: Option<String>,
    /// Where it was written.
    pub span: Span,
    /// What it is for.
    pub comment: Comment,
}

/// A `<setvar symbol=... region_paddr=...>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetVar {
    /// `symbol`
    pub symbol: String,
    /// `region_paddr`: the region whose physical address is patched in.
    pub region_paddr: String,
    /// Where it was written.
    pub span: Span,
}

/// A `<protection_domain>` (top level or child).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectionDomain {
    /// `name`
    pub name: PdName,
    /// `<program_image path=...>`
    pub program: String,
    /// `priority` (default 0).
    pub priority: u64,
    /// `budget` in µs (default [`DEFAULT_BUDGET_US`]).
    pub budget: u64,
    /// `period` in µs (default: the budget).
    pub period: u64,
    /// `passive`
    pub passive: bool,
    /// `stack_size` (default [`DEFAULT_STACK_SIZE`]).
    pub stack_size: u64,
    /// `cpu` (default 0).
    pub cpu: u64,
    /// `fpu` (default true).
    pub fpu: bool,
    /// `<map>` children, in order.
    pub maps: Vec<Map>,
    /// `<irq>` children, in order.
    pub irqs: Vec<Irq>,
    /// `<setvar>` children, in order.
    pub setvars: Vec<SetVar>,
    /// Child `<protection_domain>`s, in order.
    pub children: Vec<ChildPd>,
    /// Where it was written.
    pub span: Span,
    /// What it is for.
    pub comment: Comment,
}

/// A child PD and the id its parent knows it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildPd {
    /// `id`
    pub id: u64,
    /// `setvar_id`: symbol in the parent patched with `id`.
    pub setvar_id: Option<String>,
    /// The child itself.
    pub pd: ProtectionDomain,
}

/// One `<end>` of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelEnd {
    /// `pd`
    pub pd: PdName,
    /// `id`
    pub id: ChannelId,
    /// `pp`: this end may call the other.
    pub pp: bool,
    /// `notify` (default true).
    pub notify: bool,
    /// `setvar_id`: symbol patched with `id`.
    pub setvar_id: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// A `<channel>` between two PDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The two ends, in document order.
    pub ends: [ChannelEnd; 2],
    /// Where it was written.
    pub span: Span,
    /// What it is for.
    pub comment: Comment,
}

/// A whole system description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct System {
    /// Memory regions, in order.
    pub memory_regions: Vec<MemoryRegion>,
    /// Top-level PDs, in order.
    pub protection_domains: Vec<ProtectionDomain>,
    /// Channels, in order.
    pub channels: Vec<Channel>,
    /// The file's header comment.
    pub comment: Comment,
}

/// A PD seen in the flattened tree: the PD, its parent and its child id.
#[derive(Clone, Copy, Debug)]
pub struct PdRef<'a> {
    /// The PD.
    pub pd: &'a ProtectionDomain,
    /// Its parent, for a child PD.
    pub parent: Option<&'a ProtectionDomain>,
    /// Its id in the parent, for a child PD.
    pub child: Option<&'a ChildPd>,
}

impl System {
    /// Every PD, parents before their children, in document order (the
    /// order in which the Microkit tool flattens the tree).
    pub fn all_pds(&self) -> Vec<PdRef<'_>> {
        fn walk<'a>(
            pd: &'a ProtectionDomain,
            parent: Option<&'a ProtectionDomain>,
            child: Option<&'a ChildPd>,
            out: &mut Vec<PdRef<'a>>,
        ) {
            out.push(PdRef { pd, parent, child });
            for c in &pd.children {
                walk(&c.pd, Some(pd), Some(c), out);
            }
        }
        let mut out = Vec::new();
        for pd in &self.protection_domains {
            walk(pd, None, None, &mut out);
        }
        out
    }

    /// The index the Microkit tool gives the PD named `name`: its position
    /// in [`System::all_pds`] (the tool's `pd_flatten`: top-level PDs in
    /// document order, each followed by its children, depth first). Its
    /// scheduling context carries badge 0x100 + index, which is how the
    /// root task recognises a PD in the spec.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.all_pds().iter().position(|r| r.pd.name.as_str() == name)
    }

    /// Every channel id PD `pd` has: its channel ends' and its irqs'.
    pub fn channel_ids(&self, pd: &str) -> BTreeSet<u64> {
        let ends = self.channels.iter().flat_map(|ch| &ch.ends).filter(|e| e.pd.as_str() == pd).map(|e| e.id.0);
        let irqs = self.pd(pd).into_iter().flat_map(|p| &p.irqs).map(|irq| irq.id.0);
        ends.chain(irqs).collect()
    }

    /// The PD named `name`, wherever it is in the tree.
    pub fn pd(&self, name: &str) -> Option<&ProtectionDomain> {
        self.all_pds()
            .into_iter()
            .map(|r| r.pd)
            .find(|pd| pd.name.as_str() == name)
    }

    /// The memory region named `name`.
    pub fn memory_region(&self, name: &str) -> Option<&MemoryRegion> {
        self.memory_regions.iter().find(|mr| mr.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_parse_and_print() {
        assert_eq!(Perms::parse("rw"), Some(Perms::RW));
        assert_eq!(
            Perms::parse("r").map(|p| p.to_string()),
            Some("r".to_string())
        );
        assert_eq!(
            Perms::parse("xr").map(|p| p.to_string()),
            Some("rx".to_string())
        );
        assert_eq!(Perms::parse("rq"), None);
    }
}
