//! The `deny` case: datagrams the configuration refuses never leave the
//! node, while an allowed flow's do, and reach the backend.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use smoltcp::wire::TcpControl;

use super::backend::UdpBackend;
use super::cases::{node, passes, received, Step};
use super::expect::leaked;
use super::packet::{describe, made_up, Datagram, Frame, Tcp, BLOCKED_CLIENT};
use super::tap::Tap;
use super::Check;
use crate::Error;

/// How long the case keeps watching after the last allowed datagram
/// arrived. The node handles frames in order, but each denied frame went
/// to an FWP of its own, which may run after the allowed flow's FWP; a
/// second of wall time is many times what an FWP takes to handle a frame
/// even under QEMU's emulation.
pub const GRACE: Duration = Duration::from_secs(1);

/// The allowed flow's service port: the backend's socket for it must be
/// bound (else the user network answers each datagram with an ICMP port
/// unreachable to the node).
pub const SENTINEL_SERVICE: u16 = 20_003;

const DENIED_ISN: u32 = 0x3333_0000;

/// Datagrams the configuration refuses (from the blocked client; to a
/// service port past the allowed range, over UDP and TCP) are sent, then
/// an allowed datagram, which must leave the node and reach the backend;
/// once it has, the refused ones again (their FWPs now surely running) and
/// a second allowed one; then [`GRACE`]. No copy of a refused datagram may
/// leave the node meanwhile.
pub fn deny(
    tap: &mut Tap,
    backend: &mut UdpBackend,
    within: Duration,
    checks: &mut Vec<Check>,
) -> Result<(), Error> {
    let at = |last: u8, port: u16| SocketAddrV4::new(made_up(last).ip, port);
    let denied = [
        (
            BLOCKED_CLIENT,
            Datagram::udp(
                SocketAddrV4::new(BLOCKED_CLIENT.ip, 41_001),
                node(20_001),
                b"edgeos middlebox deny: from the blocked client",
            ),
        ),
        (
            made_up(52),
            Datagram::udp(
                at(52, 41_002),
                node(20_060),
                b"edgeos middlebox deny: to port 20060, past the allowed range",
            ),
        ),
        (
            made_up(53),
            Datagram::tcp(
                at(53, 42_001),
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
        let sentinel = Datagram::udp(at(54, 41_003), node(SENTINEL_SERVICE), payload.as_bytes());
        let what = format!(
            "round {round}: the allowed datagram sent after the refused ones leaves towards the backend"
        );
        let step = Step::to_backend(&what, sentinel_client, sentinel);
        if !passes(tap, within, checks, &step, &mut watch)? {
            return Ok(());
        }
        let what = format!("round {round}: the backend receives it");
        if received(backend, payload.as_bytes(), within, &what, checks)?.is_none() {
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

#[cfg(test)]
mod tests {
    use super::super::fake::{hub, Node};
    use super::*;

    const WITHIN: Duration = Duration::from_millis(1_000);

    fn run(node: Node) -> Vec<Check> {
        let mut backend = UdpBackend::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (mut tap, _hub) = hub(node, &[(SENTINEL_SERVICE, backend.local_addr())], &[]);
        let mut checks = Vec::new();
        deny(&mut tap, &mut backend, WITHIN, &mut checks).unwrap();
        checks
    }

    #[test]
    fn deny_passes_when_nothing_refused_leaves() {
        let checks = run(Node::default());
        assert_eq!(checks.len(), 5, "{checks:#?}");
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    }

    #[test]
    fn deny_names_what_leaked() {
        let checks = run(Node {
            leak: true,
            ..Node::default()
        });
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
