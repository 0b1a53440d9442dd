//! What the manager refuses: a creation that would take the node's free
//! RAM below its reserve. (CPU needs no check at run time: every FWP the
//! manager can create is listed in its configuration, and `sysdesc check`
//! counts each one's reservation in the CPU's utilisation bound, or none
//! for a best-effort template.)

/// RAM the manager keeps back from FWPs: what it needs to go on serving
/// whatever happens (ASID pools, the multiplexer's window page tables,
/// the odd object of its own), so that a node full of FWPs still destroys
/// and re-creates them.
pub const RESERVE_BYTES: u64 = 16 << 20;

/// Whether a new slab of `slab_bytes` may be carved with `free_bytes` of
/// RAM left, keeping `reserve` back. A freed slab reused for the next FWP
/// takes nothing new and needs no check.
pub fn admits(free_bytes: u64, slab_bytes: u64, reserve: u64) -> bool {
    free_bytes.checked_sub(slab_bytes).is_some_and(|left| left >= reserve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slab_is_refused_when_it_would_eat_into_the_reserve() {
        let mib = 1 << 20;
        assert!(admits(100 * mib, 2 * mib, 16 * mib));
        assert!(admits(18 * mib, 2 * mib, 16 * mib), "exactly the reserve left");
        assert!(!admits(18 * mib - 1, 2 * mib, 16 * mib));
        assert!(!admits(mib, 2 * mib, 0), "never more than is free");
    }
}
