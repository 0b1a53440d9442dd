//! Small constructors for model elements, so the generator reads as a
//! description of the system rather than as struct literals.

use crate::diagnostic::Span;
use crate::model::{ChannelEnd, ChannelId, Comment, Map, MemoryRegion, Perms, ProtectionDomain};

pub(super) fn round_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align).saturating_mul(align)
}

pub(super) fn map(
    mr: &str,
    vaddr: u64,
    perms: Perms,
    cached: bool,
    setvar: &str,
    span: Span,
) -> Map {
    Map {
        mr: mr.to_string(),
        vaddr,
        perms,
        cached,
        setvar_vaddr: Some(setvar.to_string()),
        setvar_size: None,
        span,
    }
}

/// A cached map whose address the PD learns from a configuration blob, not
/// from a setvar.
pub(super) fn blob_map(mr: &str, vaddr: u64, perms: Perms, span: Span) -> Map {
    Map {
        setvar_vaddr: None,
        ..map(mr, vaddr, perms, true, "", span)
    }
}

pub(super) fn sized(mut m: Map, setvar_size: &str) -> Map {
    m.setvar_size = Some(setvar_size.to_string());
    m
}

pub(super) fn region(
    name: &str,
    size: u64,
    page_size: Option<u64>,
    phys_addr: Option<u64>,
    span: Span,
    comment: String,
) -> MemoryRegion {
    MemoryRegion {
        name: name.to_string(),
        size,
        page_size,
        phys_addr,
        prefill_path: None,
        span,
        comment: Comment::new(comment),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn pd(
    name: &str,
    program: &str,
    priority: u64,
    budget: u64,
    period: u64,
    stack_size: u64,
    span: Span,
    comment: Comment,
) -> ProtectionDomain {
    ProtectionDomain {
        name: name.into(),
        program: program.to_string(),
        priority,
        budget,
        period,
        passive: false,
        stack_size,
        cpu: 0,
        fpu: true,
        maps: Vec::new(),
        irqs: Vec::new(),
        setvars: Vec::new(),
        children: Vec::new(),
        span,
        comment,
    }
}

pub(super) fn end(pd: &str, id: u64, pp: bool, setvar: Option<&str>, span: Span) -> ChannelEnd {
    ChannelEnd {
        pd: pd.into(),
        id: ChannelId(id),
        pp,
        notify: true,
        setvar_id: setvar.map(str::to_string),
        span,
    }
}

/// A 2 MiB page size for a region made of whole 2 MiB pages.
pub(super) fn large_pages(board_pages: &[u64], size: u64) -> Option<u64> {
    board_pages
        .last()
        .copied()
        .filter(|large| size > 0 && size % large == 0)
}

/// `2 KiB` for whole KiB, `1514 bytes` otherwise.
pub(super) fn bytes(n: u64) -> String {
    if n > 0 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}
