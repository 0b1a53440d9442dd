//! The `churn` case: many short TCP flows through the middlebox, each its
//! own FWP. Each flow sends a SYN, which must leave the node translated
//! towards the backend (resent on the [`Resends`] schedule while it has
//! not); the user network then connects to the backend's listener and
//! puts its SYN-ACK on the hub, which must reach the client translated:
//! then the flow is served. The user network has no connection for that
//! SYN-ACK and resets it in the client's name, which ends the flow and its
//! FWP. [`IN_FLIGHT`] flows run at once, each on its own client port (the
//! clients 10.0.2.50-57 take turns), so no 5-tuple (nor its translation)
//! is ever used twice in a run.
//!
//! Every flow must be served. A flow whose SYN or SYN-ACK does not come
//! through within the deadline is named in the report; after
//! [`MAX_UNSERVED`] such flows no new one starts, since a node that serves
//! none would otherwise hold the run for `flows × within / IN_FLIGHT`.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use smoltcp::wire::TcpControl;

use super::backend::TcpBackend;
use super::expect::{
    towards_backend, Awaited, Expected, FromBackend, Verdict, ViaUserNetwork, Which,
};
use super::packet::{client, Datagram, Frame, Host, Tcp, NODE};
use super::tap::{Resends, Tap};
use super::Check;
use crate::Error;

/// Flows at once: enough that the node has work while a flow waits for its
/// FWP, few enough that the run stays a stream of short flows rather than
/// a burst.
pub const IN_FLIGHT: usize = 8;
/// Unserved flows after which no new flow starts.
pub const MAX_UNSERVED: usize = 16;
/// How long the report waits for the backend's accepting thread to catch
/// up with the flows served.
const ACCEPT_GRACE: Duration = Duration::from_secs(1);
/// The first flow's client port; flow `i` uses `FIRST_PORT + i`.
const FIRST_PORT: u16 = 43_000;
/// Most flows in a run: every one has its own client port below 65536.
pub const MAX_FLOWS: u32 = 20_000;
const _: () = assert!(FIRST_PORT as u32 + MAX_FLOWS <= u16::MAX as u32);
/// The service port every flow connects to (allowed by the configuration):
/// the backend's listener for it must be up.
pub const SERVICE: u16 = 20_004;
/// Flow `i`'s initial sequence number is `FIRST_ISN + i × ISN_STRIDE`: its
/// SYN (and so its translation) is recognised by it, and the backend's
/// SYN-ACK by its acknowledgement of it.
const FIRST_ISN: u32 = 0x4000_0000;
const ISN_STRIDE: u32 = 0x100;

/// Flow `index`'s client and SYN.
fn flow_syn(index: u32) -> (Host, Datagram) {
    let host = client(index);
    let syn = Datagram::tcp(
        SocketAddrV4::new(host.ip, FIRST_PORT + index as u16),
        SocketAddrV4::new(NODE.ip, SERVICE),
        Tcp {
            control: TcpControl::Syn,
            seq: FIRST_ISN + index * ISN_STRIDE,
            ack: None,
        },
    );
    (host, syn)
}

/// What a flow waits for.
enum Stage {
    /// Its SYN's translation; the SYN is resent meanwhile.
    Syn(Expected),
    /// The backend's SYN-ACK's translation, after the SYN's came this
    /// long after the first SYN; nothing is resent, and it has `within`
    /// from then (until the instant).
    SynAck(ViaUserNetwork, Duration, Instant),
}

/// A flow in flight.
struct Flow {
    index: u32,
    client: Host,
    syn: Vec<u8>,
    stage: Stage,
    first_sent: Instant,
    resends: Resends,
}

/// What became of a flow after a frame or a tick.
enum Progress {
    Waiting,
    /// Served: SYN to translated SYN, and to translated SYN-ACK.
    Served(Duration, Duration),
    Unserved(String),
}

impl Flow {
    fn start(tap: &Tap, index: u32, within: Duration) -> Result<Flow, Error> {
        let (client, syn) = flow_syn(index);
        let frame = Frame::to_node(client, syn.clone()).emit();
        tap.send(&frame)?;
        let now = Instant::now();
        Ok(Flow {
            index,
            client,
            syn: frame,
            stage: Stage::Syn(towards_backend(&syn)),
            first_sent: now,
            resends: Resends::after_first_send(now, within),
        })
    }

    fn name(&self) -> String {
        format!(
            "flow #{} ({}:{})",
            self.index,
            self.client.ip,
            FIRST_PORT + self.index as u16
        )
    }

