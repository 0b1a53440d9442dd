//! The child that every method in `linux-bench` starts. It exits with status
//! 0 at once. `no_main`: only musl's C start-up runs before `main`, not
//! Rust's runtime. ci/linux-guest.sh builds it with panic = "abort", which
//! lets it be `no_std` too: a static ELF of a few KiB instead of 360 KiB with
//! std linked in, so the guest measures process creation, execve and exit.
//! (no_std needs panic = "abort"; the host workspace's profiles unwind, so
//! host builds keep std.)
#![cfg_attr(panic = "abort", no_std)]
#![no_main]

// With std, its unwind crate links musl's libc.a; without, ask for it here.
#[cfg(all(panic = "abort", target_env = "musl"))]
#[link(name = "c", kind = "static")]
extern "C" {}

#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: _exit ends the process; nothing is left to clean up.
    unsafe { libc::_exit(0) }
}

#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: as above. (Nothing here can panic; no_std needs a handler.)
    unsafe { libc::_exit(101) }
}
