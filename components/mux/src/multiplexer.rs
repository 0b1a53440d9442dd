use edgeos_flow::{
    answer_arp, answer_echo, classify, opens_connection, udp_payload, validate_tx, Classified, DropCounters,
    FiveTuple, FlowTable, NetIdentity, Protocol, TenantId,
};
use edgeos_fwp::{SlotError, SlotState, TeardownReason, TemplateId, TemplateReady};
use edgeos_ring::signal::ready_to_sleep;
use edgeos_ring::{BufferMemory, Consumer, Producer};
use heapless::Vec;
use smoltcp::wire::{ArpRepr, EthernetFrame};

use crate::fwps::Fwps;
use crate::middlebox::{self, Forwarded, MiddleboxStats};
use crate::neighbours::{Neighbours, TenantArp};
use crate::slot_set::{SlotSet, SLOT_SET_CAPACITY};
use crate::stats::{udp_reply, StatsLine};
use crate::tenant_link::{DeliverError, TenantLink, TenantStats};
use crate::DriverLink;

/// Largest frame the multiplexer handles (a 2 KiB buffer slot).
pub const FRAME_BUF: usize = 2048;
/// A stats request whose payload starts with this is answered with the
/// per-hop time summaries the PD gathers instead of the counters.
pub const HOPS_QUERY: &[u8] = b"hops";
/// A stats request whose payload starts with this gets the drop counters
/// by reason (`drop.<reason>=N`); the plain line carries their total, as
/// one line has no room for both them and every template's counters.
pub const DROPS_QUERY: &[u8] = b"drops";
/// Remote hosts remembered for answering tenants' ARP requests.
const NEIGHBOURS: usize = 32;

/// The multiplexer's four rings and buffer region towards the driver.
pub struct DriverPorts<C, P, M> {
    /// Empty buffers we lend the driver for reception.
    pub rx_free: P,
    /// Received frames coming back.
    pub rx_used: C,
    /// Frames for the driver to transmit.
    pub tx_free: P,
    /// Transmitted buffers coming back.
    pub tx_used: C,
    /// The shared `net_dma` region.
    pub mem: M,
}

/// The multiplexer's four rings and two regions towards one tenant.
pub struct TenantPorts<C, P, M> {
    /// Empty buffers the tenant offers.
    pub rx_empty: C,
    /// Frames copied in for the tenant.
    pub rx_filled: P,
    /// Frames the tenant wants sent.
    pub tx_outgoing: C,
    /// The tenant's tx buffers going back.
    pub tx_done: P,
    /// The tenant's rx region.
    pub rx_mem: M,
    /// The tenant's tx region.
    pub tx_mem: M,
}

/// Which peers to notify after handling an event: each at most once per
/// batch, and only a peer that asked to be woken (`edgeos_ring::signal`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// The driver has new rx buffers or frames to send.
    pub driver: bool,
    /// Tenant slots with frames or returned buffers.
    pub tenants: SlotSet,
    /// Tenants whose frames had waited for driver buffers and are all sent
    /// now: one that exited meanwhile can be torn down.
    pub resumed: SlotSet,
}

/// Which rings a batch wrote to; `publish` turns it into a [`Wake`].
#[derive(Debug, Default, Clone, Copy)]
struct Published {
    rx_free: bool,
    tx_free: bool,
    /// Tenants whose rx ring got frames.
    filled: SlotSet,
    /// Tenants whose tx buffers were handed back.
    done: SlotSet,
    /// Tenants whose waiting frames all went out.
    resumed: SlotSet,
}

/// Counters for frames that went nowhere.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MuxStats {
    /// Valid UDP/TCP packets to us that no flow routes (no tenant, no spawn yet).
    pub no_flow: u64,
    /// Frames dropped because no driver buffer was free.
    pub tx_no_buffer: u64,
    /// Tenant ARP requests for hosts we have not heard from.
    pub arp_unknown: u64,
}

