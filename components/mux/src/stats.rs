//! The multiplexer's own stats service: a UDP datagram to the configured
//! port is answered with one line of `key=value` counters, so tests and
//! operators can watch drops and per-tenant traffic from outside.

use core::fmt::Write;

use edgeos_cycles::Summary;
use edgeos_flow::{FiveTuple, NetIdentity};
use heapless::String;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
    UdpPacket, UdpRepr,
};

/// Longest stats line: one UDP datagram in a 1,500-byte MTU (1,472 bytes
/// of payload); counters beyond it are cut (the line stays valid).
pub const STATS_LINE: usize = 1472;

/// A stats line under construction: `key=value` pairs separated by spaces.
#[derive(Default)]
pub struct StatsLine(String<STATS_LINE>);

impl StatsLine {
    /// Appends `key=value` (the key may be built from parts, e.g. `t0.`, `sent`).
    pub fn put(&mut self, prefix: core::fmt::Arguments<'_>, key: &str, value: u64) {
        let sep = if self.0.is_empty() { "" } else { " " };
        // A full line drops the pair: the line stays a valid prefix.
        let mark = self.0.len();
        if write!(self.0, "{sep}{prefix}{key}={value}").is_err() {
            self.0.truncate(mark);
        }
    }

    /// Appends a hop's time summary as `hop.<name>.{count,min,median,p99}`.
    pub fn put_hop(&mut self, name: core::fmt::Arguments<'_>, summary: Option<Summary>) {
        let Some(s) = summary else { return };
        for (key, value) in [("count", s.count), ("min", s.min), ("median", s.median), ("p99", s.p99)] {
            self.put(format_args!("hop.{name}."), key, u64::from(value));
        }
    }

    /// The line so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes a UDP reply carrying `text` to the sender of `request` (whose
/// 5-tuple is `tuple`) into `out`; returns the frame's length.
pub fn udp_reply(request: &[u8], tuple: &FiveTuple, me: &NetIdentity, text: &[u8], out: &mut [u8]) -> Option<usize> {
    let peer_mac = EthernetFrame::new_checked(request).ok()?.src_addr();
    let udp = UdpRepr { src_port: tuple.dst.1, dst_port: tuple.src.1 };
    let ip = Ipv4Repr {
        src_addr: me.ip,
        dst_addr: tuple.src.0,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + text.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr { src_addr: me.mac, dst_addr: peer_mac, ethertype: EthernetProtocol::Ipv4 };
    let len = eth.buffer_len() + ip.buffer_len() + ip.payload_len;
    let out = out.get_mut(..len)?;
    let caps = ChecksumCapabilities::default();
    let mut frame = EthernetFrame::new_unchecked(&mut *out);
    eth.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet, &caps);
    udp.emit(
        &mut UdpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(me.ip),
        &IpAddress::Ipv4(tuple.src.0),
        text.len(),
        |payload| payload.copy_from_slice(text),
        &caps,
    );
    Some(len)
}
