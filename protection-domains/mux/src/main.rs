//! `mux`: wiring only. The decisions live in `edgeos_mux` (routing, the
//! spawn path, copies, validation), `edgeos_flow` (classification) and
//! `edgeos_fwp` (the slot lifecycle); this file and `children.rs` bind them
//! to channels, regions and the child TCBs. Every child's addresses and ids
//! come from the generated `mux_config` blob.
#![no_std]
#![no_main]

mod children;
mod lifecycle;
mod manager;


use edgeos_config::MuxConfig;
use edgeos_flow::{FlowTable, NetIdentity};
use edgeos_cycles::Summary;
use edgeos_fwp::timing::SpawnTimes;
use edgeos_mux::{DriverLink, DriverPorts, Multiplexer, StatsLine, TenantLink, Wake};
use edgeos_net_driver::protocol::{ConnectReply, MacDisplay, Request, LABEL_OK};
use edgeos_pd_ring::{now_ns, reader, region, ring_at, writer, ReadEnd, SharedRegion, WriteEnd};
use edgeos_ring::Region;
use edgeos_timer::WallClock;
use heapless::Vec;
use sel4_microkit::{
    debug_println, memory_region_symbol, protection_domain, var, Channel, ChannelSet, Child,
    Handler, Infallible, MessageInfo,
};
use sel4_shared_memory::SharedMemoryRef;

use children::{Children, Sender};
use lifecycle::{hops, timings, LIFECYCLE};

/// Buffer slot size in every shared region; the driver and tenants use the same.
const BUFFER_SIZE: usize = 2048;
/// Upper bound on `net_dma` slots the pool tracks (2 MiB of 2 KiB buffers).
const MAX_BUFFERS: usize = 1024;
/// Rx buffers kept offered to the driver: a quarter of the pool, the rest for tx.
const RX_BUFFERS: usize = 256;
/// FWP slots this binary can drive; the configuration may use fewer.
pub(crate) const MAX_SLOTS: usize = edgeos_config::MUX_SLOT_CAPACITY;
/// Flow-table capacity (a power of two): four entries for every slot, so
/// that a full table of per-connection flows stays a short probe away (a
/// hash map: no scan per packet).
const FLOWS: usize = 4096;
/// Per-frame time samples kept (the first ones; later frames only count).
pub(crate) const HOP_SAMPLES: usize = 16 * 1024;

type Mux = Multiplexer<ReadEnd<'static>, WriteEnd<'static>, SharedRegion, MAX_SLOTS, MAX_BUFFERS, FLOWS>;

struct MuxPd {
    mux: Mux,
    driver: Channel,
    children: Children<MAX_SLOTS>,
    /// The timer (idle timeouts), and the deadline (ns) it will wake us at.
    timer: Option<Channel>,
    /// Unix time from the timer, for the FWPs.
    wall_clock: Option<WallClock>,
    armed: Option<u64>,
    times: SpawnTimes<MAX_SLOTS>,
    /// The FWP manager, when some slots are its dynamic FWPs.
    manager: Option<manager::Manager>,
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
    let mut blob = [0u8; MuxConfig::len_for(edgeos_config::MAX_TEMPLATES, edgeos_config::MAX_SLOTS)];
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
    let link = DriverLink::new(Region::new(net_dma_size, BUFFER_SIZE), RX_BUFFERS, edgeos_pd_ring::RING_CAPACITY);

    let children = Children::new(config.as_ref());
    let mut tenants = Vec::new();
    for slot in children.slot_layouts() {
        let link = TenantLink::new(slot.rx_buf.1 as usize, slot.tx_buf.1 as usize, BUFFER_SIZE);
        let _ = tenants.push((Children::<MAX_SLOTS>::initial_ports(slot), link));
    }
    let me = config.as_ref().map_or(NetIdentity::QEMU_USER_NET, edgeos_mux::config::identity);
    let mut mux = Multiplexer::new(me, driver_ports, link, tenants, FlowTable::new());
    if let Some(config) = &config {
        mux = mux.with_fwps(edgeos_mux::config::fwps(config, |t, e| {
            debug_println!("mux: ERROR: template {t} gets no traffic: {e}")
        }));
    }
    if let Some(port) = config.as_ref().map(|c| c.stats_port).filter(|p| *p != 0) {
        mux.serve_stats_on(port);
    }
    let driver = Channel::new(*var!(driver_channel: usize = 0));
    if mux.start().driver {
        driver.notify();
    }
    connect(&mux, driver, &me);
    let timer = config.as_ref().and_then(|c| c.timer_channel).map(|id| Channel::new(id.into()));
    let wall_clock = MuxPd::wall_clock(timer);
    let manager = config.as_ref().and_then(manager::Manager::start);
    MuxPd { mux, driver, children, timer, armed: None, times: SpawnTimes::new(), wall_clock, manager }
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
        self.children.notify(wake.tenants);
    }
}

