//! The hand-offs through a control region, written once for both sides:
//! the template PD's ready block, and a slot's status block (its parked
//! report, its serving report, its exit request).
//!
//! ```text
//!  writer (template PD, FWP)             mux
//!  report_ready / report_status:         on every signal on the writer's bit
//!    write the block (a plain copy),       (a bit several FWPs may share):
//!    then signal the mux                   read_ready / read_status, and act
//!                                          only on what the block says for
//!                                          the generation it started
//!  mux, tearing an FWP down: stop_then_clear (suspend it, then zero its region)
//! ```
//!
//! Why no hand-off is lost: the writer signals only once its block is
//! complete, and the mux reads the block on every signal it gets; the
//! kernel orders the copy before the signal's wait, so the read after the
//! writer's signal sees the whole block.
//!
//! Why no torn or stale block is acted on:
//! - *Torn.* The mux also reads on signals that are not the writer's (FWPs
//!   share channel bits, and a template PD's own code may signal at any
//!   time), and may then find the block half-written. A status block counts
//!   only when its generation is the one the mux started and its flag is
//!   set. A mix of old and new bytes equals the new generation only once
//!   every byte that differs is written, and the block a report replaces
//!   (zeroed, or the serving report an exit request follows) does not have
//!   that flag set. Its timing field (`started_at`) may still be the old
//!   one: it feeds latency figures, never a decision
//!   (docs/ring-model.md, Findings 5). A ready block parses only with every
//!   field written, provided the copy writes each field whole: the region
//!   was zero, and a zero magic, entry point or stack is refused.
//! - *Stale.* [`stop_then_clear`] zeroes the region only once the FWP is
//!   suspended, so nothing a torn-down FWP wrote, a hostile one included,
//!   is there when the next restore reports; and a report counts only for
//!   the generation the mux started ([`SlotStatus::parked_for`],
//!   [`SlotStatus::exits`]).
//!
//! Known gap: the copies are plain memory accesses, ordered by the
//! kernel's signal and by scheduling, not by atomics (one core; see
//! docs/ring-model.md, "What it does not cover").
//!
//! `tests/loom_control.rs` runs these functions under loom, next to a
//! hostile FWP. Two deliberately broken variants, each refused without
//! `--cfg loom`, show that it catches what it must:
//! `fwp_broken_signal_first` (the writer signals, then writes:
//! `models/fwp-control.pml`'s `BROKEN_SIGNAL_FIRST`) and
//! `fwp_broken_clear_before_stop` (the mux zeroes the region, then
//! suspends the FWP).

use crate::{ReadyBlockError, SlotStatus, TemplateReady, CTRL_READ_LEN, READY_BLOCK_LEN, STATUS_AT, STATUS_LEN};

// The broken rules exist only for the loom checks that must catch them.
#[cfg(all(any(fwp_broken_signal_first, fwp_broken_clear_before_stop), not(loom)))]
compile_error!("fwp_broken_* break the control-block hand-offs: build them only with --cfg loom (ci/ring-model.sh)");

/// A control region, as both sides copy blocks into and out of it.
///
/// The protection domains implement it over their shared-memory mapping;
/// the loom test over loom's atomics, so that it checks this module's code
/// rather than a copy of it.
pub trait ControlRegion {
    /// Copies `out.len()` bytes at offset `at` into `out`.
    fn read(&self, at: usize, out: &mut [u8]);
    /// Copies `bytes` to offset `at`.
    fn write(&mut self, at: usize, bytes: &[u8]);
}

/// Template PD, after its checkpoint: writes the ready block, then signals
/// the mux.
pub fn report_ready(region: &mut impl ControlRegion, ready: &TemplateReady, signal: impl FnOnce()) {
    let mut block = [0u8; READY_BLOCK_LEN];
    ready.emit(&mut block);
    write_then_signal(region, 0, &block, signal);
}

/// The mux: the template's ready block, parsed (untrusted).
pub fn read_ready(region: &impl ControlRegion) -> Result<TemplateReady, ReadyBlockError> {
    let mut block = [0u8; READY_BLOCK_LEN];
    region.read(0, &mut block);
    TemplateReady::parse(&block)
}

