//! The `churn` case: many short TCP flows through the middlebox, each its
//! own FWP. Each flow sends a SYN and, once the translated SYN has left the
//! node towards the backend, a RST, and is served when the translated RST
//! has left too. [`IN_FLIGHT`] flows run at once, each on its own client
//! port (the clients 10.0.2.50-57 take turns), so no 5-tuple (nor its translation) is ever used twice in a run.
//!
//! Every flow must be served. A flow whose SYN or RST does not come through
//! within the deadline (after [`Resends::MAX_SENDS`] sends) is named in the
//! report; after [`MAX_UNSERVED`] such flows no new one starts, since a
//! node that serves none would otherwise hold the run for
//! `flows × within / IN_FLIGHT`.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use smoltcp::wire::TcpControl;

use super::expect::{towards_backend, Awaited, Expected, Verdict};
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
/// The first flow's client port; flow `i` uses `FIRST_PORT + i`.
const FIRST_PORT: u16 = 43_000;
/// Most flows in a run: every one has its own client port below 65536.
pub const MAX_FLOWS: u32 = 20_000;
const _: () = assert!(FIRST_PORT as u32 + MAX_FLOWS <= u16::MAX as u32);
/// The service port every flow connects to (allowed by the configuration).
const SERVICE_PORT: u16 = 20_004;
/// Flow `i`'s initial sequence number is `FIRST_ISN + i × ISN_STRIDE`:
/// its SYN (and so its translation) is recognised by it, and its RST's
/// (one more) can be no other flow's.
const FIRST_ISN: u32 = 0x4000_0000;
const ISN_STRIDE: u32 = 0x100;

/// Flow `index`'s client, SYN and RST.
fn flow_segments(index: u32) -> (Host, Datagram, Datagram) {
    let host = client(index);
    let from = SocketAddrV4::new(host.ip, FIRST_PORT + index as u16);
    let to = SocketAddrV4::new(NODE.ip, SERVICE_PORT);
    let isn = FIRST_ISN + index * ISN_STRIDE;
    let syn = Datagram::tcp(
        from,
        to,
        Tcp {
            control: TcpControl::Syn,
            seq: isn,
            ack: None,
        },
    );
    let rst = Datagram::tcp(
        from,
        to,
        Tcp {
            control: TcpControl::Rst,
            seq: isn + 1,
            ack: None,
        },
    );
    (host, syn, rst)
}

/// What a flow waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Syn,
    Rst,
}

/// A flow in flight.
struct Flow {
    index: u32,
    client: Host,
    rst: Datagram,
    stage: Stage,
    /// The frame of the current stage, and the translation it awaits.
    frame: Vec<u8>,
    awaited: Expected,
    resends: Resends,
}

/// What became of a flow after a frame or a tick.
enum Progress {
    Waiting,
    /// Its SYN came through after this long (from the first SYN sent).
    SynPassed(Duration),
    Served,
    Unserved(String),
}