    fn stage_name(&self) -> &'static str {
        match self.stage {
            Stage::Syn(_) => "SYN",
            Stage::SynAck(..) => "SYN-ACK",
        }
    }

    fn deadline(&self) -> Instant {
        match self.stage {
            Stage::Syn(_) => self.resends.deadline(),
            Stage::SynAck(_, _, deadline) => deadline,
        }
    }

    /// When it next needs a tick.
    fn wake(&self) -> Instant {
        match self.stage {
            Stage::Syn(_) => self.resends.wake(),
            Stage::SynAck(_, _, deadline) => deadline,
        }
    }

    /// Resends a SYN that is due, or gives up on the flow.
    fn tick(&mut self, tap: &Tap, now: Instant, within: Duration) -> Result<Progress, Error> {
        if now >= self.deadline() {
            let seen = match &self.stage {
                Stage::SynAck(awaited, ..) if awaited.expected.is_none() => {
                    " (the user network put no SYN-ACK of the backend's on the hub)"
                }
                _ => "",
            };
            return Ok(Progress::Unserved(format!(
                "{}: no translated {} within {} ms{seen} ({} SYNs sent)",
                self.name(),
                self.stage_name(),
                within.as_millis(),
                self.resends.sends()
            )));
        }
        if let Stage::Syn(_) = self.stage {
            self.resends.resend_if_due(now, || tap.send(&self.syn))?;
        }
        Ok(Progress::Waiting)
    }

    /// Judges one captured frame.
    fn on_frame(&mut self, bytes: &[u8], within: Duration) -> Progress {
        let verdict = match &mut self.stage {
            Stage::Syn(expected) => expected.judge(bytes),
            Stage::SynAck(awaited, ..) => awaited.judge(bytes),
        };
        match (verdict, &self.stage) {
            (Verdict::Unrelated, _) => Progress::Waiting,
            (Verdict::Wrong(why), _) => Progress::Unserved(format!(
                "{}: {} translated wrongly: {}",
                self.name(),
                self.stage_name(),
                why.join("; ")
            )),
            (Verdict::Matches, Stage::Syn(_)) => {
                let now = Instant::now();
                let mut awaited = ViaUserNetwork::new(
                    FromBackend {
                        from_port: SERVICE,
                        to_port: FIRST_PORT + self.index as u16,
                        which: Which::SynAck(FIRST_ISN + self.index * ISN_STRIDE + 1),
                    },
                    self.client,
                );
                awaited.eth_dst_checked = false;
                self.stage = Stage::SynAck(awaited, now - self.first_sent, now + within);
                Progress::Waiting
            }
            (Verdict::Matches, Stage::SynAck(_, syn, _)) => {
                Progress::Served(*syn, self.first_sent.elapsed())
            }
        }
    }
}

