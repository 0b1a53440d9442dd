//! The protected-procedure calls the multiplexer makes to the driver.
//!
//! A call carries a label and up to two message registers; the PD glue moves
//! them in and out of the IPC buffer. Keeping the encoding here lets both
//! sides, and the host tests, share one definition.

/// A request from the multiplexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Report the NIC's MAC address and check that the rings are set up.
    Connect,
    /// Report the driver's per-frame time samples (`edgeos_cycles::Summary`
    /// words; none yet: label not OK).
    HopStats,
}

/// The label of [`Request::Connect`].
pub const LABEL_CONNECT: u64 = 1;
/// The label of [`Request::HopStats`].
pub const LABEL_HOP_STATS: u64 = 2;

impl Request {
    /// Decodes a call's label; `None` for labels no request uses.
    pub fn from_label(label: u64) -> Option<Self> {
        match label {
            LABEL_CONNECT => Some(Self::Connect),
            LABEL_HOP_STATS => Some(Self::HopStats),
            _ => None,
        }
    }

    /// The label this request travels under.
    pub fn label(self) -> u64 {
        match self {
            Self::Connect => LABEL_CONNECT,
            Self::HopStats => LABEL_HOP_STATS,
        }
    }
}

/// The driver's answer to [`Request::Connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectReply {
    /// The NIC's MAC address.
    pub mac: [u8; 6],
    /// Rx buffers the driver has been offered and the mux has not taken
    /// back: those still on the rx free ring, any it holds for the next
    /// frame, and those returned on the rx used ring with a frame the mux
    /// has not read (at connect time, what the mux lent).
    pub rx_offered: u32,
}

/// Label of a successful reply; anything else is an error.
pub const LABEL_OK: u64 = 0;

impl ConnectReply {
    /// Packs the reply into two message registers.
    pub fn to_words(self) -> [u64; 2] {
        let mut mac = [0u8; 8];
        mac[..6].copy_from_slice(&self.mac);
        [u64::from_le_bytes(mac), u64::from(self.rx_offered)]
    }

    /// Unpacks a reply; `None` when the words cannot come from `to_words`.
    pub fn from_words(words: [u64; 2]) -> Option<Self> {
        let bytes = words[0].to_le_bytes();
        if bytes[6] != 0 || bytes[7] != 0 {
            return None;
        }
        let rx_offered = u32::try_from(words[1]).ok()?;
        let mut mac = [0; 6];
        mac.copy_from_slice(&bytes[..6]);
        Some(Self { mac, rx_offered })
    }
}

/// Formats a MAC address as `52:54:00:12:34:56`.
pub struct MacDisplay(pub [u8; 6]);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn connect_reply_round_trips_and_rejects_garbage() {
        let reply = ConnectReply { mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], rx_offered: 255 };
        assert_eq!(ConnectReply::from_words(reply.to_words()), Some(reply));
        assert_eq!(ConnectReply::from_words([u64::MAX, 0]), None);
        assert_eq!(ConnectReply::from_words([0, u64::MAX]), None);
        assert_eq!(format!("{}", MacDisplay(reply.mac)), "52:54:00:12:34:56");
    }

    #[test]
    fn labels_round_trip_and_unknown_labels_are_refused() {
        assert_eq!(Request::from_label(Request::Connect.label()), Some(Request::Connect));
        assert_eq!(Request::from_label(Request::HopStats.label()), Some(Request::HopStats));
        assert_eq!(Request::from_label(0), None);
        assert_eq!(Request::from_label(99), None);
    }
}
