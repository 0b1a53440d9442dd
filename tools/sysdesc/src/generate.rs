//! Builds the system model from a configuration: the driver, the mux, the
//! rings between them, and as children of the mux one template PD per
//! template and one PD per FWP slot.
//!
//! The names below are the contract with the PDs, which read them as setvar
//! symbols; the addresses are the layout every PD's address space follows.
//! Slots are numbered across templates in order: `fwp_00`, `fwp_01`, ...
//! with child ids 0..N-1 and mux channel ids 1..N; template PDs `tmpl_<name>`
//! follow with child ids N.. and channel ids N+1... A template PD and its
//! slots map their regions at the same addresses, because a slot runs on
//! the template PD's checkpoint (its writable memory after initialisation,
//! pointers included): the template PD writes it into `tmpl_<name>_image`,
//! which every slot of the template maps read-only. The mux has no setvar
//! per slot: it learns each slot's and template's ids and region addresses
//! from its configuration blob (`mux_config`, written by [`crate::blobs`]
//! from the same [`slot_plans`] and [`template_plans`]), and each template
//! PD its service from its own (`tmpl_<name>_config`). A template's
//! dynamic FWPs are no PDs here: see [`manager`].

mod header;
pub mod manager;
mod parts;

use header::header;
use parts::{blob_map, bytes, end, large_pages, map, pd, region, round_up, sized};

use edgeos_config::REGION_COUNT;

use crate::config::{Loaded, Spawn, Template};
use crate::diagnostic::Span;
use crate::model::{
    Channel, ChannelId, ChildPd, Comment, Irq, IrqTrigger, Perms, ProtectionDomain, SetVar, System,
};

/// The driver PD's name.
pub const DRIVER: &str = "net_driver";
/// The multiplexer PD's name.
pub const MUX: &str = "mux";
/// The timer driver PD's name.
pub const TIMER: &str = "timer";
/// The region of virtio-drivers' queues and buffers (the driver's).
pub const NET_VIRTIO_DMA: &str = "net_virtio_dma";
/// The frame buffers the mux lends the driver.
pub const NET_DMA: &str = "net_dma";
/// The ring regions, in layout order.
pub const RINGS: [&str; 4] = ["net_rx_free", "net_rx_used", "net_tx_free", "net_tx_used"];

/// Where the driver maps all virtio-mmio transports.
pub const VIRTIO_MMIO_VADDR: u64 = 0x2000_0000;
/// Where the driver maps `net_virtio_dma`.
pub const NET_VIRTIO_DMA_VADDR: u64 = 0x3000_0000;
/// Where the timer maps the real-time clock's registers (`rtc`).
pub const RTC_VADDR: u64 = 0x2100_0000;
/// The real-time clock's register page (the timer's alone).
pub const RTC: &str = "rtc";
/// Where the driver and the mux map `net_dma`.
pub const NET_DMA_VADDR: u64 = 0x4000_0000;
/// Where the first ring is mapped; the others follow at page-rounded strides.
pub const RINGS_VADDR: u64 = 0x5000_0000;
/// Where the mux maps its configuration blob (`mux_config`).
pub const MUX_CONFIG_VADDR: u64 = 0x5800_0000;
/// Where each slot's window of regions starts in the slot (its control
/// region first), and where slot 0's window starts in the mux.
pub const CTRL_VADDR: u64 = 0x6000_0000;
/// Slot windows in the mux start at multiples of this (4 MiB).
pub const SLOT_WINDOW_ALIGN: u64 = 0x40_0000;
/// A slot's rings start at a multiple of this inside its window.
pub const SLOT_RINGS_ALIGN: u64 = 0x1_0000;
/// A slot's buffer regions each start at a multiple of this (1 MiB).
pub const SLOT_BUFFERS_ALIGN: u64 = 0x10_0000;
/// Where a slot maps its private memory region, when it has one.
pub const MEMORY_VADDR: u64 = 0x7000_0000;
/// Where a template PD and its slots map the template's checkpoint image.
pub const IMAGE_VADDR: u64 = 0x7800_0000;
/// Names of template PDs start with this.
pub const TEMPLATE_PD_PREFIX: &str = "tmpl_";

