//! The `nat` case, the ARP exchange every case starts with, and the steps
//! the cases are made of. Each step is one exchange (or one wait at the
//! backend) and one [`Check`]; a case stops at its first failed check.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use smoltcp::wire::TcpControl;

use super::backend::{TcpBackend, UdpBackend};
use super::expect::{towards_backend, ArpAnswer, Expected, FromBackend, ViaUserNetwork, Which};
use super::packet::{arp_request, made_up, Datagram, Frame, Host, Mac, Tcp, BACKEND, NODE};
use super::tap::{exchange, inject, watch_for, Exchanged, Outcome, Tap};
use super::Check;
use crate::Error;

/// The UDP client of the `nat` case, and the TCP one.
const UDP_CLIENT: Host = made_up(50);
const TCP_CLIENT: Host = made_up(51);
/// The services they use: the backend's sockets for them must be bound.
pub const UDP_SERVICE: u16 = 20_001;
pub const TCP_SERVICE: u16 = 20_002;
/// The client's initial sequence number, by which its SYN's translation is
/// recognised (the backend's is the user network's, read off the hub).
const CLIENT_ISN: u32 = 0x1111_0000;
const REQUEST: &[u8] = b"edgeos middlebox nat: a UDP request from 10.0.2.50";
const REPLY: &[u8] = b"edgeos middlebox nat: the backend's UDP reply";

/// The node's address and `port`.
pub fn node(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(NODE.ip, port)
}

fn at(host: Host, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(host.ip, port)
}

