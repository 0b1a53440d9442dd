//! The restore routine, in assembly because it overwrites the memory any
//! compiled code would use: the stack it would spill to, the TLS block and
//! the statics. The mux passes the image's address in x3 (from the template
//! PD's ready block: never from the slot's own memory, which the last tenant
//! may have corrupted, say by overflowing its stack into `.data`); it copies
//! each range 16 bytes at a time from registers and branches to x2 with x0,
//! x1 and sp untouched, and x4 holding the counter read as its first
//! instruction: the FWP's first instruction after a start, which `fwp_park`
//! reports (for a fresh FWP, the end of "create to first instruction").
//! An image without its magic number faults (`udf`), so the mux's fault
//! handler tears the slot down instead of the slot running half-restored.
//! The format is `edgeos_fwp::image`'s.

use core::arch::global_asm;

use edgeos_fwp::image::{IMAGE_DATA_AT, IMAGE_MAGIC, MAX_RANGES};

// The layout constants the assembly hard-codes, checked against the format.
const _: () = assert!(IMAGE_DATA_AT == 128 && MAX_RANGES == 4 && IMAGE_MAGIC == 0x4950_5746);

global_asm!(
    r#"
    .section .text.fwp_restore, "ax", %progbits
    .global fwp_restore
    .balign 16
fwp_restore:
    mrs x4, cntpct_el0
    mov x9, x3
    ldr w10, [x9]
    movz w11, #0x5746
    movk w11, #0x4950, lsl #16
    cmp w10, w11
    b.ne 9f
    add x10, x9, #16
    add x11, x9, #128
    mov x12, #4
1:  ldp x13, x14, [x10], #16
    cbz x14, 3f
2:  ldp x15, x16, [x11], #16
    stp x15, x16, [x13], #16
    subs x14, x14, #16
    b.hi 2b
3:  subs x12, x12, #1
    b.ne 1b
    dsb ish
    br x2
9:  udf #0
"#
);

unsafe extern "C" {
    fn fwp_restore();
}

/// The restore routine's address, for the ready block.
pub fn restore_entry() -> u64 {
    fwp_restore as *const () as u64
}