/// The mux's configuration region, and the blob it is prefilled with.
pub const MUX_CONFIG: &str = "mux_config";
/// The file `mux_config` is prefilled from (found through the search paths).
pub const MUX_CONFIG_FILE: &str = "mux_config.bin";
/// A slot's rings, in the order of `edgeos_config::SlotLayout::rings`; the
/// region of ring `r` of slot `fwp_NN` is `fwp_NN_r`, and the slot finds it
/// through the setvar `r_vaddr`.
pub const SLOT_RINGS: [&str; 4] = ["rx_free", "rx_used", "tx_free", "tx_used"];

/// Where one slot's regions sit in its window, as offsets from the window's
/// start. The slot maps the window at [`CTRL_VADDR`]; the mux maps the same
/// window (all but the slot's configuration) at the slot's own base, so an
/// address in the mux is the slot's address moved by a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWindow {
    /// The control region (ready block or status): first.
    pub ctrl: u64,
    /// The configuration blob (template PDs only), right after the control region.
    pub config: u64,
    /// The four rings, from the next [`SLOT_RINGS_ALIGN`] boundary.
    pub rings: [u64; 4],
    /// The rx buffer region, on a [`SLOT_BUFFERS_ALIGN`] boundary.
    pub rx_buf: u64,
    /// The tx buffer region, on the next [`SLOT_BUFFERS_ALIGN`] boundary.
    pub tx_buf: u64,
    /// The window's length: the end of the tx buffer region.
    pub len: u64,
}

impl SlotWindow {
    /// The offsets of the regions a slot shares with the mux, in
    /// `edgeos_config::REGION_COUNT` order: control, rx free, rx used, tx
    /// free, tx used, rx buffers, tx buffers.
    pub fn shared(&self) -> [u64; REGION_COUNT] {
        let [rx_free, rx_used, tx_free, tx_used] = self.rings;
        [self.ctrl, rx_free, rx_used, tx_free, tx_used, self.rx_buf, self.tx_buf]
    }

    /// The window of a slot of template `t`, with rings of `queue_size`
    /// bytes and `page`-sized pages. Saturates instead of overflowing on
    /// absurd sizes (the layout checks report those).
    pub fn of(t: &Template, queue_size: u64, page: u64) -> SlotWindow {
        let ctrl = 0;
        let config = round_up(t.ctrl_size, page);
        let after_config = config.saturating_add(config_region_size(page));
        let ring_stride = round_up(queue_size, page);
        let first_ring = round_up(after_config, SLOT_RINGS_ALIGN);
        let rings =
            [0u64, 1, 2, 3].map(|i| first_ring.saturating_add(i.saturating_mul(ring_stride)));
        let after_rings = rings[3].saturating_add(ring_stride);
        let rx_buf = round_up(after_rings, SLOT_BUFFERS_ALIGN);
        let tx_buf = round_up(
            rx_buf.saturating_add(round_up(t.rx_buffers_size, page)),
            SLOT_BUFFERS_ALIGN,
        );
        let len = tx_buf.saturating_add(round_up(t.tx_buffers_size, page));
        SlotWindow {
            ctrl,
            config,
            rings,
            rx_buf,
            tx_buf,
            len,
        }
    }
}

/// The size of a template PD's configuration region: a `TenantConfig`
/// blob and, for a Click template, its configuration text. 16 KiB fits
/// within the window's first 64 KiB (`SLOT_RINGS_ALIGN`) next to the
/// control region, so no template's layout grows for it.
pub fn config_region_size(page: u64) -> u64 {
    round_up(CONFIG_REGION_SIZE.max(edgeos_config::TenantConfig::BUFFER_LEN as u64), page)
}

