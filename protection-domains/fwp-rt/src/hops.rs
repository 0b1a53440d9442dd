//! The FWP's own time per frame, for the mux's `hops` stats: each batch of
//! serving is timed up to its hand-off to the mux (which preempts the FWP:
//! its work is its own hop), divided over the frames received in it.

use edgeos_cycles::Samples;
use edgeos_fwp::HOP_SUMMARY_AT;
use edgeos_pd_ring::now_ns;

use crate::{ctrl, signal_mux, Device};

/// Per-frame time samples kept (the first ones; later frames only count).
/// Kept small: the samples are part of the state every spawn restores.
const HOP_SAMPLES: usize = 1024;
/// The summary is republished every this many samples: sorting the samples
/// takes time the tenant would rather spend serving.
const HOP_PUBLISH_EVERY: u64 = 256;

/// One wake-up's serving: the time it took up to its hand-offs, and the
/// frames it received.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// Nanoseconds spent serving, hand-offs to the mux excluded.
    pub busy_ns: u64,
    /// Frames received.
    pub frames: usize,
}

/// Runs `serve` until the device has nothing left to do, signalling the
/// mux whenever it has frames for it, and times it.
pub fn serve_batch<const TX: usize>(dev: &mut Device<TX>, mut serve: impl FnMut(&mut Device<TX>)) -> Batch {
    let (mut busy_ns, (received, _)) = (0, dev.frames());
    loop {
        let start = now_ns();
        serve(dev);
        let notify = dev.take_notify();
        busy_ns += now_ns() - start;
        if notify {
            signal_mux();
        }
        if dev.ready_to_sleep() {
            break;
        }
    }
    Batch { busy_ns, frames: (dev.frames().0 - received) as usize }
}

/// The FWP's per-frame samples; its summary goes into the control region.
pub struct Hops(Samples<HOP_SAMPLES>);

impl Hops {
    /// No samples yet (a `static` initialiser: part of the checkpoint).
    pub const fn new() -> Self {
        Self(Samples::new())
    }

    /// Records `batch`, republishing the summary every
    /// [`HOP_PUBLISH_EVERY`] samples.
    pub fn record(&mut self, batch: Batch) {
        let before = self.0.seen();
        self.0.record_batch(batch.busy_ns, batch.frames);
        if self.0.seen() / HOP_PUBLISH_EVERY != before / HOP_PUBLISH_EVERY {
            self.publish();
        }
    }

    /// Writes the summary after the status block, where the mux reads it.
    pub fn publish(&mut self) {
        let Some(summary) = self.0.summary() else { return };
        let mut bytes = [0u8; 16];
        for (i, word) in summary.to_words().into_iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        ctrl().as_mut_ptr().index(HOP_SUMMARY_AT..HOP_SUMMARY_AT + 16).copy_from_slice(&bytes);
    }
}

impl Default for Hops {
    fn default() -> Self {
        Self::new()
    }
}
