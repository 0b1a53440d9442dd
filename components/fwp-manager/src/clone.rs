//! What an FWP clone gets for each page its prototype maps, and how much
//! memory one clone takes.
//!
//! A clone shares what its prototype cannot change (read-only pages:
//! program text and constants, the template's checkpoint image, its
//! configuration) and gets fresh memory for everything writable (statics,
//! heap, stacks, IPC buffer, private regions), which the restore routine
//! fills from the checkpoint before the FWP serves. Pages of the regions
//! it shares with the multiplexer are fresh too, and also mapped into the
//! multiplexer at the clone's own addresses there.

use edgeos_config::{ManagedFwp, ManagedTemplate, REGION_COUNT};

/// 4 KiB.
pub const PAGE: u64 = 4096;

/// Where a clone's page at some address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSource {
    /// The prototype's own frame, mapped read-only in both.
    Shared,
    /// A fresh, zeroed frame of the clone's own.
    Fresh,
    /// A fresh frame the multiplexer also maps, at `mux_vaddr`.
    FreshWithMux {
        /// Where the multiplexer maps it.
        mux_vaddr: u64,
    },
}

/// Why a prototype cannot be cloned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneError {
    /// The prototype maps a region it shares with the multiplexer read-only
    /// (or not at all): the configuration does not describe this PD.
    RegionNotWritable {
        /// The page's address.
        vaddr: u64,
    },
}

/// The source of the clone's page at `vaddr`, which its prototype maps
/// writable or not.
pub fn page_source(
    template: &ManagedTemplate,
    fwp: &ManagedFwp,
    vaddr: u64,
    writable: bool,
) -> Result<PageSource, CloneError> {
    let in_region = (0..REGION_COUNT).find(|&i| {
        let r = template.regions[i];
        (r.vaddr..r.vaddr + u64::from(r.size)).contains(&vaddr)
    });
    match (in_region, writable) {
        (Some(i), true) => Ok(PageSource::FreshWithMux { mux_vaddr: fwp.mux[i] + (vaddr - template.regions[i].vaddr) }),
        (Some(_), false) => Err(CloneError::RegionNotWritable { vaddr }),
        (None, true) => Ok(PageSource::Fresh),
        (None, false) => Ok(PageSource::Shared),
    }
}

/// The kernel objects one clone takes from its slab, by size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneObjects {
    /// Fresh 4 KiB frames.
    pub fresh_pages: usize,
    /// Page tables below the root (4 KiB each).
    pub page_tables: usize,
    /// log2 of the address-space root's size.
    pub vspace_bits: u32,
    /// log2 of the CNode's size.
    pub cnode_bits: u32,
    /// log2 of a TCB's size.
    pub tcb_bits: u32,
    /// log2 of a scheduling context's size.
    pub sc_bits: u32,
    /// log2 of a notification's and of a reply object's size (each at most this).
    pub small_bits: u32,
    /// log2 of the size of the CNode that keeps the clone's caps once it
    /// is built (see [`store_radix`]).
    pub store_bits: u32,
}

/// log2 of a CNode slot's size on 64-bit seL4.
pub const SLOT_BITS: u32 = 5;

/// The radix of the CNode that keeps the caps of a clone that needs
/// `caps` of them: the manager builds a clone in a scratch range of its
/// own CNode (a cap must be in the manager's CSpace to be invoked), then
/// moves every cap into this CNode, made from the clone's slab. Its root
/// CNode so holds two caps per FWP (slab and store), not hundreds, and
/// revoking the slab deletes the store with everything in it. At least
/// `min_bits` bytes big, so that, retyped first, it never leaves a gap
/// before the objects after it.
pub fn store_radix(caps: usize, min_bits: u32) -> u32 {
    let needed = (caps.max(2) as u64).next_power_of_two().trailing_zeros();
    needed.max(min_bits.saturating_sub(SLOT_BITS))
}

