//! A template's prototype slot PD as the spec describes it: what an FWP
//! clone of it needs (its pages, its CSpace's entries, its scheduling
//! parameters) and how big the clone's slab is.

use alloc::vec::Vec;

use edgeos_config::{ManagedFwp, ManagedTemplate};
use edgeos_fwp_manager::clone::{page_source, store_radix, CloneObjects, PageSource};
use sel4::CapRights;
use sel4_capdl_initializer_types::{ArchivedCap, ArchivedObject, HasArchivedCapTable, HasVmAttributes};

use super::mux::{inner_cnode, MuxLink};
use crate::spec::{index_of, Objects};
use crate::static_system::BuildError;

/// One page the prototype maps.
#[derive(Clone)]
pub struct Page {
    pub vaddr: u64,
    /// The prototype's frame (shared by read-only clones' pages).
    pub frame: usize,
    pub rights: CapRights,
    pub attributes: sel4::VmAttributes,
    pub writable: bool,
}

/// What a slot of the prototype's Microkit CNode holds, as a clone gets it.
#[derive(Clone)]
pub enum Entry {
    /// Its own notification (its input).
    OwnNotification { rights: CapRights, badge: u64 },
    /// The multiplexer's endpoint, badged for its faults.
    FaultEndpoint { rights: CapRights },
    /// Its own address space.
    VSpace,
    /// Its reply object.
    Reply,
    /// The multiplexer's notification, badged with its channel bit.
    MuxNotification { rights: CapRights },
}

pub struct Prototype {
    pub template: ManagedTemplate,
    pub pages: Vec<Page>,
    pub page_tables: usize,
    pub cnode_bits: u32,
    pub entries: Vec<(u64, Entry)>,
    pub ipc_buffer: u64,
    pub priority: u8,
    pub max_priority: u8,
    pub fpu_disabled: bool,
    pub budget_us: u64,
    pub period_us: u64,
    /// The badge the multiplexer's cap to the prototype's notification carries.
    pub mux_badge: u64,
    pub objects: CloneObjects,
    /// Caps a clone takes while it is built, all kept in its store.
    pub caps: usize,
    /// The radix of the clone's store CNode.
    pub store_radix: u32,
}


