//! When a per-flow Click FWP's flow has ended, judged from the Ethernet
//! frames it receives and transmits.
//!
//! A Click FWP has no TCP socket to ask: it forwards one connection between
//! two other hosts, and must ask to exit once that connection is over (a
//! UDP flow never ends here; the multiplexer's idle timeout ends it).
//!
//! **Directions.** The multiplexer spawns a per-flow FWP for its flow's
//! first frame (a SYN, for TCP) and delivers that frame first, so the first
//! frame received names the flow: the *opening* ends. The graph may rewrite
//! addresses and ports (a NAT), so what it transmits toward the server
//! carries ends that are neither the opening's nor their reverse; but every
//! rewriter translates replies back, so what it transmits toward the client
//! carries exactly the opening's ends reversed. Hence: a transmitted
//! segment with the opening's ends reversed is *backward*; the first other
//! transmitted TCP segment names the *forward* ends; anything else is
//! another flow and ignored. When the graph rewrites nothing, forward is
//! the opening and backward its reverse.
//!
//! **The end.** The flow ends once an RST has passed (an endpoint has
//! dropped the connection, and refuses what follows), or once each
//! direction's FIN has passed *and been acknowledged* by a segment that
//! passed the other way. Waiting for that last ACK matters: the multiplexer
//! tears the FWP down soon after it asks to exit, and then drops any
//! segment of the flow but a SYN; the closer's last ACK would never reach
//! its peer, which would resend its FIN until it gave up.
//!
//! **Shared FWPs.** A template whose overflow is shared gives a new flow
//! to an FWP that serves one already (the multiplexer's fallback). Such an
//! FWP receives a second opening: a SYN (without ACK) from ends that are
//! neither the opening's nor their reverse. From then on it never asks to
//! exit here (one flow's end is not the others'): the multiplexer's idle
//! timeout ends it.
//!
//! Only transmitted segments count: one the graph dropped never reached
//! the other side. Checksums are not verified (the multiplexer verified
//! every frame on arrival, and the graph's rewriters keep them valid), so
//! reading a frame costs its headers only.
//!
//! Known gap: sequence numbers are not checked against the receivers'
//! windows, as the endpoints check them (RFC 5961); a host that can spoof
//! the flow's addresses and ports can forge an RST or a close and make the
//! FWP exit early, after which the multiplexer drops the rest of the flow.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket, TcpSeqNumber,
    UdpPacket,
};

/// Tracks one per-flow FWP's flow to its end: feed it every frame the FWP
/// receives ([`received`](Self::received), before the graph rewrites it)
/// and every frame it transmits ([`transmitted`](Self::transmitted)).
///
/// Whole Ethernet frames, IPv4 only; a frame that does not parse as an
/// unfragmented TCP segment or UDP datagram is ignored, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEnd {
    opening: Option<Opening>,
    /// The ends of forward segments as the graph transmits them.
    forward: Option<Ends>,
    forward_close: Close,
    backward_close: Close,
    reset: bool,
    /// A second flow was opened through this FWP (see the module's docs).
    shared: bool,
}

/// The flow the FWP was spawned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// A TCP connection, opened by a segment with these ends.
    Tcp(Ends),
    /// A UDP flow: never ends here.
    Udp,
}

/// A segment's source and destination, (address, port) each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ends {
    src: (Ipv4Address, u16),
    dst: (Ipv4Address, u16),
}

impl Ends {
    fn reversed(self) -> Self {
        Self {
            src: self.dst,
            dst: self.src,
        }
    }
}

/// One direction's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Close {
    /// The sequence number just past the direction's FIN: the
    /// acknowledgement number that covers it.
    fin_end: Option<TcpSeqNumber>,
    /// A segment the other way acknowledged the FIN.
    acknowledged: bool,
}

impl Close {
    const OPEN: Self = Self {
        fin_end: None,
        acknowledged: false,
    };
}

/// What a frame carries, for [`FlowEnd`].
enum Carried<'a> {
    Tcp(Ends, TcpPacket<&'a [u8]>),
    Udp,
}

