//! `net_driver`: wiring only. The frame-moving logic is `edgeos_net_driver::DriverCore`
//! over `edgeos_net_driver::VirtioNic`; the device is `virtio::VirtioNet`.
#![no_std]
#![no_main]

mod virtio;

use edgeos_net_driver::protocol::{ConnectReply, MacDisplay, Request, LABEL_OK};
use edgeos_net_driver::{DriverCore, VirtioNic};
use edgeos_cycles::Samples;
use edgeos_pd_ring::{now_ns, reader, writer, ReadEnd, SharedRegion, WriteEnd};
use edgeos_ring::{Consumer, Region};
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, ChannelSet, Handler,
    Infallible, MessageInfo,
};
use sel4_shared_memory::SharedMemoryRef;
use sel4_virtio_hal_impl::HalImpl;
use smoltcp::time::Instant;

use crate::virtio::{probe, VirtioNet, NET_QUEUE, VIRTIO_MMIO_FIRST_IRQ};

/// Matches `edgeos_ring`'s slot size on the multiplexer's side of `net_dma`.
const BUFFER_SIZE: usize = 2048;
/// Per-frame time samples kept (the first ones; later frames only count).
const HOP_SAMPLES: usize = 16 * 1024;

/// Kept out of the handler struct, which `init` returns on the stack.
static mut HOPS: Samples<HOP_SAMPLES> = Samples::new();

fn hops() -> &'static mut Samples<HOP_SAMPLES> {
    // SAFETY: the PD is single-threaded and only the handler touches HOPS.
    unsafe { &mut *core::ptr::addr_of_mut!(HOPS) }
}

type Nic = VirtioNic<VirtioNet, NET_QUEUE>;

struct NetDriver {
    core: DriverCore,
    nic: Nic,
    mac: [u8; 6],
    mem: SharedRegion,
    rx_free: ReadEnd<'static>,
    rx_used: WriteEnd<'static>,
    tx_free: ReadEnd<'static>,
    tx_used: WriteEnd<'static>,
    irq: Channel,
    mux: Channel,
}

// The heap holds the NIC's buffers (2 x NET_QUEUE x 2 KiB) and HalImpl's
// bounce-buffer bookkeeping.
#[protection_domain(heap_size = 512 * 1024)]
fn init() -> NetDriver {
    HalImpl::init(
        *var!(net_virtio_dma_size: usize = 0),
        *var!(net_virtio_dma_vaddr: usize = 0),
        *var!(net_virtio_dma_paddr: usize = 0),
    );
    let Some((n, dev)) = probe(*var!(virtio_mmio_vaddr: usize = 0)) else {
        panic!("net_driver: no virtio-net device on any virtio-mmio transport");
    };
    let mut nic = Nic::new(dev.expect("net_driver: virtio-net setup failed"));
    let mac = nic.mac_address();
    debug_println!(
        "net_driver: virtio-net on transport {n} (irq {}), MAC {}",
        VIRTIO_MMIO_FIRST_IRQ + n,
        MacDisplay(mac)
    );
    nic.ack_interrupt();

    let net_dma_size = *var!(net_dma_size: usize = 0);
    // SAFETY: `net_dma` is mapped rw into this PD and the multiplexer only.
    let mem = SharedRegion(unsafe {
        SharedMemoryRef::new(memory_region_symbol!(net_dma_vaddr: *mut [u8], n = net_dma_size))
    });
    let mux = Channel::new(*var!(mux_channel: usize = 0));
    let mut driver = NetDriver {
        core: DriverCore::new(Region::new(net_dma_size, BUFFER_SIZE)),
        nic,
        mac,
        mem,
        rx_free: reader(memory_region_symbol!(net_rx_free_vaddr: *mut _)),
        rx_used: writer(memory_region_symbol!(net_rx_used_vaddr: *mut _)),
        tx_free: reader(memory_region_symbol!(net_tx_free_vaddr: *mut _)),
        tx_used: writer(memory_region_symbol!(net_tx_used_vaddr: *mut _)),
        irq: Channel::new(*var!(virtio_irq_channel: usize = 0)),
        mux,
    };
    // Before the first sleep: the mux's first buffers must wake us.
    driver.rx_free.request_wake();
    driver.tx_free.request_wake();
    driver
}

impl NetDriver {
    fn service(&mut self) -> usize {
        let moved = self.core.service(
            Instant::ZERO,
            &mut self.nic,
            &mut self.mem,
            &mut self.rx_free,
            &mut self.rx_used,
            &mut self.tx_free,
            &mut self.tx_used,
        );
        if moved.notify {
            self.mux.notify();
        }
        moved.rx + moved.tx
    }

}

impl Handler for NetDriver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let (start, mut frames) = (now_ns(), 0);
        if channels.contains(self.irq) {
            // Before looking for work: a completion after this raises the
            // interrupt again, so a driver that sleeps with a frame held for
            // lack of a tx buffer is woken by the next one.
            self.nic.ack_interrupt();
        }
        loop {
            frames += self.service();
            if self.core.ready_to_sleep(&mut self.rx_free, &mut self.tx_free) {
                break;
            }
        }
        hops().record_batch(now_ns() - start, frames);
        if channels.contains(self.irq) {
            // Re-arm only after the device's pending work was taken.
            let _ = self.irq.irq_ack();
        }
        Ok(())
    }

    fn protected(&mut self, channel: Channel, msg: MessageInfo) -> Result<MessageInfo, Self::Error> {
        if channel != self.mux {
            return Ok(MessageInfo::new(u64::MAX, 0));
        }
        match Request::from_label(msg.label()) {
            Some(Request::Connect) => {}
            Some(Request::HopStats) => {
                let Some(summary) = hops().summary() else { return Ok(MessageInfo::new(u64::MAX, 0)) };
                let words = summary.to_words();
                sel4_microkit::with_msg_regs_mut(|mrs| mrs[..2].copy_from_slice(&words));
                return Ok(MessageInfo::new(LABEL_OK, 2));
            }
            None => return Ok(MessageInfo::new(u64::MAX, 0)),
        }
        // Every buffer the mux has lent: those still on the free ring, the
        // one the core may hold for the next frame, and those already back
        // on the used ring with a frame the mux has not read yet. Frames can
        // arrive before the mux connects (its start lent the buffers and woke
        // us; in real time a client's first datagram can be that early), and
        // the mux reads none before this call returns.
        let on_ring = self.rx_free.0.num_filled_slots().unwrap_or(0);
        let returned = self.rx_used.0.num_filled_slots().unwrap_or(0);
        let rx_offered = (on_ring + self.core.rx_buffers_held() + returned) as u32;
        let words = ConnectReply { mac: self.mac, rx_offered }.to_words();
        sel4_microkit::with_msg_regs_mut(|mrs| mrs[..2].copy_from_slice(&words));
        Ok(MessageInfo::new(LABEL_OK, 2))
    }
}