/// See [`config_region_size`].
const CONFIG_REGION_SIZE: u64 = 0x4000;

/// The comment of `pd`'s private region: for a memcached template, what
/// fills it, as the program lays it out.
fn private_memory_comment(pd: &str, t: &Template) -> String {
    if !t.has_store() {
        return format!("{pd}'s private memory.");
    }
    let store = match t.store_size() {
        mib if mib % (1 << 20) == 0 => format!("{} MiB", mib >> 20),
        other => bytes(other),
    };
    let connections = match t.max_connections() {
        1 => "1 TCP connection".to_string(),
        n => format!("{n} TCP connections"),
    };
    format!("{pd}'s private memory: the connection area for {connections} (memcached's -c), then the {store} store (-m).")
}

/// What a child PD of the mux is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An FWP slot: spawned, torn down and restored by the mux.
    Slot,
    /// A template PD: initialises its template once and writes the checkpoint.
    Template,
    /// A dynamic FWP: no PD of `system.xml`; the FWP manager creates it at
    /// run time as a clone of its template's first slot.
    Dynamic,
}

/// One child of the mux (an FWP slot, a template PD or a dynamic FWP): its
/// template, how the mux knows it, and where its regions sit.
#[derive(Clone, Debug)]
pub struct SlotPlan<'a> {
    /// Slot, template PD or dynamic FWP.
    pub role: Role,
    /// The slot's number (0, 1, ...), the template's index, or the dynamic
    /// FWP's number `k`.
    pub index: usize,
    /// Its template.
    pub template: &'a Template,
    /// The template's index in `templates`.
    pub template_index: usize,
    /// Its child id in the mux (none for a dynamic FWP: 0).
    pub child_id: u64,
    /// The mux's channel id to it (0 is the driver's): child id + 1 for a
    /// PD; the bit a dynamic FWP signals the mux on.
    pub channel: u64,
    /// Where its regions sit in its window.
    pub window: SlotWindow,
    /// Where its window starts in the mux.
    pub mux_base: u64,
}

impl SlotPlan<'_> {
    /// `fwp_NN`, `tmpl_<template>`, or `dynamic FWP k`.
    pub fn name(&self) -> String {
        match self.role {
            Role::Slot => slot_name(self.index),
            Role::Template => template_pd_name(&self.template.name),
            Role::Dynamic => format!("dynamic FWP {}", self.index),
        }
    }

    /// The name of one of its regions: `<name>_<part>`.
    pub fn region(&self, part: &str) -> String {
        format!("{}_{part}", self.name())
    }

    /// The file its configuration region is prefilled from.
    pub fn config_file(&self) -> String {
        format!("{}.bin", self.region("config"))
    }

    /// The template's checkpoint image region.
    pub fn image_region(&self) -> String {
        format!("{}_image", template_pd_name(&self.template.name))
    }

    /// Where the region at window `offset` sits in the PD.
    pub fn slot_vaddr(&self, offset: u64) -> u64 {
        CTRL_VADDR.saturating_add(offset)
    }

    /// Where the region at window `offset` sits in the mux.
    pub fn mux_vaddr(&self, offset: u64) -> u64 {
        self.mux_base.saturating_add(offset)
    }
}

/// Every slot the configuration asks for, in order: each template's slots
/// in turn, their windows in the mux one after another from
/// [`CTRL_VADDR`], each on a [`SLOT_WINDOW_ALIGN`] boundary.
pub fn slot_plans(loaded: &Loaded) -> Vec<SlotPlan<'_>> {
    children(loaded).into_iter().filter(|p| p.role == Role::Slot).collect()
}

/// Every template PD, in template order, their windows in the mux after
/// the slots'.
pub fn template_plans(loaded: &Loaded) -> Vec<SlotPlan<'_>> {
    children(loaded).into_iter().filter(|p| p.role == Role::Template).collect()
}

