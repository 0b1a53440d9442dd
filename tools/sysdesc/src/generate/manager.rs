//! FWPs that are no PD of `system.xml`: a template's `dynamic` FWPs, which
//! the FWP manager (the root task) creates at run time, on the mux's
//! request, as clones of the template's first slot PD (its *prototype*).
//!
//! `system.xml` gets one region for all of them, [`FWP_MANAGER`], mapped
//! into the mux: the manager's blob (`fwp_manager.bin`, an
//! `edgeos_config::ManagerConfig`) in its first pages, which the root task
//! reads from the packed spec, then the page the mux and the manager share
//! (`edgeos_fwp_manager::comm`). Everything else is in the blobs, from
//! [`plan`]: each dynamic FWP's regions sit in a window of the mux's address
//! space above every map the mux has, and the manager and each dynamic FWP
//! signal the mux on channel ids that no channel of `system.xml` uses (the
//! manager on one of its own, the dynamic FWPs sharing the others).

use edgeos_config::{ManagerConfig, MAX_MANAGED_FWPS, MAX_TEMPLATES};

use super::parts::{blob_map, region, round_up};
use super::{slot_plans, Role, SlotPlan, SlotWindow, MUX, SLOT_WINDOW_ALIGN};
use crate::check::layout::map_ranges;
use crate::check::limits::MAX_ID;
use crate::config::{Config, ConfigIssue, Loaded};
use crate::diagnostic::Span;
use crate::model::{Perms, ProtectionDomain, System};

/// The manager's region: its blob, then the page it shares with the mux.
pub const FWP_MANAGER: &str = "fwp_manager";
/// The file the manager's blob is prefilled from.
pub const FWP_MANAGER_FILE: &str = "fwp_manager.bin";
/// Where the mux maps [`FWP_MANAGER`] (after `mux_config`, at most a few pages).
pub const FWP_MANAGER_VADDR: u64 = 0x5a00_0000;

/// Bytes of the blob's pages: room for the largest blob, so that the
/// shared page's offset in the region does not depend on the configuration.
pub fn blob_pages(page: u64) -> u64 {
    round_up(ManagerConfig::len_for(MAX_TEMPLATES, MAX_MANAGED_FWPS) as u64, page)
}

/// The size of [`FWP_MANAGER`]: the blob's pages and the shared page.
pub fn region_size(page: u64) -> u64 {
    let comm = (edgeos_fwp_manager::comm::WORDS * 4) as u64;
    blob_pages(page) + round_up(comm, page)
}

/// Whether any template has dynamic FWPs (and so the system a manager).
pub fn has_dynamic(config: &Config) -> bool {
    config.templates.iter().any(|t| t.dynamic > 0)
}

/// Adds [`FWP_MANAGER`] and the mux's map of it. No setvar: the mux finds
/// the shared page in `mux_config`, and never touches the blob.
pub(super) fn add_region(sys: &mut System, mux: &mut ProtectionDomain, page: u64, span: Span) {
    let mut mr = region(
        FWP_MANAGER,
        region_size(page),
        None,
        None,
        span,
        format!(
            "The FWP manager (the root task), which creates the templates' dynamic FWPs at run time as clones of their first slot PD: they have no PD, region or channel here. Its configuration blob ({FWP_MANAGER_FILE}, from `sysdesc blobs`) fills the first {:#x} bytes, which it reads from the packed spec; the page after them is the mux's request/completion page to it (its address is in mux_config).",
            blob_pages(page)
        ),
    );
    mr.prefill_path = Some(FWP_MANAGER_FILE.to_string());
    sys.memory_regions.push(mr);
    mux.maps.push(blob_map(FWP_MANAGER, FWP_MANAGER_VADDR, Perms::RW, span));
}

/// Where the dynamic FWPs go, and how they and the manager signal the mux.
#[derive(Clone, Debug)]
pub struct ManagerPlan<'a> {
    /// The mux's channel id the manager signals it on.
    pub signal: u64,
    /// The mux's address of the shared page.
    pub comm: u64,
    /// Where dynamic FWP 0's window starts in the mux: the first
    /// [`SLOT_WINDOW_ALIGN`] boundary above every map of the mux.
    pub window: u64,
    /// How far apart consecutive dynamic FWPs' windows are: the largest
    /// window of a template with dynamic FWPs, rounded up to
    /// [`SLOT_WINDOW_ALIGN`]. Each FWP's regions sit at its template's
    /// slot offsets ([`SlotWindow`]) in its window.
    pub stride: u64,
    /// The dynamic FWPs, `k` = 0, 1, ...: each template's in template order.
    pub fwps: Vec<SlotPlan<'a>>,
}

/// Template `template_index`'s prototype: its first slot.
pub fn prototype(loaded: &Loaded, template_index: usize) -> Option<SlotPlan<'_>> {
    slot_plans(loaded).into_iter().find(|p| p.template_index == template_index)
}

/// The dynamic FWPs of `loaded`, placed around the mux of `system` (the
/// system `loaded` generates); `None` without any. An error when the mux
/// has too few channel ids left for them.
pub fn plan<'a>(loaded: &'a Loaded, system: &System) -> Result<Option<ManagerPlan<'a>>, ConfigIssue> {
    let config = &loaded.config;
    let Some(mux) = system.pd(MUX).filter(|_| has_dynamic(config)) else {
        return Ok(None);
    };
    let page = loaded.board.small_page();
    let used = system.channel_ids(MUX);
    let free: Vec<u64> = (0..=MAX_ID).filter(|id| !used.contains(id)).collect();
    let dynamic = config.templates.iter().enumerate().flat_map(|(ti, t)| (0..t.dynamic).map(move |_| ti));
    // The manager's id first; the dynamic FWPs share the rest, round
    // robin (the mux checks the status of every FWP behind a bit it gets).
    let needed = 1 + usize::from(dynamic.clone().count() > 0);
    let (signal, signals) = match free.split_first() {
        Some((signal, signals)) if free.len() >= needed => (*signal, signals.to_vec()),
        _ => return Err(channel_shortage(needed, free.len())),
    };
    let signals = signals.iter().copied().cycle();
    let windows: Vec<SlotWindow> =
        config.templates.iter().map(|t| SlotWindow::of(t, config.rings.queue_size, page)).collect();
    let stride = dynamic.clone().map(|ti| round_up(windows[ti].len, SLOT_WINDOW_ALIGN)).max().unwrap_or(0);
    let top = map_ranges(system, mux).iter().map(|(_, range, _)| range.end).max().unwrap_or(0);
    let window = round_up(top, SLOT_WINDOW_ALIGN);
    let fwps = dynamic
        .zip(signals)
        .enumerate()
        .map(|(k, (template_index, channel))| SlotPlan {
            role: Role::Dynamic,
            index: k,
            template: &config.templates[template_index],
            template_index,
            child_id: 0,
            channel,
            window: windows[template_index],
            mux_base: window.saturating_add(stride.saturating_mul(k as u64)),
        })
        .collect();
    let comm = FWP_MANAGER_VADDR + blob_pages(page);
    Ok(Some(ManagerPlan { signal, comm, window, stride, fwps }))
}

fn channel_shortage(needed: usize, free: usize) -> ConfigIssue {
    ConfigIssue::Impossible {
        rule: format!(
            "the FWP manager, and the dynamic FWPs (sharing ids), signal the mux on channel ids (0..={MAX_ID}) that no channel of system.xml uses for the mux"
        ),
        field: "templates".to_string(),
        value: format!("{needed} ids needed, {free} free"),
    }
}