/// FWP: writes its status block without signalling (the serving report,
/// which the signal of its first frames carries, and each rewrite).
pub fn write_status(region: &mut impl ControlRegion, status: &SlotStatus) {
    let mut block = [0u8; STATUS_LEN];
    status.emit(&mut block);
    region.write(STATUS_AT, &block);
}

/// FWP: writes its status block, then signals the mux (the parked report
/// after a restore, the exit request).
pub fn report_status(region: &mut impl ControlRegion, status: &SlotStatus, signal: impl FnOnce()) {
    let mut block = [0u8; STATUS_LEN];
    status.emit(&mut block);
    write_then_signal(region, STATUS_AT, &block, signal);
}

/// The mux: the slot's status block (untrusted).
pub fn read_status(region: &impl ControlRegion) -> Option<SlotStatus> {
    let mut block = [0u8; STATUS_LEN];
    region.read(STATUS_AT, &mut block);
    SlotStatus::parse(&block)
}

/// The mux, tearing an FWP down: `stop` it (suspend its TCB), then zero the
/// [`CTRL_READ_LEN`] bytes of its region. In this order, nothing the FWP
/// writes survives into the next restore's hand-off.
pub fn stop_then_clear(region: &mut impl ControlRegion, stop: impl FnOnce()) {
    // (`fwp_broken_clear_before_stop` swaps the two: a bug the loom test
    // must catch.)
    if cfg!(fwp_broken_clear_before_stop) {
        region.write(0, &[0; CTRL_READ_LEN]);
        stop();
    } else {
        stop();
        region.write(0, &[0; CTRL_READ_LEN]);
    }
}

/// The writer's rule: the block complete, then the signal.
fn write_then_signal(region: &mut impl ControlRegion, at: usize, block: &[u8], signal: impl FnOnce()) {
    // (`fwp_broken_signal_first` swaps the two: a bug the loom test must
    // catch.)
    if cfg!(fwp_broken_signal_first) {
        signal();
        region.write(at, block);
    } else {
        region.write(at, block);
        signal();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// A region in ordinary memory, counting signals.
    struct Memory([u8; CTRL_READ_LEN]);

    impl ControlRegion for Memory {
        fn read(&self, at: usize, out: &mut [u8]) {
            out.copy_from_slice(&self.0[at..at + out.len()]);
        }
        fn write(&mut self, at: usize, bytes: &[u8]) {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    const READY: TemplateReady =
        TemplateReady { serve_entry: 0x20_1234, restore_entry: 0x20_2000, park_entry: 0x20_3000, stack_top: 0x30_0000, image: 0x7800_0000 };

    #[test]
    fn a_report_is_complete_when_its_signal_goes_out() {
        let mut region = Memory([0; CTRL_READ_LEN]);
        let signals = Cell::new(0);
        assert_eq!(read_ready(&region), Err(ReadyBlockError::NotReady), "a zero region holds no ready block");
        report_ready(&mut region, &READY, || signals.set(signals.get() + 1));
        assert_eq!((read_ready(&region), signals.get()), (Ok(READY), 1));
        let parked = SlotStatus { started_at: 5, generation: 2, parked: true, ..SlotStatus::default() };
        report_status(&mut region, &parked, || signals.set(signals.get() + 1));
        assert_eq!((read_status(&region), signals.get()), (Some(parked), 2));
        assert_eq!(read_ready(&region), Ok(READY), "the status block is after the ready block");
        let serving = SlotStatus { generation: 3, ..parked };
        write_status(&mut region, &SlotStatus { parked: false, ..serving });
        assert_eq!(signals.get(), 2, "the serving report signals nothing of its own");
    }

    #[test]
    fn a_torn_down_fwp_leaves_nothing_for_the_next_restore() {
        let mut region = Memory([0xa5; CTRL_READ_LEN]);
        let stopped = Cell::new(false);
        stop_then_clear(&mut region, || stopped.set(true));
        assert!(stopped.get());
        assert_eq!(region.0, [0; CTRL_READ_LEN]);
        let status = read_status(&region).unwrap();
        assert!(!status.parked_for(0) && !status.exits(0), "a zeroed block reports nothing");
    }
}