/// The multiplexer: routes frames from the driver to tenants by the flow
/// table, answers ARP and ICMP echo itself, and validates and forwards what
/// tenants send. Copying happens at every boundary, so a tenant never sees
/// a buffer of the driver's or of another tenant's.
pub struct Multiplexer<C, P, M, const SLOTS: usize, const BUFS: usize, const FLOWS: usize> {
    me: NetIdentity,
    driver: DriverPorts<C, P, M>,
    link: DriverLink<BUFS>,
    tenants: Vec<(TenantPorts<C, P, M>, TenantLink), SLOTS>,
    table: FlowTable<FLOWS>,
    neighbours: Neighbours<NEIGHBOURS>,
    drops: DropCounters,
    stats: MuxStats,
    middlebox: MiddleboxStats,
    stats_port: Option<u16>,
    fwps: Fwps<SLOTS>,
    /// Tenants with frames left on their tx ring because no driver buffer
    /// was free: taken when the driver returns buffers, never dropped.
    tx_waiting: SlotSet,
    /// What the FWP manager last reported of its resources, if there is one.
    manager: Option<edgeos_fwp_manager::comm::Figures>,
    /// Frames tenants sent, passed or refused, over all slots and spawns:
    /// kept here so that counting them is not a walk over every slot.
    tenant_frames: u64,
    now: u64,
    frame: [u8; FRAME_BUF],
    reply: [u8; FRAME_BUF],
}

