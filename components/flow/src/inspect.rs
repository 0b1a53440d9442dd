//! Questions about a frame that `classify` already accepted, answered with
//! the same validating parsers, for the multiplexer's decisions after the
//! routing one: whether a TCP segment may start an FWP, and what a request
//! to the mux's own stats port asks for.

use smoltcp::wire::EthernetFrame;

use crate::parse::{ipv4, transport, Transport};

/// Whether `frame` is a TCP segment that opens a connection: SYN without
/// ACK. `false` for anything else, or a frame that does not parse.
pub fn opens_connection(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else { return false };
    let Ok(ip) = ipv4(eth.payload()) else { return false };
    matches!(transport(&ip), Ok(Transport::Tcp(tcp)) if tcp.syn() && !tcp.ack())
}

/// The payload of `frame`'s UDP datagram; empty for anything else.
pub fn udp_payload(frame: &[u8]) -> &[u8] {
    let Ok(eth) = EthernetFrame::new_checked(frame) else { return &[] };
    let Ok(ip) = ipv4(eth.payload()) else { return &[] };
    match transport(&ip) {
        Ok(Transport::Udp(udp)) => udp.payload(),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, Ends, ME};

    #[test]
    fn a_syn_opens_a_connection_and_a_datagram_shows_its_payload() {
        let ends = Ends::inbound(&ME);
        let mut segment = testing::tcp(&ends, 5000, 80, b"");
        assert!(!opens_connection(&segment), "PSH+ACK");
        let tcp = 14 + 20;
        segment[tcp + 13] = 0x02; // SYN alone; the checksum no longer matches
        assert!(!opens_connection(&segment), "a segment that fails the checks opens nothing");
        let datagram = testing::udp(&ends, 5000, 7777, b"hops");
        assert_eq!(udp_payload(&datagram), b"hops");
        assert!(!opens_connection(&datagram));
        assert_eq!(udp_payload(&segment), b"");
        assert_eq!(udp_payload(&datagram[..20]), b"", "truncated");
    }
}
