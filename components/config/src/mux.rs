use heapless::Vec;

use crate::bytes::{Reader, Writer};
use crate::{ConfigError, Protocol};

/// Most FWP slots a system can have: Microkit's 63 PDs less the driver and
/// the multiplexer, rounded down to what child ids 0..=61 allow.
pub const MAX_SLOTS: usize = 61;

/// FWP slots the multiplexer binary drives: its tables are sized at build
/// time. The system tool refuses configurations with more, so a
/// configuration mistake is reported before boot instead of by the mux.
pub const MUX_SLOT_CAPACITY: usize = 16;

const MAGIC: u32 = u32::from_le_bytes(*b"EDMX");

/// The service a slot answers: its protocol and destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotService {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// Destination port on the system's address.
    pub port: u16,
}

/// Where one FWP slot's shared memory sits in the multiplexer's address
/// space, and how the multiplexer reaches the slot. The system tool writes
/// the same addresses into `system.xml`, so the PD copies none by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLayout {
    /// The service the slot carries, if any.
    pub service: Option<SlotService>,
    /// The slot's child PD id (for its TCB).
    pub child_id: u8,
    /// The multiplexer's channel id to the slot.
    pub channel: u8,
    /// The slot's control region (ready block), read-only here.
    pub ctrl: u64,
    /// The slot's rings: rx free, rx used, tx free, tx used.
    pub rings: [u64; 4],
    /// The slot's rx buffer region and its length.
    pub rx_buf: (u64, u32),
    /// The slot's tx buffer region and its length.
    pub tx_buf: (u64, u32),
}

/// Bytes one [`SlotLayout`] takes in the blob.
const SLOT_LEN: usize = 8 + 8 + 4 * 8 + 12 + 12;

/// What the multiplexer needs to know: the system's addresses and every
/// FWP slot's layout and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxConfig {
    /// The system's IPv4 address.
    pub ip: [u8; 4],
    /// The NIC's expected MAC address (the driver reports the real one).
    pub mac: [u8; 6],
    /// UDP port on which the multiplexer answers with its counters (0: off).
    pub stats_port: u16,
    /// The slots, in slot order.
    pub slots: Vec<SlotLayout, MAX_SLOTS>,
}

/// Microkit's channel and child ids run 0..=61.
const MAX_ID: u8 = 61;

fn parse_slot(r: &mut Reader<'_>) -> Result<SlotLayout, ConfigError> {
    let (proto, _pad, port) = (r.u8()?, r.u8()?, r.u16()?);
    let service = match proto {
        0 => None,
        p => Some(SlotService { protocol: Protocol::from_byte(p)?, port }),
    };
    let (child_id, channel, _pad) = (r.u8()?, r.u8()?, r.u16()?);
    if child_id > MAX_ID || channel > MAX_ID {
        return Err(ConfigError::BadValue("child or channel id"));
    }
    let addr = |r: &mut Reader<'_>| -> Result<u64, ConfigError> {
        let a = u64::from_le_bytes(r.take()?);
        if a == 0 || a % 4096 != 0 {
            return Err(ConfigError::BadValue("region address"));
        }
        Ok(a)
    };
    let ctrl = addr(r)?;
    let rings = [addr(r)?, addr(r)?, addr(r)?, addr(r)?];
    let rx_buf = (addr(r)?, r.u32()?);
    let tx_buf = (addr(r)?, r.u32()?);
    Ok(SlotLayout { service, child_id, channel, ctrl, rings, rx_buf, tx_buf })
}

fn emit_slot(w: &mut Writer<'_>, slot: &SlotLayout) -> Result<(), ConfigError> {
    let (proto, port) = slot.service.map_or((0, 0), |s| (s.protocol.to_byte(), s.port));
    w.put(&[proto, 0])?;
    w.put(&port.to_le_bytes())?;
    w.put(&[slot.child_id, slot.channel, 0, 0])?;
    w.put(&slot.ctrl.to_le_bytes())?;
    for ring in slot.rings {
        w.put(&ring.to_le_bytes())?;
    }
    for (addr, len) in [slot.rx_buf, slot.tx_buf] {
        w.put(&addr.to_le_bytes())?;
        w.put(&len.to_le_bytes())?;
    }
    Ok(())
}

impl MuxConfig {
    /// Bytes `emit` writes for this configuration.
    pub fn buffer_len(&self) -> usize {
        8 + 4 + 6 + 2 + 2 + self.slots.len() * SLOT_LEN
    }

    /// Parses a blob written by [`emit`](Self::emit).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC)?;
        let ip = r.take()?;
        let mac = r.take()?;
        let stats_port = r.u16()?;
        let count = usize::from(r.u16()?);
        if count > MAX_SLOTS {
            return Err(ConfigError::BadValue("slot count"));
        }
        let mut slots = Vec::new();
        for _ in 0..count {
            // count <= MAX_SLOTS was checked above.
            let _ = slots.push(parse_slot(&mut r)?);
        }
        Ok(Self { ip, mac, stats_port, slots })
    }

    /// Writes the blob into `out`, returning its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        let mut w = Writer::new(out);
        w.header(MAGIC)?;
        w.put(&self.ip)?;
        w.put(&self.mac)?;
        w.put(&self.stats_port.to_le_bytes())?;
        w.put(&(self.slots.len() as u16).to_le_bytes())?;
        for slot in &self.slots {
            emit_slot(&mut w, slot)?;
        }
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(i: u8, service: Option<SlotService>) -> SlotLayout {
        let base = 0x7000_0000 + u64::from(i) * 0x10_0000;
        SlotLayout {
            service,
            child_id: i,
            channel: i + 1,
            ctrl: base,
            rings: [base + 0x1000, base + 0x5000, base + 0x9000, base + 0xd000],
            rx_buf: (base + 0x2_0000, 0x1_0000),
            tx_buf: (base + 0x3_0000, 0x1_0000),
        }
    }

    fn sample() -> MuxConfig {
        let mut slots = Vec::new();
        slots.push(slot(0, Some(SlotService { protocol: Protocol::Udp, port: 7 }))).unwrap();
        slots.push(slot(1, None)).unwrap();
        slots.push(slot(2, Some(SlotService { protocol: Protocol::Tcp, port: 8007 }))).unwrap();
        MuxConfig { ip: [10, 0, 2, 15], mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], stats_port: 7777, slots }
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 512];
        let len = sample().emit(&mut buf).unwrap();
        assert_eq!(len, sample().buffer_len());
        assert_eq!(MuxConfig::parse(&buf[..len]), Ok(sample()));
    }

    #[test]
    fn untrusted_blobs_are_refused_never_panic() {
        let mut buf = [0u8; 512];
        let len = sample().emit(&mut buf).unwrap();
        for cut in 0..len {
            assert!(MuxConfig::parse(&buf[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let mut bad = buf;
        bad[0] ^= 1;
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadMagic));
        let mut bad = buf;
        bad[4] = 2;
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::Version(2)));
        let mut bad = buf;
        bad[22] = 99; // first slot's protocol
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("protocol")));
        let mut bad = buf;
        bad[20..22].copy_from_slice(&500u16.to_le_bytes());
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("slot count")));
        let mut bad = buf;
        bad[26] = 62; // first slot's child id
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("child or channel id")));
        let mut bad = buf;
        bad[30] = 1; // first slot's ctrl address, no longer page-aligned
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("region address")));
        assert_eq!(sample().emit(&mut [0u8; 10]), Err(ConfigError::NoRoom));
    }
}
