//! The FWP manager's blob (`edgeos_config::ManagerConfig`) against the
//! system and the mux's blob. The manager creates the dynamic FWPs at run
//! time, so `system.xml` shows nothing of them; what must hold:
//!
//! - its mux (a PD index, as the Microkit tool numbers PDs) maps the
//!   manager's region, and the shared page is a page of it after the blob;
//! - the manager's and every dynamic FWP's channel id is one that no
//!   channel or irq of the mux uses, each its own;
//! - each template's prototype is a child of the mux that maps, at each of
//!   the blob's addresses, a region of the blob's size as the same thing
//!   (by its setvar);
//! - each dynamic FWP's regions in the mux overlap no map of the mux and
//!   no other dynamic FWP's, and end below the mux's stack;
//! - the mux's blob agrees: the same shared page and manager id, and its
//!   dynamic slots are the manager's FWPs, in order, with the same ids,
//!   addresses and buffer lengths, run as the template of their prototype.

use std::collections::BTreeMap;

use edgeos_config::{ManagedFwp, ManagerConfig, MuxConfig, SlotLayout};

use super::{slot_addresses, BlobIssue, Ctx, Described, DynamicFwp, SHARED};
use crate::boards::Board;
use crate::check::layout::{map_ranges, Range};
use crate::diagnostic::Diagnostics;
use crate::model::{MemoryRegion, PdRef, ProtectionDomain, System};

/// A manager blob and where it is.
pub(super) struct ManagerBlob<'a> {
    /// The region it fills.
    pub(super) mr: &'a MemoryRegion,
    /// Its file.
    pub(super) file: &'a str,
    /// What it says.
    pub(super) config: ManagerConfig,
}

/// A mux blob and the PD that maps it.
type MuxBlob<'a> = (&'a ProtectionDomain, MuxConfig, &'a str);

/// The map of the mux (`ctx.pd`) holding the shared page at `comm` that
/// the mux's blob names: its address, which the mux learns from the blob.
pub(super) fn comm_map(ctx: &Ctx<'_>, comm: u64, diags: &mut Diagnostics) -> Option<u64> {
    let pd = ctx.pd;
    let at = format!("the FWP manager's shared page at {comm:#x}");
    let ranges = map_ranges(ctx.system, pd);
    let Some((mr, range, span)) = ranges.iter().find(|(_, r, _)| r.start <= comm && comm < r.end) else {
        ctx.mismatch(diags, pd.span, format!("{at}: '{}' maps nothing there", pd.name));
        return None;
    };
    let writable = pd.maps.iter().any(|m| m.mr == *mr && m.vaddr == range.start && m.perms.read && m.perms.write);
    if !writable {
        ctx.mismatch(diags, *span, format!("{at}: '{mr}' is not mapped 'rw' in '{}'", pd.name));
    }
    Some(range.start)
}

