//! The `nat` and `deny` cases, and the ARP exchange every case starts
//! with. Each step is one [`exchange`] and one [`Check`]; a case stops at
//! its first failed check.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use smoltcp::wire::TcpControl;

use super::expect::{leaked, towards_backend, towards_client, ArpAnswer, Expected};
use super::packet::{
    arp_request, describe, made_up, Datagram, Frame, Host, Mac, Tcp, BACKEND, BLOCKED_CLIENT, NODE,
};
use super::tap::{exchange, Exchanged, Outcome, Tap};
use super::Check;
use crate::Error;

/// How long the `deny` case keeps watching after the last allowed
/// datagram arrived. The node handles frames in order, but each denied
/// frame went to an FWP of its own, which may run after the allowed flow's
/// FWP; a second of wall time is many times what an FWP takes to handle a
/// frame even under QEMU's emulation.
pub const GRACE: Duration = Duration::from_secs(1);

/// The UDP client of the `nat` case, and the TCP one.
const UDP_CLIENT: Host = made_up(50);
const TCP_CLIENT: Host = made_up(51);
/// Each TCP segment's sequence number is the test's own, so that its
/// translation is recognised by it: the client's and the backend's
/// initial ones.
const CLIENT_ISN: u32 = 0x1111_0000;
const BACKEND_ISN: u32 = 0x2222_0000;
const DENIED_ISN: u32 = 0x3333_0000;

fn node(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(NODE.ip, port)
}

fn at(host: Host, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(host.ip, port)
}

