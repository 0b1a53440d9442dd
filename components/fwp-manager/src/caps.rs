//! Where the FWP manager puts the capabilities the multiplexer uses for
//! dynamic FWPs, and how their faults are badged.
//!
//! A Microkit PD's CSpace root is a 64-slot CNode whose slot 0 holds the
//! Microkit CNode; slots 1..63 are free. The manager mounts a CNode of its
//! own at root slot [`MUX_ROOT_SLOT`], with a guard that makes the rest of
//! a 64-bit CPtr its index: `cptr(i) = MUX_ROOT_SLOT << 58 | i`.

/// The multiplexer's root CNode slot holding the manager's CNode.
pub const MUX_ROOT_SLOT: u64 = 1;
/// Bits a Microkit root CNode resolves (64 slots, no guard).
pub const ROOT_RADIX_BITS: u32 = 6;
/// log2 of the slots in the manager's CNode in the multiplexer.
pub const CNODE_RADIX_BITS: u32 = 12;
/// The guard the mounted CNode needs so that a CPtr resolves exactly.
pub const CNODE_GUARD_BITS: u32 = 64 - ROOT_RADIX_BITS - CNODE_RADIX_BITS;

/// Dynamic FWPs the mounted CNode has room for (two caps each, after the
/// manager's own signal cap).
pub const MAX_DYNAMIC_FWPS: usize = ((1 << CNODE_RADIX_BITS) - 1) / 2;

/// Index, in the mounted CNode, of the cap the multiplexer signals the
/// manager with.
pub const MANAGER_SIGNAL: u64 = 0;

/// Index of dynamic FWP `k`'s TCB cap.
pub const fn tcb(k: usize) -> u64 {
    1 + 2 * k as u64
}

/// Index of the cap that signals dynamic FWP `k` (badged with the bit of
/// the FWP's channel to the multiplexer).
pub const fn notification(k: usize) -> u64 {
    2 + 2 * k as u64
}

/// The multiplexer's CPtr for index `i` of the mounted CNode.
pub const fn cptr(i: u64) -> u64 {
    MUX_ROOT_SLOT << (64 - ROOT_RADIX_BITS) | i
}

/// Microkit's fault badge bit: a fault message's badge is this bit plus
/// the faulting child's index.
pub const FAULT_BIT: u64 = 1 << 62;

/// Dynamic FWP `k` faults with child index `DYNAMIC_CHILD_BASE + k`, past
/// every Microkit child id (0..=61).
pub const DYNAMIC_CHILD_BASE: usize = 0x1000;

/// The badge of dynamic FWP `k`'s fault endpoint cap.
pub const fn fault_badge(k: usize) -> u64 {
    FAULT_BIT | (DYNAMIC_CHILD_BASE + k) as u64
}

/// Which dynamic FWP a Microkit child index names, if any.
pub fn dynamic_of_child(child: usize) -> Option<usize> {
    child.checked_sub(DYNAMIC_CHILD_BASE).filter(|k| *k < MAX_DYNAMIC_FWPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cptrs_land_in_the_mounted_cnode_and_never_in_microkits() {
        // Microkit's own caps have CPtrs below 512 (root slot 0).
        assert_eq!(cptr(MANAGER_SIGNAL) >> 58, MUX_ROOT_SLOT);
        assert!(cptr(MANAGER_SIGNAL) >= 512);
        assert_eq!(CNODE_GUARD_BITS + CNODE_RADIX_BITS + ROOT_RADIX_BITS, 64);
        let last = MAX_DYNAMIC_FWPS - 1;
        assert!(notification(last) < 1 << CNODE_RADIX_BITS);
        assert_ne!(tcb(0), MANAGER_SIGNAL);
        assert_eq!(tcb(1), notification(0) + 1);
    }

    #[test]
    fn fault_badges_name_their_fwp_and_nothing_else() {
        for k in [0, 1, MAX_DYNAMIC_FWPS - 1] {
            let child = (fault_badge(k) & !FAULT_BIT) as usize;
            assert_eq!(dynamic_of_child(child), Some(k));
        }
        for microkit_child in 0..=61 {
            assert_eq!(dynamic_of_child(microkit_child), None);
        }
        assert_eq!(dynamic_of_child(DYNAMIC_CHILD_BASE + MAX_DYNAMIC_FWPS), None);
    }
}