fn children(loaded: &Loaded) -> Vec<SlotPlan<'_>> {
    let page = loaded.board.small_page();
    let templates = &loaded.config.templates;
    let windows: Vec<SlotWindow> =
        templates.iter().map(|t| SlotWindow::of(t, loaded.config.rings.queue_size, page)).collect();
    let slots = templates.iter().enumerate().flat_map(|(ti, t)| (0..t.slots).map(move |_| ti));
    let order = slots.enumerate().map(|(n, ti)| (Role::Slot, n, ti));
    let order = order.chain((0..templates.len()).map(|ti| (Role::Template, ti, ti)));
    let mut plans = Vec::new();
    let mut mux_base = CTRL_VADDR;
    for (role, index, template_index) in order {
        let window = windows[template_index];
        let child_id = plans.len() as u64;
        let template = &templates[template_index];
        let channel = child_id + 1;
        plans.push(SlotPlan { role, index, template, template_index, child_id, channel, window, mux_base });
        mux_base = round_up(mux_base.saturating_add(window.len), SLOT_WINDOW_ALIGN);
    }
    plans
}

/// The mux's channel id to the timer: after its children's.
pub fn timer_channel(loaded: &Loaded) -> u64 {
    children(loaded).len() as u64 + 1
}

/// The name of FWP slot `n`.
pub fn slot_name(n: usize) -> String {
    format!("fwp_{n:02}")
}

/// The name of template `template`'s template PD.
pub fn template_pd_name(template: &str) -> String {
    format!("{TEMPLATE_PD_PREFIX}{template}")
}

