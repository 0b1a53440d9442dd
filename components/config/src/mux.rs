use heapless::Vec;

use crate::bytes::{Reader, Writer};
use crate::{ConfigError, Protocols};

/// Most FWP slots a system can have: slot PDs (Microkit's 63 PDs bound
/// those) and the FWP manager's dynamic FWPs together.
pub const MAX_SLOTS: usize = 1024;

/// FWP slots the multiplexer binary drives: its tables are sized at build
/// time. The system tool refuses configurations with more, so a
/// configuration mistake is reported before boot instead of by the mux.
pub const MUX_SLOT_CAPACITY: usize = 1024;

/// Most templates a system can have (each costs a template PD).
pub const MAX_TEMPLATES: usize = 8;

const MAGIC: u32 = u32::from_le_bytes(*b"EDMX");

/// The service a template answers: its protocols and destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotService {
    /// TCP, UDP or both on the same port.
    pub protocols: Protocols,
    /// Destination port on the system's address (the first of a range).
    pub port: u16,
    /// The last port of the range (`port` for one port): only a per-flow
    /// template answers a range, one FWP per flow.
    pub last_port: u16,
}

/// One template: its service, how its slots are spawned, and where its
/// template PD's control region and rings sit in the multiplexer (the
/// source of every slot's ring state after a scrub).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLayout {
    /// The service its FWPs answer.
    pub service: SlotService,
    /// One FWP per flow (5-tuple) rather than one for the whole service.
    pub per_flow: bool,
    /// A dynamic FWP of the template that ends (its flow closed, or idle)
    /// is destroyed and created anew by the FWP manager, never scrubbed
    /// and reused: nothing of one use survives into the next.
    pub renew: bool,
    /// A Click template: its FWPs forward what they receive (a middlebox),
    /// under the multiplexer's forwarding policy rather than a tenant's.
    pub middlebox: bool,
    /// A new flow that finds no FWP to spawn shares one of the template's
    /// serving FWPs instead of being dropped (per-flow templates only).
    pub share_overflow: bool,
    /// Slots kept restored ahead of demand; 0: spawn on demand only.
    pub warm_pool: u16,
    /// Most of its FWPs serving at once.
    pub max_active: u16,
    /// An FWP without traffic for this long is torn down; 0: never.
    pub idle_timeout_ms: u32,
    /// The template PD's child id.
    pub child_id: u8,
    /// The multiplexer's channel id to the template PD.
    pub channel: u8,
    /// The template PD's control region (its ready block), read-only here.
    pub ctrl: u64,
    /// The template PD's rings, read-only here, in [`SlotLayout::rings`] order.
    pub rings: [u64; 4],
}

/// Where one FWP slot's shared memory sits in the multiplexer's address
/// space, and how the multiplexer reaches the slot. The system tool writes
/// the same addresses into `system.xml`, so the PD copies none by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLayout {
    /// Index of the slot's template in [`MuxConfig::templates`].
    pub template: u8,
    /// The slot's child PD id (for its TCB).
    pub child_id: u8,
    /// The multiplexer's channel id to the slot.
    pub channel: u8,
    /// The slot's control region (status, hop summary).
    pub ctrl: u64,
    /// The slot's rings: rx free, rx used, tx free, tx used.
    pub rings: [u64; 4],
    /// The slot's rx buffer region and its length.
    pub rx_buf: (u64, u32),
    /// The slot's tx buffer region and its length.
    pub tx_buf: (u64, u32),
    /// `Some(k)`: not a PD of `system.xml` but the FWP manager's dynamic FWP
    /// `k`, created at run time on the multiplexer's request; `child_id` is
    /// then unused and `channel` is the bit on which it signals.
    pub dynamic: Option<u16>,
}

/// How the multiplexer reaches the FWP manager (the root task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerLink {
    /// The request/completion page in the multiplexer's address space.
    pub comm: u64,
    /// The multiplexer's channel bit on which the manager signals it.
    pub signal: u8,
}