/// The backend asks who has the node's address; the node must answer from
/// its MAC. The request (from the user network's MAC, the backend's link)
/// is also how the node learns where to send the backend's frames. Whether
/// the case can go on.
pub fn node_answers_arp(
    tap: &mut Tap,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<bool, Error> {
    let request = arp_request(BACKEND, NODE.ip);
    let done = exchange(
        tap,
        &mut inject(&request),
        &mut ArpAnswer { asker: BACKEND },
        within,
        &mut |_| {},
    )?;
    let what = format!(
        "ARP: the node answers the backend's who-has {} (from {})",
        NODE.ip,
        Mac(BACKEND.mac)
    );
    Ok(record(checks, &what, &done, within, || {
        format!("{} is at {}", NODE.ip, Mac(NODE.mac))
    }))
}

/// The `nat` case: a UDP request reaches the backend's socket translated,
/// and its reply the client; a TCP SYN reaches the backend's listener, and
/// its SYN-ACK the client.
pub fn nat(
    tap: &mut Tap,
    udp: &mut UdpBackend,
    tcp: &TcpBackend,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<(), Error> {
    if nat_udp(tap, udp, within, checks)? {
        nat_tcp(tap, tcp, within, checks)?;
    }
    Ok(())
}

/// The port the node's configuration passes on to its UDP echo tenant
/// (port 7), the client's address kept.
pub const LOCAL_SERVICE: u16 = 20_007;
const LOCAL_REQUEST: &[u8] = b"edgeos middlebox local: to the node's own UDP echo, through the firewall";

/// The `local` case: a client's datagram to the passed-on port reaches the
/// node's UDP echo tenant, whose answer (which never reaches the wire: the
/// node steers it to the middlebox) leaves translated, as from that port.
pub fn local(tap: &mut Tap, within: Duration, checks: &mut Vec<Check>) -> Result<(), Error> {
    let request = Datagram::udp(at(UDP_CLIENT, 41_020), node(LOCAL_SERVICE), LOCAL_REQUEST);
    // The echo answers from port 7 with TTL 64; the middlebox translates
    // it back to the passed-on port and decrements the TTL.
    let mut expected = Expected(Frame {
        eth_src: NODE.mac,
        eth_dst: UDP_CLIENT.mac,
        datagram: Datagram { src: node(LOCAL_SERVICE), dst: at(UDP_CLIENT, 41_020), ttl: 63, ..request.clone() },
    });
    let frame = Frame::to_node(UDP_CLIENT, request.clone()).emit();
    let done = exchange(tap, &mut inject(&frame), &mut expected, within, &mut |_| {})?;
    let what = format!("the node's UDP echo answers through the middlebox: {request}");
    record(checks, &what, &done, within, || left_as(&expected));
    Ok(())
}

fn nat_udp(
    tap: &mut Tap,
    backend: &mut UdpBackend,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<bool, Error> {
    let request = Datagram::udp(at(UDP_CLIENT, 41_000), node(UDP_SERVICE), REQUEST);
    let step = Step::to_backend(
        "udp request leaves towards the backend",
        UDP_CLIENT,
        request,
    );
    if !passes(tap, within, checks, &step, &mut |_| {})? {
        return Ok(false);
    }
    let Some(peer) = received(
        backend,
        REQUEST,
        within,
        "udp request reaches the backend",
        checks,
    )?
    else {
        return Ok(false);
    };
    let mut awaited = ViaUserNetwork::new(
        FromBackend {
            from_port: UDP_SERVICE,
            to_port: 41_000,
            which: Which::Udp(REPLY.to_vec()),
        },
        UDP_CLIENT,
    );
    let backend = &*backend;
    let done = exchange(
        tap,
        &mut |_: &Tap| backend.send_to(REPLY, peer),
        &mut awaited,
        within,
        &mut |_| {},
    )?;
    let what = format!(
        "udp reply reaches the client: {} bytes from the backend to {peer}",
        REPLY.len()
    );
    Ok(record_via(checks, &what, &done, &awaited, within))
}

fn nat_tcp(
    tap: &mut Tap,
    backend: &TcpBackend,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<bool, Error> {
    let client = at(TCP_CLIENT, 42_000);
    let syn = Datagram::tcp(
        client,
        node(TCP_SERVICE),
        Tcp {
            control: TcpControl::Syn,
            seq: CLIENT_ISN,
            ack: None,
        },
    );
    let step = Step::to_backend("tcp SYN leaves towards the backend", TCP_CLIENT, syn);
    if !passes(tap, within, checks, &step, &mut |_| {})? {
        return Ok(false);
    }
    let what = format!(
        "tcp SYN reaches the backend: its listener ({}) accepts the connection the user network opens for it",
        backend.local_addr()
    );
    match backend.accepted_before(Instant::now() + within) {
        Some(peer) => checks.push(Check::passed(format!("{what}, from {peer}"))),
        None => {
            checks.push(Check::failed(format!(
                "{what}: nothing within {} ms",
                within.as_millis()
            )));
            return Ok(false);
        }
    }
    let mut awaited = ViaUserNetwork::new(
        FromBackend {
            from_port: TCP_SERVICE,
            to_port: client.port(),
            which: Which::SynAck(CLIENT_ISN + 1),
        },
        TCP_CLIENT,
    );
    let done = watch_for(tap, &mut awaited, within, &mut |_| {})?;
    let what = "tcp SYN-ACK reaches the client: the backend's, as the user network sent it";
    let passed = record_via(checks, what, &done, &awaited, within);
    // Nothing more of the conversation is required: the user network has
    // no connection for the SYN-ACK the node sent the (made-up) client,
    // and resets it in the client's name, which ends the flow and its FWP.
    // The client's own RST follows in case that one was lost; it is not
    // awaited, since it finds no flow once the user network's has passed.
    let rst = Datagram::tcp(
        client,
        node(TCP_SERVICE),
        Tcp {
            control: TcpControl::Rst,
            seq: CLIENT_ISN + 1,
            ack: None,
        },
    );
    tap.send(&Frame::to_node(TCP_CLIENT, rst).emit())?;
    Ok(passed)
}

/// One datagram a client sends, and the frame it must make the node send
/// towards the backend.
pub struct Step {
    what: String,
    sender: Host,
    sent: Datagram,
    expected: Expected,
}

impl Step {
    /// `client`'s datagram `sent`.
    pub fn to_backend(what: &str, client: Host, sent: Datagram) -> Step {
        let expected = towards_backend(&sent);
        Step {
            what: what.to_owned(),
            sender: client,
            sent,
            expected,
        }
    }
}

/// Sends the step's datagram and checks that its translation leaves the
/// node; whether it did.
pub fn passes(
    tap: &mut Tap,
    within: Duration,
    checks: &mut Vec<Check>,
    step: &Step,
    watch: &mut dyn FnMut(&[u8]),
) -> Result<bool, Error> {
    let frame = Frame::to_node(step.sender, step.sent.clone()).emit();
    let mut expected = step.expected.clone();
    let done = exchange(tap, &mut inject(&frame), &mut expected, within, watch)?;
    let what = format!("{}: {}", step.what, step.sent);
    Ok(record(checks, &what, &done, within, || left_as(&expected)))
}

/// Waits `within` for `payload` at `backend`, skipping copies of earlier
/// datagrams (a request sent again may have passed twice); records the
/// check `what`. The sender, if it came.
pub fn received(
    backend: &mut UdpBackend,
    payload: &[u8],
    within: Duration,
    what: &str,
    checks: &mut Vec<Check>,
) -> Result<Option<std::net::SocketAddr>, Error> {
    let what = format!("{what} ({}, a socket of this test)", backend.local_addr());
    let deadline = Instant::now() + within;
    let mut others = 0;
    while let Some(got) = backend.recv_before(deadline)? {
        if got.payload == payload {
            checks.push(Check::passed(format!(
                "{what}: the {} bytes arrived identical, from {} (the user network's socket)",
                payload.len(),
                got.from
            )));
            return Ok(Some(got.from));
        }
        others += 1;
    }
    checks.push(Check::failed(format!(
        "{what}: not within {} ms ({others} other datagrams came)",
        within.as_millis()
    )));
    Ok(None)
}

/// How a translation that matched looked.
fn left_as(expected: &Expected) -> String {
    let Expected(frame) = expected;
    format!(
        "left as {} from {} to {}, ttl {}, checksums valid, payload identical",
        frame.datagram,
        Mac(frame.eth_src),
        Mac(frame.eth_dst),
        frame.datagram.ttl
    )
}

/// Records the check of a [`ViaUserNetwork`] exchange, naming the
/// backend's datagram as the user network sent it; whether it passed.
fn record_via(
    checks: &mut Vec<Check>,
    what: &str,
    done: &Exchanged,
    awaited: &ViaUserNetwork,
    within: Duration,
) -> bool {
    let Some(expected) = &awaited.expected else {
        checks.push(Check::failed(format!(
            "{what}: the user network put no such datagram of the backend's on the hub within {} ms ({} sent)",
            within.as_millis(),
            done.sends
        )));
        return false;
    };
    let user_ttl = expected.datagram().ttl + 1;
    record(checks, what, done, within, || {
        format!(
            "{} (the user network's ttl {user_ttl} less one)",
            left_as(expected)
        )
    })
}

/// Records an exchange's check; whether it passed.
fn record(
    checks: &mut Vec<Check>,
    what: &str,
    done: &Exchanged,
    within: Duration,
    matched: impl FnOnce() -> String,
) -> bool {
    let ms = done.after.as_millis();
    let timing = match done.sends {
        0 => format!("after {ms} ms"),
        sends => format!("after {ms} ms, {sends} sent"),
    };
    checks.push(match &done.outcome {
        Outcome::Matched => Check::passed(format!("{what}: {} ({timing})", matched())),
        Outcome::Wrong(why) => Check::failed(format!(
            "{what}: translated wrongly: {} ({timing})",
            why.join("; ")
        )),
        Outcome::Missing => Check::failed(format!(
            "{what}: nothing like it in the capture within {} ms ({} sent)",
            within.as_millis(),
            done.sends
        )),
    });
    matches!(done.outcome, Outcome::Matched)
}

#[cfg(test)]
mod tests {
    use super::super::fake::{hub, Node, USER_TTL};
    use super::super::packet::Frame;
    use super::*;

    const WITHIN: Duration = Duration::from_millis(1_000);

    fn run(node: Node) -> Vec<Check> {
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut udp = UdpBackend::bind(any).unwrap();
        let tcp = TcpBackend::listen(any).unwrap();
        let (mut tap, _hub) = hub(
            node,
            &[(UDP_SERVICE, udp.local_addr())],
            &[(TCP_SERVICE, tcp.local_addr())],
        );
        let mut checks = Vec::new();
        if node_answers_arp(&mut tap, WITHIN, &mut checks).unwrap() {
            nat(&mut tap, &mut udp, &tcp, WITHIN, &mut checks).unwrap();
        }
        checks
    }

    #[test]
    fn nat_passes_against_a_correct_node() {
        let checks = run(Node::default());
        assert_eq!(checks.len(), 7, "{checks:#?}");
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
        let text = |i: usize| checks[i].text.as_str();
        assert!(text(1).starts_with(
            "udp request leaves towards the backend: udp 10.0.2.50:41000 -> 10.0.2.15:20001 (50 bytes): left as udp 10.0.2.15:41000 -> 10.0.2.100:20001 (50 bytes) from 52:54:00:12:34:56 to 52:55:0a:00:02:02, ttl 63"
        ), "{}", text(1));
        assert!(
            text(2).contains("the 50 bytes arrived identical"),
            "{}",
            text(2)
        );
        let reply_ttl = format!("ttl {}, checksums valid, payload identical (the user network's ttl {USER_TTL} less one)", USER_TTL - 1);
        assert!(text(3).contains("left as udp 10.0.2.15:20001 -> 10.0.2.50:41000 (45 bytes) from 52:54:00:12:34:56 to 52:54:00:00:02:32"), "{}", text(3));
        assert!(text(3).contains(&reply_ttl), "{}", text(3));
        assert!(text(5).contains("accepts the connection"), "{}", text(5));
        assert!(
            text(6).contains(&format!(
                "ack {} 10.0.2.15:20002 -> 10.0.2.51:42000",
                CLIENT_ISN + 1
            )),
            "{}",
            text(6)
        );
    }

    #[test]
    fn nat_stops_at_a_node_that_forgets_the_ttl() {
        let checks = run(Node {
            spoil: |frame: &mut Frame| frame.datagram.ttl += 1,
            ..Node::default()
        });
        assert_eq!(checks.len(), 2, "stops at the first failure: {checks:#?}");
        assert!(!checks[1].passed);
        assert!(
            checks[1]
                .text
                .contains("translated wrongly: ttl 64, expected 63"),
            "{}",
            checks[1].text
        );
    }

    #[test]
    fn nat_names_a_reply_sent_to_the_wrong_client_port() {
        let checks = run(Node {
            spoil: |frame: &mut Frame| {
                if frame.datagram.dst.port() == 41_000 {
                    frame.datagram.dst.set_port(41_001);
                }
            },
            ..Node::default()
        });
        let last = checks.last().unwrap();
        assert_eq!(checks.len(), 4, "{checks:#?}");
        assert!(
            last.text
                .contains("destination 10.0.2.50:41001, expected 10.0.2.50:41000"),
            "{}",
            last.text
        );
    }
}
