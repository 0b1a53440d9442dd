//! Configuration blobs against the maps: a region with a `prefill_path`
//! starts with a file found through the search paths (as the Microkit tool
//! finds it), and the EdgeOS blobs in such files say where things are.
//!
//! - every prefill file must be found (when there is a search path, or the
//!   blobs come with the configuration) and fit its region;
//! - a mux blob (`edgeos_config::MuxConfig`) must parse, and for every slot
//!   and template PD it lists, the mapping PD must have that child id, a
//!   channel with that id to the child, and at each address the blob gives a
//!   map of a region the child maps for the same purpose (the child's setvar
//!   says which: its control region, each ring, each buffer region, with the
//!   blob's length);
//! - a tenant blob (`edgeos_config::TenantConfig`) must parse, and its
//!   service, address and MAC must be the ones the mux's blob has for the
//!   template whose template PD maps it; a memcached template's store and
//!   connection area must fit the private region that PD maps;
//! - a manager blob (`edgeos_config::ManagerConfig`) must parse and agree
//!   with the system and the mux's blob (its rules are in `blobs/manager.rs`).
//!
//! The addresses a mux blob describes are how the mux learns its slots'
//! maps, which have no setvars; [`Described`] tells the symbols pass so,
//! and the schedule pass which dynamic FWPs run besides the PDs.

mod manager;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use edgeos_config::{ManagerConfig, MuxConfig, SlotLayout, SlotService, TemplateLayout, TenantConfig, REGION_COUNT};

use super::CheckOptions;
use crate::config::memcached_memory_size;
use crate::diagnostic::{Diagnostics, Severity, Span};
use crate::elf;
use crate::model::{PdName, ProtectionDomain, System};

/// A problem with a configuration blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobIssue {
    /// The configuration's blobs could not be made.
    Unbuildable {
        /// Why.
        reason: String,
    },
    /// A prefill file is not in any search path.
    NotFound {
        /// The region.
        mr: String,
        /// The file.
        file: String,
    },
    /// A prefill file could not be read, or an EdgeOS blob in it not parsed.
    Unreadable {
        /// The region.
        mr: String,
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A prefill file is larger than its region.
    TooBig {
        /// The region.
        mr: String,
        /// The file.
        file: String,
        /// The file's length.
        len: u64,
        /// The region's size.
        size: u64,
    },
    /// A blob says something the system description does not.
    Mismatch {
        /// The file.
        file: String,
        /// The PD whose view it describes.
        pd: String,
        /// What differs.
        detail: String,
    },
    /// A prefill file ends before its region's last page: the Microkit tool
    /// (2.3.0) panics on it (`capdl/builder.rs`, an underflow while filling
    /// the pages after the file's end).
    ShortOfLastPage {
        /// The region.
        mr: String,
        /// The file.
        file: String,
        /// The file's length.
        len: u64,
        /// Where the region's last page starts.
        last_page: u64,
    },
    /// A dynamic FWP's region in the mux overlaps something the mux has.
    DynamicOverlap {
        /// The manager's blob.
        file: String,
        /// The mux.
        pd: String,
        /// The region: `dynamic FWP 3's rx buffer region [..)`.
        what: String,
        /// What it overlaps: a map, another dynamic FWP's region, the stack.
        other: String,
    },
    /// A channel id the manager or a dynamic FWP signals the mux on is
    /// taken.
    SignalTaken {
        /// The manager's blob.
        file: String,
        /// The mux.
        pd: String,
        /// Whose id it is: `the manager`, `dynamic FWP 3`.
        who: String,
        /// The id.
        id: u8,
        /// Who else has it: `dynamic FWP 2`, `a channel or irq of 'mux'`.
        other: String,
    },
    /// No blob was checked: no search path, and none came with a configuration.
    NotChecked,
}