/// The system a configuration describes.
pub fn generate(loaded: &Loaded) -> System {
    let Loaded {
        config,
        board,
        spans,
        click: _,
    } = loaded;
    let small = board.small_page();
    let mut sys = System::default();

    // Memory regions.
    if let Some(v) = &board.virtio {
        sys.memory_regions.push(region(
            "virtio_mmio",
            round_up(v.window_size(), small),
            None,
            Some(v.base),
            spans.get("board"),
            format!(
                "All {} virtio-mmio transports of {} ({:#x} bytes each); the driver probes them.",
                v.transports, board.name, v.stride
            ),
        ));
    }
    let d = &config.driver;
    sys.memory_regions.push(region(
        NET_VIRTIO_DMA,
        d.virtio_dma_size,
        large_pages(board.page_sizes, d.virtio_dma_size),
        None,
        spans.get("driver.virtio_dma_size"),
        "virtio-drivers' virtqueues and buffers: the driver's alone.".to_string(),
    ));
    let r = &config.rings;
    let buffers = r.net_dma_size.checked_div(r.buffer_size).unwrap_or(0);
    sys.memory_regions.push(region(
        NET_DMA,
        r.net_dma_size,
        large_pages(board.page_sizes, r.net_dma_size),
        None,
        spans.get("rings.net_dma_size"),
        format!(
            "Frame buffers the mux lends the driver ({buffers} slots of {}). Never in a tenant.",
            bytes(r.buffer_size)
        ),
    ));
    for ring in RINGS {
        let mut mr = region(
            ring,
            r.queue_size,
            None,
            None,
            spans.get("rings.queue_size"),
            String::new(),
        );
        mr.comment = Comment((ring == RINGS[0]).then(|| {
            "sel4-shared-ring-buffer rings between driver and mux (512 x 24-byte descriptors each).".to_string()
        }));
        sys.memory_regions.push(mr);
    }

    // The driver.
    let dspan = spans.get("driver");
    let mut driver = pd(DRIVER, &d.program, d.priority, d.budget, d.period, d.stack_size, dspan, Comment::new(
        "The network driver: virtio-net over MMIO; moves frames between the device and the rings.",
    ));
    if board.virtio.is_some() {
        driver.maps.push(map(
            "virtio_mmio",
            VIRTIO_MMIO_VADDR,
            Perms::RW,
            false,
            "virtio_mmio_vaddr",
            dspan,
        ));
    }
    driver.maps.push(sized(
        map(
            NET_VIRTIO_DMA,
            NET_VIRTIO_DMA_VADDR,
            Perms::RW,
            true,
            "net_virtio_dma_vaddr",
            dspan,
        ),
        "net_virtio_dma_size",
    ));
    driver.setvars.push(SetVar {
        symbol: "net_virtio_dma_paddr".into(),
        region_paddr: NET_VIRTIO_DMA.into(),
        span: dspan,
    });
    let shared_maps = |span: Span| {
        let mut maps = vec![sized(
            map(
                NET_DMA,
                NET_DMA_VADDR,
                Perms::RW,
                true,
                "net_dma_vaddr",
                span,
            ),
            "net_dma_size",
        )];
        let stride = round_up(r.queue_size, small);
        for (k, ring) in (0u64..).zip(RINGS) {
            let vaddr = RINGS_VADDR.saturating_add(k.saturating_mul(stride));
            maps.push(map(
                ring,
                vaddr,
                Perms::RW,
                true,
                &format!("{ring}_vaddr"),
                span,
            ));
        }
        maps
    };
    driver.maps.extend(shared_maps(dspan));
    if let Some(v) = &board.virtio {
        driver.irqs.push(Irq {
            irq: v.first_device_irq(),
            id: ChannelId(0),
            trigger: IrqTrigger::Level,
            setvar_id: Some("virtio_irq_channel".into()),
            span: dspan,
            comment: Comment::new(format!(
                "QEMU places the first virtio device on transport {}: IRQ {} + {}.",
                v.first_device_transport, v.first_irq, v.first_device_transport
            )),
        });
    }

    // The mux and its slots.
    let m = &config.mux;
    let mspan = spans.get("mux");
    let mut mux = pd(MUX, &m.program, m.priority, m.budget, m.period, m.stack_size, mspan, Comment::new(
        "The multiplexer: lends the driver its buffers, owns the FWP slots and handles their faults.",
    ));
    mux.maps.extend(shared_maps(mspan));
    sys.channels.push(Channel {
        ends: [
            end(MUX, 0, true, Some("driver_channel"), mspan),
            end(DRIVER, 1, false, Some("mux_channel"), dspan),
        ],
        span: mspan,
        comment: Comment::new(
            "driver <-> mux: ring notifications both ways; the mux calls the driver (Connect).",
        ),
    });
    let plans = children(loaded);
    let fwps = config.templates.iter().fold(0u64, |n, t| n.saturating_add(t.fwps()));
    let mut mux_config = region(
        MUX_CONFIG,
        round_up(crate::blobs::mux_config_len(config.templates.len() as u64, fwps), small),
        None,
        None,
        mspan,
        format!(
            "The mux's configuration blob ({MUX_CONFIG_FILE}, from `sysdesc blobs`): addresses, stats port, and every template's service and spawn policy, and every slot's, template PD's and dynamic FWP's ids and region addresses in the mux."
        ),
    );
    mux_config.prefill_path = Some(MUX_CONFIG_FILE.to_string());
    sys.memory_regions.push(mux_config);
    mux.maps.push(sized(
        map(
            MUX_CONFIG,
            MUX_CONFIG_VADDR,
            Perms::R,
            true,
            "mux_config_vaddr",
            mspan,
        ),
        "mux_config_size",
    ));
    if manager::has_dynamic(config) {
        manager::add_region(&mut sys, &mut mux, small, spans.get("templates"));
    }
    for plan in &plans {
        let tspan = spans.get(&format!("templates[{}]", plan.template_index));
        add_child(&mut sys, &mut mux, plan, r.queue_size, small, tspan);
    }

    let timer = config.timer.as_ref().zip(board.timer_irq).map(|(t, irq)| {
        let tspan = spans.get("timer");
        let mut timer = pd(TIMER, &t.program, t.priority, t.budget, t.period, t.stack_size, tspan, Comment::new(
            "The timer driver: the EL1 physical timer and its interrupt, the real-time clock; timeouts and unix time for the mux.",
        ));
        if let Some(rtc) = board.rtc {
            sys.memory_regions.push(region(
                RTC,
                small,
                None,
                Some(rtc),
                tspan,
                format!("The PL031 real-time clock's registers of {}: the timer reads unix time once at boot.", board.name),
            ));
            timer.maps.push(map(RTC, RTC_VADDR, Perms::R, false, "rtc_vaddr", tspan));
        }
        timer.irqs.push(Irq {
            irq,
            id: ChannelId(0),
            trigger: IrqTrigger::Level,
            setvar_id: Some("timer_irq_channel".into()),
            span: tspan,
            comment: Comment::new(format!("The EL1 physical timer's interrupt (PPI {irq})."))
        });
        sys.channels.push(Channel {
            ends: [
                end(MUX, timer_channel(loaded), true, None, mspan),
                end(TIMER, 1, false, Some("mux_channel"), tspan),
            ],
            span: tspan,
            comment: Comment::new(
                "mux <-> timer: the mux calls the timer (SetTimeout, Cancel, Now, WallClock); the timer notifies it when a timeout passes. The mux knows its id from mux_config.",
            ),
        });
        timer
    });
    sys.protection_domains = vec![driver, mux];
    sys.protection_domains.extend(timer);
    // The header says where the dynamic FWPs went, which depends on the
    // rest of the system.
    let dynamic = manager::plan(loaded, &sys).ok().flatten();
    sys.comment = Comment::new(header(loaded, &sys.protection_domains[0], &sys.protection_domains[1], dynamic.as_ref()));
    sys
}