impl Handler for MuxPd {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        // Time is counted from each pass's start to its hand-off (the
        // notifications), not past it: a notified driver preempts us, and its
        // work is its own hop.
        let began = edgeos_pd_ring::counter();
        let (mut busy, frames) = (0, self.mux.frames_handled());
        self.mux.set_now(now_ns());
        if channels.contains(self.driver) {
            let (driver, children) = (self.driver, &self.children);
            let mut extra = |line: &mut StatsLine| {
                line.put_hop(format_args!("driver"), driver_hops(driver));
                line.put_hop(format_args!("mux"), hops().summary());
                for (name, samples) in LIFECYCLE.iter().zip(&mut timings().lifecycle) {
                    line.put_hop(format_args!("{name}"), samples.summary());
                }
                for (t, samples) in timings().first_reply.iter_mut().enumerate() {
                    line.put_hop(format_args!("first_reply_t{t}"), samples.summary());
                }
                // Only slots that served frames: the line has room for a
                // few slots' figures, not for all of them.
                for slot in 0..children.len() {
                    let Some(s) = children.status(slot).filter(|s| s.frames_in > 0) else { continue };
                    line.put_hop(format_args!("f{slot}"), children.hop_summary(slot));
                    line.put(format_args!("f{slot}."), "wakeups", u64::from(s.wakeups));
                    line.put(format_args!("f{slot}."), "frames_in", u64::from(s.frames_in));
                }
            };
            let mut resumed = edgeos_mux::SlotSet::EMPTY;
            loop {
                let start = now_ns();
                let wake = self.mux.on_driver_with(&mut extra);
                busy += now_ns() - start;
                if wake.driver {
                    self.driver.notify();
                }
                self.children.notify(wake.tenants);
                resumed = resumed.union(wake.resumed);
                if self.mux.driver_idle() {
                    break;
                }
            }
            self.resumed(resumed);
        }
        if self.timer.is_some_and(|t| channels.contains(t)) {
            self.armed = None;
        }
        if self.manager.as_ref().is_some_and(|m| m.signalled(channels)) {
            self.manager_signalled();
        }
        let senders: Vec<Sender, { MAX_SLOTS + edgeos_config::MAX_TEMPLATES }> = self.children.senders(channels).collect();
        for sender in senders {
            match sender {
                Sender::Slot(slot) => self.slot_signalled(slot, &mut busy),
                Sender::Template(t) => self.template_ready(t),
            }
        }
        self.mux.expire_idle();
        self.record_first_replies();
        self.apply();
        self.arm_timer();
        let handled = self.mux.frames_handled() - frames;
        hops().record_batch(busy, handled as usize);
        lifecycle::event_handled(began);
        Ok(())
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        // Only the label is decoded: rust-sel4 5.0.0's full fault decoder
        // panics on some labels (REFERENCE.md), and a tenant must never
        // crash the mux.
        let began = edgeos_pd_ring::counter();
        match self.children.of(child) {
            Some(Sender::Slot(slot)) => {
                debug_println!("mux: fwp slot {slot} faulted (fault label {}), torn down", msg.label());
                self.mux.fault(slot);
                self.apply();
                lifecycle::event_handled(began);
            }
            Some(Sender::Template(t)) => {
                debug_println!("mux: ERROR: template {t}'s PD faulted (fault label {})", msg.label());
                self.children.stop_template(t);
            }
            None => debug_println!("mux: fault from unknown child {}", child.index()),
        }
        Ok(None)
    }
}
