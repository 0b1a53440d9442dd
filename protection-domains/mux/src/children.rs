//! The mux's children: FWP slots and template PDs. Their channels, control
//! regions, rings and TCBs, and the memory work of the FWP lifecycle (ring
//! reset and zeroing at scrub, the register writes of a spawn). Decisions
//! are `edgeos_mux::Multiplexer`'s and `edgeos_fwp::SlotPool`'s.

use core::ptr::NonNull;

use edgeos_config::{MuxConfig, SlotLayout, TemplateLayout};
use edgeos_cycles::Summary;
use edgeos_fwp::control;
use edgeos_fwp::{SlotStatus, SpawnPlan, TemplateReady, CTRL_READ_LEN, HOP_SUMMARY_AT, READY_BLOCK_LEN, WALL_CLOCK_AT};
use edgeos_mux::{ChannelIndex, SlotSet, TenantPorts};
use edgeos_pd_ring::{reader, region, ring_at, writer, ReadEnd, SharedRegion, WriteEnd, WAKE_FLAG_OFFSET};
use edgeos_timer::WallClock;
use heapless::Vec;
use edgeos_fwp_manager::caps;
use sel4_microkit::{debug_println, Channel, ChannelSet, Child};
use sel4_shared_memory::SharedMemoryRef;

/// Bytes of a ring region that hold state: the RawRingBuffer and the wake flag.
const RING_STATE: usize = WAKE_FLAG_OFFSET + 64;

/// A ring's state, rounded to pages, in the placeholder.
const PLACEHOLDER_RING: usize = RING_STATE.next_multiple_of(4096);
/// The buffer geometry every slot uses.
const BUFFER_SIZE: usize = 2048;

#[repr(C, align(4096))]
struct Placeholder([u8; 2 * PLACEHOLDER_RING + BUFFER_SIZE]);

/// Where dynamic slots' ports point until the manager created their FWPs.
static mut PLACEHOLDER: Placeholder = Placeholder([0; 2 * PLACEHOLDER_RING + BUFFER_SIZE]);

/// A slot's ring ends and regions, as the multiplexer holds them.
pub type Ports = TenantPorts<ReadEnd<'static>, WriteEnd<'static>, SharedRegion>;

/// A mapped region of `len` bytes at `vaddr`.
fn bytes(vaddr: u64, len: usize) -> SharedMemoryRef<'static, [u8]> {
    let ptr = NonNull::slice_from_raw_parts(NonNull::new(vaddr as *mut u8).expect("checked by MuxConfig::parse"), len);
    // SAFETY: the generator maps every address of mux_config into the mux.
    unsafe { SharedMemoryRef::new(ptr) }
}

/// How the multiplexer reaches a slot's FWP.
enum Handle {
    /// A child PD of `system.xml`.
    Pd { child: Child, channel: Channel },
    /// The FWP manager's dynamic FWP `k`: its TCB and notification caps are
    /// in the CNode the manager mounted in our CSpace (`edgeos_fwp_manager::caps`).
    Dynamic { k: usize },
}

impl Handle {
    fn tcb(&self) -> sel4::cap::Tcb {
        match self {
            Self::Pd { child, .. } => child.tcb(),
            Self::Dynamic { k } => sel4::cap::Tcb::from_bits(caps::cptr(caps::tcb(*k))),
        }
    }

    fn notify(&self) {
        match self {
            Self::Pd { channel, .. } => channel.notify(),
            Self::Dynamic { k } => sel4::cap::Notification::from_bits(caps::cptr(caps::notification(*k))).signal(),
        }
    }
}

struct Slot {
    layout: SlotLayout,
    handle: Handle,
    /// Its memory is mapped here: always for a slot PD; for a dynamic FWP
    /// only between its creation and its replacement.
    mapped: bool,
}

struct Template {
    layout: TemplateLayout,
    child: Child,
    channel: Channel,
}

/// Who sent a notification.
pub enum Sender {
    /// FWP slot `n`.
    Slot(usize),
    /// Template `n`'s template PD.
    Template(usize),
}