impl CloneObjects {
    /// log2 of the slab that holds them all. Objects are retyped largest
    /// first, so each lands aligned with no gap: the slab is their sum,
    /// rounded up to a power of two.
    pub fn slab_bits(&self) -> u32 {
        let bytes = (self.fresh_pages + self.page_tables) as u64 * PAGE
            + (1u64 << self.vspace_bits)
            + (1u64 << self.cnode_bits)
            + (1u64 << self.tcb_bits)
            + (1u64 << self.sc_bits)
            + 2 * (1u64 << self.small_bits)
            + (1u64 << self.store_bits);
        bytes.next_power_of_two().trailing_zeros()
    }
}

#[cfg(test)]
mod tests {
    use edgeos_config::Region;

    use super::*;

    fn template() -> ManagedTemplate {
        // ctrl, four rings of 16 KiB, two buffer regions of 64 KiB.
        let sizes = [0x1000, 0x4000, 0x4000, 0x4000, 0x4000, 0x1_0000, 0x1_0000];
        let mut at = 0x2000_0000;
        let regions = sizes.map(|size| {
            let region = Region { vaddr: at, size };
            at += u64::from(size) + 0x1000;
            region
        });
        ManagedTemplate { prototype_pd: 4, regions }
    }

    fn fwp() -> ManagedFwp {
        ManagedFwp { template: 0, signal: 40, mux: core::array::from_fn(|i| 0x1_0000_0000 + i as u64 * 0x2_0000) }
    }

    #[test]
    fn read_only_pages_are_shared_and_writable_ones_fresh() {
        assert_eq!(page_source(&template(), &fwp(), 0x20_0000, false), Ok(PageSource::Shared));
        assert_eq!(page_source(&template(), &fwp(), 0x30_0000, true), Ok(PageSource::Fresh));
    }

    #[test]
    fn pages_of_shared_regions_are_also_mapped_into_the_mux_at_the_clones_window() {
        let t = template();
        let rx_used = t.regions[2];
        let second_page = rx_used.vaddr + PAGE;
        assert_eq!(
            page_source(&t, &fwp(), second_page, true),
            Ok(PageSource::FreshWithMux { mux_vaddr: fwp().mux[2] + PAGE })
        );
        let last = t.regions[6].vaddr + u64::from(t.regions[6].size) - PAGE;
        assert_eq!(page_source(&t, &fwp(), last, true), Ok(PageSource::FreshWithMux { mux_vaddr: fwp().mux[6] + 0xf000 }));
        // The page after a region is the prototype's own again.
        assert_eq!(page_source(&t, &fwp(), last + PAGE, true), Ok(PageSource::Fresh));
    }

    #[test]
    fn a_shared_region_mapped_read_only_is_refused() {
        let ctrl = template().regions[0].vaddr;
        assert_eq!(page_source(&template(), &fwp(), ctrl, false), Err(CloneError::RegionNotWritable { vaddr: ctrl }));
    }

    #[test]
    fn the_store_holds_every_cap_and_is_never_smaller_than_the_address_space() {
        assert_eq!(store_radix(294, 12), 9);
        assert_eq!(store_radix(256, 12), 8);
        assert_eq!(store_radix(257, 12), 9);
        // A small clone's store still fills a 4 KiB address space's size.
        assert_eq!(store_radix(10, 12), 7);
        assert_eq!(store_radix(0, 0), 1);
    }

    #[test]
    fn the_slab_holds_every_object_with_room_to_spare_at_most_double() {
        let objects = CloneObjects {
            fresh_pages: 60,
            page_tables: 4,
            vspace_bits: 13,
            cnode_bits: 12,
            tcb_bits: 11,
            sc_bits: 8,
            small_bits: 6,
            store_bits: 14,
        };
        let bits = objects.slab_bits();
        let need = 64 * PAGE + (1 << 13) + (1 << 12) + (1 << 11) + (1 << 8) + 2 * (1 << 6) + (1 << 14);
        assert!(1u64 << bits >= need);
        assert!(1u64 << (bits - 1) < need);
    }
}