/// Checks every manager blob; records the dynamic FWPs in `described`.
pub(super) fn check(
    system: &System,
    board: &Board,
    managers: &[ManagerBlob<'_>],
    muxes: &[MuxBlob<'_>],
    described: &mut Described,
    diags: &mut Diagnostics,
) {
    let pds = system.all_pds();
    let mux_of = |m: &ManagerBlob<'_>| {
        pds.get(usize::from(m.config.mux_pd)).map(|r| r.pd).filter(|pd| pd.maps.iter().any(|map| map.mr == m.mr.name))
    };
    for m in managers {
        let Some(mux) = mux_of(m) else {
            let index = m.config.mux_pd;
            let pd = pds.get(usize::from(index)).map_or_else(|| format!("PD {index}"), |r| r.pd.name.to_string());
            let detail = format!("its mux is PD index {index} ('{pd}'), which does not map region '{}'", m.mr.name);
            diags.push(BlobIssue::Mismatch { file: m.file.to_string(), pd, detail }, m.mr.span);
            continue;
        };
        let ctx = Ctx { system, file: m.file, pd: mux };
        shared_page(&ctx, board, m, diags);
        signals(&ctx, m, diags);
        let prototypes = prototypes(&ctx, &pds, m, diags);
        windows(&ctx, board, m, diags);
        for (index, fwp) in m.config.fwps.iter().enumerate() {
            if let Some(Some(proto)) = prototypes.get(usize::from(fwp.template)) {
                described.dynamic.push(DynamicFwp { index, prototype: proto.name.clone() });
            }
        }
        match muxes.iter().find(|(pd, _, _)| pd.name == mux.name) {
            Some((_, config, _)) => agree(&ctx, m, config, &prototypes, diags),
            None if !described.unknown.contains(&mux.name) => {
                ctx.mismatch(diags, m.mr.span, format!("'{}' maps no mux blob to ask for its dynamic FWPs", mux.name));
            }
            None => {}
        }
    }
    for (pd, config, file) in muxes {
        let dynamic = config.slots.iter().filter(|s| s.dynamic.is_some()).count();
        let managed = managers.iter().any(|m| mux_of(m).is_some_and(|mux| mux.name == pd.name));
        if (dynamic > 0 || config.manager.is_some()) && !managed && !described.unknown.contains(&pd.name) {
            let ctx = Ctx { system, file, pd };
            let detail = format!("it lists {dynamic} dynamic FWPs, but no region '{}' maps holds an FWP manager's blob", pd.name);
            ctx.mismatch(diags, pd.span, detail);
        }
    }
}

/// The shared page is a whole page of the manager's region, after the blob.
fn shared_page(ctx: &Ctx<'_>, board: &Board, m: &ManagerBlob<'_>, diags: &mut Diagnostics) {
    let page = board.small_page();
    let Some(map) = ctx.pd.maps.iter().find(|map| map.mr == m.mr.name) else {
        return;
    };
    let blob = m.config.buffer_len() as u64;
    let first = map.vaddr.saturating_add(blob.div_ceil(page).saturating_mul(page));
    let end = map.vaddr.saturating_add(m.mr.size);
    let comm = m.config.comm;
    if comm < first || comm.saturating_add(page) > end || comm % page != 0 {
        let detail = format!(
            "the shared page at {comm:#x} must be a page of region '{}' after the blob: {}",
            m.mr.name,
            Range { start: first, end }
        );
        ctx.mismatch(diags, map.span, detail);
    }
}

/// The manager's and each dynamic FWP's channel id: free in the mux; the
/// manager's its own, the dynamic FWPs' possibly shared among them (the
/// mux checks every FWP behind a bit).
fn signals(ctx: &Ctx<'_>, m: &ManagerBlob<'_>, diags: &mut Diagnostics) {
    let used = ctx.system.channel_ids(ctx.pd.name.as_str());
    let fwps = m.config.fwps.iter().enumerate().map(|(k, f)| (format!("dynamic FWP {k}"), f.signal));
    let mut seen: BTreeMap<u8, String> = BTreeMap::new();
    for (who, id) in std::iter::once(("the manager".to_string(), m.config.mux_signal)).chain(fwps) {
        let other = match seen.get(&id) {
            Some(first) if first == "the manager" || who == "the manager" => Some(first.clone()),
            Some(_) => None,
            None if used.contains(&u64::from(id)) => Some(format!("a channel or irq of '{}'", ctx.pd.name)),
            None => None,
        };
        if let Some(other) = other {
            let issue = BlobIssue::SignalTaken {
                file: m.file.to_string(),
                pd: ctx.pd.name.to_string(),
                who: who.clone(),
                id,
                other,
            };
            diags.push(issue, m.mr.span);
        }
        seen.entry(id).or_insert(who);
    }
}

/// Each template's prototype, a child of the mux mapping the regions the
/// blob lists as its own; `None` where it is not.
fn prototypes<'s>(
    ctx: &Ctx<'_>,
    pds: &[PdRef<'s>],
    m: &ManagerBlob<'_>,
    diags: &mut Diagnostics,
) -> Vec<Option<&'s ProtectionDomain>> {
    let mux = &ctx.pd.name;
    let mut out = Vec::new();
    for (t, template) in m.config.templates.iter().enumerate() {
        let index = usize::from(template.prototype_pd);
        let Some(proto) = pds.get(index).filter(|r| r.parent.is_some_and(|p| p.name == *mux)).map(|r| r.pd) else {
            let name = pds.get(index).map_or_else(|| "none".to_string(), |r| format!("'{}'", r.pd.name));
            let detail = format!("template {t}'s prototype is PD index {index} ({name}), which is no child of '{mux}'");
            ctx.mismatch(diags, m.mr.span, detail);
            out.push(None);
            continue;
        };
        for (region, &(what, setvar)) in template.regions.iter().zip(&SHARED) {
            let at = format!("template {t}'s prototype '{}': its {what} at {:#x}", proto.name, region.vaddr);
            let Some(map) = proto.maps.iter().find(|map| map.vaddr == region.vaddr) else {
                ctx.mismatch(diags, proto.span, format!("{at}: it maps nothing there"));
                continue;
            };
            if map.setvar_vaddr.as_deref() != Some(setvar) {
                let detail = format!("{at}: it maps '{}' there, not as its {what} ('{setvar}')", map.mr);
                ctx.mismatch(diags, map.span, detail);
            }
            if let Some(mr) = ctx.system.memory_region(&map.mr).filter(|mr| mr.size != u64::from(region.size)) {
                let detail = format!("{at}: the blob says {:#x} bytes, region '{}' has {:#x}", region.size, mr.name, mr.size);
                ctx.mismatch(diags, map.span, detail);
            }
        }
        out.push(Some(proto));
    }
    out
}