/// Every child the configuration describes.
pub struct Children<const N: usize> {
    slots: Vec<Slot, N>,
    templates: Vec<Template, { edgeos_config::MAX_TEMPLATES }>,
    /// The slots behind each channel bit (FWPs share bits).
    by_channel: ChannelIndex<N>,
}

impl<const N: usize> Children<N> {
    /// The children of `config` (none without one).
    pub fn new(config: Option<&MuxConfig>) -> Self {
        let mut children = Self { slots: Vec::new(), templates: Vec::new(), by_channel: ChannelIndex::new(core::iter::empty()) };
        for layout in config.iter().flat_map(|c| c.slots.iter()) {
            let handle = match layout.dynamic {
                Some(k) => Handle::Dynamic { k: k.into() },
                None => Handle::Pd { child: Child::new(layout.child_id.into()), channel: Channel::new(layout.channel.into()) },
            };
            let slot = Slot { layout: *layout, handle, mapped: layout.dynamic.is_none() };
            if children.slots.push(slot).is_err() {
                break;
            }
        }
        for layout in config.iter().flat_map(|c| c.templates.iter()) {
            let t = Template { layout: *layout, child: Child::new(layout.child_id.into()), channel: Channel::new(layout.channel.into()) };
            let _ = children.templates.push(t);
        }
        children.by_channel = ChannelIndex::new(children.slots.iter().map(|s| s.layout.channel));
        children
    }

    /// The ports the multiplexer starts slot `layout` with.
    pub fn ports(layout: &SlotLayout) -> Ports {
        TenantPorts {
            rx_empty: reader(ring_at(layout.rings[0] as usize)),
            rx_filled: writer(ring_at(layout.rings[1] as usize)),
            tx_outgoing: reader(ring_at(layout.rings[2] as usize)),
            tx_done: writer(ring_at(layout.rings[3] as usize)),
            // SAFETY: the generator maps these regions into this PD and the slot only.
            rx_mem: unsafe { region(layout.rx_buf.0 as usize, layout.rx_buf.1 as usize) },
            tx_mem: unsafe { region(layout.tx_buf.0 as usize, layout.tx_buf.1 as usize) },
        }
    }

    /// The ports the multiplexer starts slot `layout` with: a dynamic FWP's
    /// memory is not mapped until the manager created it, so until then
    /// its ports are a placeholder no traffic reaches (the slot is not in
    /// its template's pool); `reset` gives it its own at creation.
    pub fn initial_ports(layout: &SlotLayout) -> Ports {
        if layout.dynamic.is_none() {
            return Self::ports(layout);
        }
        let base = core::ptr::addr_of_mut!(PLACEHOLDER) as usize;
        TenantPorts {
            rx_empty: reader(ring_at(base)),
            rx_filled: writer(ring_at(base + PLACEHOLDER_RING)),
            tx_outgoing: reader(ring_at(base)),
            tx_done: writer(ring_at(base + PLACEHOLDER_RING)),
            // SAFETY: the placeholder is this PD's own memory; nothing is
            // ever copied into or out of it (the slot takes no traffic).
            rx_mem: unsafe { region(base + 2 * PLACEHOLDER_RING, BUFFER_SIZE) },
            tx_mem: unsafe { region(base + 2 * PLACEHOLDER_RING, BUFFER_SIZE) },
        }
    }

    /// The slots' layouts, in slot order.
    pub fn slot_layouts(&self) -> impl Iterator<Item = &SlotLayout> {
        self.slots.iter().map(|s| &s.layout)
    }