impl FlowEnd {
    /// Nothing seen yet (a `static` initialiser: part of a template's
    /// checkpoint, so every FWP starts from it).
    pub const fn new() -> Self {
        Self {
            opening: None,
            forward: None,
            forward_close: Close::OPEN,
            backward_close: Close::OPEN,
            reset: false,
            shared: false,
        }
    }

    /// Notes a frame the FWP received, before the graph sees it: the first
    /// TCP segment or UDP datagram names the flow; a later SYN from other
    /// ends opens a second one (the FWP is shared).
    pub fn received(&mut self, frame: &[u8]) {
        if let Some(Opening::Tcp(opening)) = self.opening {
            if let Some(Carried::Tcp(ends, tcp)) = carried(frame) {
                let opens = tcp.syn() && !tcp.ack();
                if opens && ends != opening && ends != opening.reversed() {
                    self.shared = true;
                }
            }
        }
        if self.opening.is_some() {
            return;
        }
        self.opening = match carried(frame) {
            Some(Carried::Tcp(ends, _)) => Some(Opening::Tcp(ends)),
            Some(Carried::Udp) => Some(Opening::Udp),
            None => None,
        };
    }

    /// Notes a frame the FWP transmitted (as it left the graph).
    pub fn transmitted(&mut self, frame: &[u8]) {
        let Some(Opening::Tcp(opening)) = self.opening else {
            return;
        };
        let Some(Carried::Tcp(ends, tcp)) = carried(frame) else {
            return;
        };
        let (this, other) = if ends == opening.reversed() {
            (&mut self.backward_close, &mut self.forward_close)
        } else if *self.forward.get_or_insert(ends) == ends {
            (&mut self.forward_close, &mut self.backward_close)
        } else {
            return;
        };
        if tcp.rst() {
            self.reset = true;
            return;
        }
        if let Some(fin_end) = other.fin_end {
            // Sequence-number order wraps (TcpSeqNumber compares modulo 2^32).
            if tcp.ack() && tcp.ack_number() >= fin_end {
                other.acknowledged = true;
            }
        }
        // A retransmitted FIN ends at the same number: the first one is kept.
        if tcp.fin() && this.fin_end.is_none() {
            // segment_len counts the FIN (and any SYN and data) and is below
            // 2^16 (an IPv4 packet's length), so `as i32` keeps it exact; the
            // sum wraps, as sequence numbers do.
            let len = tcp.segment_len() as i32;
            this.fin_end = Some(TcpSeqNumber(tcp.seq_number().0.wrapping_add(len)));
        }
    }

    /// Whether the flow has ended: an RST passed, or both directions' FINs
    /// passed and were acknowledged; never once the FWP is shared.
    pub fn ended(&self) -> bool {
        !self.shared && (self.reset || (self.forward_close.acknowledged && self.backward_close.acknowledged))
    }

    /// Whether a second flow was opened through this FWP.
    pub fn shared(&self) -> bool {
        self.shared
    }
}

impl Default for FlowEnd {
    fn default() -> Self {
        Self::new()
    }
}

