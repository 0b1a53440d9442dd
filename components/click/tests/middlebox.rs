//! A Click FWP's serving step (`Middlebox::serve`) over an in-memory
//! device: whole connections through the NAT, the load balancer and a
//! plain wire, each ending (or not) as `FlowEnd` decides; Queues drained
//! only while the device can send; nothing oversized ever sent.

use std::collections::VecDeque;

use edgeos_click::testing::{self, ends, Frame, FIREWALL_NAT, LOAD_BALANCER, QUEUE_LOOP};
use edgeos_click::{Middlebox, MAX_FRAME_LEN};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpControl, TcpPacket};

/// A device like the FWP's ring device: it hands out a received frame only
/// while it has room to send one.
#[derive(Default)]
struct Wire {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    tx_room: usize,
}

struct Rx(Vec<u8>);

struct Tx<'a>(&'a mut Wire);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        self.0.tx.push(frame);
        self.0.tx_room -= 1;
        result
    }
}

impl Device for Wire {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        if self.tx_room == 0 {
            return None;
        }
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(self)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        if self.tx_room == 0 {
            return None;
        }
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME_LEN;
        caps
    }
}

impl Wire {
    /// Receives `frames`, serves them with room for as many frames out,
    /// and returns what was sent.
    fn serve(&mut self, middlebox: &mut Middlebox, frames: &[&Frame]) -> Vec<Vec<u8>> {
        self.rx.extend(frames.iter().map(|f| f.to_vec()));
        self.tx_room = frames.len().max(1);
        middlebox.serve(self, Instant::ZERO);
        core::mem::take(&mut self.tx)
    }
}

fn middlebox(config: &str) -> Box<Middlebox> {
    let mut middlebox = Box::new(Middlebox::new());
    middlebox
        .configure(config)
        .unwrap_or_else(|e| panic!("{e}"));
    middlebox
}

/// The (address, port) ends of a transmitted TCP segment.
fn tcp_ends(frame: &[u8]) -> ((String, u16), (String, u16)) {
    let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(frame).unwrap().payload()).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    (
        (ip.src_addr().to_string(), tcp.src_port()),
        (ip.dst_addr().to_string(), tcp.dst_port()),
    )
}

/// A TCP segment between two (address, port) ends.
fn segment(
    from: &(String, u16),
    to: &(String, u16),
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
) -> Frame {
    testing::tcp_segment(ends(&from.0, &to.0), (from.1, to.1), control, seq, ack, b"")
}

/// Runs one TCP connection from `client` to `service` through `config`'s
/// graph, the server answering whatever the graph sent the SYN to, and
/// checks each segment passes and the flow ends exactly with the client's
/// last ACK. Returns where the graph sent the SYN from and to.
fn connection(config: &str, client: (&str, u16), service: (&str, u16)) -> (String, String) {
    let mut mb = middlebox(config);
    let mut wire = Wire::default();
    let client = (client.0.to_string(), client.1);
    let service = (service.0.to_string(), service.1);
    let syn = segment(&client, &service, TcpControl::Syn, 100, None);
    let sent = wire.serve(&mut mb, &[&syn]);
    assert_eq!(sent.len(), 1, "the SYN passes");
    // The server sees the rewritten ends: it answers them.
    let (server_sees, server) = tcp_ends(&sent[0]);

    let replies = [
        (false, TcpControl::Syn, 500, Some(101)),
        (true, TcpControl::None, 101, Some(501)),
        (true, TcpControl::Fin, 101, Some(501)),
        (false, TcpControl::None, 501, Some(102)),
        (false, TcpControl::Fin, 501, Some(102)),
    ];
    for (from_client, control, seq, ack) in replies {
        let frame = match from_client {
            true => segment(&client, &service, control, seq, ack),
            false => segment(&server, &server_sees, control, seq, ack),
        };
        let sent = wire.serve(&mut mb, &[&frame]);
        assert_eq!(sent.len(), 1, "{control:?} from the client: {from_client}");
        let expected = match from_client {
            true => (server_sees.clone(), server.clone()),
            false => (service.clone(), client.clone()),
        };
        assert_eq!(tcp_ends(&sent[0]), expected);
        assert!(
            !mb.flow_ended(),
            "{control:?} from the client: {from_client}"
        );
    }
    let last_ack = segment(&client, &service, TcpControl::None, 102, Some(502));
    assert_eq!(wire.serve(&mut mb, &[&last_ack]).len(), 1);
    assert!(mb.flow_ended());
    (
        format!("{}:{}", server_sees.0, server_sees.1),
        format!("{}:{}", server.0, server.1),
    )
}

#[test]
fn a_connection_through_the_nat_ends_with_its_closing_handshake() {
    let (from, to) = connection(FIREWALL_NAT, ("10.0.0.5", 40000), ("203.0.113.9", 80));
    assert_eq!(
        (from.as_str(), to.as_str()),
        ("192.0.2.1:1024", "203.0.113.9:80")
    );
}

#[test]
fn a_connection_through_the_load_balancer_ends_with_its_closing_handshake() {
    let (from, to) = connection(LOAD_BALANCER, ("10.0.0.5", 40000), ("192.0.2.80", 80));
    assert_eq!(
        (from.as_str(), to.as_str()),
        ("10.0.0.5:40000", "10.1.0.1:8080")
    );
}