impl BlobIssue {
    /// [`BlobIssue::NotChecked`] is a note; the rest are errors.
    pub fn severity(&self) -> Severity {
        match self {
            BlobIssue::NotChecked => Severity::Note,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for BlobIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobIssue::Unbuildable { reason } => {
                write!(f, "the configuration blobs cannot be written: {reason}")
            }
            BlobIssue::NotFound { mr, file } => write!(
                f,
                "a prefill file must be in a search path: '{file}' of region '{mr}' is in none"
            ),
            BlobIssue::Unreadable { mr, file, reason } => write!(
                f,
                "a configuration blob must be readable: '{file}' of region '{mr}': {reason}"
            ),
            BlobIssue::TooBig { mr, file, len, size } => write!(
                f,
                "a prefill file must fit its region: '{file}' has {len:#x} bytes, region '{mr}' {size:#x}"
            ),
            BlobIssue::Mismatch { file, pd, detail } => write!(
                f,
                "a configuration blob must match the system description: '{file}' for '{pd}': {detail}"
            ),
            BlobIssue::ShortOfLastPage { mr, file, len, last_page } => write!(
                f,
                "a prefill file must reach its region's last page (the Microkit tool panics otherwise): '{file}' has {len:#x} bytes, the last page of region '{mr}' starts at {last_page:#x}"
            ),
            BlobIssue::DynamicOverlap { file, pd, what, other } => write!(
                f,
                "a dynamic FWP's regions must lie where the mux maps nothing else, below its stack: '{file}' puts {what} over {other} in '{pd}'"
            ),
            BlobIssue::SignalTaken { file, pd, who, id, other } => write!(
                f,
                "the FWP manager needs a channel id of '{pd}' of its own, and dynamic FWPs ids no channel of '{pd}' uses: '{file}' gives {who} id {id}, which {other} also has"
            ),
            BlobIssue::NotChecked => f.write_str(
                "configuration blobs not checked against maps: no --search-path given",
            ),
        }
    }
}

/// What the blobs tell each PD: the map addresses it learns from them, and
/// the PDs with a blob that could not be read (whose maps are not judged);
/// and the FWPs they create that are no PD.
#[derive(Clone, Debug, Default)]
pub struct Described {
    /// Per PD, the addresses a blob it maps gives it.
    pub addresses: BTreeMap<PdName, BTreeSet<u64>>,
    /// PDs that map a prefilled region whose contents are unknown.
    pub unknown: BTreeSet<PdName>,
    /// The dynamic FWPs a manager blob lists, in its order.
    pub dynamic: Vec<DynamicFwp>,
}

/// A dynamic FWP: the FWP manager creates it at run time as a clone of a
/// slot PD, whose scheduling parameters it runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicFwp {
    /// Its number `k` in the manager's blob.
    pub index: usize,
    /// The PD it is a clone of.
    pub prototype: PdName,
}

impl Described {
    /// Whether `pd` learns the map at `vaddr` from a blob, or might (its
    /// blob could not be read).
    pub fn covers(&self, pd: &PdName, vaddr: u64) -> bool {
        self.unknown.contains(pd)
            || self
                .addresses
                .get(pd)
                .is_some_and(|set| set.contains(&vaddr))
    }
}

/// The prefill file `file`: from the configuration's own blobs, else the
/// first search path that has it.
fn find(file: &str, options: &CheckOptions) -> Option<Result<Vec<u8>, String>> {
    if let Some(bytes) = options.blobs.get(file) {
        return Some(Ok(bytes.clone()));
    }
    let path: PathBuf = elf::find(file, &options.search_paths)?;
    Some(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display())))
}

/// A region in a slot, as the mux blob describes it.
struct Part {
    what: String,
    vaddr: u64,
    len: Option<u32>,
    write: bool,
    /// The setvar the slot's map of the same region has.
    setvar: &'static str,
}

fn part(what: &str, vaddr: u64, len: Option<u32>, write: bool, setvar: &'static str) -> Part {
    Part {
        what: what.to_string(),
        vaddr,
        len,
        write,
        setvar,
    }
}

/// The regions a slot shares with the mux, in `edgeos_config::REGION_COUNT`
/// order: what each is, and the setvar by which the slot maps it.
pub(super) const SHARED: [(&str, &str); REGION_COUNT] = [
    ("control region", "fwp_ctrl_vaddr"),
    ("rx_free ring", "rx_free_vaddr"),
    ("rx_used ring", "rx_used_vaddr"),
    ("tx_free ring", "tx_free_vaddr"),
    ("tx_used ring", "tx_used_vaddr"),
    ("rx buffer region", "rx_buf_vaddr"),
    ("tx buffer region", "tx_buf_vaddr"),
];

