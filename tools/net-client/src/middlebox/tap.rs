//! The client's end of QEMU's socket netdev, and the one exchange every
//! check is made of: cause a frame (inject one, or have the backend send),
//! causing it again while unanswered, until the frame it should make the
//! node send shows up in the capture.
//!
//! QEMU (`-netdev socket,udp=CAPTURE,localaddr=INJECT` on the guest NIC's
//! hub) reads every datagram sent to INJECT as one frame onto the hub, and
//! sends every frame another hub port puts on it (the guest NIC's, and the
//! user network's) to CAPTURE as one datagram. One socket, bound to
//! CAPTURE and connected to INJECT, is both ends: the kernel then drops
//! datagrams from anyone but QEMU, and reports QEMU's absence as a
//! refusal.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use super::expect::{Awaited, Verdict};
use super::packet::{describe, is_played, parse};
use crate::target::Loopback;
use crate::udp::{self, Recv};
use crate::Error;

/// The socket on QEMU's socket netdev.
pub struct Tap {
    socket: UdpSocket,
    inject: Loopback,
    buf: Vec<u8>,
    impostors: Impostors,
}

/// Captured frames sent in the name of a client the test plays, by
/// someone else on the hub. QEMU's user network is one: it answers a
/// translated SYN-ACK the node sends a client with a RST in that client's
/// name (it has no connection for it), which ends the flow. The node
/// cannot tell such a frame from the client's, so it explains a failure
/// that follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impostors {
    /// How many were captured.
    pub count: u64,
    /// The first few, described.
    pub first: Vec<String>,
}

impl Impostors {
    /// How many are described.
    pub const SHOWN: usize = 3;

    fn note(&mut self, bytes: &[u8]) {
        let Some(captured) = parse(bytes) else { return };
        if !is_played(*captured.frame.datagram.src.ip()) {
            return;
        }
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(describe(bytes));
        }
    }
}

impl Tap {
    /// Binds `capture` and connects to `inject`.
    pub fn open(inject: Loopback, capture: Loopback) -> Result<Tap, Error> {
        let socket = udp::connect_from(capture.addr(), inject)?;
        Ok(Tap {
            socket,
            inject,
            buf: vec![0; crate::MAX_DATAGRAM + 1],
            impostors: Impostors::default(),
        })
    }

    /// Puts one frame onto the hub.
    pub fn send(&self, frame: &[u8]) -> Result<(), Error> {
        match udp::send(&self.socket, frame)? {
            None => Ok(()),
            Some(_) => Err(self.refused()),
        }
    }

    /// The next captured frame, or `None` once `deadline` has passed.
    pub fn next_before(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, Error> {
        match udp::recv_before(&self.socket, &mut self.buf, deadline)? {
            Recv::Data(n) => {
                let bytes = self.buf[..n].to_vec();
                self.impostors.note(&bytes);
                Ok(Some(bytes))
            }
            Recv::TimedOut => Ok(None),
            Recv::Refused => Err(self.refused()),
        }
    }

    /// What was captured in the name of played hosts so far.
    pub fn impostors(&self) -> &Impostors {
        &self.impostors
    }

    fn refused(&self) -> Error {
        Error::io(
            format!(
                "reach QEMU's socket netdev at {0} (is QEMU running, with `-netdev socket,udp=...,localaddr={0}`?)",
                self.inject
            ),
            std::io::ErrorKind::ConnectionRefused.into(),
        )
    }
}

/// When a frame is sent again while what it should cause has not been
/// seen: after an eighth of the deadline, then after twice as long each
/// time (at 0, 1/8, 3/8 and 7/8 of it), as a client's retransmission timer
/// backs off. The node may legitimately miss a first frame, one that came
/// while the FWP for its flow was still being restored.
#[derive(Debug, Clone, Copy)]
pub struct Resends {
    first: Instant,
    within: Duration,
    sends: u32,
}

impl Resends {
    /// Sends of one frame, the first included.
    pub const MAX_SENDS: u32 = 4;