/// Bytes one [`TemplateLayout`] takes in the blob.
const TEMPLATE_LEN: usize = 4 + 4 + 4 + 4 + 8 + 4 * 8;
/// Bytes one [`SlotLayout`] takes in the blob.
const SLOT_LEN: usize = 4 + 8 + 4 * 8 + 12 + 12 + 4;

/// What the multiplexer needs to know: the system's addresses, the
/// templates and every FWP slot's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxConfig {
    /// The system's IPv4 address.
    pub ip: [u8; 4],
    /// The NIC's expected MAC address (the driver reports the real one).
    pub mac: [u8; 6],
    /// UDP port on which the multiplexer answers with its counters (0: off).
    pub stats_port: u16,
    /// The multiplexer's channel id to the timer (its PPC endpoint), if the
    /// system has a timer.
    pub timer_channel: Option<u8>,
    /// The templates, in template order.
    pub templates: Vec<TemplateLayout, MAX_TEMPLATES>,
    /// The slots, in slot order.
    pub slots: Vec<SlotLayout, MAX_SLOTS>,
    /// The FWP manager, when some slots are dynamic FWPs.
    pub manager: Option<ManagerLink>,
}

/// Microkit's channel and child ids run 0..=61.
const MAX_ID: u8 = 61;
/// The timer (or manager) channel byte of a system without one.
const NO_TIMER: u8 = 0xff;
/// Template flag: one FWP per flow.
const TEMPLATE_PER_FLOW: u8 = 1;
/// Template flag: dynamic FWPs are destroyed and created anew when they end.
const TEMPLATE_RENEW: u8 = 2;
/// Template flag: a middlebox (Click) template.
const TEMPLATE_MIDDLEBOX: u8 = 4;
/// Template flag: overflow flows share a serving FWP.
const TEMPLATE_SHARE_OVERFLOW: u8 = 8;
/// Slot flag: a dynamic FWP of the manager.
const SLOT_DYNAMIC: u8 = 1;

fn ids(r: &mut Reader<'_>) -> Result<(u8, u8), ConfigError> {
    let (child_id, channel) = (r.u8()?, r.u8()?);
    if child_id > MAX_ID || channel > MAX_ID {
        return Err(ConfigError::BadValue("child or channel id"));
    }
    Ok((child_id, channel))
}

fn addr(r: &mut Reader<'_>) -> Result<u64, ConfigError> {
    let a = u64::from_le_bytes(r.take()?);
    if a == 0 || a % 4096 != 0 {
        return Err(ConfigError::BadValue("region address"));
    }
    Ok(a)
}

fn rings(r: &mut Reader<'_>) -> Result<[u64; 4], ConfigError> {
    Ok([addr(r)?, addr(r)?, addr(r)?, addr(r)?])
}

fn parse_template(r: &mut Reader<'_>) -> Result<TemplateLayout, ConfigError> {
    let (proto, flags, port) = (r.u8()?, r.u8()?, r.u16()?);
    if flags & !(TEMPLATE_PER_FLOW | TEMPLATE_RENEW | TEMPLATE_MIDDLEBOX | TEMPLATE_SHARE_OVERFLOW) != 0 {
        return Err(ConfigError::BadValue("template flags"));
    }
    let (warm_pool, max_active) = (r.u16()?, r.u16()?);
    if max_active == 0 || warm_pool > max_active {
        return Err(ConfigError::BadValue("max_active or warm_pool"));
    }
    let idle_timeout_ms = r.u32()?;
    let (child_id, channel) = ids(r)?;
    let last_port = r.u16()?;
    let per_flow = flags & TEMPLATE_PER_FLOW != 0;
    if last_port < port || (last_port != port && !per_flow) {
        return Err(ConfigError::BadValue("template port range"));
    }
    let share_overflow = flags & TEMPLATE_SHARE_OVERFLOW != 0;
    if share_overflow && !per_flow {
        return Err(ConfigError::BadValue("template flags"));
    }
    let service = SlotService { protocols: Protocols::from_byte(proto)?, port, last_port };
    Ok(TemplateLayout {
        service,
        per_flow,
        renew: flags & TEMPLATE_RENEW != 0,
        middlebox: flags & TEMPLATE_MIDDLEBOX != 0,
        share_overflow,
        warm_pool,
        max_active,
        idle_timeout_ms,
        child_id,
        channel,
        ctrl: addr(r)?,
        rings: rings(r)?,
    })
}

