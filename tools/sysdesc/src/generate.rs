//! Builds the system model from a configuration: the driver, the mux, the
//! rings between them, and one child PD of the mux per FWP slot.
//!
//! The names below are the contract with the PDs, which read them as setvar
//! symbols; the addresses are the layout every PD's address space follows.
//! Slots are numbered across templates in order: `fwp_00`, `fwp_01`, ...
//! with child ids 0..N-1 and mux channel ids 1..N. The mux has no setvar per
//! slot: it learns each slot's ids and region addresses from its
//! configuration blob (`mux_config`, written by [`crate::blobs`] from the
//! same [`slot_plans`]), and each slot its service from its own
//! (`fwp_NN_config`).

mod header;
mod parts;

use header::header;
use parts::{blob_map, bytes, end, large_pages, map, pd, region, round_up, sized};

use crate::config::{Loaded, Spawn, Template};
use crate::diagnostic::Span;
use crate::model::{
    Channel, ChannelId, ChildPd, Comment, Irq, IrqTrigger, Perms, ProtectionDomain, SetVar, System,
};

/// The driver PD's name.
pub const DRIVER: &str = "net_driver";
/// The multiplexer PD's name.
pub const MUX: &str = "mux";
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
    /// The control region (ready block): first.
    pub ctrl: u64,
    /// The slot's configuration blob, right after the control region.
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

/// The size of a slot's configuration region: one page holds a
/// `TenantConfig` blob.
pub fn config_region_size(page: u64) -> u64 {
    round_up(edgeos_config::TenantConfig::BUFFER_LEN as u64, page)
}

/// One FWP slot: its template, how the mux knows it, and where its regions
/// sit. Slots are numbered across templates in order.
#[derive(Clone, Debug)]
pub struct SlotPlan<'a> {
    /// The slot's number: 0, 1, ...
    pub index: usize,
    /// Its template.
    pub template: &'a Template,
    /// The template's index in `templates`.
    pub template_index: usize,
    /// Where its regions sit in its window.
    pub window: SlotWindow,
    /// Where its window starts in the mux.
    pub mux_base: u64,
}

impl SlotPlan<'_> {
    /// `fwp_NN`.
    pub fn name(&self) -> String {
        slot_name(self.index)
    }

    /// The name of one of its regions: `fwp_NN_<part>`.
    pub fn region(&self, part: &str) -> String {
        format!("{}_{part}", self.name())
    }

    /// The file its configuration region is prefilled from.
    pub fn config_file(&self) -> String {
        format!("{}.bin", self.region("config"))
    }

    /// Its child id in the mux.
    pub fn child_id(&self) -> u64 {
        self.index as u64
    }

    /// The mux's channel id to it (0 is the driver's).
    pub fn mux_channel(&self) -> u64 {
        self.index as u64 + 1
    }

    /// Where the region at window `offset` sits in the slot.
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
    let page = loaded.board.small_page();
    let mut plans = Vec::new();
    let mut mux_base = CTRL_VADDR;
    for (template_index, template) in loaded.config.templates.iter().enumerate() {
        let window = SlotWindow::of(template, loaded.config.rings.queue_size, page);
        for _ in 0..template.slots {
            plans.push(SlotPlan {
                index: plans.len(),
                template,
                template_index,
                window,
                mux_base,
            });
            mux_base = round_up(mux_base.saturating_add(window.len), SLOT_WINDOW_ALIGN);
        }
    }
    plans
}

/// The name of FWP slot `n`.
pub fn slot_name(n: usize) -> String {
    format!("fwp_{n:02}")
}