/// Runs `flows` flows and reports them as one check.
pub fn run(
    tap: &mut Tap,
    backend: &TcpBackend,
    flows: u32,
    within: Duration,
) -> Result<Check, Error> {
    let started = Instant::now();
    let mut in_flight: Vec<Flow> = Vec::with_capacity(IN_FLIGHT);
    let mut next = 0;
    let mut served = 0u32;
    let mut syn_times = Vec::with_capacity(flows as usize);
    let mut syn_ack_times = Vec::with_capacity(flows as usize);
    let mut unserved: Vec<String> = Vec::new();
    let mut syns_sent = 0u32;
    loop {
        while in_flight.len() < IN_FLIGHT && next < flows && unserved.len() < MAX_UNSERVED {
            in_flight.push(Flow::start(tap, next, within)?);
            next += 1;
        }
        let Some(wake) = in_flight.iter().map(Flow::wake).min() else {
            break;
        };
        let captured = tap.next_before(wake)?;
        let now = Instant::now();
        let mut index = 0;
        while index < in_flight.len() {
            let flow = &mut in_flight[index];
            let progress = match &captured {
                Some(bytes) => match flow.on_frame(bytes, within) {
                    Progress::Waiting => flow.tick(tap, now, within)?,
                    progress => progress,
                },
                None => flow.tick(tap, now, within)?,
            };
            match progress {
                Progress::Waiting => index += 1,
                Progress::Served(syn, syn_ack) => {
                    syn_times.push(syn);
                    syn_ack_times.push(syn_ack);
                    served += 1;
                    syns_sent += in_flight.swap_remove(index).resends.sends();
                }
                Progress::Unserved(why) => {
                    unserved.push(why);
                    syns_sent += in_flight.swap_remove(index).resends.sends();
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let ms =
        |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
    let summary = format!(
        "{served} of {flows} TCP flows served (SYN translated to the backend, the backend's SYN-ACK to the client) in {:.1} s, \
         {:.1} flows/s; SYN to translated SYN: median {} ms, p99 {} ms; to translated SYN-ACK: median {} ms, p99 {} ms; \
         {} SYNs resent; the backend accepted {} connections",
        elapsed.as_secs_f64(),
        f64::from(served) / elapsed.as_secs_f64().max(1e-9),
        ms(crate::percentile(&syn_times, 50)),
        ms(crate::percentile(&syn_times, 99)),
        ms(crate::percentile(&syn_ack_times, 50)),
        ms(crate::percentile(&syn_ack_times, 99)),
        syns_sent.saturating_sub(next),
        backend.accepted_by(served as usize, Instant::now() + ACCEPT_GRACE),
    );
    if served == flows {
        return Ok(Check::passed(summary));
    }
    let not_started = flows - next;
    let mut text = format!("{summary}; not served: {}", unserved.join("; "));
    if not_started > 0 {
        text += &format!("; {not_started} flows not started (a run stops starting flows after {MAX_UNSERVED} unserved)");
    }
    Ok(Check::failed(text))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::fake::{hub, Node};
    use super::super::packet::Transport;
    use super::*;

    fn churn(node: Node, flows: u32, within: Duration) -> Check {
        let backend = TcpBackend::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let (mut tap, _hub) = hub(node, &[], &[(SERVICE, backend.local_addr())]);
        run(&mut tap, &backend, flows, within).unwrap()
    }

    #[test]
    fn flows_never_share_a_five_tuple_or_a_sequence_number() {
        let mut tuples = HashSet::new();
        let mut seqs = HashSet::new();
        for index in [0, 1, 7, 8, 9, MAX_FLOWS / 2, MAX_FLOWS - 1] {
            let (client, syn) = flow_syn(index);
            assert_eq!(syn.src.ip(), &client.ip);
            assert!(tuples.insert((syn.src, syn.dst)), "flow {index}");
            let Transport::Tcp(tcp) = syn.transport else {
                panic!("TCP")
            };
            // Its SYN's, and the one the backend's SYN-ACK acknowledges.
            assert!(
                seqs.insert(tcp.seq) && seqs.insert(tcp.seq + 1),
                "flow {index}"
            );
        }
        assert_eq!(
            flow_syn(MAX_FLOWS - 1).1.src.port(),
            FIRST_PORT + (MAX_FLOWS - 1) as u16
        );
    }

    #[test]
    fn every_flow_is_served_by_a_node_that_translates() {
        let check = churn(Node::default(), 50, Duration::from_millis(2_000));
        assert!(check.passed, "{}", check.text);
        assert!(
            check.text.starts_with("50 of 50 TCP flows served"),
            "{}",
            check.text
        );
        assert!(
            check
                .text
                .ends_with("0 SYNs resent; the backend accepted 50 connections"),
            "{}",
            check.text
        );
    }

    #[test]
    fn unserved_flows_are_named() {
        let node = Node {
            drop_client_ports: vec![FIRST_PORT + 3, FIRST_PORT + 11],
            ..Node::default()
        };
        let check = churn(node, 20, Duration::from_millis(300));
        assert!(!check.passed);
        assert!(
            check.text.starts_with("18 of 20 TCP flows served"),
            "{}",
            check.text
        );
        for name in [
            "flow #3 (10.0.2.53:43003): no translated SYN within 300 ms (4 SYNs sent)",
            "flow #11 (10.0.2.53:43011): no translated SYN",
        ] {
            assert!(check.text.contains(name), "{name}: {}", check.text);
        }
    }

    #[test]
    fn a_wrong_syn_ack_is_named() {
        let node = Node {
            spoil: |frame| {
                if let Transport::Tcp(tcp) = &mut frame.datagram.transport {
                    if tcp.ack.is_some() && tcp.control == TcpControl::Syn {
                        tcp.ack = tcp.ack.map(|ack| ack + 1);
                    }
                }
            },
            ..Node::default()
        };
        let check = churn(node, 1, Duration::from_millis(500));
        assert!(!check.passed);
        assert!(
            check
                .text
                .contains("flow #0 (10.0.2.50:43000): SYN-ACK translated wrongly: tcp header"),
            "{}",
            check.text
        );
    }

    #[test]
    fn a_node_that_serves_nothing_stops_the_run_early() {
        let node = Node {
            drop_client_ports: (FIRST_PORT..FIRST_PORT + 1_000).collect(),
            ..Node::default()
        };
        let started = Instant::now();
        let check = churn(node, 1_000, Duration::from_millis(100));
        assert!(!check.passed);
        assert!(check.text.contains("flows not started"), "{}", check.text);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