fn emit_template(w: &mut Writer<'_>, t: &TemplateLayout) -> Result<(), ConfigError> {
    let flags = if t.per_flow { TEMPLATE_PER_FLOW } else { 0 }
        | if t.renew { TEMPLATE_RENEW } else { 0 }
        | if t.middlebox { TEMPLATE_MIDDLEBOX } else { 0 }
        | if t.share_overflow { TEMPLATE_SHARE_OVERFLOW } else { 0 };
    w.put(&[t.service.protocols.to_byte(), flags])?;
    w.put(&t.service.port.to_le_bytes())?;
    w.put(&t.warm_pool.to_le_bytes())?;
    w.put(&t.max_active.to_le_bytes())?;
    w.put(&t.idle_timeout_ms.to_le_bytes())?;
    w.put(&[t.child_id, t.channel])?;
    w.put(&t.service.last_port.to_le_bytes())?;
    w.put(&t.ctrl.to_le_bytes())?;
    for ring in t.rings {
        w.put(&ring.to_le_bytes())?;
    }
    Ok(())
}

fn parse_slot(r: &mut Reader<'_>, templates: usize) -> Result<SlotLayout, ConfigError> {
    let template = r.u8()?;
    if usize::from(template) >= templates {
        return Err(ConfigError::BadValue("slot template"));
    }
    let (child_id, channel) = ids(r)?;
    let flags = r.u8()?;
    let ctrl = addr(r)?;
    let rings = rings(r)?;
    let rx_buf = (addr(r)?, r.u32()?);
    let tx_buf = (addr(r)?, r.u32()?);
    let (index, _pad) = (r.u16()?, r.u16()?);
    let dynamic = match flags {
        0 => None,
        SLOT_DYNAMIC => Some(index),
        _ => return Err(ConfigError::BadValue("slot flags")),
    };
    Ok(SlotLayout { template, child_id, channel, ctrl, rings, rx_buf, tx_buf, dynamic })
}

fn emit_slot(w: &mut Writer<'_>, slot: &SlotLayout) -> Result<(), ConfigError> {
    let flags = if slot.dynamic.is_some() { SLOT_DYNAMIC } else { 0 };
    w.put(&[slot.template, slot.child_id, slot.channel, flags])?;
    w.put(&slot.ctrl.to_le_bytes())?;
    for ring in slot.rings {
        w.put(&ring.to_le_bytes())?;
    }
    for (addr, len) in [slot.rx_buf, slot.tx_buf] {
        w.put(&addr.to_le_bytes())?;
        w.put(&len.to_le_bytes())?;
    }
    w.put(&slot.dynamic.unwrap_or(0).to_le_bytes())?;
    w.put(&[0, 0])
}

impl MuxConfig {
    /// Bytes `emit` writes for a configuration of `templates` and `slots`.
    pub const fn len_for(templates: usize, slots: usize) -> usize {
        8 + 4 + 6 + 2 + 4 + 12 + templates * TEMPLATE_LEN + slots * SLOT_LEN
    }

    /// Bytes `emit` writes for this configuration.
    pub fn buffer_len(&self) -> usize {
        Self::len_for(self.templates.len(), self.slots.len())
    }

    /// The slots of template `t`, by slot index.
    pub fn slots_of(&self, t: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(move |s| usize::from(self.slots[*s].template) == t)
    }

