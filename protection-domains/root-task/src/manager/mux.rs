//! The manager's link to the multiplexer: its configuration (found in the
//! spec), the shared comm page, the notifications both ways, and the CNode
//! the manager mounts in the multiplexer's CSpace for the caps of dynamic
//! FWPs (`edgeos_fwp_manager::caps`).

use core::ptr::addr_of;

use edgeos_config::ManagerConfig;
use edgeos_fwp_manager::caps;
use edgeos_fwp_manager::comm::MappedPage;
use sel4::{cap, cap_type, init_thread, CNodeCapData, CapRights, ObjectBlueprint};
use sel4_capdl_initializer_types::{
    object, vm_attributes_from_whether_cached_and_exec, ArchivedCap, ArchivedObject, HasArchivedCapTable,
};

use super::clone::CreateError;
use super::memory::Memory;
use crate::frames;
use crate::slots::absolute;
use crate::spec::{index_of, Objects};
use crate::static_system::{BuildError, StaticSystem};

const PAGE: usize = 4096;

#[repr(C, align(4096))]
struct Window(#[allow(dead_code)] [u8; PAGE]);

/// A page of the root task's image, given up so the comm page can be
/// mapped at its address.
static COMM_WINDOW: Window = Window([0; PAGE]);

pub struct MuxLink {
    page: MappedPage,
    inbox: cap::Notification,
    to_mux: cap::Notification,
    vspace: cap::VSpace,
    cnode_object: usize,
    endpoint_object: usize,
    notification_object: usize,
    mounted: cap::CNode,
}

/// The manager's configuration: the prefill of the frame that starts
/// with its magic and, for a blob longer than a page, of the frames the
/// multiplexer maps right after it.
pub fn find_config(objects: &Objects<'static>) -> Result<Option<ManagerConfig>, BuildError> {
    let mut blob = alloc::vec![0u8; PAGE];
    let Some((frame, _)) = objects.all::<object::ArchivedFrame<sel4_capdl_initializer_types::FrameInit>>().find(|(id, _)| {
        blob.fill(0);
        objects.prefill(*id, &mut blob) && ManagerConfig::recognise(&blob)
    }) else {
        return Ok(None);
    };
    let mut parsed = ManagerConfig::parse(&blob);
    if parsed == Err(edgeos_config::ConfigError::Truncated) {
        // Longer than a page: the rest is in the region's next pages.
        let mux_pd = u16::from_le_bytes([blob[8], blob[9]]);
        let (_, mux) = objects.pd_tcb(mux_pd).ok_or(BuildError::UnsupportedSpec("a manager blob naming no PD"))?;
        let vspace = index_of(&mux.vspace().object);
        let mut frames = alloc::collections::BTreeMap::new();
        objects.mappings(vspace, |m| {
            frames.insert(m.vaddr, m.frame);
        });
        let first = frames.iter().find(|(_, f)| **f == frame).map(|(vaddr, _)| *vaddr);
        let mut vaddr = first.ok_or(BuildError::UnsupportedSpec("a manager blob the multiplexer does not map"))?;
        while parsed == Err(edgeos_config::ConfigError::Truncated) {
            vaddr += PAGE as u64;
            let next = *frames.get(&vaddr).ok_or(BuildError::UnsupportedSpec("a manager blob cut short"))?;
            let at = blob.len();
            blob.resize(at + PAGE, 0);
            objects.prefill(next, &mut blob[at..]);
            parsed = ManagerConfig::parse(&blob);
        }
    }
    parsed.map(Some).map_err(BuildError::ManagerConfig)
}

impl MuxLink {
    /// Finds the multiplexer, maps the comm page, makes the manager's
    /// notification and mounts the manager's CNode in the multiplexer.
    pub fn connect(
        system: &mut StaticSystem,
        memory: &mut Memory,
        bootinfo: &sel4::BootInfoPtr,
        config: &ManagerConfig,
    ) -> Result<Self, BuildError> {
        let objects = &system.objects;
        let (_, tcb) = objects.pd_tcb(config.mux_pd).ok_or(BuildError::UnsupportedSpec("a manager blob naming no PD"))?;
        let vspace_object = index_of(&tcb.vspace().object);
        let root_object = index_of(&tcb.cspace().object);
        let notification_object =
            index_of(&tcb.bound_notification().ok_or(BuildError::UnsupportedSpec("a multiplexer without a notification"))?.object);
        let cnode_object = inner_cnode(objects, root_object)?;
        // Microkit's slot 1 holds a PD's input endpoint when it has one.
        let endpoint_object = match cap_in_slot(objects, cnode_object, 1) {
            Some(ArchivedCap::Endpoint(endpoint)) => index_of(&endpoint.object),
            _ => return Err(BuildError::UnsupportedSpec("a multiplexer without an endpoint (it has no children)")),
        };

        // The comm page: the frame the multiplexer maps at `config.comm`.
        let mut comm_frame = None;
        objects.mappings(vspace_object, |m| {
            if m.vaddr == config.comm {
                comm_frame = Some(m.frame);
            }
        });
        let comm_frame = comm_frame.ok_or(BuildError::UnsupportedSpec("a manager comm page the multiplexer does not map"))?;
        let window = addr_of!(COMM_WINDOW) as usize;
        frames::give_up_image_page(bootinfo, &system.image, window)?;
        let copy = system.slots.take()?;
        absolute(copy).copy(&absolute(objects.slot(comm_frame)?), CapRights::read_write())?;
        copy.cap().downcast::<cap_type::Granule>().frame_map(
            init_thread::slot::VSPACE.cap(),
            window,
            CapRights::read_write(),
            vm_attributes_from_whether_cached_and_exec(true, false, false),
        )?;

        let inbox = memory.retype(&mut system.slots, ObjectBlueprint::Notification).map_err(BuildError::from)?;
        let mounted = memory
            .retype(&mut system.slots, ObjectBlueprint::CNode { size_bits: caps::CNODE_RADIX_BITS as usize })
            .map_err(BuildError::from)?;
        // The multiplexer signals the inbox through the mounted CNode's first entry.
        let mounted_cap: cap::CNode = mounted.cap().downcast();
        mounted_cap
            .absolute_cptr_from_bits_with_depth(caps::MANAGER_SIGNAL, caps::CNODE_RADIX_BITS as usize)
            .mint(&absolute(inbox), CapRights::write_only(), 1)?;
        let mux_root: cap::CNode = objects.cap(root_object)?;
        let guard = CNodeCapData::new(0, caps::CNODE_GUARD_BITS as usize);
        mux_root
            .absolute_cptr_from_bits_with_depth(caps::MUX_ROOT_SLOT, caps::ROOT_RADIX_BITS as usize)
            .mint(&absolute(mounted), CapRights::all(), guard.into_word())?;
        let to_mux = system.slots.take()?;
        absolute(to_mux).mint(&absolute(objects.slot(notification_object)?), CapRights::write_only(), 1 << config.mux_signal)?;

        Ok(Self {
            // SAFETY: the comm frame was just mapped rw at `window`, a page
            // the root task gave up for it, for the manager's lifetime.
            page: unsafe { MappedPage::new(window) },
            inbox: inbox.cap().downcast(),
            to_mux: to_mux.cap().downcast(),
            vspace: objects.cap(vspace_object)?,
            cnode_object,
            endpoint_object,
            notification_object,
            mounted: mounted_cap,
        })
    }

    pub fn page(&self) -> &MappedPage {
        &self.page
    }

    /// Blocks until the multiplexer signals.
    pub fn wait(&self) {
        let _ = self.inbox.wait();
    }

    /// Tells the multiplexer that completions are waiting.
    pub fn signal(&self) {
        self.to_mux.signal();
    }

    /// The multiplexer's Microkit CNode (to find its caps to prototypes).
    pub fn cnode_object(&self) -> usize {
        self.cnode_object
    }

    /// The multiplexer's endpoint (children's faults arrive on it).
    pub fn endpoint_object(&self) -> usize {
        self.endpoint_object
    }

    /// The multiplexer's notification (children signal it).
    pub fn notification_object(&self) -> usize {
        self.notification_object
    }

    /// Where, in the manager's CNode, entry `index` of the CNode mounted in
    /// the multiplexer is.
    pub fn mounted_entry(&self, index: u64) -> sel4::AbsoluteCPtr {
        self.mounted.absolute_cptr_from_bits_with_depth(index, caps::CNODE_RADIX_BITS as usize)
    }

    /// Maps `frame` (a copy the FWP's slab owns) into the multiplexer at
    /// `vaddr`, making page tables for the window as needed (from the boot
    /// RAM: they outlive every FWP).
    pub fn map(
        &self,
        system: &mut StaticSystem,
        memory: &mut Memory,
        frame: cap::Granule,
        vaddr: u64,
    ) -> Result<(), CreateError> {
        let attributes = vm_attributes_from_whether_cached_and_exec(true, false, false);
        loop {
            match frame.frame_map(self.vspace, vaddr as usize, CapRights::read_write(), attributes) {
                Err(sel4::Error::FailedLookup) => {
                    let table = memory.retype(&mut system.slots, sel4::ObjectBlueprintArch::PT.into())?;
                    table.cap().downcast::<cap_type::PT>().pt_map(self.vspace, vaddr as usize, sel4::VmAttributes::default())?;
                }
                other => return other.map_err(CreateError::Kernel),
            }
        }
    }
}

/// A Microkit PD's CSpace root holds its Microkit CNode at slot 0.
pub fn inner_cnode(objects: &Objects<'static>, root: usize) -> Result<usize, BuildError> {
    cap_in_slot(objects, root, 0)
        .map(|cap| index_of(&cap.obj()))
        .ok_or(BuildError::UnsupportedSpec("a PD CSpace without Microkit's CNode"))
}

/// The cap the spec puts in slot `slot` of CNode `cnode`.
fn cap_in_slot(objects: &Objects<'static>, cnode: usize, slot: u32) -> Option<&'static ArchivedCap> {
    let ArchivedObject::CNode(cnode) = objects.object(cnode) else { return None };
    cnode.slots().iter().find(|entry| entry.slot.0.to_native() == slot).map(|entry| &entry.cap)
}