#[test]
fn a_connection_over_a_plain_wire_ends_with_its_closing_handshake() {
    let (from, to) = connection("FromRing -> ToRing", ("10.0.0.5", 40000), ("10.0.0.6", 80));
    assert_eq!(
        (from.as_str(), to.as_str()),
        ("10.0.0.5:40000", "10.0.0.6:80")
    );
}

#[test]
fn a_reset_ends_the_flow_and_a_dropped_one_does_not() {
    let mut mb = middlebox(FIREWALL_NAT);
    let mut wire = Wire::default();
    let client = ("10.0.0.5".to_string(), 40000);
    let server = ("203.0.113.9".to_string(), 80);
    let syn = segment(&client, &server, TcpControl::Syn, 100, None);
    let (nat, _) = tcp_ends(&wire.serve(&mut mb, &[&syn])[0]);
    // To a NAT port nobody was given: the graph drops it, so it never passed.
    let stray = segment(
        &server,
        &(nat.0.clone(), 2000),
        TcpControl::Rst,
        0,
        Some(101),
    );
    assert!(wire.serve(&mut mb, &[&stray]).is_empty());
    assert!(!mb.flow_ended());
    let refused = segment(&server, &nat, TcpControl::Rst, 0, Some(101));
    assert_eq!(wire.serve(&mut mb, &[&refused]).len(), 1);
    assert!(mb.flow_ended());
}

#[test]
fn a_udp_flow_never_ends_here() {
    let mut mb = middlebox("FromRing -> ToRing");
    let mut wire = Wire::default();
    let query = testing::udp_frame(ends("10.0.0.5", "10.0.0.6"), 5353, 53, b"q");
    let answer = testing::udp_frame(ends("10.0.0.6", "10.0.0.5"), 53, 5353, b"a");
    let rst = testing::tcp_segment(
        ends("10.0.0.6", "10.0.0.5"),
        (53, 5353),
        TcpControl::Rst,
        0,
        None,
        b"",
    );
    assert_eq!(wire.serve(&mut mb, &[&query, &answer, &rst]).len(), 3);
    assert!(!mb.flow_ended());
}

#[test]
fn queued_frames_wait_for_room_to_send_and_hold_the_exit_back() {
    let mut mb = middlebox("FromRing -> Queue(4) -> ToRing");
    let mut wire = Wire::default();
    let client = ("10.0.0.5".to_string(), 40000);
    let server = ("10.0.0.6".to_string(), 80);
    let syn = segment(&client, &server, TcpControl::Syn, 100, None);
    let rst = segment(&client, &server, TcpControl::Rst, 101, None);
    let late = segment(&client, &server, TcpControl::None, 101, Some(1));
    wire.rx.extend([syn.to_vec(), rst.to_vec(), late.to_vec()]);
    // Room for one frame: all three are taken (queued, none sent on
    // receipt), then the first is pulled and sent.
    wire.tx_room = 1;
    mb.serve(&mut wire, Instant::ZERO);
    assert_eq!(wire.tx, [syn.to_vec()]);
    assert_eq!(mb.graph().queued(), 2);
    wire.tx_room = 1;
    mb.serve(&mut wire, Instant::ZERO);
    assert_eq!(wire.tx.len(), 2);
    assert!(!mb.flow_ended(), "the RST passed, but a frame still waits");
    wire.tx_room = 5;
    mb.serve(&mut wire, Instant::ZERO);
    assert_eq!(wire.tx, [syn.to_vec(), rst.to_vec(), late.to_vec()]);
    assert!(mb.flow_ended());
}

#[test]
fn a_queue_in_a_loop_is_pulled_once_per_pass() {
    let mut mb = middlebox(QUEUE_LOOP);
    let mut wire = Wire::default();
    let frame = testing::udp_frame(ends("10.0.0.5", "10.0.0.6"), 5353, 53, b"q");
    assert!(wire.serve(&mut mb, &[&frame]).is_empty());
    // Each pass decrements the TTL (64) once; it leaves on expiry.
    let mut passes = 1;
    while wire.tx.is_empty() && passes < 100 {
        wire.tx_room = 1;
        mb.serve(&mut wire, Instant::ZERO);
        passes += 1;
    }
    assert_eq!(wire.tx.len(), 1);
    assert_eq!(passes, 64);
}

#[test]
fn an_unstrip_past_the_frame_sends_zeros_in_front_and_never_an_oversized_frame() {
    let mut mb = middlebox("FromRing -> Unstrip(4) -> ToRing");
    let mut wire = Wire::default();
    let frame = testing::udp_frame(ends("10.0.0.5", "10.0.0.6"), 5353, 53, b"q");
    let sent = wire.serve(&mut mb, &[&frame]);
    assert_eq!(sent, [[&[0u8; 4][..], &frame[..]].concat()]);

    let full = vec![0x5a; MAX_FRAME_LEN];
    let too_long = vec![0x5a; MAX_FRAME_LEN + 1];
    wire.rx.extend([full, too_long]);
    wire.tx_room = 2;
    mb.serve(&mut wire, Instant::ZERO);
    assert!(wire.tx.is_empty());
    assert_eq!(mb.oversized(), 2);
}