/// Child `plan`'s regions, its PD (a child of the mux), its maps in the mux
/// and its channel to the mux. A template PD also gets its configuration
/// blob and writes the checkpoint image; a slot maps that image read-only.
fn add_child(
    sys: &mut System,
    mux: &mut ProtectionDomain,
    plan: &SlotPlan<'_>,
    queue_size: u64,
    page: u64,
    span: Span,
) {
    let t = plan.template;
    let n = plan.index;
    let name = plan.name();
    let w = &plan.window;
    let ctrl = plan.region("ctrl");
    let (rx_buf, tx_buf) = (plan.region("rx_buf"), plan.region("tx_buf"));
    let service = header::services(&t.services);
    let template = plan.role == Role::Template;
    let what = if template {
        format!("Template PD of '{}' ({service})", t.name)
    } else {
        format!("FWP slot {n} ({service})")
    };
    sys.memory_regions.push(region(
        &ctrl,
        t.ctrl_size,
        None,
        None,
        span,
        format!("{what}: its control region, written by it, read by the mux; then its rings and buffers, shared with the mux only."),
    ));
    for ring in SLOT_RINGS {
        sys.memory_regions.push(region(&plan.region(ring), queue_size, None, None, span, String::new()));
    }
    sys.memory_regions.push(region(&rx_buf, t.rx_buffers_size, None, None, span, String::new()));
    sys.memory_regions.push(region(&tx_buf, t.tx_buffers_size, None, None, span, String::new()));

    // The mux: no setvars, it reads these addresses from mux_config. It
    // reads a template PD's ready block and rings (the state every scrubbed
    // slot's rings are reset to), and drives a slot's rings and buffers and
    // zeroes its control region at teardown.
    let perms = if template { Perms::R } else { Perms::RW };
    mux.maps.push(blob_map(&ctrl, plan.mux_vaddr(w.ctrl), perms, span));
    for (ring, offset) in SLOT_RINGS.iter().zip(w.rings) {
        mux.maps.push(blob_map(&plan.region(ring), plan.mux_vaddr(offset), perms, span));
    }
    if !template {
        mux.maps.push(blob_map(&rx_buf, plan.mux_vaddr(w.rx_buf), Perms::RW, span));
        mux.maps.push(blob_map(&tx_buf, plan.mux_vaddr(w.tx_buf), Perms::RW, span));
    }

    let policy = match t.spawn {
        Spawn::OnDemand => "spawned on demand".to_string(),
        Spawn::WarmPool { pool_size } => format!("warm pool of {pool_size}"),
    };
    let comment = if template {
        format!(
            "{what}: runs the template's initialisation once, writes the checkpoint image its slots restore from, and parks."
        )
    } else {
        format!(
            "FWP slot {n}: a child of the mux from template '{}' ({service}, {policy}); restored from the checkpoint and started by the mux.",
            t.name
        )
    };
    let stack_size = if template { t.stack_size } else { t.slot_stack_size() };
    let mut pd = pd(&name, &t.program, t.priority, t.budget, t.period, stack_size, span, Comment::new(comment));
    pd.maps.push(map(&ctrl, plan.slot_vaddr(w.ctrl), Perms::RW, true, "fwp_ctrl_vaddr", span));
    if template {
        let config = plan.region("config");
        let mut cfg = region(&config, config_region_size(page), None, None, span, String::new());
        cfg.prefill_path = Some(plan.config_file());
        sys.memory_regions.push(cfg);
        // Only the template PD maps its configuration: a PD that finds no
        // configuration at boot knows it is a slot, and parks at once.
        pd.maps.push(map(&config, plan.slot_vaddr(w.config), Perms::R, true, "tenant_config_vaddr", span));
    }
    for (ring, offset) in SLOT_RINGS.iter().zip(w.rings) {
        let setvar = format!("{ring}_vaddr");
        pd.maps.push(map(&plan.region(ring), plan.slot_vaddr(offset), Perms::RW, true, &setvar, span));
    }
    let buffers = [(&rx_buf, w.rx_buf, "rx_buf"), (&tx_buf, w.tx_buf, "tx_buf")];
    for (mr, offset, var) in buffers {
        let m = map(mr, plan.slot_vaddr(offset), Perms::RW, true, &format!("{var}_vaddr"), span);
        pd.maps.push(sized(m, &format!("{var}_size")));
    }
    let image = plan.image_region();
    if template {
        sys.memory_regions.push(region(
            &image,
            t.image_size,
            None,
            None,
            span,
            format!("Template '{}': its checkpoint, written by its template PD, read-only in its slots.", t.name),
        ));
        pd.maps.push(sized(map(&image, IMAGE_VADDR, Perms::RW, true, "tmpl_image_vaddr", span), "tmpl_image_size"));
    } else {
        pd.maps.push(map(&image, IMAGE_VADDR, Perms::R, true, "tmpl_image_vaddr", span));
    }
    let memory_size = t.private_memory_size();
    if memory_size > 0 {
        let mem = plan.region("mem");
        let page_size = t.private_memory_page_size();
        sys.memory_regions.push(region(&mem, memory_size, page_size, None, span, private_memory_comment(&name, t)));
        pd.maps.push(sized(map(&mem, MEMORY_VADDR, Perms::RW, true, "fwp_mem_vaddr", span), "fwp_mem_size"));
    }
    mux.children.push(ChildPd { id: plan.child_id, setvar_id: None, pd });
    let comment = if template {
        format!("mux <-> template PD of '{}': \"template ready\" (its ready block names the entry points).", t.name)
    } else {
        format!("mux <-> FWP slot {n}: \"restored\", then ring notifications both ways (the mux knows its id from mux_config).")
    };
    sys.channels.push(Channel {
        ends: [end(MUX, plan.channel, false, None, span), end(&name, 0, false, Some("mux_channel"), span)],
        span,
        comment: Comment::new(comment),
    });
}