    /// Parses a blob written by [`emit`](Self::emit).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC)?;
        let ip = r.take()?;
        let mac = r.take()?;
        let stats_port = r.u16()?;
        let (template_count, timer_channel) = (usize::from(r.u8()?), r.u8()?);
        let count = usize::from(r.u16()?);
        if template_count > MAX_TEMPLATES || count > MAX_SLOTS {
            return Err(ConfigError::BadValue("template or slot count"));
        }
        let timer_channel = match timer_channel {
            NO_TIMER => None,
            id if id > MAX_ID => return Err(ConfigError::BadValue("child or channel id")),
            id => Some(id),
        };
        let (manager_comm, manager_signal, _pad) = (u64::from_le_bytes(r.take()?), r.u8()?, r.take::<3>()?);
        let manager = match manager_signal {
            NO_TIMER => None,
            id if id > MAX_ID => return Err(ConfigError::BadValue("child or channel id")),
            signal if manager_comm != 0 && manager_comm % 4096 == 0 => Some(ManagerLink { comm: manager_comm, signal }),
            _ => return Err(ConfigError::BadValue("region address")),
        };
        let mut templates = Vec::new();
        for _ in 0..template_count {
            // Counts were checked against the capacities above.
            let _ = templates.push(parse_template(&mut r)?);
        }
        let mut slots = Vec::new();
        for _ in 0..count {
            let _ = slots.push(parse_slot(&mut r, template_count)?);
        }
        if slots.iter().any(|s| s.dynamic.is_some()) && manager.is_none() {
            return Err(ConfigError::BadValue("dynamic slots without a manager"));
        }
        Ok(Self { ip, mac, stats_port, timer_channel, templates, slots, manager })
    }

    /// Writes the blob into `out`, returning its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        let mut w = Writer::new(out);
        w.header(MAGIC)?;
        w.put(&self.ip)?;
        w.put(&self.mac)?;
        w.put(&self.stats_port.to_le_bytes())?;
        let timer = self.timer_channel.unwrap_or(NO_TIMER);
        w.put(&[self.templates.len() as u8, timer])?;
        w.put(&(self.slots.len() as u16).to_le_bytes())?;
        let (comm, signal) = self.manager.map_or((0, NO_TIMER), |m| (m.comm, m.signal));
        w.put(&comm.to_le_bytes())?;
        w.put(&[signal, 0, 0, 0])?;
        for template in &self.templates {
            emit_template(&mut w, template)?;
        }
        for slot in &self.slots {
            emit_slot(&mut w, slot)?;
        }
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layout for tests: template `template`'s slot `i`.
    pub(crate) fn slot(i: u8, template: u8) -> SlotLayout {
        let base = 0x7000_0000 + u64::from(i) * 0x10_0000;
        SlotLayout {
            template,
            child_id: i,
            channel: i + 1,
            ctrl: base,
            rings: [base + 0x1000, base + 0x5000, base + 0x9000, base + 0xd000],
            rx_buf: (base + 0x2_0000, 0x1_0000),
            tx_buf: (base + 0x3_0000, 0x1_0000),
            dynamic: None,
        }
    }

    fn template(protocols: Protocols, port: u16, child_id: u8) -> TemplateLayout {
        let base = 0x5000_0000 + u64::from(child_id) * 0x10_0000;
        TemplateLayout {
            service: SlotService { protocols, port, last_port: port },
            per_flow: protocols == Protocols::TCP,
            renew: protocols == Protocols::TCP,
            middlebox: false,
            share_overflow: false,
            warm_pool: 1,
            max_active: 2,
            idle_timeout_ms: 500,
            child_id,
            channel: child_id + 1,
            ctrl: base,
            rings: [base + 0x1000, base + 0x5000, base + 0x9000, base + 0xd000],
        }
    }

    fn sample() -> MuxConfig {
        let mut templates = Vec::new();
        templates.push(template(Protocols::UDP, 7, 10)).unwrap();
        templates.push(template(Protocols::BOTH, 11211, 11)).unwrap();
        let mut slots = Vec::new();
        for (i, t) in [0, 0, 1].into_iter().enumerate() {
            slots.push(slot(i as u8, t)).unwrap();
        }
        slots.push(SlotLayout { dynamic: Some(0), child_id: 0, ..slot(3, 1) }).unwrap();
        let manager = Some(ManagerLink { comm: 0x5a00_0000, signal: 61 });
        MuxConfig { ip: [10, 0, 2, 15], mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], stats_port: 7777, timer_channel: Some(20), templates, slots, manager }
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 512];
        let len = sample().emit(&mut buf).unwrap();
        assert_eq!(len, sample().buffer_len());
        assert_eq!(MuxConfig::parse(&buf[..len]), Ok(sample()));
        assert!(sample().slots_of(0).eq([0, 1]));
        assert!(sample().slots_of(1).eq([2, 3]));
        let untimed = MuxConfig { timer_channel: None, ..sample() };
        let len = untimed.emit(&mut buf).unwrap();
        assert_eq!(MuxConfig::parse(&buf[..len]), Ok(untimed));
        // A middlebox over a port range (per flow: the only kind that may have one).
        let mut middlebox = sample();
        middlebox.templates[0].service.last_port = 99;
        middlebox.templates[0].per_flow = true;
        middlebox.templates[0].middlebox = true;
        middlebox.templates[0].share_overflow = true;
        let len = middlebox.emit(&mut buf).unwrap();
        assert_eq!(MuxConfig::parse(&buf[..len]), Ok(middlebox.clone()));
        // A range for a template whose one FWP answers the whole service is refused.
        middlebox.templates[0].per_flow = false;
        let len = middlebox.emit(&mut buf).unwrap();
        assert_eq!(MuxConfig::parse(&buf[..len]), Err(ConfigError::BadValue("template port range")));
    }

    #[test]
    fn untrusted_blobs_are_refused_never_panic() {
        let mut buf = [0u8; 512];
        let len = sample().emit(&mut buf).unwrap();
        for cut in 0..len {
            assert!(MuxConfig::parse(&buf[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let t0 = 36; // first template
        let s0 = t0 + 2 * TEMPLATE_LEN; // first slot
        let s3 = s0 + 3 * SLOT_LEN; // the dynamic slot
        let cases: [(usize, u8, ConfigError); 16] = [
            (0, 0x45 ^ 1, ConfigError::BadMagic),
            (4, 2, ConfigError::Version(2)),
            (20, 9, ConfigError::BadValue("template or slot count")),
            (23, 5, ConfigError::BadValue("template or slot count")),
            (21, 62, ConfigError::BadValue("child or channel id")),
            (t0, 4, ConfigError::BadValue("protocols")),
            (t0 + 1, 16, ConfigError::BadValue("template flags")),
            (t0 + 1, 8, ConfigError::BadValue("template flags")),
            (t0 + 14, 6, ConfigError::BadValue("template port range")),
            (t0 + 6, 0, ConfigError::BadValue("max_active or warm_pool")),
            (t0 + 12, 62, ConfigError::BadValue("child or channel id")),
            (s0, 2, ConfigError::BadValue("slot template")),
            (s0 + 4, 1, ConfigError::BadValue("region address")),
            (s0 + 3, 2, ConfigError::BadValue("slot flags")),
            (32, 62, ConfigError::BadValue("child or channel id")),
            (24, 1, ConfigError::BadValue("region address")),
        ];
        // A dynamic slot needs a manager to ask for it.
        let mut orphan = buf;
        orphan[32] = NO_TIMER;
        assert_eq!(MuxConfig::parse(&orphan[..len]), Err(ConfigError::BadValue("dynamic slots without a manager")));
        assert_eq!(buf[s3 + 3], SLOT_DYNAMIC);
        for (at, value, error) in cases {
            let mut bad = buf;
            bad[at] = value;
            assert_eq!(MuxConfig::parse(&bad[..len]), Err(error), "byte {at} = {value}");
        }
        assert_eq!(sample().emit(&mut [0u8; 10]), Err(ConfigError::NoRoom));
    }
}