/// The unfragmented IPv4 TCP segment or UDP datagram in `frame`, through
/// smoltcp's checked views; `None` for anything else.
fn carried(frame: &[u8]) -> Option<Carried<'_>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    // The multiplexer refuses fragments, so none belongs to the flow (and a
    // later one has no TCP header where one would be read).
    if ip.version() != 4 || ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    match ip.next_header() {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            let ends = Ends {
                src: (ip.src_addr(), tcp.src_port()),
                dst: (ip.dst_addr(), tcp.dst_port()),
            };
            Some(Carried::Tcp(ends, tcp))
        }
        IpProtocol::Udp => UdpPacket::new_checked(ip.payload())
            .ok()
            .map(|_| Carried::Udp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::TcpControl;

    use super::*;
    use crate::testing::{self, ends, Frame};

    /// A client, the address and port it connects to, and where a NAT
    /// sends it (from its own address and a port of its choice).
    const CLIENT: (&str, u16) = ("10.0.0.5", 40000);
    const SERVICE: (&str, u16) = ("192.0.2.1", 80);
    const NAT_SIDE: (&str, u16) = ("192.0.2.1", 1024);
    const BACKEND: (&str, u16) = ("10.1.0.1", 8080);

    /// A TCP segment from `from` to `to`, without payload.
    fn segment(
        from: (&str, u16),
        to: (&str, u16),
        control: TcpControl,
        seq: u32,
        ack: Option<u32>,
    ) -> Frame {
        testing::tcp_segment(ends(from.0, to.0), (from.1, to.1), control, seq, ack, b"")
    }

    /// A flow through a NAT, opened by the client's SYN (seq 100; the
    /// backend's is 500) and established.
    fn established() -> FlowEnd {
        let mut flow = FlowEnd::new();
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Syn, 500, Some(101)));
        flow.transmitted(&segment(
            NAT_SIDE,
            BACKEND,
            TcpControl::None,
            101,
            Some(501),
        ));
        assert!(!flow.ended());
        flow
    }

    #[test]
    fn an_rst_either_way_ends_the_flow() {
        let mut flow = established();
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Rst, 101, None));
        assert!(flow.ended());

        let mut flow = established();
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Rst, 501, Some(101)));
        assert!(flow.ended());
    }

    #[test]
    fn a_refused_connection_ends_with_the_rst_that_answers_its_syn() {
        let mut flow = FlowEnd::new();
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Rst, 0, Some(101)));
        assert!(flow.ended());
    }

    #[test]
    fn a_fin_one_way_does_not_end_the_flow_even_when_acknowledged() {
        let mut flow = established();
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Fin, 101, Some(501)));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::None, 501, Some(102)));
        // The server may go on sending: a half-closed connection is open.
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Psh, 501, Some(102)));
        assert!(!flow.ended());
    }

    #[test]
    fn fins_both_ways_end_the_flow_once_the_last_is_acknowledged() {
        let mut flow = established();
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Fin, 101, Some(501)));
        // The server's FIN acknowledges the client's.
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Fin, 501, Some(102)));
        assert!(!flow.ended(), "the client's last ACK has not passed");
        flow.transmitted(&segment(
            NAT_SIDE,
            BACKEND,
            TcpControl::None,
            102,
            Some(502),
        ));
        assert!(flow.ended());
    }

    #[test]
    fn an_acknowledgement_short_of_the_fin_does_not_count() {
        let mut flow = established();
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Fin, 501, Some(101)));
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Fin, 101, Some(501)));
        // Acknowledges the data before the server's FIN, not the FIN.
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::None, 502, Some(102)));
        assert!(!flow.ended());
        flow.transmitted(&segment(
            NAT_SIDE,
            BACKEND,
            TcpControl::None,
            102,
            Some(502),
        ));
        assert!(flow.ended());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut flow = established();
        flow.transmitted(&segment(
            NAT_SIDE,
            BACKEND,
            TcpControl::Fin,
            u32::MAX,
            Some(501),
        ));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Fin, 501, Some(0)));
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::None, 0, Some(502)));
        assert!(flow.ended());
    }

    #[test]
    fn without_a_rewrite_forward_is_the_opening_and_backward_its_reverse() {
        let mut flow = FlowEnd::new();
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(CLIENT, SERVICE, TcpControl::Fin, 101, Some(501)));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Fin, 501, Some(102)));
        flow.transmitted(&segment(CLIENT, SERVICE, TcpControl::None, 102, Some(502)));
        assert!(flow.ended());
    }

    #[test]
    fn an_unrelated_pairs_fin_or_rst_is_ignored() {
        let mut flow = established();
        let stranger = ("10.0.0.9", 40001);
        // The same hosts on other ports, and another host.
        flow.transmitted(&segment(
            SERVICE,
            (CLIENT.0, 40001),
            TcpControl::Rst,
            501,
            None,
        ));
        flow.transmitted(&segment(
            NAT_SIDE,
            (BACKEND.0, 9999),
            TcpControl::Rst,
            101,
            None,
        ));
        flow.transmitted(&segment(stranger, SERVICE, TcpControl::Rst, 1, None));
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Fin, 101, Some(501)));
        flow.transmitted(&segment(SERVICE, stranger, TcpControl::Fin, 501, Some(102)));
        flow.transmitted(&segment(
            stranger,
            SERVICE,
            TcpControl::None,
            102,
            Some(502),
        ));
        assert!(!flow.ended());
        // Received frames never count, however they look.
        flow.received(&segment(BACKEND, NAT_SIDE, TcpControl::Rst, 501, None));
        assert!(!flow.ended());
    }

    #[test]
    fn nothing_counts_before_the_opening_frame() {
        let mut flow = FlowEnd::new();
        flow.transmitted(&segment(CLIENT, SERVICE, TcpControl::Rst, 100, None));
        assert!(!flow.ended());
    }

    #[test]
    fn a_udp_flow_never_ends_here() {
        let mut flow = FlowEnd::new();
        let datagram = testing::udp_frame(ends(CLIENT.0, SERVICE.0), CLIENT.1, SERVICE.1, b"q");
        flow.received(&datagram);
        // TCP segments later received or transmitted do not make it TCP.
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&datagram);
        flow.transmitted(&segment(CLIENT, SERVICE, TcpControl::Rst, 100, None));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Rst, 500, None));
        assert!(!flow.ended());
    }

    #[test]
    fn malformed_and_truncated_frames_are_ignored() {
        let rst = segment(NAT_SIDE, BACKEND, TcpControl::Rst, 101, None);
        // Every truncation: too short for the Ethernet, IPv4 or TCP header,
        // or for the IPv4 total length.
        for len in 0..rst.len() {
            let mut flow = established();
            flow.transmitted(&rst[..len]);
            assert!(!flow.ended(), "truncated to {len} bytes");
        }
        let patched: [(usize, u8); 6] = [
            (12, 0x86),                     // ethertype 0x8600: not IPv4
            (testing::ETH, 0x65),           // IP version 6
            (testing::ETH, 0x44),           // IP header length 16
            (testing::ETH + 6, 0x20),       // more fragments
            (testing::ETH + 9, 17),         // UDP: not a TCP segment
            (testing::ETH + 20 + 12, 0x40), // TCP data offset 16 bytes
        ];
        for (at, value) in patched {
            let mut bad = rst.clone();
            bad[at] = value;
            let mut flow = established();
            flow.transmitted(&bad);
            assert!(!flow.ended(), "byte {at} set to {value:#x}");
        }
        let mut flow = established();
        flow.transmitted(&testing::arp_frame(ends(BACKEND.0, NAT_SIDE.0)));
        flow.transmitted(&testing::icmp_echo_frame(ends(BACKEND.0, NAT_SIDE.0)));
        flow.transmitted(&[0xff; 64]);
        assert!(!flow.ended());
        // Nor does a malformed frame name the flow.
        let mut flow = FlowEnd::new();
        flow.received(&rst[..rst.len() - 1]);
        flow.received(&[0; 60]);
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.transmitted(&segment(SERVICE, CLIENT, TcpControl::Rst, 0, Some(101)));
        assert!(flow.ended());
    }

    #[test]
    fn a_second_opening_makes_the_fwp_shared_and_it_never_ends_here() {
        let mut flow = established();
        // A retransmission of the opening SYN, and the backend's SYN-ACK, open nothing.
        flow.received(&segment(CLIENT, SERVICE, TcpControl::Syn, 100, None));
        flow.received(&segment(BACKEND, NAT_SIDE, TcpControl::Syn, 500, Some(101)));
        assert!(!flow.shared());
        // Another client's SYN: the multiplexer shared this FWP.
        flow.received(&segment(("10.0.0.6", 40001), SERVICE, TcpControl::Syn, 900, None));
        assert!(flow.shared());
        // The first flow's RST no longer ends the FWP: the other flow lives on.
        flow.transmitted(&segment(NAT_SIDE, BACKEND, TcpControl::Rst, 101, None));
        assert!(!flow.ended());
    }
}