impl Flow {
    fn start(tap: &Tap, index: u32, within: Duration) -> Result<Flow, Error> {
        let (client, syn, rst) = flow_segments(index);
        let frame = Frame::to_node(client, syn.clone()).emit();
        tap.send(&frame)?;
        let resends = Resends::after_first_send(Instant::now(), within);
        Ok(Flow {
            index,
            client,
            rst,
            stage: Stage::Syn,
            frame,
            awaited: towards_backend(&syn),
            resends,
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
            Stage::Syn => "SYN",
            Stage::Rst => "RST",
        }
    }

    /// Resends a frame that is due, or gives up on the flow.
    fn tick(&mut self, tap: &Tap, now: Instant) -> Result<Progress, Error> {
        if now >= self.resends.deadline() {
            return Ok(Progress::Unserved(format!(
                "{}: no translated {} within {} ms ({} sent)",
                self.name(),
                self.stage_name(),
                self.resends.within().as_millis(),
                self.resends.sends()
            )));
        }
        self.resends.resend_if_due(tap, &self.frame, now)?;
        Ok(Progress::Waiting)
    }

    /// Judges one captured frame; a translated SYN sends the RST.
    fn on_frame(&mut self, tap: &Tap, bytes: &[u8], within: Duration) -> Result<Progress, Error> {
        match self.awaited.judge(bytes) {
            Verdict::Unrelated => Ok(Progress::Waiting),
            Verdict::Wrong(why) => Ok(Progress::Unserved(format!(
                "{}: {} translated wrongly: {}",
                self.name(),
                self.stage_name(),
                why.join("; ")
            ))),
            Verdict::Matches if self.stage == Stage::Rst => Ok(Progress::Served),
            Verdict::Matches => {
                let took = self.resends.since_first(Instant::now());
                self.frame = Frame::to_node(self.client, self.rst.clone()).emit();
                self.awaited = towards_backend(&self.rst);
                self.stage = Stage::Rst;
                tap.send(&self.frame)?;
                self.resends = Resends::after_first_send(Instant::now(), within);
                Ok(Progress::SynPassed(took))
            }
        }
    }
}

/// Runs `flows` flows and reports them as one check.
pub fn run(tap: &mut Tap, flows: u32, within: Duration) -> Result<Check, Error> {
    let started = Instant::now();
    let mut in_flight: Vec<Flow> = Vec::with_capacity(IN_FLIGHT);
    let mut next = 0;
    let mut served = 0u32;
    let mut syn_times = Vec::with_capacity(flows as usize);
    let mut unserved: Vec<String> = Vec::new();
    let mut resent = 0u32;
    loop {
        while in_flight.len() < IN_FLIGHT && next < flows && unserved.len() < MAX_UNSERVED {
            in_flight.push(Flow::start(tap, next, within)?);
            next += 1;
        }
        let Some(wake) = in_flight.iter().map(|flow| flow.resends.wake()).min() else {
            break;
        };
        let captured = tap.next_before(wake)?;
        let now = Instant::now();
        let mut index = 0;
        while index < in_flight.len() {
            let flow = &mut in_flight[index];
            let sends_before = flow.resends.sends();
            let progress = match &captured {
                Some(bytes) => match flow.on_frame(tap, bytes, within)? {
                    Progress::Waiting => flow.tick(tap, now)?,
                    progress => progress,
                },
                None => flow.tick(tap, now)?,
            };
            resent += flow.resends.sends().saturating_sub(sends_before);
            match progress {
                Progress::Waiting => index += 1,
                Progress::SynPassed(took) => {
                    syn_times.push(took);
                    index += 1;
                }
                Progress::Served => {
                    served += 1;
                    in_flight.swap_remove(index);
                }
                Progress::Unserved(why) => {
                    unserved.push(why);
                    in_flight.swap_remove(index);
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let ms =
        |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
    let summary = format!(
        "{served} of {flows} TCP flows served (SYN and RST each translated to the backend) in {:.1} s, {:.1} flows/s; \
         SYN to translated SYN: median {} ms, p99 {} ms; {resent} frames resent",
        elapsed.as_secs_f64(),
        f64::from(served) / elapsed.as_secs_f64().max(1e-9),
        ms(crate::percentile(&syn_times, 50)),
        ms(crate::percentile(&syn_times, 99)),
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

    use super::super::packet::parse;
    use super::super::tap::tests::fake_qemu;
    use super::*;

    /// Translates every TCP segment to the backend, except those of the
    /// flows `drop` names (by client port).
    fn fake_node(bytes: &[u8], drop: &[u16]) -> Vec<Vec<u8>> {
        let Some(captured) = parse(bytes) else {
            return Vec::new();
        };
        if drop.contains(&captured.frame.datagram.src.port()) {
            return Vec::new();
        }
        vec![towards_backend(&captured.frame.datagram).0.emit()]
    }

    #[test]
    fn flows_never_share_a_five_tuple_or_a_sequence_number() {
        let mut tuples = HashSet::new();
        let mut seqs = HashSet::new();
        for index in [0, 1, 7, 8, 9, MAX_FLOWS / 2, MAX_FLOWS - 1] {
            let (client, syn, rst) = flow_segments(index);
            assert_eq!(syn.src.ip(), &client.ip);
            assert_eq!((syn.src, syn.dst), (rst.src, rst.dst));
            assert!(tuples.insert((syn.src, syn.dst)), "flow {index}");
            for d in [syn, rst] {
                let super::super::packet::Transport::Tcp(tcp) = d.transport else {
                    panic!("TCP")
                };
                assert!(seqs.insert(tcp.seq), "flow {index}");
            }
        }
        assert_eq!(
            flow_segments(MAX_FLOWS - 1).1.src.port(),
            FIRST_PORT + (MAX_FLOWS - 1) as u16
        );
    }

    #[test]
    fn every_flow_is_served_by_a_node_that_translates() {
        let (mut tap, _fake) = fake_qemu(|bytes| fake_node(bytes, &[]));
        let check = run(&mut tap, 50, Duration::from_millis(2_000)).unwrap();
        assert!(check.passed, "{}", check.text);
        assert!(
            check.text.starts_with("50 of 50 TCP flows served"),
            "{}",
            check.text
        );
    }

    #[test]
    fn unserved_flows_are_named() {
        let (mut tap, _fake) =
            fake_qemu(|bytes| fake_node(bytes, &[FIRST_PORT + 3, FIRST_PORT + 11]));
        let check = run(&mut tap, 20, Duration::from_millis(300)).unwrap();
        assert!(!check.passed);
        assert!(
            check.text.starts_with("18 of 20 TCP flows served"),
            "{}",
            check.text
        );
        for name in [
            "flow #3 (10.0.2.53:43003): no translated SYN",
            "flow #11 (10.0.2.53:43011): no translated SYN",
        ] {
            assert!(check.text.contains(name), "{name}: {}", check.text);
        }
        assert!(check.text.contains("(4 sent)"), "{}", check.text);
    }

    #[test]
    fn a_node_that_serves_nothing_stops_the_run_early() {
        let (mut tap, _fake) = fake_qemu(|_| Vec::new());
        let started = Instant::now();
        let check = run(&mut tap, 1_000, Duration::from_millis(100)).unwrap();
        assert!(!check.passed);
        assert!(check.text.contains("flows not started"), "{}", check.text);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