impl Prototype {
    pub fn read(objects: &Objects<'static>, template: &ManagedTemplate, mux: &MuxLink) -> Result<Self, BuildError> {
        let unsupported = BuildError::UnsupportedSpec;
        let (_, tcb) = objects.pd_tcb(template.prototype_pd).ok_or(unsupported("a prototype naming no PD"))?;
        let vspace = index_of(&tcb.vspace().object);
        let own_notification = tcb.bound_notification().map(|n| index_of(&n.object)).ok_or(unsupported("a prototype without a notification"))?;
        let sc = tcb.sc().map(|sc| index_of(&sc.object)).ok_or(unsupported("a prototype without a scheduling context"))?;
        let ArchivedObject::SchedContext(sc) = objects.object(sc) else { return Err(unsupported("a prototype SC")) };

        let mut pages = Vec::new();
        let mut bad_page = false;
        objects.mappings(vspace, |m| {
            let ArchivedObject::Frame(frame) = objects.object(m.frame) else { return };
            bad_page |= frame.size_bits != 12;
            let rights = m.cap.rights.to_sel4();
            pages.push(Page {
                vaddr: m.vaddr,
                frame: m.frame,
                rights,
                attributes: m.cap.vm_attributes(false),
                writable: m.cap.rights.write,
            });
        });
        if bad_page {
            return Err(unsupported("prototypes with pages other than 4 KiB"));
        }

        let cnode = inner_cnode(objects, index_of(&tcb.cspace().object))?;
        let ArchivedObject::CNode(cnode_object) = objects.object(cnode) else { return Err(unsupported("a prototype CNode")) };
        let mut entries = Vec::new();
        for entry in cnode_object.slots() {
            let slot = u64::from(entry.slot.0.to_native());
            let kind = match &entry.cap {
                ArchivedCap::Notification(n) if index_of(&n.object) == own_notification => {
                    Entry::OwnNotification { rights: n.rights.to_sel4(), badge: n.badge.to_sel4() }
                }
                ArchivedCap::Notification(n) if index_of(&n.object) == mux.notification_object() => {
                    Entry::MuxNotification { rights: n.rights.to_sel4() }
                }
                ArchivedCap::Endpoint(e) if index_of(&e.object) == mux.endpoint_object() => {
                    Entry::FaultEndpoint { rights: e.rights.to_sel4() }
                }
                ArchivedCap::PageTable(p) if index_of(&p.object) == vspace => Entry::VSpace,
                ArchivedCap::Reply(_) => Entry::Reply,
                _ => return Err(unsupported("prototype caps other than its own, the multiplexer's notification and fault endpoint")),
            };
            entries.push((slot, kind));
        }
        let highest = entries.iter().map(|(slot, _)| *slot).max().unwrap_or(0);
        // At least 16 slots; enough for the highest the program uses.
        let cnode_bits = (u64::BITS - highest.leading_zeros()).max(4);

        let mux_badge = mux_badge_for(objects, mux, own_notification).ok_or(unsupported("a prototype the multiplexer cannot signal"))?;

        let probe = ManagedFwp { template: 0, signal: 0, mux: [0; edgeos_config::REGION_COUNT] };
        let mut fresh_pages = 0;
        for page in &pages {
            match page_source(template, &probe, page.vaddr, page.writable) {
                Ok(PageSource::Shared) => {}
                Ok(_) => fresh_pages += 1,
                Err(_) => return Err(unsupported("a prototype mapping a region it shares with the multiplexer read-only")),
            }
        }
        let page_tables = objects.page_tables_below(vspace);
        let bits = |blueprint: sel4::ObjectBlueprint| blueprint.physical_size_bits() as u32;
        // Objects (address space, CNode, TCB, SC, notification, reply), the
        // tables and fresh pages, a copy per page mapped twice (shared
        // pages, and fresh pages the multiplexer maps too), the fault
        // endpoint.
        let caps = 7 + page_tables + 2 * pages.len();
        let vspace_bits = bits(sel4::ObjectBlueprintSeL4Arch::VSpace.into());
        let store_radix = store_radix(caps, vspace_bits);
        let clone_objects = CloneObjects {
            fresh_pages,
            page_tables,
            vspace_bits,
            cnode_bits: bits(sel4::ObjectBlueprint::CNode { size_bits: cnode_bits as usize }),
            tcb_bits: bits(sel4::ObjectBlueprint::Tcb),
            // As the static system's (room for refills).
            sc_bits: crate::spec::sched_context_bits(usize::from(sc.size_bits)) as u32,
            small_bits: bits(sel4::ObjectBlueprint::Notification).max(bits(sel4::ObjectBlueprint::Reply)),
            store_bits: bits(sel4::ObjectBlueprint::CNode { size_bits: store_radix as usize }),
        };
        Ok(Self {
            template: *template,
            pages,
            page_tables,
            cnode_bits,
            entries,
            ipc_buffer: tcb.extra.ipc_buffer_addr.to_sel4() as u64,
            priority: tcb.extra.prio,
            max_priority: tcb.extra.max_prio,
            fpu_disabled: tcb.extra.fpu_disabled,
            budget_us: sc.extra.budget.to_native(),
            period_us: sc.extra.period.to_native(),
            mux_badge,
            objects: clone_objects,
            caps,
            store_radix,
        })
    }
}

/// The badge on the multiplexer's cap to `notification`.
fn mux_badge_for(objects: &Objects<'static>, mux: &MuxLink, notification: usize) -> Option<u64> {
    let ArchivedObject::CNode(cnode) = objects.object(mux.cnode_object()) else { return None };
    cnode.slots().iter().find_map(|entry| match &entry.cap {
        ArchivedCap::Notification(n) if index_of(&n.object) == notification => Some(n.badge.to_sel4()),
        _ => None,
    })
}
