//! Timestamps. In the aarch64 guest: the ARM generic timer's virtual count
//! (`CNTVCT_EL0`, readable at EL0 because Linux enables it for its vDSO) at
//! `CNTFRQ_EL0` ticks per second, the same counter the EdgeOS PDs read
//! (their `CNTPCT_EL0`; the virtual offset is 0 on QEMU's virt machine).
//! Under `-icount shift=0` the counter follows executed instructions, so
//! the figures are guest ns = instructions, as in docs/benchmarks.md.
//! On other hosts (the workspace's tests and a sanity run on x86_64):
//! CLOCK_MONOTONIC in ns.

#[cfg(target_arch = "aarch64")]
pub fn ticks() -> u64 {
    let count: u64;
    // The ISB keeps the read from being taken ahead of the code before it.
    // SAFETY: reads a system register that Linux makes readable at EL0.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) count, options(nomem, nostack))
    };
    count
}

#[cfg(target_arch = "aarch64")]
pub fn frequency_hz() -> u64 {
    let hz: u64;
    // SAFETY: CNTFRQ_EL0 is readable at EL0.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
    hz
}

#[cfg(not(target_arch = "aarch64"))]
pub fn ticks() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(not(target_arch = "aarch64"))]
pub fn frequency_hz() -> u64 {
    1_000_000_000
}

/// `ticks` of a counter at `hz` in ns (u128: no overflow for any count).
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn qemu_virt_counter_ticks_are_16_ns() {
        assert_eq!(super::ticks_to_ns(1, 62_500_000), 16);
        assert_eq!(super::ticks_to_ns(354, 62_500_000), 5_664);
    }
}