/// A slot's shared regions' addresses in the mux, in [`SHARED`] order.
pub(super) fn slot_addresses(slot: &SlotLayout) -> [u64; REGION_COUNT] {
    let [rx_free, rx_used, tx_free, tx_used] = slot.rings;
    [slot.ctrl, rx_free, rx_used, tx_free, tx_used, slot.rx_buf.0, slot.tx_buf.0]
}

/// The control region and rings of a template PD, which the mux only reads.
fn template_parts(t: &TemplateLayout) -> Vec<Part> {
    let [rx_free, rx_used, tx_free, tx_used] = t.rings;
    let addresses = [t.ctrl, rx_free, rx_used, tx_free, tx_used];
    SHARED.iter().zip(addresses).map(|(&(what, setvar), vaddr)| part(what, vaddr, None, false, setvar)).collect()
}

/// Everything a slot shares with the mux, which drives all of it.
fn parts(slot: &SlotLayout) -> Vec<Part> {
    let lens = [None, None, None, None, None, Some(slot.rx_buf.1), Some(slot.tx_buf.1)];
    let shared = SHARED.iter().zip(slot_addresses(slot)).zip(lens);
    shared.map(|((&(what, setvar), vaddr), len)| part(what, vaddr, len, true, setvar)).collect()
}

struct Ctx<'a> {
    system: &'a System,
    file: &'a str,
    pd: &'a ProtectionDomain,
}

impl Ctx<'_> {
    fn mismatch(&self, diags: &mut Diagnostics, span: Span, detail: String) {
        let issue = BlobIssue::Mismatch {
            file: self.file.to_string(),
            pd: self.pd.name.to_string(),
            detail,
        };
        diags.push(issue, span);
    }

    /// Checks one child (`who`: "slot 3", "template 0") of a mux blob; the
    /// addresses that matched a map.
    fn child(&self, who: &str, child_id: u8, channel: u8, parts: Vec<Part>, diags: &mut Diagnostics) -> Vec<u64> {
        let pd = self.pd;
        let Some(child) = pd
            .children
            .iter()
            .find(|c| c.id == u64::from(child_id))
        else {
            let detail = format!(
                "{who} is child id {}, which '{}' has not",
                child_id, pd.name
            );
            self.mismatch(diags, pd.span, detail);
            return Vec::new();
        };
        let child = &child.pd;
        let channel = self.system.channels.iter().any(|ch| {
            let [a, b] = &ch.ends;
            [(a, b), (b, a)].iter().any(|(me, it)| {
                me.pd == pd.name && me.id.0 == u64::from(channel) && it.pd == child.name
            })
        });
        if !channel {
            let detail = format!(
                "{who}'s channel is id {}, but no channel joins '{}' (id {}) and '{}'",
                channel, pd.name, channel, child.name
            );
            self.mismatch(diags, child.span, detail);
        }
        let mut matched = Vec::new();
        for part in parts {
            let at = format!("{who}'s {} at {:#x}", part.what, part.vaddr);
            let Some(m) = pd.maps.iter().find(|m| m.vaddr == part.vaddr) else {
                self.mismatch(
                    diags,
                    pd.span,
                    format!("{at}: '{}' maps nothing there", pd.name),
                );
                continue;
            };
            matched.push(part.vaddr);
            if !m.perms.read || (part.write && !m.perms.write) {
                let need = if part.write { "rw" } else { "r" };
                let detail = format!(
                    "{at}: '{}' is mapped '{}', the mux needs '{need}'",
                    m.mr, m.perms
                );
                self.mismatch(diags, m.span, detail);
            }
            if let (Some(len), Some(mr)) = (part.len, self.system.memory_region(&m.mr)) {
                if u64::from(len) != mr.size {
                    let detail = format!(
                        "{at}: the blob says {len:#x} bytes, region '{}' has {:#x}",
                        m.mr, mr.size
                    );
                    self.mismatch(diags, m.span, detail);
                }
            }
            match child.maps.iter().find(|c| c.mr == m.mr) {
                None => {
                    let detail =
                        format!("{at}: region '{}' is not mapped by '{}'", m.mr, child.name);
                    self.mismatch(diags, m.span, detail);
                }
                Some(c) if c.setvar_vaddr.as_deref() != Some(part.setvar) => {
                    let detail = format!(
                        "{at}: '{}' maps region '{}' as {}, not as its {} ('{}')",
                        child.name,
                        m.mr,
                        c.setvar_vaddr.as_deref().map_or_else(
                            || "nothing it knows of".to_string(),
                            |s| format!("'{s}'")
                        ),
                        part.what,
                        part.setvar
                    );
                    self.mismatch(diags, c.span, detail);
                }
                Some(_) => {}
            }
        }
        matched
    }
}