    /// The schedule of a frame first sent at `first`, awaited `within`.
    pub fn after_first_send(first: Instant, within: Duration) -> Resends {
        Resends {
            first,
            within,
            sends: 1,
        }
    }

    /// When waiting for this frame's effect ends.
    pub fn deadline(&self) -> Instant {
        self.first + self.within
    }

    /// When the frame is due to be sent again, if it is.
    pub fn next_send(&self) -> Option<Instant> {
        (self.sends < Self::MAX_SENDS)
            .then(|| self.first + self.within * ((1 << self.sends) - 1) / 8)
    }

    /// When to wake up next: the next send or the deadline.
    pub fn wake(&self) -> Instant {
        self.next_send().unwrap_or(self.deadline())
    }

    /// Sends the frame again, by `send`, if it is due; whether it was.
    pub fn resend_if_due(
        &mut self,
        now: Instant,
        send: impl FnOnce() -> Result<(), Error>,
    ) -> Result<bool, Error> {
        match self.next_send() {
            Some(due) if now >= due => {
                send()?;
                self.sends += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Sends so far.
    pub fn sends(&self) -> u32 {
        self.sends
    }

    /// Time since the first send.
    pub fn since_first(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.first)
    }
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The awaited frame arrived as required.
    Matched,
    /// A copy of it arrived with these fields wrong.
    Wrong(Vec<String>),
    /// Nothing like it arrived in time.
    Missing,
}

/// An exchange's outcome, with its sends and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged {
    /// How it ended.
    pub outcome: Outcome,
    /// Times the frame was sent.
    pub sends: u32,
    /// From the first send to the end.
    pub after: Duration,
}

/// What makes the node send the awaited frame: called once at the start
/// and again on the [`Resends`] schedule.
pub type Cause<'a> = &'a mut dyn FnMut(&Tap) -> Result<(), Error>;

/// A [`Cause`] that injects `frame`.
pub fn inject(frame: &[u8]) -> impl FnMut(&Tap) -> Result<(), Error> + '_ {
    move |tap: &Tap| tap.send(frame)
}

/// Causes the awaited frame and waits `within` for it in the capture,
/// causing it again on the [`Resends`] schedule; every captured frame is
/// shown to `watch` first (a check that something else never passes).
/// Unrelated frames are ignored; the first copy of the awaited frame ends
/// the exchange.
pub fn exchange(
    tap: &mut Tap,
    cause: Cause<'_>,
    awaited: &mut impl Awaited,
    within: Duration,
    watch: &mut dyn FnMut(&[u8]),
) -> Result<Exchanged, Error> {
    cause(tap)?;
    let resends = Resends::after_first_send(Instant::now(), within);
    wait(tap, Some(cause), resends, awaited, watch)
}

/// Waits `within` for `awaited` in the capture without causing anything:
/// for a frame that follows from one already seen (the backend's answer
/// to a request that has reached it).
pub fn watch_for(
    tap: &mut Tap,
    awaited: &mut impl Awaited,
    within: Duration,
    watch: &mut dyn FnMut(&[u8]),
) -> Result<Exchanged, Error> {
    let mut resends = Resends::after_first_send(Instant::now(), within);
    resends.sends = 0;
    wait(tap, None, resends, awaited, watch)
}

fn wait(
    tap: &mut Tap,
    mut cause: Option<Cause<'_>>,
    mut resends: Resends,
    awaited: &mut impl Awaited,
    watch: &mut dyn FnMut(&[u8]),
) -> Result<Exchanged, Error> {
    loop {
        let now = Instant::now();
        let outcome = if now >= resends.deadline() {
            Some(Outcome::Missing)
        } else {
            let wake = match cause.as_mut() {
                Some(cause) => {
                    resends.resend_if_due(now, || cause(tap))?;
                    resends.wake()
                }
                None => resends.deadline(),
            };
            match tap.next_before(wake)? {
                Some(bytes) => {
                    watch(&bytes);
                    match awaited.judge(&bytes) {
                        Verdict::Unrelated => None,
                        Verdict::Matches => Some(Outcome::Matched),
                        Verdict::Wrong(why) => Some(Outcome::Wrong(why)),
                    }
                }
                None => None,
            }
        };
        if let Some(outcome) = outcome {
            return Ok(Exchanged {
                outcome,
                sends: resends.sends(),
                after: resends.since_first(Instant::now()),
            });
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::UdpSocket;
    use std::thread;

    use super::super::expect::ArpAnswer;
    use super::super::packet::{arp_reply, arp_request, made_up, Host, BACKEND, NODE};
    use super::*;

    /// A stand-in for QEMU's socket netdev, on a free loopback port: it
    /// reads what the tap injects and answers with what `answer` makes of
    /// each injected frame (nothing, or frames for the capture).
    /// A socket playing QEMU's socket netdev on a free loopback port
    /// (reads what the tap injects, with `timeout`; sends to its capture
    /// address), and the tap opened against it.
    pub fn netdev_and_tap(timeout: Duration) -> (UdpSocket, Tap) {
        let qemu = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tap_end = UdpSocket::bind("127.0.0.1:0").unwrap();
        let inject: Loopback = qemu.local_addr().unwrap().to_string().parse().unwrap();
        let capture: Loopback = tap_end.local_addr().unwrap().to_string().parse().unwrap();
        drop(tap_end);
        let tap = Tap::open(inject, capture).unwrap();
        qemu.connect(capture.addr()).unwrap();
        qemu.set_read_timeout(Some(timeout)).unwrap();
        (qemu, tap)
    }

    pub fn fake_qemu(
        mut answer: impl FnMut(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
    ) -> (Tap, thread::JoinHandle<()>) {
        let (qemu, tap) = netdev_and_tap(Duration::from_secs(5));
        let fake = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            // Ends when the tap has been quiet for a while (its test ended).
            while let Ok(n) = qemu.recv(&mut buf) {
                for frame in answer(&buf[..n]) {
                    let _ = qemu.send(&frame);
                }
            }
        });
        (tap, fake)
    }

    #[test]
    fn the_schedule_sends_four_times_within_the_deadline() {
        let start = Instant::now();
        let within = Duration::from_millis(800);
        let mut resends = Resends::after_first_send(start, within);
        assert_eq!(
            resends.next_send(),
            Some(start + Duration::from_millis(100))
        );
        let (tap, _fake) = fake_qemu(|_| Vec::new());
        let send = || tap.send(b"x");
        assert!(!resends
            .resend_if_due(start + Duration::from_millis(99), send)
            .unwrap());
        assert!(resends
            .resend_if_due(start + Duration::from_millis(100), send)
            .unwrap());
        assert_eq!(
            resends.next_send(),
            Some(start + Duration::from_millis(300))
        );
        assert!(resends
            .resend_if_due(start + Duration::from_millis(300), send)
            .unwrap());
        assert_eq!(
            resends.next_send(),
            Some(start + Duration::from_millis(700))
        );
        assert!(resends
            .resend_if_due(start + Duration::from_millis(799), send)
            .unwrap());
        assert_eq!(resends.sends(), Resends::MAX_SENDS);
        assert_eq!(resends.next_send(), None);
        assert_eq!(resends.wake(), start + within);
    }

    #[test]
    fn an_exchange_ignores_noise_and_outlasts_a_lost_first_frame() {
        let mut received = 0;
        let (mut tap, _fake) = fake_qemu(move |_| {
            received += 1;
            let noise = vec![arp_request(NODE, BACKEND.ip), vec![0u8; 5]];
            if received == 1 {
                noise
            } else {
                [noise, vec![arp_reply(NODE, BACKEND)]].concat()
            }
        });
        let mut watched = 0;
        let request = arp_request(BACKEND, NODE.ip);
        let done = exchange(
            &mut tap,
            &mut inject(&request),
            &mut ArpAnswer { asker: BACKEND },
            Duration::from_millis(800),
            &mut |_| watched += 1,
        )
        .unwrap();
        assert_eq!(done.outcome, Outcome::Matched);
        assert_eq!(done.sends, 2, "answered only once sent again");
        assert_eq!(watched, 5, "every captured frame is watched");
    }

    #[test]
    fn an_exchange_reports_a_wrong_copy_or_none() {
        let impostor = Host {
            mac: made_up(77).mac,
            ..NODE
        };
        let (mut tap, _fake) = fake_qemu(move |_| vec![arp_reply(impostor, BACKEND)]);
        let request = arp_request(BACKEND, NODE.ip);
        let done = exchange(
            &mut tap,
            &mut inject(&request),
            &mut ArpAnswer { asker: BACKEND },
            Duration::from_millis(800),
            &mut |_| {},
        )
        .unwrap();
        assert!(
            matches!(done.outcome, Outcome::Wrong(ref why) if why.len() == 2),
            "{done:?}"
        );

        let (mut tap, _fake) = fake_qemu(|_| Vec::new());
        let started = Instant::now();
        let done = exchange(
            &mut tap,
            &mut inject(&request),
            &mut ArpAnswer { asker: BACKEND },
            Duration::from_millis(200),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            (done.outcome, done.sends),
            (Outcome::Missing, Resends::MAX_SENDS)
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn watching_sends_nothing_and_reports_no_sends() {
        let (mut tap, _fake) = fake_qemu(|_| Vec::new());
        let done = watch_for(
            &mut tap,
            &mut ArpAnswer { asker: BACKEND },
            Duration::from_millis(100),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((done.outcome, done.sends), (Outcome::Missing, 0));
    }

    #[test]
    fn a_missing_qemu_is_a_local_error_naming_it() {
        let free_port = || -> Loopback {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap().to_string().parse().unwrap()
        };
        let mut tap = Tap::open(free_port(), free_port()).unwrap();
        tap.send(b"a frame for nobody").unwrap();
        // Loopback answers with ICMP port unreachable, which the connected
        // socket reports on its next call.
        let err = tap
            .next_before(Instant::now() + Duration::from_secs(2))
            .unwrap_err();
        assert!(err.to_string().contains("is QEMU running"), "{err}");
    }

    #[test]
    fn frames_in_a_played_hosts_name_are_noted() {
        use super::super::packet::{Datagram, Frame, Tcp};
        use smoltcp::wire::TcpControl;
        use std::net::SocketAddrV4;
        // QEMU's user network refusing, as the client, a SYN-ACK the node
        // sent it.
        let reset = Frame {
            eth_src: crate::frames::HOST_MAC,
            eth_dst: NODE.mac,
            datagram: Datagram::tcp(
                SocketAddrV4::new(made_up(51).ip, 42_000),
                SocketAddrV4::new(NODE.ip, 20_002),
                Tcp {
                    control: TcpControl::Rst,
                    seq: 7,
                    ack: None,
                },
            ),
        };
        let from_node = Frame {
            eth_src: NODE.mac,
            eth_dst: BACKEND.mac,
            datagram: Datagram::udp(
                SocketAddrV4::new(NODE.ip, 41_000),
                SocketAddrV4::new(BACKEND.ip, 20_001),
                b"translated",
            ),
        };
        let (reset, from_node) = (reset.emit(), from_node.emit());
        let (mut tap, _fake) =
            fake_qemu(move |_| vec![from_node.clone(), reset.clone(), arp_reply(NODE, BACKEND)]);
        let request = arp_request(BACKEND, NODE.ip);
        let done = exchange(
            &mut tap,
            &mut inject(&request),
            &mut ArpAnswer { asker: BACKEND },
            Duration::from_millis(800),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(done.outcome, Outcome::Matched);
        assert_eq!(
            tap.impostors(),
            &Impostors {
                count: 1,
                first: vec!["tcp RST seq 7 10.0.2.51:42000 -> 10.0.2.15:20002 from 52:55:0a:00:02:02 to 52:54:00:12:34:56".into()],
            }
        );
    }
}
