use heapless::Vec;

use crate::bytes::{Reader, Writer};
use crate::{ConfigError, Protocol};

/// Most FWP slots a system can have: Microkit's 63 PDs less the driver and
/// the multiplexer, rounded down to what child ids 0..=61 allow.
pub const MAX_SLOTS: usize = 61;

const MAGIC: u32 = u32::from_le_bytes(*b"EDMX");

/// The service a slot answers: its protocol and destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotService {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// Destination port on the system's address.
    pub port: u16,
}

/// What the multiplexer needs to know: the system's addresses and, per
/// FWP slot, the service it carries (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxConfig {
    /// The system's IPv4 address.
    pub ip: [u8; 4],
    /// The NIC's expected MAC address (the driver reports the real one).
    pub mac: [u8; 6],
    /// Slot `i`'s service, in slot order.
    pub slots: Vec<Option<SlotService>, MAX_SLOTS>,
}

impl MuxConfig {
    /// Bytes `emit` writes for this configuration.
    pub fn buffer_len(&self) -> usize {
        8 + 4 + 6 + 2 + self.slots.len() * 4
    }

    /// Parses a blob written by [`emit`](Self::emit).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC)?;
        let ip = r.take()?;
        let mac = r.take()?;
        let count = usize::from(r.u16()?);
        if count > MAX_SLOTS {
            return Err(ConfigError::BadValue("slot count"));
        }
        let mut slots = Vec::new();
        for _ in 0..count {
            let (proto, _pad, port) = (r.u8()?, r.u8()?, r.u16()?);
            let service = match proto {
                0 => None,
                p => Some(SlotService { protocol: Protocol::from_byte(p)?, port }),
            };
            // count <= MAX_SLOTS was checked above.
            let _ = slots.push(service);
        }
        Ok(Self { ip, mac, slots })
    }

    /// Writes the blob into `out`, returning its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        let mut w = Writer::new(out);
        w.header(MAGIC)?;
        w.put(&self.ip)?;
        w.put(&self.mac)?;
        w.put(&(self.slots.len() as u16).to_le_bytes())?;
        for slot in &self.slots {
            let (proto, port) = slot.map_or((0, 0), |s| (s.protocol.to_byte(), s.port));
            w.put(&[proto, 0])?;
            w.put(&port.to_le_bytes())?;
        }
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MuxConfig {
        let mut slots = Vec::new();
        slots.push(Some(SlotService { protocol: Protocol::Udp, port: 7 })).unwrap();
        slots.push(None).unwrap();
        slots.push(Some(SlotService { protocol: Protocol::Tcp, port: 8007 })).unwrap();
        MuxConfig { ip: [10, 0, 2, 15], mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], slots }
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 64];
        let len = sample().emit(&mut buf).unwrap();
        assert_eq!(len, sample().buffer_len());
        assert_eq!(MuxConfig::parse(&buf[..len]), Ok(sample()));
    }

    #[test]
    fn untrusted_blobs_are_refused_never_panic() {
        let mut buf = [0u8; 64];
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
        bad[20] = 99; // first slot's protocol
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("protocol")));
        let mut bad = buf;
        bad[18..20].copy_from_slice(&500u16.to_le_bytes());
        assert_eq!(MuxConfig::parse(&bad), Err(ConfigError::BadValue("slot count")));
        assert_eq!(sample().emit(&mut [0u8; 10]), Err(ConfigError::NoRoom));
    }
}