/// A tenant blob and where it is.
struct TenantBlob<'a> {
    file: &'a str,
    mr: &'a str,
    config: TenantConfig,
}

/// Checks every prefilled region; returns what the blobs tell each PD.
pub fn check(system: &System, options: &CheckOptions, diags: &mut Diagnostics) -> Described {
    let mut described = Described::default();
    let mut muxes: Vec<(&ProtectionDomain, MuxConfig, &str)> = Vec::new();
    let mut tenants: Vec<TenantBlob<'_>> = Vec::new();
    let mut managers: Vec<manager::ManagerBlob<'_>> = Vec::new();
    let mut noted = false;
    let pds = system.all_pds();
    for mr in &system.memory_regions {
        let Some(file) = mr.prefill_path.as_deref() else {
            continue;
        };
        let mappers: Vec<&ProtectionDomain> = pds
            .iter()
            .map(|r| r.pd)
            .filter(|pd| pd.maps.iter().any(|m| m.mr == mr.name))
            .collect();
        let bytes = match find(file, options) {
            Some(Ok(bytes)) => bytes,
            found => {
                match found {
                    Some(Err(reason)) => {
                        let issue = BlobIssue::Unreadable {
                            mr: mr.name.clone(),
                            file: file.to_string(),
                            reason,
                        };
                        diags.push(issue, mr.span);
                    }
                    _ if options.search_paths.is_empty() => {
                        if !noted {
                            diags.push(BlobIssue::NotChecked, Span::UNKNOWN);
                            noted = true;
                        }
                    }
                    _ => {
                        let issue = BlobIssue::NotFound {
                            mr: mr.name.clone(),
                            file: file.to_string(),
                        };
                        diags.push(issue, mr.span);
                    }
                }
                described
                    .unknown
                    .extend(mappers.iter().map(|pd| pd.name.clone()));
                continue;
            }
        };
        if bytes.len() as u64 > mr.size {
            let issue = BlobIssue::TooBig {
                mr: mr.name.clone(),
                file: file.to_string(),
                len: bytes.len() as u64,
                size: mr.size,
            };
            diags.push(issue, mr.span);
        }
        let page = mr.page_size.unwrap_or(options.board.small_page()).max(1);
        let last_page = mr.size.div_ceil(page).saturating_sub(1).saturating_mul(page);
        if (bytes.len() as u64) < last_page {
            let issue = BlobIssue::ShortOfLastPage {
                mr: mr.name.clone(),
                file: file.to_string(),
                len: bytes.len() as u64,
                last_page,
            };
            diags.push(issue, mr.span);
        }
        let unreadable = |reason: String, diags: &mut Diagnostics| {
            let issue = BlobIssue::Unreadable {
                mr: mr.name.clone(),
                file: file.to_string(),
                reason,
            };
            diags.push(issue, mr.span);
        };
        match bytes.get(..4) {
            _ if ManagerConfig::recognise(&bytes) => match ManagerConfig::parse(&bytes) {
                Ok(config) => managers.push(manager::ManagerBlob { mr, file, config }),
                Err(e) => unreadable(e.to_string(), diags),
            },
            Some(b"EDMX") => match MuxConfig::parse(&bytes) {
                Ok(config) => muxes.extend(mappers.iter().map(|pd| (*pd, config.clone(), file))),
                Err(e) => {
                    unreadable(e.to_string(), diags);
                    described
                        .unknown
                        .extend(mappers.iter().map(|pd| pd.name.clone()));
                }
            },
            Some(b"EDTN") => match TenantConfig::parse(&bytes) {
                Ok(config) => tenants.push(TenantBlob {
                    file,
                    mr: &mr.name,
                    config,
                }),
                Err(e) => unreadable(e.to_string(), diags),
            },
            // Not an EdgeOS blob: nothing to say about its contents.
            _ => {}
        }
    }
    for (pd, config, file) in &muxes {
        let ctx = Ctx { system, file, pd };
        let set = described.addresses.entry(pd.name.clone()).or_default();
        // Dynamic FWPs are no children: the manager's blob is checked for them.
        for (i, slot) in config.slots.iter().enumerate().filter(|(_, s)| s.dynamic.is_none()) {
            set.extend(ctx.child(&format!("slot {i}"), slot.child_id, slot.channel, parts(slot), diags));
        }
        for (i, t) in config.templates.iter().enumerate() {
            set.extend(ctx.child(&format!("template {i}"), t.child_id, t.channel, template_parts(t), diags));
        }
        if let Some(link) = config.manager {
            set.extend(manager::comm_map(&ctx, link.comm, diags));
        }
    }
    for t in &tenants {
        tenant(system, t, &muxes, diags);
    }
    manager::check(system, options.board, &managers, &muxes, &mut described, diags);
    described
}

