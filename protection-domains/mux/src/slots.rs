//! The FWP slots' side of the multiplexer PD: their channels, control
//! regions and TCBs, driven by `edgeos_fwp::SlotPool`.

use edgeos_config::MuxConfig;
use edgeos_cycles::Summary;
use edgeos_fwp::{SlotPool, SlotState, SpawnPlan, TemplateReady, CTRL_READ_LEN, HOP_SUMMARY_AT, READY_BLOCK_LEN};
use heapless::Vec;
use sel4_microkit::{debug_println, Channel, ChannelSet, Child};
use sel4_shared_memory::access::ReadOnly;
use sel4_shared_memory::SharedMemoryRef;

struct Slot {
    child: Child,
    channel: Channel,
    ctrl: SharedMemoryRef<'static, [u8], ReadOnly>,
}

/// Every configured slot and its state.
pub struct Slots<const N: usize> {
    pool: SlotPool<N>,
    slots: Vec<Slot, N>,
}

impl<const N: usize> Slots<N> {
    /// The slots a configuration describes (none without one).
    pub fn new(config: Option<&MuxConfig>) -> Self {
        let mut slots = Vec::new();
        for layout in config.iter().flat_map(|c| c.slots.iter()) {
            let ptr = core::ptr::NonNull::slice_from_raw_parts(
                core::ptr::NonNull::new(layout.ctrl as *mut u8).expect("checked non-null by MuxConfig::parse"),
                CTRL_READ_LEN,
            );
            // SAFETY: the generator maps each slot's control region read-only here.
            let ctrl = unsafe { SharedMemoryRef::new_read_only(ptr) };
            let slot = Slot {
                child: Child::new(usize::from(layout.child_id)),
                channel: Channel::new(usize::from(layout.channel)),
                ctrl,
            };
            if slots.push(slot).is_err() {
                break;
            }
        }
        Self { pool: SlotPool::new(), slots }
    }

    /// The slots whose channel is in `channels`.
    pub fn signalled(&self, channels: ChannelSet) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(move |i| channels.contains(self.slots[*i].channel))
    }

    /// Number of configured slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The per-frame summary slot `slot` last published in its control
    /// region (untrusted: it only ever reaches a stats line).
    pub fn hop_summary(&self, slot: usize) -> Option<Summary> {
        let mut bytes = [0u8; 16];
        self.slots.get(slot)?.ctrl.as_ptr().index(HOP_SUMMARY_AT..HOP_SUMMARY_AT + 16).copy_into_slice(&mut bytes);
        let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Summary::from_words([word(0), word(1)])
    }

    /// Whether slot `slot` was spawned and is serving.
    pub fn is_serving(&self, slot: usize) -> bool {
        matches!(self.pool.state(slot), Ok(SlotState::Active { .. }))
    }

    /// Notifies each slot whose bit is set in `mask`.
    pub fn notify(&self, mask: u64) {
        for (i, slot) in self.slots.iter().enumerate() {
            if mask & (1 << i) != 0 {
                slot.channel.notify();
            }
        }
    }

    /// Slot `slot` says its template is initialised: check its ready block
    /// and spawn it.
    pub fn template_ready(&mut self, slot: usize) {
        let mut block = [0u8; READY_BLOCK_LEN];
        self.slots[slot].ctrl.as_ptr().index(..READY_BLOCK_LEN).copy_into_slice(&mut block);
        let ready = match TemplateReady::parse(&block) {
            Ok(ready) => ready,
            Err(e) => return debug_println!("mux: fwp slot {slot} not spawnable: {e}"),
        };
        if let Err(e) = self.pool.template_ready(slot, ready) {
            return debug_println!("mux: ignoring ready signal: {e}");
        }
        match self.pool.spawn(slot) {
            Ok(plan) => self.start(plan),
            Err(e) => debug_println!("mux: cannot spawn: {e}"),
        }
    }

    /// The spawn path's one seL4 invocation: write PC, SP, SPSR (sanitised by
    /// the kernel), x0 and x1 into the child's TCB and resume it.
    fn start(&mut self, plan: SpawnPlan) {
        let mut regs = sel4::UserContext::default();
        *regs.pc_mut() = plan.pc;
        *regs.sp_mut() = plan.sp;
        *regs.gpr_mut(0) = plan.slot as u64;
        *regs.gpr_mut(1) = u64::from(plan.generation);
        // Said before the write: once resumed, the slot may print at any time.
        debug_println!(
            "mux: spawning fwp slot {} (generation {}) at {:#x}",
            plan.slot,
            plan.generation,
            plan.pc
        );
        let tcb = self.slots[plan.slot].child.tcb();
        if let Err(e) = tcb.tcb_write_registers(true, 5, &mut regs) {
            debug_println!("mux: ERROR: spawning fwp slot {} failed: {e:?}", plan.slot);
            let _ = self.pool.fault(plan.slot);
        }
    }

    /// A child faulted: stop it and take its slot out of service. Only the
    /// label is decoded: rust-sel4 5.0.0's full fault decoder panics on some
    /// labels (REFERENCE.md), and a tenant must never crash the mux.
    pub fn fault(&mut self, child: Child, label: u64) {
        let Some(slot) = self.slots.iter().position(|s| s.child == child) else {
            return debug_println!("mux: fault from unknown child {}", child.index());
        };
        let _ = self.pool.fault(slot);
        let _ = child.tcb().tcb_suspend();
        debug_println!("mux: fwp slot {slot} faulted (fault label {label}), stopped");
    }
}
