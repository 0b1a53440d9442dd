//! Carrying out a fault probe (`edgeos_echo::probe`), in a template whose
//! configuration enables them. Each either faults, runs forever, or breaks
//! the ring protocol: what the multiplexer must contain.

use edgeos_echo::Probe;
use edgeos_fwp_rt as rt;

/// An address no PD maps.
const UNMAPPED: usize = 0x10;

/// Misbehaves as `probe` says; `outgoing_ring` is the address of this FWP's
/// outgoing (tx) ring. Only `BadRing` returns (after notifying the mux,
/// which must tear this FWP down).
pub fn misbehave(probe: Probe, outgoing_ring: usize) {
    match probe {
        // SAFETY: none: the point is the fault.
        Probe::FaultAddress => unsafe { core::ptr::write_volatile(UNMAPPED as *mut u64, 1) },
        // SAFETY: as above.
        Probe::Undefined => unsafe { core::arch::asm!("udf #0") },
        Probe::StackOverflow => {
            // The serving stack is in .bss, without a guard page: the
            // recursion runs through this FWP's own statics first and faults
            // at the start of its writable segment. Only its own memory.
            core::hint::black_box(recurse(0));
        }
        Probe::Spin => loop {
            core::hint::spin_loop();
        },
        Probe::BadRing => {
            // Publish a frame that lies outside this FWP's tx region, behind
            // its ring device's back: a RawRingBuffer is the write and read
            // indices (u32 each), then 512 descriptors of (encoded_addr:
            // usize, len: u32, padding, cookie: usize).
            let ring = outgoing_ring as *mut u8;
            // SAFETY: this FWP's own ring, shared with the mux only.
            unsafe {
                let write = core::ptr::read_volatile(ring as *const u32);
                let slot = ring.add(8 + (write as usize % 512) * 24);
                core::ptr::write_volatile(slot as *mut u64, 1 << 30);
                core::ptr::write_volatile(slot.add(8) as *mut u32, 64);
                core::ptr::write_volatile(slot.add(16) as *mut u64, 0);
                core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
                core::ptr::write_volatile(ring as *mut u32, write.wrapping_add(1));
            }
            rt::signal_mux();
        }
    }
}

#[inline(never)]
#[allow(unconditional_recursion)] // Until the stack runs out: the point.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 256]);
    recurse(depth + 1).wrapping_add(frame[(depth % 256) as usize])
}
