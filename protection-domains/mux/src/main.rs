//! `mux`: wiring only. The decisions live in `edgeos_mux` (driver link) and
//! `edgeos_fwp` (slots); this file binds them to channels, regions and the
//! child TCBs.
#![no_std]
#![no_main]

use core::ptr::NonNull;

use edgeos_fwp::{SlotPool, SpawnPlan, TemplateReady, READY_BLOCK_LEN};
use edgeos_mux::DriverLink;
use edgeos_net_driver::protocol::{ConnectReply, MacDisplay, Request, LABEL_OK};
use edgeos_pd_ring::{ReadEnd, SharedRegion, WriteEnd};
use edgeos_ring::Region;
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, ChannelSet, Child,
    Handler, Infallible, MessageInfo,
};
use sel4_shared_memory::{access::ReadOnly, SharedMemoryRef};
use sel4_shared_ring_buffer::{InitializationStrategy, RawRingBuffer, RingBuffer};

/// Buffer slot size in `net_dma`; the driver uses the same.
const BUFFER_SIZE: usize = 2048;
/// Upper bound on `net_dma` slots the pool tracks (2 MiB of 2 KiB buffers).
const MAX_BUFFERS: usize = 1024;
/// Rx buffers kept offered to the driver: half the pool, the rest for tx.
const RX_BUFFERS: usize = 256;
/// FWP slots in this image.
const SLOTS: usize = 1;

struct Slot {
    child: Child,
    channel: Channel,
    ctrl: SharedMemoryRef<'static, [u8], ReadOnly>,
}

struct Mux {
    link: DriverLink<MAX_BUFFERS>,
    mem: SharedRegion,
    scratch: [u8; BUFFER_SIZE],
    rx_free: WriteEnd<'static>,
    rx_used: ReadEnd<'static>,
    tx_used: ReadEnd<'static>,
    driver: Channel,
    pool: SlotPool<SLOTS>,
    slots: [Slot; SLOTS],
}

/// One ring this PD provides: it owns the buffers, so it writes the initial indices.
fn ring<R: sel4_shared_ring_buffer::roles::RingBufferRole>(
    raw: NonNull<RawRingBuffer>,
) -> RingBuffer<'static, R> {
    // SAFETY: each ring region is mapped rw into this PD and the driver only.
    let shared = unsafe { SharedMemoryRef::new(raw) };
    RingBuffer::new(shared, InitializationStrategy::UseAndWriteState(Default::default()))
}

#[protection_domain(heap_size = 64 * 1024)]
fn init() -> Mux {
    let net_dma_size = *var!(net_dma_size: usize = 0);
    // SAFETY: `net_dma` is mapped rw into this PD and the driver only.
    let mem = SharedRegion(unsafe {
        SharedMemoryRef::new(memory_region_symbol!(net_dma_vaddr: *mut [u8], n = net_dma_size))
    });
    let mut rx_free = WriteEnd(ring(memory_region_symbol!(net_rx_free_vaddr: *mut _)));
    let rx_used = ReadEnd(ring(memory_region_symbol!(net_rx_used_vaddr: *mut _)));
    // The tx free ring carries frames to transmit; the data path fills it.
    let _tx_free: WriteEnd<'static> = WriteEnd(ring(memory_region_symbol!(net_tx_free_vaddr: *mut _)));
    let tx_used = ReadEnd(ring(memory_region_symbol!(net_tx_used_vaddr: *mut _)));
    let driver = Channel::new(*var!(driver_channel: usize = 0));

    let mut link = DriverLink::new(Region::new(net_dma_size, BUFFER_SIZE), RX_BUFFERS);
    link.provide_rx(&mut rx_free);
    driver.notify();

    let reply = driver.pp_call(MessageInfo::new(Request::Connect.label(), 0));
    let words = sel4_microkit::with_msg_regs(|mrs| [mrs[0], mrs[1]]);
    match (reply.label() == LABEL_OK).then(|| ConnectReply::from_words(words)).flatten() {
        Some(r) => match link.check_connect(&r) {
            Ok(()) => debug_println!(
                "mux: rings connected: rx {} buffers offered, tx ready; driver MAC {}",
                link.rx_lent(),
                MacDisplay(r.mac)
            ),
            Err(e) => debug_println!("mux: ERROR: rings not connected: {e}"),
        },
        None => debug_println!("mux: ERROR: driver refused Connect (label {})", reply.label()),
    }

    // SAFETY: `fwp_00_ctrl` is slot 0's control region, mapped read-only here.
    let ctrl = unsafe {
        SharedMemoryRef::new_read_only(memory_region_symbol!(
            fwp_00_ctrl_vaddr: *mut [u8],
            n = READY_BLOCK_LEN
        ))
    };
    Mux {
        link,
        mem,
        scratch: [0; BUFFER_SIZE],
        rx_free,
        rx_used,
        tx_used,
        driver,
        pool: SlotPool::new(),
        slots: [Slot {
            child: Child::new(*var!(fwp_00_child_id: usize = 0)),
            channel: Channel::new(*var!(fwp_00_channel: usize = 0)),
            ctrl,
        }],
    }
}

impl Mux {
    fn service_driver(&mut self) {
        let Self { link, mem, scratch, rx_used, .. } = self;
        // Classification and delivery to tenants come with the data path;
        // until then received frames are counted and their buffers recycled.
        link.receive(rx_used, mem, scratch, |_| {});
        link.reclaim_tx(&mut self.tx_used);
        if self.link.provide_rx(&mut self.rx_free) > 0 {
            self.driver.notify();
        }
    }

    fn template_ready(&mut self, slot: usize) {
        let mut block = [0u8; READY_BLOCK_LEN];
        self.slots[slot].ctrl.as_ptr().copy_into_slice(&mut block);
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
}

impl Handler for Mux {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(self.driver) {
            self.service_driver();
        }
        for slot in 0..SLOTS {
            if channels.contains(self.slots[slot].channel) {
                self.template_ready(slot);
            }
        }
        Ok(())
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        // Decode only the label: rust-sel4 5.0.0's full fault decoder panics on
        // some labels (REFERENCE.md), and a tenant must never crash the mux.
        let Some(slot) = self.slots.iter().position(|s| s.child == child) else {
            debug_println!("mux: fault from unknown child {}", child.index());
            return Ok(None);
        };
        let _ = self.pool.fault(slot);
        let _ = child.tcb().tcb_suspend();
        debug_println!("mux: fwp slot {slot} faulted (fault label {}), stopped", msg.label());
        Ok(None)
    }
}