/// Each dynamic FWP's regions in the mux: clear of the mux's maps, of one
/// another, and of the mux's stack.
fn windows(ctx: &Ctx<'_>, board: &Board, m: &ManagerBlob<'_>, diags: &mut Diagnostics) {
    let page = board.small_page();
    let limit = board.map_limit(ctx.pd.stack_size);
    let maps = map_ranges(ctx.system, ctx.pd);
    let mut taken: Vec<(String, Range)> = maps.into_iter().map(|(mr, range, _)| (format!("'{mr}' {range}"), range)).collect();
    for (k, fwp) in m.config.fwps.iter().enumerate() {
        let Some(template) = m.config.templates.get(usize::from(fwp.template)) else {
            continue; // The blob's parser refuses that.
        };
        for ((&start, region), (what, _)) in fwp.mux.iter().zip(&template.regions).zip(&SHARED) {
            let len = u64::from(region.size).div_ceil(page).saturating_mul(page);
            let range = Range { start, end: start.saturating_add(len) };
            let this = format!("dynamic FWP {k}'s {what} {range}");
            let other = taken
                .iter()
                .find(|(_, r)| r.overlaps(range))
                .map(|(other, _)| other.clone())
                .or_else(|| (range.end > limit).then(|| format!("its stack, guard page and IPC buffer from {limit:#x}")));
            if let Some(other) = other {
                let issue = BlobIssue::DynamicOverlap {
                    file: m.file.to_string(),
                    pd: ctx.pd.name.to_string(),
                    what: this.clone(),
                    other,
                };
                diags.push(issue, m.mr.span);
            }
            taken.push((this, range));
        }
    }
}

/// The mux's blob against the manager's: the same link, and its dynamic
/// slots the manager's FWPs.
fn agree(
    ctx: &Ctx<'_>,
    m: &ManagerBlob<'_>,
    mux: &MuxConfig,
    prototypes: &[Option<&ProtectionDomain>],
    diags: &mut Diagnostics,
) {
    let c = &m.config;
    match mux.manager {
        Some(link) if (link.comm, link.signal) == (c.comm, c.mux_signal) => {}
        Some(link) => ctx.mismatch(
            diags,
            m.mr.span,
            format!(
                "the shared page and the manager's id are {:#x} and {} here, {:#x} and {} in the mux's blob",
                c.comm, c.mux_signal, link.comm, link.signal
            ),
        ),
        None => ctx.mismatch(diags, m.mr.span, "the mux's blob names no FWP manager".to_string()),
    }
    let dynamic: Vec<(usize, &SlotLayout)> = mux.slots.iter().enumerate().filter(|(_, s)| s.dynamic.is_some()).collect();
    if dynamic.len() != c.fwps.len() {
        let detail = format!("it lists {} dynamic FWPs, the mux's blob {}", c.fwps.len(), dynamic.len());
        ctx.mismatch(diags, m.mr.span, detail);
    }
    for (k, (fwp, &(i, slot))) in c.fwps.iter().zip(&dynamic).enumerate() {
        let who = format!("dynamic FWP {k} (the mux's slot {i})");
        for detail in slot_differences(fwp, slot, k, c) {
            ctx.mismatch(diags, m.mr.span, format!("{who}: {detail}"));
        }
        let proto = prototypes.get(usize::from(fwp.template)).copied().flatten();
        let child = proto.and_then(|p| ctx.pd.children.iter().find(|c| c.pd.name == p.name));
        if let Some(child) = child {
            let template = mux.slots.iter().find(|s| s.dynamic.is_none() && u64::from(s.child_id) == child.id).map(|s| s.template);
            if template != Some(slot.template) {
                let detail = format!(
                    "{who}: the mux's blob runs it as template {}, its prototype '{}' as {}",
                    slot.template,
                    child.pd.name,
                    template.map_or_else(|| "no slot".to_string(), |t| format!("template {t}"))
                );
                ctx.mismatch(diags, m.mr.span, detail);
            }
        }
    }
}

/// How dynamic FWP `k`'s entry in the manager's blob `c` and its slot in
/// the mux's blob differ.
fn slot_differences(fwp: &ManagedFwp, slot: &SlotLayout, k: usize, c: &ManagerConfig) -> Vec<String> {
    let mut out = Vec::new();
    if slot.dynamic.map(usize::from) != Some(k) {
        out.push(format!("the mux's blob numbers it {:?}", slot.dynamic));
    }
    if slot.channel != fwp.signal {
        out.push(format!("its id is {} here, {} in the mux's blob", fwp.signal, slot.channel));
    }
    let mut addresses = fwp.mux.iter().zip(slot_addresses(slot)).zip(&SHARED);
    if let Some(((here, there), (what, _))) = addresses.find(|((a, b), _)| *a != b) {
        out.push(format!("its {what} is at {here:#x} here, {there:#x} in the mux's blob"));
    }
    if let Some(template) = c.templates.get(usize::from(fwp.template)) {
        let (rx, tx) = (template.regions[5].size, template.regions[6].size);
        if (slot.rx_buf.1, slot.tx_buf.1) != (rx, tx) {
            out.push(format!(
                "its buffer regions have {rx:#x} and {tx:#x} bytes here, {:#x} and {:#x} in the mux's blob",
                slot.rx_buf.1, slot.tx_buf.1
            ));
        }
    }
    out
}