    /// Whose channels are in `channels`.
    pub fn senders(&self, channels: ChannelSet) -> impl Iterator<Item = Sender> + '_ {
        // A dynamic FWP signals on its own bit, `layout.channel`, as a PD does.
        let slots = channels.iter().flat_map(|c| self.by_channel.on(c.index())).map(Sender::Slot);
        let templates =
            (0..self.templates.len()).filter(move |i| channels.contains(self.templates[*i].channel)).map(Sender::Template);
        slots.chain(templates)
    }

    /// Which child `child` is.
    pub fn of(&self, child: Child) -> Option<Sender> {
        let dynamic = caps::dynamic_of_child(child.index());
        let found = self.slots.iter().position(|s| match (&s.handle, dynamic) {
            (Handle::Pd { child: c, .. }, None) => *c == child,
            (Handle::Dynamic { k }, Some(faulted)) => *k == faulted,
            _ => false,
        });
        if let Some(i) = found {
            return Some(Sender::Slot(i));
        }
        self.templates.iter().position(|t| t.child == child).map(Sender::Template)
    }

    /// Notifies each slot in `slots`.
    pub fn notify(&self, slots: SlotSet) {
        for slot in slots.iter() {
            if let Some(s) = self.slots.get(slot) {
                s.handle.notify();
            }
        }
    }

    /// Template `t`'s ready block (untrusted: parsed).
    pub fn ready_block(&self, t: usize) -> Result<TemplateReady, edgeos_fwp::ReadyBlockError> {
        control::read_ready(&SharedRegion(bytes(self.templates[t].layout.ctrl, READY_BLOCK_LEN)))
    }

    /// Slot `slot`'s status block (untrusted).
    pub fn status(&self, slot: usize) -> Option<SlotStatus> {
        if !self.slots.get(slot)?.mapped {
            return None;
        }
        control::read_status(&SharedRegion(bytes(self.slots[slot].layout.ctrl, CTRL_READ_LEN)))
    }

    /// The per-frame summary slot `slot` last published (untrusted: it only
    /// ever reaches a stats line).
    pub fn hop_summary(&self, slot: usize) -> Option<Summary> {
        if !self.slots.get(slot)?.mapped {
            return None;
        }
        let mut bytes16 = [0u8; 16];
        bytes(self.slots.get(slot)?.layout.ctrl, CTRL_READ_LEN)
            .as_ptr()
            .index(HOP_SUMMARY_AT..HOP_SUMMARY_AT + 16)
            .copy_into_slice(&mut bytes16);
        let word = |i: usize| u64::from_le_bytes(bytes16[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Summary::from_words([word(0), word(1)])
    }

    /// Stops slot `slot` and resets its memory to what its template PD left
    /// at the checkpoint: its control region is zeroed (once it is stopped,
    /// so nothing it writes survives: `control::stop_then_clear`), its
    /// rings get the template PD's ring state (the rx buffers its
    /// initialisation offered), its buffers are zeroed. Returns its fresh
    /// ports.
    pub fn reset(&self, slot: usize) -> Ports {
        let s = &self.slots[slot];
        control::stop_then_clear(&mut SharedRegion(bytes(s.layout.ctrl, CTRL_READ_LEN)), || {
            let _ = s.handle.tcb().tcb_suspend();
        });
        let template = &self.templates[usize::from(s.layout.template)].layout;
        let mut state = [0u8; RING_STATE];
        for (from, to) in template.rings.iter().zip(s.layout.rings) {
            bytes(*from, RING_STATE).as_ptr().copy_into_slice(&mut state);
            bytes(to, RING_STATE).as_mut_ptr().copy_from_slice(&state);
        }
        for (vaddr, len) in [s.layout.rx_buf, s.layout.tx_buf] {
            zero(vaddr, len as usize);
        }
        Self::ports(&s.layout)
    }

    /// Applies a spawn or restore plan: one seL4 invocation writing PC, SP,
    /// SPSR (sanitised by the kernel), x0 (slot), x1 (generation), x2 (where
    /// a restore continues) and x3 (the image) into the slot's TCB and
    /// resuming it.
    /// Works whether the slot is running, blocked, suspended or faulted.
    ///
    /// First writes `wall_clock` (unix time at the counter's zero, 0 for
    /// none) into the slot's control region at `WALL_CLOCK_AT`.
    pub fn start(&self, plan: &SpawnPlan, wall_clock: Option<WallClock>) -> Result<(), sel4::Error> {
        let at_zero = wall_clock.map_or(0, WallClock::at_counter_zero);
        bytes(self.slots[plan.slot].layout.ctrl, CTRL_READ_LEN)
            .as_mut_ptr()
            .index(WALL_CLOCK_AT..WALL_CLOCK_AT + 8)
            .copy_from_slice(&at_zero.to_le_bytes());
        let mut regs = sel4::UserContext::default();
        *regs.pc_mut() = plan.pc;
        *regs.sp_mut() = plan.sp;
        *regs.gpr_mut(0) = plan.slot as u64;
        *regs.gpr_mut(1) = u64::from(plan.generation);
        *regs.gpr_mut(2) = plan.then;
        *regs.gpr_mut(3) = plan.image;
        self.slots[plan.slot].handle.tcb().tcb_write_registers(true, 7, &mut regs)
    }

    /// Stops template `t`'s PD: after its checkpoint, or after a fault.
    pub fn stop_template(&self, t: usize) {
        let _ = self.templates[t].child.tcb().tcb_suspend();
        debug_println!("mux: template {t}'s PD stopped");
    }

    /// The slot that is dynamic FWP `k`.
    pub fn slot_of_dynamic(&self, k: usize) -> Option<usize> {
        self.slots.iter().position(|s| matches!(s.handle, Handle::Dynamic { k: d } if d == k))
    }

    /// The dynamic FWP index of slot `slot`, if it is one.
    pub fn dynamic_index(&self, slot: usize) -> Option<u16> {
        self.slots.get(slot).and_then(|s| s.layout.dynamic)
    }

    /// Whether dynamic slot `slot`'s memory is mapped here (the manager
    /// created its FWP and has not been asked to destroy it).
    pub fn set_mapped(&mut self, slot: usize, mapped: bool) {
        self.slots[slot].mapped = mapped;
    }

    /// Suspends slot `slot`'s FWP.
    pub fn stop(&self, slot: usize) {
        let _ = self.slots[slot].handle.tcb().tcb_suspend();
    }

    /// Slot `slot`'s template.
    pub fn template_of(&self, slot: usize) -> usize {
        self.slots[slot].layout.template.into()
    }

    /// Whether slot `slot` is a dynamic FWP of a template that renews its
    /// FWPs (destroyed and created anew when they end).
    pub fn renews(&self, slot: usize) -> bool {
        let layout = &self.slots[slot].layout;
        layout.dynamic.is_some() && self.templates.get(usize::from(layout.template)).is_some_and(|t| t.layout.renew)
    }

    /// Number of slots of template `t`, static or dynamic.
    pub fn slots_of(&self, t: usize) -> usize {
        self.slots.iter().filter(|s| usize::from(s.layout.template) == t).count()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Zeroes `len` bytes at `vaddr`: the scrub of a torn-down FWP's buffers
/// (2 x 64 KiB for most templates), which runs on the mux's budget ahead of
/// the FWPs it starts. Sixteen-byte stores of the zero register, eight per
/// iteration (11 instructions per 128 bytes), in place of a copy from a
/// zero page a page at a time: a teardown's median fell from 76,800 to
/// 37,728 instructions under `-icount` (`make bench-fwp`). `DC ZVA` would
/// be faster still, but seL4 leaves SCTLR_EL1.DZE clear, so EL0 may not
/// use it.
fn zero(vaddr: u64, len: usize) {
    const BLOCK: usize = 128;
    let blocks = if vaddr % 16 == 0 { len / BLOCK } else { 0 };
    if blocks > 0 {
        // SAFETY: [vaddr, vaddr + len) is one of a slot's buffer regions,
        // mapped read-write into the mux (MuxConfig::parse checked its
        // address), and the slot's FWP is stopped; the loop writes
        // `blocks * BLOCK <= len` bytes from the 16-byte aligned `vaddr`.
        unsafe {
            core::arch::asm!(
                "2:",
                "stp xzr, xzr, [{at}, #0]",
                "stp xzr, xzr, [{at}, #16]",
                "stp xzr, xzr, [{at}, #32]",
                "stp xzr, xzr, [{at}, #48]",
                "stp xzr, xzr, [{at}, #64]",
                "stp xzr, xzr, [{at}, #80]",
                "stp xzr, xzr, [{at}, #96]",
                "stp xzr, xzr, [{at}, #112]",
                "add {at}, {at}, #128",
                "subs {left}, {left}, #1",
                "b.ne 2b",
                at = inout(reg) vaddr => _,
                left = inout(reg) blocks => _,
                options(nostack),
            );
        }
    }
    let done = blocks * BLOCK;
    if done < len {
        bytes(vaddr + done as u64, len - done).as_mut_ptr().fill(0);
    }
}