impl<C: Consumer, P: Producer, M: BufferMemory, const SLOTS: usize, const BUFS: usize, const FLOWS: usize>
    Multiplexer<C, P, M, SLOTS, BUFS, FLOWS>
{
    /// A multiplexer over its driver link and tenant links, routing by `table`.
    pub fn new(
        me: NetIdentity,
        driver: DriverPorts<C, P, M>,
        link: DriverLink<BUFS>,
        tenants: Vec<(TenantPorts<C, P, M>, TenantLink), SLOTS>,
        table: FlowTable<FLOWS>,
    ) -> Self {
        assert!(SLOTS <= SLOT_SET_CAPACITY, "tenant sets hold SLOT_SET_CAPACITY slots");
        Self {
            me,
            driver,
            link,
            tenants,
            table,
            neighbours: Neighbours::new(),
            drops: DropCounters::default(),
            stats: MuxStats::default(),
            middlebox: MiddleboxStats::default(),
            stats_port: None,
            fwps: Fwps::default(),
            tx_waiting: SlotSet::EMPTY,
            manager: None,
            tenant_frames: 0,
            now: 0,
            frame: [0; FRAME_BUF],
            reply: [0; FRAME_BUF],
        }
    }

    /// Spawns FWPs from `fwps`'s templates for packets no flow routes yet.
    pub fn with_fwps(mut self, fwps: Fwps<SLOTS>) -> Self {
        self.fwps = fwps;
        self
    }

    /// Sets the time (ns) that spawns and idle deadlines are measured
    /// against; the PD sets it before handling each event.
    pub fn set_now(&mut self, now_ns: u64) {
        self.now = now_ns;
    }

    /// The FWP bookkeeping (slot states, counters).
    pub fn fwps(&self) -> &Fwps<SLOTS> {
        &self.fwps
    }

    /// The FWP bookkeeping, for the glue to take plans and draining slots.
    pub fn fwps_mut(&mut self) -> &mut Fwps<SLOTS> {
        &mut self.fwps
    }

    /// Answers UDP datagrams to `port` with a line of counters.
    pub fn serve_stats_on(&mut self, port: u16) {
        self.stats_port = Some(port);
    }

    /// The counters as one `key=value` line (what the stats port answers).
    pub fn stats_line(&self) -> StatsLine {
        let mut line = StatsLine::default();
        let link = self.link.stats();
        let none = format_args!("");
        line.put(none, "rx", link.rx_frames);
        line.put(none, "tx", link.tx_completed);
        line.put(none, "drops", self.drops.total());
        line.put(none, "no_flow", self.stats.no_flow);
        line.put(none, "tx_no_buffer", self.stats.tx_no_buffer);
        line.put(none, "arp_unknown", self.stats.arp_unknown);
        line.put(none, "driver_bad_returns", link.bad_returns);
        line.put(none, "driver_ring_errors", link.ring_errors);
        // Driver buffers: rx lent stays at its target; the rest are free or
        // in flight for tx (this reply's own buffer among them).
        line.put(none, "buffers_rx_lent", self.link.rx_lent() as u64);
        line.put(none, "buffers_tx_in_flight", (BUFS - self.link.available() - self.link.rx_lent()) as u64);
        let m = self.middlebox;
        for (key, value) in [
            ("forwarded", m.forwarded),
            ("passed_on", m.passed_on),
            ("steered", m.steered),
            ("flows_opened", m.flows_opened),
            ("refused", m.refused),
            ("flow_limit", m.flow_limit),
            ("no_neighbour", m.no_neighbour),
        ] {
            line.put(format_args!("mbox."), key, value);
        }
        let f = self.fwps.stats();
        for (key, value) in [
            ("spawned_warm", f.spawned_warm),
            ("spawned_cold", f.spawned_cold),
            ("refills", f.refills),
            ("refused_limit", f.refused_limit),
            ("refused_exhausted", f.refused_exhausted),
            ("refused_other", f.refused_other),
            ("idle_teardowns", f.idle_teardowns),
            ("closed_teardowns", f.closed_teardowns),
            ("fault_teardowns", f.fault_teardowns),
            ("scrubbed", f.scrubbed),
            ("replaced", f.replaced),
            ("renewed", f.renewed),
            ("shared", f.shared),
        ] {
            line.put(format_args!("fwp."), key, value);
        }
        for kind in edgeos_fwp::StateKind::ALL {
            let n = (0..self.tenants.len()).filter(|s| self.fwps.pool().state(*s).is_ok_and(|st| st.kind() == kind));
            line.put(format_args!("slots."), kind.name(), n.count() as u64);
        }
        line.put(format_args!(""), "flows", self.table.len() as u64);
        if let Some(figures) = self.manager {
            // The manager's resources (a leak shows as one that does not come
            // back): the first four, what it has left and holds; the line
            // has no room for its running totals.
            for (key, value) in figures.named().into_iter().take(4) {
                line.put(format_args!("mgr."), key, u64::from(value));
            }
        }
        for t in 0..self.fwps.templates().max(1) {
            let s = self.template_stats(TemplateId(t as u8));
            let active = self.fwps.pool().count_of(TemplateId(t as u8), edgeos_fwp::StateKind::Active);
            line.put(format_args!("t{t}."), "active", active as u64);
            for (key, value) in [
                ("delivered", s.delivered),
                ("dropped_full", s.dropped_full),
                ("sent", s.sent),
                ("rejected", s.rejected),
                ("misbehaviour", s.misbehaviour),
                ("turnaround_max_ns", s.turnaround_max_ns),
            ] {
                line.put(format_args!("t{t}."), key, value);
            }
        }
        line
    }

    /// The drop counters by reason (what [`DROPS_QUERY`] answers).
    pub fn drops_line(&self) -> StatsLine {
        let mut line = StatsLine::default();
        for (reason, count) in self.drops.iter() {
            line.put(format_args!("drop."), reason.name(), count);
        }
        line
    }

    /// Traffic counters of template `t`'s slots together, over every spawn.
    pub fn template_stats(&self, t: TemplateId) -> TenantStats {
        let mut sum = TenantStats::default();
        for (slot, (_, link)) in self.tenants.iter().enumerate() {
            if self.fwps.pool().template_of(slot) == Ok(t) {
                sum.add(&link.stats());
            }
        }
        sum
    }

    /// The flow table, for the spawn path to add and remove entries.
    pub fn table_mut(&mut self) -> &mut FlowTable<FLOWS> {
        &mut self.table
    }

    /// The driver link (its counters and buffer accounting).
    pub fn link(&self) -> &DriverLink<BUFS> {
        &self.link
    }

    /// One tenant's link (its counters).
    pub fn tenant(&self, slot: usize) -> Option<&TenantLink> {
        self.tenants.get(slot).map(|(_, link)| link)
    }

    /// Records what the FWP manager reported of its resources (shown on
    /// the stats line).
    pub fn set_manager_figures(&mut self, figures: edgeos_fwp_manager::comm::Figures) {
        self.manager = Some(figures);
    }

    /// Frames dropped on receive, by reason.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Other counters.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Lends the driver its rx buffers and asks every ring we consume to
    /// wake us; call once at start.
    pub fn start(&mut self) -> Wake {
        self.driver.rx_used.request_wake();
        self.driver.tx_used.request_wake();
        for (ports, _) in self.tenants.iter_mut() {
            ports.tx_outgoing.request_wake();
        }
        let added = self.link.provide_rx(&mut self.driver.rx_free);
        self.publish(Published { rx_free: added > 0, ..Published::default() })
    }

    /// Before sleeping after a driver event: `true` when nothing new came
    /// from the driver meanwhile (a wake is requested), `false` to call
    /// [`on_driver`](Self::on_driver) again.
    pub fn driver_idle(&mut self) -> bool {
        ready_to_sleep(&mut [&mut self.driver.rx_used, &mut self.driver.tx_used])
    }

    /// As [`driver_idle`](Self::driver_idle), for tenant `slot`'s outgoing
    /// ring. A tenant waiting for driver buffers is idle until the driver
    /// returns some: looking at its ring again would only spin.
    pub fn tenant_idle(&mut self, slot: usize) -> bool {
        let waiting = self.tx_waiting.contains(slot);
        // A slot torn down (for breaking its ring, say) is idle whatever its
        // ring shows: a broken ring always looks pending, and the glue's
        // drain loop would never end (found by models/ring.pml).
        let serving = matches!(self.fwps.pool.state(slot), Ok(SlotState::Active { .. }));
        match self.tenants.get_mut(slot) {
            Some((ports, _)) if waiting || !serving => {
                ports.tx_outgoing.cancel_wake();
                true
            }
            Some((ports, _)) => ready_to_sleep(&mut [&mut ports.tx_outgoing]),
            None => true,
        }
    }

    /// Whether tenant `slot` has frames waiting for driver buffers (it is
    /// not torn down before they are out).
    pub fn tx_waiting(&self, slot: usize) -> bool {
        self.tx_waiting.contains(slot)
    }

    /// Frames handled so far: received from the driver plus sent or refused
    /// from tenants (the denominator of per-frame time samples).
    pub fn frames_handled(&self) -> u64 {
        self.link.stats().rx_frames + self.tenant_frames
    }

    /// Handles a notification from the driver: received frames and
    /// transmitted buffers.
    pub fn on_driver(&mut self) -> Wake {
        self.on_driver_with(&mut |_| {})
    }

    /// As [`on_driver`](Self::on_driver); `extra` writes the figures the PD
    /// gathers itself (other PDs' hop summaries) for a stats request whose
    /// payload starts with [`HOPS_QUERY`], and is called only then.
    pub fn on_driver_with(&mut self, extra: &mut dyn FnMut(&mut StatsLine)) -> Wake {
        let mut out = Published::default();
        if self.link.reclaim_tx(&mut self.driver.tx_used) > 0 {
            self.resume_waiting(&mut out);
        }
        while let Some(len) = self.link.receive_one(&mut self.driver.rx_used, &self.driver.mem, &mut self.frame) {
            self.route(len, &mut out, extra);
        }
        if self.link.provide_rx(&mut self.driver.rx_free) > 0 {
            out.rx_free = true;
        }
        self.publish(out)
    }

    fn route(&mut self, len: usize, out: &mut Published, extra: &mut dyn FnMut(&mut StatsLine)) {
        let frame = &self.frame[..len];
        match classify(frame, &self.me, &self.table) {
            Classified::ArpRequest(request) => {
                // The asker is reachable at its address (RFC 826): how a
                // middlebox's destination becomes known before it answers.
                if let ArpRepr::EthernetIpv4 { source_protocol_addr, source_hardware_addr, .. } = request {
                    self.neighbours.learn(source_protocol_addr, source_hardware_addr);
                }
                if let Ok(n) = answer_arp(&request, &self.me, &mut self.reply) {
                    out.tx_free |= self.send_reply(n);
                }
            }
            Classified::EchoRequest => {
                if let Ok(n) = answer_echo(frame, &self.me, &mut self.reply) {
                    out.tx_free |= self.send_reply(n);
                }
            }
            Classified::Deliver { tenant, tuple } => {
                self.admit(tenant, &tuple, len, out);
            }
            Classified::Miss { tuple } if self.is_stats_request(&tuple) => {
                let query = udp_payload(&self.frame[..len]);
                let line = if query.starts_with(HOPS_QUERY) {
                    let mut line = StatsLine::default();
                    extra(&mut line);
                    line
                } else if query.starts_with(DROPS_QUERY) {
                    self.drops_line()
                } else {
                    self.stats_line()
                };
                if let Some(n) = udp_reply(&self.frame[..len], &tuple, &self.me, line.as_str().as_bytes(), &mut self.reply) {
                    out.tx_free |= self.send_reply(n);
                }
            }
            Classified::Miss { tuple } => {
                if !self.spawn_for(&tuple, len, out) {
                    self.stats.no_flow += 1;
                }
            }
            Classified::Drop(reason) => self.drops.count(reason),
        }
    }

    /// The spawn path: a packet no flow routes, to a template's service,
    /// takes a slot of that template (warm if one is parked), gets a flow
    /// (or service) entry to it, and is queued in its rx ring before the
    /// FWP runs. The glue applies the plan. `false`: nothing to spawn.
    fn spawn_for(&mut self, tuple: &FiveTuple, len: usize, out: &mut Published) -> bool {
        let Some((t, route)) = self.fwps.template_for(tuple) else { return false };
        if !Fwps::<SLOTS>::may_spawn(tuple, opens_connection(&self.frame[..len])) {
            return false;
        }
        if self.table.len() + route.entries() > self.table.capacity() {
            self.fwps.count_refusal(SlotError::Exhausted(t));
            return true;
        }
        let take = match self.fwps.pool.take_ready(t, self.now) {
            Ok(take) => take,
            Err(e) => {
                let overflow = matches!(e, SlotError::Exhausted(_) | SlotError::LimitReached(_));
                if !(overflow && route.share_overflow && self.share(t, tuple, len, out)) {
                    self.fwps.count_refusal(e);
                }
                return true;
            }
        };
        let plan = take.plan();
        let tenant = TenantId(plan.slot as u16);
        let routed = if route.per_flow {
            self.table.insert_flow(*tuple, tenant)
        } else {
            route.services().try_for_each(|service| self.table.insert_service(service, tenant))
        };
        if routed.is_err() {
            // Checked for room above and missed by the lookup: cannot happen,
            // but a slot must never serve without its entries.
            let _ = self.fwps.teardown(plan.slot, TeardownReason::Closed);
            self.table.remove_tenant(tenant);
            self.fwps.count_refusal(SlotError::Exhausted(t));
            return true;
        }
        if take.needs_restore() {
            self.fwps.stats.spawned_cold += 1;
        } else {
            self.fwps.stats.spawned_warm += 1;
        }
        self.fwps.first_replies.spawned(plan.slot, t, self.now);
        self.fwps.push_plan(plan);
        self.admit(tenant, tuple, len, out);
        true
    }

    /// The overflow path of a sharing template: the flow, for which no FWP
    /// could be spawned, goes to the template's fallback FWP, which serves
    /// already, while that FWP holds fewer than
    /// [`MAX_FLOWS_PER_MIDDLEBOX`](middlebox::MAX_FLOWS_PER_MIDDLEBOX)
    /// entries. `false`: none could take it.
    fn share(&mut self, t: TemplateId, tuple: &FiveTuple, len: usize, out: &mut Published) -> bool {
        let Some(slot) = self.fwps.fallback_for(t) else { return false };
        let tenant = TenantId(slot as u16);
        if self.table.flows_of(tenant).count() >= middlebox::MAX_FLOWS_PER_MIDDLEBOX
            || self.table.insert_flow(*tuple, tenant).is_err()
        {
            return false;
        }
        self.fwps.stats.shared += 1;
        self.admit(tenant, tuple, len, out);
        true
    }

    /// Delivers the frame buffer's first `len` bytes, a packet of flow
    /// `tuple` that routes to `tenant`, after learning where its sender
    /// is on the link (the tenant's answer will ask).
    fn admit(&mut self, tenant: TenantId, tuple: &FiveTuple, len: usize, out: &mut Published) {
        let src_mac = EthernetFrame::new_unchecked(&self.frame[..len]).src_addr();
        self.neighbours.learn(tuple.src.0, src_mac);
        if self.deliver(tenant, len) {
            out.filled.insert(usize::from(tenant.0));
        }
    }

    fn is_stats_request(&self, tuple: &FiveTuple) -> bool {
        tuple.protocol == Protocol::Udp && Some(tuple.dst.1) == self.stats_port
    }

    fn deliver(&mut self, tenant: TenantId, len: usize) -> bool {
        let slot = usize::from(tenant.0);
        let Some((ports, link)) = self.tenants.get_mut(slot) else {
            return false;
        };
        let delivered = link.deliver(&self.frame[..len], &mut ports.rx_empty, &mut ports.rx_filled, &mut ports.rx_mem);
        let _ = self.fwps.pool.touch(slot, self.now);
        match delivered {
            Ok(()) => {
                link.started_waiting(self.now);
                true
            }
            Err(DeliverError::Full) => false,
            Err(DeliverError::Misbehaving) => {
                self.misbehaved(slot);
                false
            }
        }
    }

    /// Tenant `slot` broke the ring protocol: it is torn down like a
    /// faulting one (only an FWP the pool knows as serving).
    fn misbehaved(&mut self, slot: usize) {
        if matches!(self.fwps.pool.state(slot), Ok(SlotState::Active { .. })) {
            self.fault(slot);
        }
    }

    fn send_reply(&mut self, len: usize) -> bool {
        match self.link.send(&self.reply[..len], &mut self.driver.tx_free, &mut self.driver.mem) {
            Ok(()) => true,
            Err(_) => {
                self.stats.tx_no_buffer += 1;
                false
            }
        }
    }

    /// Takes the frames of the tenants that waited for driver buffers, as
    /// far as the buffers the driver returned go. (A teardown takes its
    /// FWP out of `tx_waiting`.)
    fn resume_waiting(&mut self, out: &mut Published) {
        let waiting = core::mem::replace(&mut self.tx_waiting, SlotSet::EMPTY);
        for slot in waiting.iter() {
            if !self.link.can_send() {
                self.tx_waiting.insert(slot);
                continue;
            }
            loop {
                self.take_outgoing(slot, out);
                if self.tx_waiting.contains(slot) {
                    break;
                }
                if self.tenant_idle(slot) {
                    out.resumed.insert(slot);
                    break;
                }
            }
        }
    }

    /// Handles a notification from tenant `slot`: frames it wants sent.
    pub fn on_tenant(&mut self, slot: usize) -> Wake {
        let mut out = Published::default();
        if slot >= self.tenants.len() || self.tx_waiting.contains(slot) {
            // A waiting tenant's frames go out in order, when the driver
            // returns buffers.
            return Wake::default();
        }
        self.take_outgoing(slot, &mut out);
        self.publish(out)
    }

    /// Moves tenant `slot`'s outgoing frames to the driver (or answers them
    /// itself) until its ring is empty or no driver buffer is free; then
    /// the tenant waits in `tx_waiting`, its frames left on its ring.
    fn take_outgoing(&mut self, slot: usize, out: &mut Published) {
        let tenant = TenantId(slot as u16);
        let misbehaviour = self.tenants[slot].1.stats().misbehaviour;
        let mut sent_any = false;
        loop {
            if !self.link.can_send() {
                self.tx_waiting.insert(slot);
                break;
            }
            let (ports, link) = &mut self.tenants[slot];
            let len = match link.next_outgoing(&mut ports.tx_outgoing, &mut ports.tx_done, &ports.tx_mem, &mut self.frame) {
                Ok(Some(frame)) => frame.len(),
                Ok(None) | Err(_) => break,
            };
            // Traffic, so the FWP is not idle. Only when it sent: the glue
            // also calls this for every FWP behind a shared notification
            // bit, and a neighbour's signal must not keep it alive.
            if !sent_any {
                sent_any = true;
                let _ = self.fwps.pool.touch(slot, self.now);
            }
            // Buffers went back to the tenant; it hears of it once, at the end.
            out.done.insert(slot);
            self.tenants[slot].1.answered(self.now);
            if self.fwps.is_middlebox(slot) {
                let frame = &mut self.frame[..len];
                let (fwps, stats_port) = (&self.fwps, self.stats_port);
                let own = fwps.pool().template_of(slot).ok();
                let answered_elsewhere = |reply: &FiveTuple| {
                    (reply.protocol == Protocol::Udp && Some(reply.dst.1) == stats_port)
                        || fwps.template_for(reply).is_some_and(|(t, _)| Some(t) != own)
                };
                let forwarded = middlebox::forward(
                    frame,
                    tenant,
                    &self.me,
                    &mut self.table,
                    &self.neighbours,
                    &answered_elsewhere,
                    &mut self.middlebox,
                );
                self.count_tenant_frame(slot, forwarded.is_ok());
                match forwarded {
                    Ok(Forwarded::Wire) => self.send_tenant_frame(len, out),
                    Ok(Forwarded::Local(tuple)) => self.pass_on(&tuple, len, out),
                    Err(_) => {}
                }
                continue;
            }
            let frame = &self.frame[..len];
            match self.neighbours.answer_tenant(frame, &self.me, &mut self.reply) {
                TenantArp::Answered(n) => {
                    let (ports, link) = &mut self.tenants[slot];
                    if link.deliver(&self.reply[..n], &mut ports.rx_empty, &mut ports.rx_filled, &mut ports.rx_mem).is_ok() {
                        out.filled.insert(slot);
                    }
                }
                TenantArp::Unknown(_) => self.stats.arp_unknown += 1,
                TenantArp::Refused => self.count_tenant_frame(slot, false),
                TenantArp::NotArp => {
                    let accepted = validate_tx(frame, tenant, &self.me, &self.table);
                    // Refused frames are the tenant's loss, not misbehaviour:
                    // a stale flow's last segment can be refused after a close.
                    self.count_tenant_frame(slot, accepted.is_ok());
                    // An answer to what a middlebox passed on goes back through it.
                    let steered = accepted.ok().and_then(|sent| self.table.get_flow(&sent));
                    match (accepted, steered) {
                        (Ok(_), Some(middlebox)) => {
                            self.middlebox.steered += 1;
                            if self.deliver(middlebox, len) {
                                out.filled.insert(usize::from(middlebox.0));
                            }
                        }
                        (Ok(_), None) => self.send_tenant_frame(len, out),
                        (Err(_), _) => {}
                    }
                }
            }
        }
        // Bad descriptors and ring violations alike: the FWP is stopped.
        if self.tenants[slot].1.stats().misbehaviour > misbehaviour {
            self.tx_waiting.remove(slot);
            self.misbehaved(slot);
        }
    }

    /// A middlebox passed a client's frame on to one of our services (its
    /// source kept, `tuple`): delivered to the tenant that serves it, or
    /// spawned for, as a frame from the wire would be; never to another
    /// middlebox, so chains cannot loop.
    fn pass_on(&mut self, tuple: &FiveTuple, len: usize, out: &mut Published) {
        let owner = self.table.lookup(tuple);
        let to_middlebox = match owner {
            Some(tenant) => self.fwps.is_middlebox(usize::from(tenant.0)),
            None => self.fwps.template_for(tuple).is_some_and(|(_, route)| route.middlebox),
        };
        if to_middlebox {
            self.middlebox.refused += 1;
            return;
        }
        self.middlebox.passed_on += 1;
        match owner {
            Some(tenant) => self.admit(tenant, tuple, len, out),
            None if !self.spawn_for(tuple, len, out) => self.stats.no_flow += 1,
            None => {}
        }
    }

    /// Counts a frame slot `slot` sent: accepted (`sent`) or refused on its
    /// way out. An accepted one may be the first since the slot's spawn.
    fn count_tenant_frame(&mut self, slot: usize, sent: bool) {
        self.tenants[slot].1.record_sent(sent);
        if sent {
            self.fwps.first_replies.sent(slot, self.now);
        }
        self.tenant_frames += 1;
    }

    /// Sends the first `len` bytes of the frame buffer, a tenant's frame
    /// that passed its policy, to the driver.
    fn send_tenant_frame(&mut self, len: usize, out: &mut Published) {
        match self.link.send(&self.frame[..len], &mut self.driver.tx_free, &mut self.driver.mem) {
            Ok(()) => out.tx_free = true,
            Err(_) => self.stats.tx_no_buffer += 1,
        }
    }

    /// Records template `t`'s checkpoint (its template PD finished
    /// initialising) and starts restores towards its warm pool.
    pub fn set_checkpoint(&mut self, t: TemplateId, ready: TemplateReady) -> Result<(), SlotError> {
        self.fwps.pool.set_checkpoint(t, ready)?;
        self.fwps.queue_refills();
        Ok(())
    }

    /// The FWP manager created the FWP behind dynamic slot `slot`, an FWP of
    /// template `t`, and the glue reset its rings to the template's
    /// (`ports`): the slot joins its template's pool, Free, and warm pools
    /// are refilled.
    pub fn slot_created(&mut self, slot: usize, t: TemplateId, ports: TenantPorts<C, P, M>) -> Result<(), SlotError> {
        match self.fwps.pool.state(slot)? {
            SlotState::Initialising => self.fwps.pool.bind(slot, t, false)?,
            state => return Err(SlotError::WrongState(slot, state)),
        }
        self.reset_ports(slot, ports)?;
        self.fwps.queue_refills();
        Ok(())
    }

    /// Starts restores towards every warm pool's target. The glue calls it
    /// once a spawned FWP is running: a restore started with the spawn
    /// would run first at the same priority and delay it.
    pub fn refill_pools(&mut self) {
        self.fwps.queue_refills();
    }

    /// Slot `slot` reports its restore done (it parked): it is Ready.
    pub fn restored(&mut self, slot: usize) -> Result<(), SlotError> {
        self.fwps.pool.restored(slot)
    }

    /// Stops routing to slot `slot` for `reason`: its flows are removed and
    /// the glue is asked to scrub it ([`Fwps::take_draining`]). Returns the
    /// generation that ended.
    pub fn teardown(&mut self, slot: usize, reason: TeardownReason) -> Result<u32, SlotError> {
        let generation = self.fwps.teardown(slot, reason)?;
        self.table.remove_tenant(TenantId(slot as u16));
        self.tx_waiting.remove(slot);
        if let Some((_, link)) = self.tenants.get_mut(slot) {
            link.stop_waiting();
        }
        Ok(generation)
    }

    /// Slot `slot` faulted (or broke its rings): it is torn down, whatever
    /// it was doing, unless it is already being torn down.
    pub fn fault(&mut self, slot: usize) {
        match self.fwps.pool.state(slot) {
            Ok(SlotState::Draining { .. } | SlotState::Faulted) | Err(_) => {}
            Ok(_) => {
                let _ = self.fwps.pool.fault(slot);
                let _ = self.teardown(slot, TeardownReason::Fault);
            }
        }
    }

    /// Tears down every FWP idle since its deadline; returns how many.
    pub fn expire_idle(&mut self) -> usize {
        let expired: Vec<usize, SLOTS> = self.fwps.pool.idle_expired(self.now).collect();
        for slot in &expired {
            let _ = self.teardown(*slot, TeardownReason::IdleTimeout);
        }
        expired.len()
    }

    /// Gives slot `slot` fresh ring ends (`ports`), after the glue reset its
    /// rings to its template's and zeroed its buffers. Only a slot that runs
    /// nothing may be reset: Free or Draining.
    pub fn reset_ports(&mut self, slot: usize, mut ports: TenantPorts<C, P, M>) -> Result<(), SlotError> {
        let state = self.fwps.pool.state(slot)?;
        let Some(entry) = self.tenants.get_mut(slot).filter(|_| matches!(state, SlotState::Free | SlotState::Draining { .. }))
        else {
            return Err(SlotError::WrongState(slot, state));
        };
        ports.tx_outgoing.request_wake();
        // The link keeps no ring state (only region geometry and counters,
        // which go on across spawns): the fresh ports are all that changes.
        entry.0 = ports;
        Ok(())
    }

    /// The glue stopped draining slot `slot` and reset its memory (see
    /// [`Self::reset_ports`]): the slot goes Free, and warm pools are refilled.
    pub fn scrubbed(&mut self, slot: usize, ports: TenantPorts<C, P, M>) -> Result<(), SlotError> {
        let state = self.fwps.pool.state(slot)?;
        if !matches!(state, SlotState::Draining { .. }) {
            return Err(SlotError::WrongState(slot, state));
        }
        self.reset_ports(slot, ports)?;
        self.fwps.pool.scrubbed(slot)?;
        self.fwps.stats.scrubbed += 1;
        self.fwps.queue_refills();
        Ok(())
    }

    /// The glue replaces Draining slot `slot`'s FWP instead of scrubbing
    /// it (a faulted dynamic FWP, or one of a renewing template: its
    /// memory and objects are destroyed, not reused): the slot leaves the
    /// pool until [`Self::slot_created`] reports the new one.
    pub fn retire(&mut self, slot: usize) -> Result<(), SlotError> {
        let faulted = matches!(self.fwps.pool.state(slot), Ok(SlotState::Draining { reason: TeardownReason::Fault, .. }));
        self.fwps.pool.retire(slot)?;
        if faulted {
            self.fwps.stats.replaced += 1;
        } else {
            self.fwps.stats.renewed += 1;
        }
        Ok(())
    }

    /// Publishes every ring written in this batch and says which peers
    /// asked to be woken.
    fn publish(&mut self, out: Published) -> Wake {
        let mut wake = Wake { resumed: out.resumed, ..Wake::default() };
        if out.rx_free {
            self.driver.rx_free.commit();
            wake.driver |= self.driver.rx_free.take_wake_request();
        }
        if out.tx_free {
            self.driver.tx_free.commit();
            wake.driver |= self.driver.tx_free.take_wake_request();
        }
        // Only the tenants this batch wrote to: a visit per tenant touched,
        // not per slot.
        for slot in out.filled.union(out.done).iter() {
            let Some((ports, _)) = self.tenants.get_mut(slot) else { continue };
            let mut notify = false;
            if out.filled.contains(slot) {
                ports.rx_filled.commit();
                notify |= ports.rx_filled.take_wake_request();
            }
            if out.done.contains(slot) {
                ports.tx_done.commit();
                notify |= ports.tx_done.take_wake_request();
            }
            if notify {
                wake.tenants.insert(slot);
            }
        }
        wake
    }
}
