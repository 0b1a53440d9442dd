//! `mux`: wiring only. The decisions live in `edgeos_mux` (routing, copies,
//! validation), `edgeos_flow` (classification) and `edgeos_fwp` (slots);
//! this file binds them to channels, regions and the child TCBs. Every
//! slot's addresses and ids come from the generated `mux_config` blob.
#![no_std]
#![no_main]

mod slots;


use edgeos_config::MuxConfig;
use edgeos_flow::{FlowTable, NetIdentity};
use edgeos_cycles::{Samples, Summary};
use edgeos_mux::{DriverLink, DriverPorts, Multiplexer, StatsLine, TenantLink, TenantPorts, Wake};
use edgeos_net_driver::protocol::{ConnectReply, MacDisplay, Request, LABEL_OK};
use edgeos_pd_ring::{now_ns, ring_at, reader, region, writer, ReadEnd, SharedRegion, WriteEnd};
use edgeos_ring::Region;
use heapless::Vec;
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, ChannelSet, Child,
    Handler, Infallible, MessageInfo,
};
use sel4_shared_memory::SharedMemoryRef;

use slots::Slots;

/// Buffer slot size in every shared region; the driver and tenants use the same.
const BUFFER_SIZE: usize = 2048;
/// Upper bound on `net_dma` slots the pool tracks (2 MiB of 2 KiB buffers).
const MAX_BUFFERS: usize = 1024;
/// Rx buffers kept offered to the driver: a quarter of the pool, the rest for tx.
const RX_BUFFERS: usize = 256;
/// FWP slots this binary can drive; the configuration may use fewer.
const MAX_SLOTS: usize = edgeos_config::MUX_SLOT_CAPACITY;
/// Flow-table capacity (a power of two).
const FLOWS: usize = 64;
/// Per-frame time samples kept (the first ones; later frames only count).
const HOP_SAMPLES: usize = 16 * 1024;

/// Kept out of the handler struct, which `init` returns on the stack.
static mut HOPS: Samples<HOP_SAMPLES> = Samples::new();

fn hops() -> &'static mut Samples<HOP_SAMPLES> {
    // SAFETY: the PD is single-threaded and only the handler touches HOPS.
    unsafe { &mut *core::ptr::addr_of_mut!(HOPS) }
}

type Mux = Multiplexer<ReadEnd<'static>, WriteEnd<'static>, SharedRegion, MAX_SLOTS, MAX_BUFFERS, FLOWS>;

struct MuxPd {
    mux: Mux,
    driver: Channel,
    slots: Slots<MAX_SLOTS>,
}

fn load_config() -> Option<MuxConfig> {
    let size = *var!(mux_config_size: usize = 0);
    // SAFETY: `mux_config` is the prefilled, read-only configuration region.
    let region = unsafe {
        SharedMemoryRef::<'static, [u8]>::new_read_only(memory_region_symbol!(
            mux_config_vaddr: *mut [u8],
            n = size
        ))
    };
    let mut blob = [0u8; 8192];
    let len = size.min(blob.len());
    region.as_ptr().index(..len).copy_into_slice(&mut blob[..len]);
    match MuxConfig::parse(&blob[..len]) {
        Ok(config) if config.slots.len() <= MAX_SLOTS => Some(config),
        Ok(config) => {
            debug_println!("mux: ERROR: {} slots configured, this mux drives {MAX_SLOTS}", config.slots.len());
            None
        }
        Err(e) => {
            debug_println!("mux: ERROR: bad mux configuration: {e}");
            None
        }
    }
}