/// The system a configuration describes.
pub fn generate(loaded: &Loaded) -> System {
    let Loaded {
        config,
        board,
        spans,
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
    let plans = slot_plans(loaded);
    let mut mux_config = region(
        MUX_CONFIG,
        round_up(crate::blobs::mux_config_len(plans.len()), small),
        None,
        None,
        mspan,
        format!(
            "The mux's configuration blob ({MUX_CONFIG_FILE}, from `sysdesc blobs`): addresses, stats port, and every slot's service, ids and region addresses in the mux."
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
    for plan in &plans {
        let tspan = spans.get(&format!("templates[{}]", plan.template_index));
        add_slot(&mut sys, &mut mux, plan, r.queue_size, small, tspan);
    }

    sys.comment = Comment::new(header(loaded, &driver, &mux));
    sys.protection_domains = vec![driver, mux];
    sys
}

/// Slot `plan`'s regions, its PD (a child of the mux), its maps in the mux
/// and its channel to the mux.
fn add_slot(
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
    let config = plan.region("config");
    let (rx_buf, tx_buf) = (plan.region("rx_buf"), plan.region("tx_buf"));
    let service = t.services.first().map_or_else(
        || "no service".to_string(),
        |s| format!("{}/{}", s.protocol, s.port),
    );

    sys.memory_regions.push(region(
        &ctrl,
        t.ctrl_size,
        None,
        None,
        span,
        format!("FWP slot {n} ({service}): its control region, written by the slot, read by the mux; then its configuration, rings and buffers, shared with the mux only."),
    ));
    let mut cfg = region(
        &config,
        config_region_size(page),
        None,
        None,
        span,
        String::new(),
    );
    cfg.prefill_path = Some(plan.config_file());
    sys.memory_regions.push(cfg);
    for ring in SLOT_RINGS {
        sys.memory_regions.push(region(
            &plan.region(ring),
            queue_size,
            None,
            None,
            span,
            String::new(),
        ));
    }
    sys.memory_regions.push(region(
        &rx_buf,
        t.rx_buffers_size,
        None,
        None,
        span,
        String::new(),
    ));
    sys.memory_regions.push(region(
        &tx_buf,
        t.tx_buffers_size,
        None,
        None,
        span,
        String::new(),
    ));

    // The mux: no setvars, it reads these addresses from mux_config.
    mux.maps
        .push(blob_map(&ctrl, plan.mux_vaddr(w.ctrl), Perms::R, span));
    for (ring, offset) in SLOT_RINGS.iter().zip(w.rings) {
        let mr = plan.region(ring);
        mux.maps
            .push(blob_map(&mr, plan.mux_vaddr(offset), Perms::RW, span));
    }
    mux.maps
        .push(blob_map(&rx_buf, plan.mux_vaddr(w.rx_buf), Perms::RW, span));
    mux.maps
        .push(blob_map(&tx_buf, plan.mux_vaddr(w.tx_buf), Perms::RW, span));

    let policy = match t.spawn {
        Spawn::OnDemand => "spawned on demand".to_string(),
        Spawn::WarmPool { pool_size } => format!("warm pool of {pool_size}"),
    };
    let mut slot = pd(&name, &t.program, t.priority, t.budget, t.period, t.stack_size, span, Comment::new(format!(
        "FWP slot {n}: a child of the mux from template '{}' ({service}, {policy}), started by the mux at its serving entry point.",
        t.name
    )));
    slot.maps.push(map(
        &ctrl,
        plan.slot_vaddr(w.ctrl),
        Perms::RW,
        true,
        "fwp_ctrl_vaddr",
        span,
    ));
    slot.maps.push(map(
        &config,
        plan.slot_vaddr(w.config),
        Perms::R,
        true,
        "tenant_config_vaddr",
        span,
    ));
    for (ring, offset) in SLOT_RINGS.iter().zip(w.rings) {
        slot.maps.push(map(
            &plan.region(ring),
            plan.slot_vaddr(offset),
            Perms::RW,
            true,
            &format!("{ring}_vaddr"),
            span,
        ));
    }
    slot.maps.push(sized(
        map(
            &rx_buf,
            plan.slot_vaddr(w.rx_buf),
            Perms::RW,
            true,
            "rx_buf_vaddr",
            span,
        ),
        "rx_buf_size",
    ));
    slot.maps.push(sized(
        map(
            &tx_buf,
            plan.slot_vaddr(w.tx_buf),
            Perms::RW,
            true,
            "tx_buf_vaddr",
            span,
        ),
        "tx_buf_size",
    ));
    if t.memory_size > 0 {
        let mem = plan.region("mem");
        sys.memory_regions.push(region(
            &mem,
            t.memory_size,
            None,
            None,
            span,
            format!("FWP slot {n}'s private memory."),
        ));
        slot.maps.push(sized(
            map(&mem, MEMORY_VADDR, Perms::RW, true, "fwp_mem_vaddr", span),
            "fwp_mem_size",
        ));
    }
    mux.children.push(ChildPd {
        id: plan.child_id(),
        setvar_id: None,
        pd: slot,
    });
    sys.channels.push(Channel {
        ends: [
            end(MUX, plan.mux_channel(), false, None, span),
            end(&name, 0, false, Some("mux_channel"), span),
        ],
        span,
        comment: Comment::new(format!(
            "mux <-> FWP slot {n}: \"template ready\", then ring notifications both ways (the mux knows its id from mux_config)."
        )),
    });
}