/// The backend asks who has the node's address; the node must answer from
/// its MAC. Whether the case can go on.
pub fn node_answers_arp(
    tap: &mut Tap,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<bool, Error> {
    let done = exchange(
        tap,
        &arp_request(BACKEND, NODE.ip),
        &ArpAnswer { asker: BACKEND },
        within,
        &mut |_| {},
    )?;
    let what = format!("ARP: the node answers the backend's who-has {}", NODE.ip);
    Ok(record(checks, &what, &done, within, || {
        format!("{} is at {}", NODE.ip, Mac(NODE.mac))
    }))
}

/// The `nat` case: a UDP request and its reply, then a TCP SYN, the
/// SYN-ACK and the client's RST, each translated exactly.
pub fn nat(tap: &mut Tap, within: Duration, checks: &mut Vec<Check>) -> Result<(), Error> {
    let request = Datagram::udp(
        at(UDP_CLIENT, 41_000),
        node(20_001),
        b"edgeos middlebox nat: a UDP request from 10.0.2.50",
    );
    let reply = Datagram::udp(
        at(BACKEND, 20_001),
        node(41_000),
        b"edgeos middlebox nat: the backend's UDP reply",
    );
    let syn = Datagram::tcp(
        at(TCP_CLIENT, 42_000),
        node(20_002),
        Tcp {
            control: TcpControl::Syn,
            seq: CLIENT_ISN,
            ack: None,
        },
    );
    let syn_ack = Datagram::tcp(
        at(BACKEND, 20_002),
        node(42_000),
        Tcp {
            control: TcpControl::Syn,
            seq: BACKEND_ISN,
            ack: Some(CLIENT_ISN + 1),
        },
    );
    let rst = Datagram::tcp(
        at(TCP_CLIENT, 42_000),
        node(20_002),
        Tcp {
            control: TcpControl::Rst,
            seq: CLIENT_ISN + 1,
            ack: None,
        },
    );
    let steps = [
        Step::to_backend("udp request reaches the backend", UDP_CLIENT, request),
        Step::to_client("udp reply reaches the client", reply, UDP_CLIENT),
        Step::to_backend("tcp SYN reaches the backend", TCP_CLIENT, syn),
        Step::to_client("tcp SYN-ACK reaches the client", syn_ack, TCP_CLIENT),
        Step::to_backend("tcp RST reaches the backend", TCP_CLIENT, rst),
    ];
    for step in &steps {
        if !passes(tap, within, checks, step, &mut |_| {})? {
            break;
        }
    }
    Ok(())
}

/// The `deny` case: datagrams the configuration refuses (from the blocked
/// client; to a service port past the allowed range, over UDP and TCP) are
/// sent, then an allowed datagram; once that has passed, the refused ones
/// again (their FWPs now surely running) and a second allowed one; then
/// [`GRACE`]. No copy of a refused datagram may leave the node meanwhile.
pub fn deny(tap: &mut Tap, within: Duration, checks: &mut Vec<Check>) -> Result<(), Error> {
    let denied = [
        (
            BLOCKED_CLIENT,
            Datagram::udp(
                at(BLOCKED_CLIENT, 41_001),
                node(20_001),
                b"edgeos middlebox deny: from the blocked client",
            ),
        ),
        (
            made_up(52),
            Datagram::udp(
                at(made_up(52), 41_002),
                node(20_060),
                b"edgeos middlebox deny: to port 20060, past the allowed range",
            ),
        ),
        (
            made_up(53),
            Datagram::tcp(
                at(made_up(53), 42_001),
                node(20_070),
                Tcp {
                    control: TcpControl::Syn,
                    seq: DENIED_ISN,
                    ack: None,
                },
            ),
        ),
    ];
    let sentinel_client = made_up(54);
    let mut leaks: Vec<String> = Vec::new();
    let mut captured = 0u64;
    let mut watch = |bytes: &[u8]| {
        captured += 1;
        for (_, datagram) in &denied {
            if leaked(datagram, bytes) {
                leaks.push(format!("{datagram} passed as {}", describe(bytes)));
            }
        }
    };
    for round in 1..=2 {
        for (sender, datagram) in &denied {
            tap.send(&Frame::to_node(*sender, datagram.clone()).emit())?;
        }
        let payload = format!("edgeos middlebox deny: the allowed sentinel, round {round}");
        let sentinel = Datagram::udp(
            at(sentinel_client, 41_003),
            node(20_003),
            payload.as_bytes(),
        );
        let what = format!(
            "round {round}: the allowed datagram sent after the refused ones reaches the backend"
        );
        let step = Step::to_backend(&what, sentinel_client, sentinel);
        if !passes(tap, within, checks, &step, &mut watch)? {
            return Ok(());
        }
    }
    let grace_ends = Instant::now() + GRACE;
    while let Some(bytes) = tap.next_before(grace_ends)? {
        watch(&bytes);
    }
    let what = format!(
        "none of the {} refused datagrams (each sent twice) left the node, in {captured} captured frames up to {} ms after the last allowed one",
        denied.len(),
        GRACE.as_millis()
    );
    checks.push(if leaks.is_empty() {
        Check::passed(what)
    } else {
        Check::failed(format!("{what}: {}", leaks.join("; ")))
    });
    Ok(())
}

/// One datagram a host sends, and the frame it must make the node send.
struct Step {
    what: String,
    sender: Host,
    sent: Datagram,
    expected: Expected,
}

impl Step {
    /// A client's datagram, which must leave towards the backend.
    fn to_backend(what: &str, client: Host, sent: Datagram) -> Step {
        let expected = towards_backend(&sent);
        Step {
            what: what.to_owned(),
            sender: client,
            sent,
            expected,
        }
    }

    /// The backend's reply, which must leave towards `client`.
    fn to_client(what: &str, reply: Datagram, client: Host) -> Step {
        let expected = towards_client(&reply, client);
        Step {
            what: what.to_owned(),
            sender: BACKEND,
            sent: reply,
            expected,
        }
    }
}

/// Sends the step's datagram and checks that its translation leaves the
/// node; whether it did.
fn passes(
    tap: &mut Tap,
    within: Duration,
    checks: &mut Vec<Check>,
    step: &Step,
    watch: &mut dyn FnMut(&[u8]),
) -> Result<bool, Error> {
    let frame = Frame::to_node(step.sender, step.sent.clone()).emit();
    let done = exchange(tap, &frame, &step.expected, within, watch)?;
    let Expected(translated) = &step.expected;
    let what = format!("{}: {}", step.what, step.sent);
    Ok(record(checks, &what, &done, within, || {
        format!(
            "left as {} from {} to {}, ttl {}, checksums valid, payload identical",
            translated.datagram,
            Mac(translated.eth_src),
            Mac(translated.eth_dst),
            translated.datagram.ttl
        )
    }))
}

/// Records an exchange's check; whether it passed.
fn record(
    checks: &mut Vec<Check>,
    what: &str,
    done: &Exchanged,
    within: Duration,
    matched: impl FnOnce() -> String,
) -> bool {
    let timing = format!("after {} ms, {} sent", done.after.as_millis(), done.sends);
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
    use super::super::packet::{arp_reply, parse, Captured};
    use super::super::tap::tests::fake_qemu;
    use super::*;

    /// A node that does what `click/firewall-nat.click` says, written
    /// independently of `expect`: it answers ARP, and translates allowed
    /// flows both ways; `leak` makes it pass refused ones on too.
    fn fake_node(bytes: &[u8], leak: bool) -> Vec<Vec<u8>> {
        if bytes == arp_request(BACKEND, NODE.ip).as_slice() {
            return vec![arp_reply(NODE, BACKEND)];
        }
        let Some(Captured { frame, .. }) = parse(bytes) else {
            return Vec::new();
        };
        let mut d = frame.datagram;
        let (src, port) = (*d.src.ip(), d.dst.port());
        let allowed = src != BLOCKED_CLIENT.ip && (20_000..=20_049).contains(&port);
        let mut out = Frame {
            eth_src: NODE.mac,
            eth_dst: BACKEND.mac,
            datagram: d.clone(),
        };
        if src == BACKEND.ip {
            // A reply: back to the client whose port it is addressed to.
            let client = if d.dst.port() == 41_000 {
                UDP_CLIENT
            } else {
                TCP_CLIENT
            };
            out.eth_dst = client.mac;
            d.src.set_ip(NODE.ip);
            d.dst.set_ip(client.ip);
        } else if allowed || leak {
            d.src.set_ip(NODE.ip);
            d.dst.set_ip(BACKEND.ip);
        } else {
            return Vec::new();
        }
        d.ttl -= 1;
        out.datagram = d;
        vec![out.emit()]
    }

    const WITHIN: Duration = Duration::from_millis(1_000);

    #[test]
    fn nat_passes_against_a_correct_node() {
        let (mut tap, _fake) = fake_qemu(|bytes| fake_node(bytes, false));
        let mut checks = Vec::new();
        assert!(node_answers_arp(&mut tap, WITHIN, &mut checks).unwrap());
        nat(&mut tap, WITHIN, &mut checks).unwrap();
        assert_eq!(checks.len(), 6, "{checks:#?}");
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
        assert!(checks[1].text.starts_with(
            "udp request reaches the backend: udp 10.0.2.50:41000 -> 10.0.2.15:20001 (50 bytes): left as udp 10.0.2.15:41000 -> 10.0.2.100:20001 (50 bytes) from 52:54:00:12:34:56 to 52:54:00:00:02:64, ttl 63"
        ), "{}", checks[1].text);
    }

    #[test]
    fn nat_stops_at_a_node_that_forgets_the_ttl() {
        let (mut tap, _fake) = fake_qemu(|bytes| {
            fake_node(bytes, false)
                .into_iter()
                .map(|out| match parse(&out) {
                    Some(mut captured) => {
                        captured.frame.datagram.ttl += 1;
                        captured.frame.emit()
                    }
                    None => out,
                })
                .collect()
        });
        let mut checks = Vec::new();
        nat(&mut tap, WITHIN, &mut checks).unwrap();
        assert_eq!(checks.len(), 1, "stops at the first failure: {checks:#?}");
        assert!(!checks[0].passed);
        assert!(
            checks[0]
                .text
                .contains("translated wrongly: ttl 64, expected 63"),
            "{}",
            checks[0].text
        );
    }

    #[test]
    fn deny_passes_when_nothing_refused_leaves() {
        let (mut tap, _fake) = fake_qemu(|bytes| fake_node(bytes, false));
        let mut checks = Vec::new();
        deny(&mut tap, WITHIN, &mut checks).unwrap();
        assert_eq!(checks.len(), 3, "{checks:#?}");
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    }

    #[test]
    fn deny_names_what_leaked() {
        let (mut tap, _fake) = fake_qemu(|bytes| fake_node(bytes, true));
        let mut checks = Vec::new();
        deny(&mut tap, WITHIN, &mut checks).unwrap();
        let last = checks.last().unwrap();
        assert!(!last.passed);
        for leaked in [
            "10.0.2.66:41001",
            "10.0.2.52:41002 -> 10.0.2.15:20060",
            "tcp SYN seq 858980352 10.0.2.53:42001",
        ] {
            assert!(last.text.contains(leaked), "{leaked}: {}", last.text);
        }
    }
}