#[protection_domain(heap_size = 64 * 1024)]
fn init() -> MuxPd {
    let config = load_config();
    let net_dma_size = *var!(net_dma_size: usize = 0);
    let driver_ports = DriverPorts {
        rx_free: writer(ring_at(*var!(net_rx_free_vaddr: usize = 0))),
        rx_used: reader(ring_at(*var!(net_rx_used_vaddr: usize = 0))),
        tx_free: writer(ring_at(*var!(net_tx_free_vaddr: usize = 0))),
        tx_used: reader(ring_at(*var!(net_tx_used_vaddr: usize = 0))),
        // SAFETY: `net_dma` is mapped rw into this PD and the driver only.
        mem: unsafe { region(*var!(net_dma_vaddr: usize = 0), net_dma_size) },
    };
    let link = DriverLink::new(Region::new(net_dma_size, BUFFER_SIZE), RX_BUFFERS);

    let mut tenants = Vec::new();
    let mut table = FlowTable::new();
    let mut me = NetIdentity::QEMU_USER_NET;
    if let Some(config) = &config {
        me = edgeos_mux::config::identity(config);
        table = edgeos_mux::config::service_table(config, |slot, e| {
            debug_println!("mux: ERROR: slot {slot}'s service not routed: {e:?}")
        });
        for slot in &config.slots {
            let ports = TenantPorts {
                rx_empty: reader(ring_at(slot.rings[0] as usize)),
                rx_filled: writer(ring_at(slot.rings[1] as usize)),
                tx_outgoing: reader(ring_at(slot.rings[2] as usize)),
                tx_done: writer(ring_at(slot.rings[3] as usize)),
                // SAFETY: the generator maps these regions into this PD and the slot only.
                rx_mem: unsafe { region(slot.rx_buf.0 as usize, slot.rx_buf.1 as usize) },
                tx_mem: unsafe { region(slot.tx_buf.0 as usize, slot.tx_buf.1 as usize) },
            };
            let link = TenantLink::new(slot.rx_buf.1 as usize, slot.tx_buf.1 as usize, BUFFER_SIZE);
            let _ = tenants.push((ports, link));
        }
    }
    let mut mux = Multiplexer::new(me, driver_ports, link, tenants, table);
    if let Some(port) = config.as_ref().map(|c| c.stats_port).filter(|p| *p != 0) {
        mux.serve_stats_on(port);
    }
    let driver = Channel::new(*var!(driver_channel: usize = 0));
    if mux.start().driver {
        driver.notify();
    }
    connect(&mux, driver, &me);
    MuxPd { mux, driver, slots: Slots::new(config.as_ref()) }
}

/// Asks the driver what it sees of the rings and reports whether the two
/// views agree.
fn connect(mux: &Mux, driver: Channel, me: &NetIdentity) {
    let reply = driver.pp_call(MessageInfo::new(Request::Connect.label(), 0));
    let words = sel4_microkit::with_msg_regs(|mrs| [mrs[0], mrs[1]]);
    let Some(r) = (reply.label() == LABEL_OK).then(|| ConnectReply::from_words(words)).flatten() else {
        return debug_println!("mux: ERROR: driver refused Connect (label {})", reply.label());
    };
    if let Err(e) = mux.link().check_connect(&r) {
        return debug_println!("mux: ERROR: rings not connected: {e}");
    }
    debug_println!(
        "mux: rings connected: rx {} buffers offered, tx ready; driver MAC {}",
        mux.link().rx_lent(),
        MacDisplay(r.mac)
    );
    if r.mac != me.mac.0 {
        debug_println!("mux: ERROR: the NIC's MAC is not the configured {}", MacDisplay(me.mac.0));
    }
}

/// The driver's per-frame summary, asked over the protected procedure call.
fn driver_hops(driver: Channel) -> Option<Summary> {
    let reply = driver.pp_call(MessageInfo::new(Request::HopStats.label(), 0));
    if reply.label() != LABEL_OK {
        return None;
    }
    Summary::from_words(sel4_microkit::with_msg_regs(|mrs| [mrs[0], mrs[1]]))
}

impl MuxPd {
    fn wake(&self, wake: Wake) {
        if wake.driver {
            self.driver.notify();
        }
        self.slots.notify(wake.tenants);
    }
}

impl Handler for MuxPd {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        // Time is counted from each pass's start to its hand-off (the
        // notifications), not past it: a notified driver preempts us, and its
        // work is its own hop.
        let (mut busy, frames) = (0, self.mux.frames_handled());
        if channels.contains(self.driver) {
            let (driver, slots) = (self.driver, &self.slots);
            let mut extra = |line: &mut StatsLine| {
                line.put_hop(format_args!("driver"), driver_hops(driver));
                line.put_hop(format_args!("mux"), hops().summary());
                for slot in 0..slots.len() {
                    line.put_hop(format_args!("t{slot}"), slots.hop_summary(slot));
                }
            };
            loop {
                let start = now_ns();
                let wake = self.mux.on_driver_with(&mut extra);
                busy += now_ns() - start;
                if wake.driver {
                    self.driver.notify();
                }
                self.slots.notify(wake.tenants);
                if self.mux.driver_idle() {
                    break;
                }
            }
        }
        let signalled: Vec<usize, MAX_SLOTS> = self.slots.signalled(channels).collect();
        for slot in signalled {
            if self.slots.is_serving(slot) {
                loop {
                    let start = now_ns();
                    let wake = self.mux.on_tenant(slot);
                    busy += now_ns() - start;
                    self.wake(wake);
                    if self.mux.tenant_idle(slot) {
                        break;
                    }
                }
            } else {
                self.slots.template_ready(slot);
            }
        }
        let handled = self.mux.frames_handled() - frames;
        hops().record_batch(busy, handled as usize);
        Ok(())
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        self.slots.fault(child, msg.label());
        Ok(None)
    }
}