/// A tenant blob against the mux blob's view of the slot that maps it.
fn tenant(
    system: &System,
    t: &TenantBlob<'_>,
    muxes: &[(&ProtectionDomain, MuxConfig, &str)],
    diags: &mut Diagnostics,
) {
    for r in system.all_pds() {
        let (Some(parent), Some(child)) = (r.parent, r.child) else {
            continue;
        };
        let Some(m) = r.pd.maps.iter().find(|m| m.mr == t.mr) else {
            continue;
        };
        let Some((_, mux, _)) = muxes.iter().find(|(pd, _, _)| pd.name == parent.name) else {
            continue;
        };
        let Some(template) = mux.templates.iter().find(|t| u64::from(t.child_id) == child.id) else {
            let detail = format!("'{}' is no template PD in the mux's blob", r.pd.name);
            diags.push(
                BlobIssue::Mismatch { file: t.file.to_string(), pd: r.pd.name.to_string(), detail },
                m.span,
            );
            continue;
        };
        let mismatch = |detail: String, diags: &mut Diagnostics| {
            let issue = BlobIssue::Mismatch {
                file: t.file.to_string(),
                pd: r.pd.name.to_string(),
                detail,
            };
            diags.push(issue, m.span);
        };
        let c = &t.config;
        let service = SlotService {
            protocols: c.protocols,
            port: c.port,
            last_port: c.last_port,
        };
        if template.service != service {
            mismatch(
                format!(
                    "the template serves {} {}, the mux's blob routes {} {} to it",
                    c.protocols,
                    ports(c.port, c.last_port),
                    template.service.protocols,
                    ports(template.service.port, template.service.last_port)
                ),
                diags,
            );
        }
        if c.ip != mux.ip || c.mac != mux.mac {
            mismatch(
                "the slot's address or MAC is not the one in the mux's blob".to_string(),
                diags,
            );
        }
        if c.store_size > 0 {
            store(system, r.pd, c, |detail| mismatch(detail, diags));
        }
    }
}

/// A memcached template's connections and store against the private
/// region its PD maps (the one `fwp_mem_size` sizes), which must hold the
/// connection area and the store after it.
fn store(system: &System, pd: &ProtectionDomain, c: &TenantConfig, mut mismatch: impl FnMut(String)) {
    let limit = edgeos_memcache_server::MAX_CONNECTIONS;
    if c.max_connections as usize > limit {
        mismatch(format!("{} connections at once; the program serves at most {limit}", c.max_connections));
        return;
    }
    let private = pd
        .maps
        .iter()
        .find(|m| m.setvar_size.as_deref() == Some("fwp_mem_size"))
        .and_then(|m| system.memory_region(&m.mr));
    let needed = memcached_memory_size(c.store_size, u64::from(c.max_connections));
    match private {
        None => mismatch(format!(
            "a store of {:#x} bytes needs a private region ('fwp_mem_size'), and '{}' maps none",
            c.store_size, pd.name
        )),
        Some(mr) if mr.size < needed => mismatch(format!(
            "a store of {:#x} bytes after the connection area for {} connections and its index needs {needed:#x} bytes, region '{}' has {:#x}",
            c.store_size, c.max_connections, mr.name, mr.size
        )),
        Some(_) => {}
    }
}

/// `port 7`, or `ports 20000-20099` for a range.
fn ports(first: u16, last: u16) -> String {
    if first == last {
        format!("port {first}")
    } else {
        format!("ports {first}-{last}")
    }
}
