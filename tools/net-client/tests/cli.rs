//! Runs the built `net-client` against small servers this test starts on
//! 127.0.0.1 with OS-assigned ports: faithful echoes, an echo that corrupts
//! one byte, one that drops everything, a stats service, a socket netdev
//! stand-in. Server threads end on their own after [`SERVER_LIFETIME`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use edgeos_net_client::frames::{Malformed, GUEST_MAC};
use smoltcp::wire::EthernetFrame;

const BIN: &str = env!("CARGO_BIN_EXE_net-client");
/// How long a server thread waits for traffic before it gives up.
const SERVER_LIFETIME: Duration = Duration::from_secs(30);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

fn net_client(args: &[&str]) -> Run {
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(BIN).args(args).output().unwrap();
    Run {
        code: status.code().expect("net-client killed by a signal"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        elapsed: started.elapsed(),
    }
}

/// How a fake UDP service treats each datagram.
#[derive(Clone, Copy)]
enum UdpMode {
    Echo,
    /// Echoes, but flips one byte in the third datagram.
    CorruptOne,
    /// Never answers.
    DropAll,
    /// Ignores the first `n` datagrams, then echoes.
    DropFirst(usize),
}

fn udp_server(mode: UdpMode) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(SERVER_LIFETIME)).unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        let mut seen = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            seen += 1;
            let reply = &mut buf[..n];
            match mode {
                UdpMode::Echo => {}
                UdpMode::CorruptOne if seen == 3 => reply[n / 2] ^= 0x20,
                UdpMode::CorruptOne => {}
                UdpMode::DropAll => continue,
                UdpMode::DropFirst(k) if seen <= k => continue,
                UdpMode::DropFirst(_) => {}
            }
            let _ = socket.send_to(reply, from);
        }
    });
    addr
}

/// A TCP echo; with `corrupt_at`, the first connection's byte at that
/// offset comes back flipped.
fn tcp_server(corrupt_at: Option<usize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let corrupt = if index == 0 { corrupt_at } else { None };
            thread::spawn(move || echo_connection(stream, corrupt));
        }
    });
    addr
}

fn echo_connection(mut stream: TcpStream, corrupt_at: Option<usize>) {
    stream.set_read_timeout(Some(SERVER_LIFETIME)).unwrap();
    let mut buf = [0u8; 8192];
    let mut offset = 0;
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
        if let Some(at) = corrupt_at {
            if (offset..offset + n).contains(&at) {
                buf[at - offset] ^= 0x01;
            }
        }
        offset += n;
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// A TCP service that accepts connections and never writes to them.
fn tcp_mute_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
        }
    });
    addr
}

/// An address nothing listens on (bound once, then released).
fn closed_port_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn closed_port_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A stats service whose `rx` counts the queries it answered; `drops`
/// stays at 3.
fn stats_server() -> (SocketAddr, Arc<AtomicU64>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(SERVER_LIFETIME)).unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&queries);
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((_, from)) = socket.recv_from(&mut buf) {
            let rx = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let line = format!("rx={rx} drops=3 no_flow=1 t0.delivered={rx} t1.delivered=0\n");
            let _ = socket.send_to(line.as_bytes(), from);
        }
    });
    (addr, queries)
}

fn temp_file(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("net-client-{}-{name}-{n}", std::process::id()))
}

#[test]
fn udp_echo_every_byte_matches() {
    let addr = udp_server(UdpMode::Echo).to_string();
    let r = net_client(&["udp-echo", "--to", &addr, "--count", "50", "--size", "512"]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = r.stdout.lines().last().unwrap();
    assert!(
        line.starts_with("udp-echo: 50/50 replies, every byte matched, rtt median "),
        "{r:?}"
    );
    assert!(line.ends_with(" us") && line.contains(" us p99 "), "{r:?}");
}

#[test]
fn udp_echo_resends_datagrams_lost_at_the_start() {
    let addr = udp_server(UdpMode::DropFirst(2)).to_string();
    let r = net_client(&[
        "udp-echo",
        "--to",
        &addr,
        "--count",
        "5",
        "--size",
        "64",
        "--timeout-ms",
        "100",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("udp-echo: note: 2 resends"), "{r:?}");
    assert!(
        r.stdout
            .contains("udp-echo: 5/5 replies, every byte matched"),
        "{r:?}"
    );
}

#[test]
fn udp_echo_fails_on_one_corrupted_byte_and_says_where() {
    let addr = udp_server(UdpMode::CorruptOne).to_string();
    let r = net_client(&["udp-echo", "--to", &addr, "--count", "10", "--size", "100"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains(
            "udp-echo: datagram #2 (100 bytes): the reply differs: first difference at offset 50:"
        ),
        "{r:?}"
    );
    assert!(r.stdout.contains("1 of 100 common bytes differ"), "{r:?}");
    assert!(
        r.stdout
            .contains("udp-echo: FAILED: 10/10 replies, 1 differed from what was sent"),
        "{r:?}"
    );
}

#[test]
fn udp_echo_against_a_black_hole_fails_fast() {
    let addr = udp_server(UdpMode::DropAll).to_string();
    let r = net_client(&[
        "udp-echo",
        "--to",
        &addr,
        "--count",
        "50",
        "--size",
        "64",
        "--timeout-ms",
        "100",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("udp-echo: datagram #0 (64 bytes): sent 4 times, no reply within 100 ms"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("udp-echo: FAILED: 0/50 replies, stopped at datagram #0"),
        "{r:?}"
    );
    // Four attempts of 100 ms, not fifty datagrams' worth.
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn udp_echo_to_a_closed_port_says_nothing_listens() {
    let addr = closed_port_udp().to_string();
    let r = net_client(&["udp-echo", "--to", &addr, "--count", "3", "--size", "8"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("nothing listens there"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn tcp_echo_every_byte_of_every_connection_matches() {
    let addr = tcp_server(None).to_string();
    let r = net_client(&[
        "tcp-echo",
        "--to",
        &addr,
        "--connections",
        "4",
        "--bytes",
        "100000",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("tcp-echo: 4/4 connections echoed 100000 bytes each"),
        "{r:?}"
    );
    assert!(r.stdout.contains("every byte matched"), "{r:?}");
}

#[test]
fn tcp_echo_fails_on_one_corrupted_byte() {
    let addr = tcp_server(Some(1234)).to_string();
    let r = net_client(&[
        "tcp-echo",
        "--to",
        &addr,
        "--connections",
        "3",
        "--bytes",
        "5000",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("the echoed bytes differ: first difference at offset 1234: sent 0x"),
        "{r:?}"
    );
    assert!(r.stdout.contains("1 of 5000 common bytes differ"), "{r:?}");
    assert!(
        r.stdout
            .contains("tcp-echo: FAILED: 2/3 connections echoed all 5000 bytes unchanged"),
        "{r:?}"
    );
}

#[test]
fn tcp_echo_against_a_mute_server_times_out() {
    let addr = tcp_mute_server().to_string();
    let r = net_client(&[
        "tcp-echo",
        "--to",
        &addr,
        "--connections",
        "2",
        "--bytes",
        "1000",
        "--timeout-ms",
        "200",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("read: timed out with 0 of 1000 bytes back"),
        "{r:?}"
    );
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn tcp_echo_to_a_closed_port_fails_at_connect() {
    let addr = closed_port_tcp().to_string();
    let r = net_client(&[
        "tcp-echo",
        "--to",
        &addr,
        "--connections",
        "1",
        "--bytes",
        "10",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!("connect to {addr}")), "{r:?}");
}

#[test]
fn expect_silence_holds_for_a_black_hole_and_a_closed_port() {
    let udp = udp_server(UdpMode::DropAll).to_string();
    let r = net_client(&["expect-silence", "--udp-to", &udp, "--wait-ms", "200"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout.trim_end(),
        format!("expect-silence: udp {udp}: no reply within 200 ms")
    );
    assert!(
        r.elapsed >= Duration::from_millis(200),
        "it listened: {r:?}"
    );
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");

    let mute = tcp_mute_server().to_string();
    let r = net_client(&["expect-silence", "--tcp-to", &mute, "--wait-ms", "200"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("connected, but no data came back within 200 ms"),
        "{r:?}"
    );

    let closed = closed_port_tcp().to_string();
    let r = net_client(&["expect-silence", "--tcp-to", &closed, "--wait-ms", "200"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("the connect failed"), "{r:?}");
}

#[test]
fn expect_silence_fails_when_something_answers() {
    let udp = udp_server(UdpMode::Echo).to_string();
    let r = net_client(&["expect-silence", "--udp-to", &udp, "--wait-ms", "500"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "expect-silence: FAILED: udp {udp} answered within 500 ms with 39 bytes"
        )),
        "{r:?}"
    );
    let tcp = tcp_server(None).to_string();
    let r = net_client(&["expect-silence", "--tcp-to", &tcp, "--wait-ms", "500"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains(&format!("FAILED: tcp {tcp} answered")),
        "{r:?}"
    );
    // It did not wait the whole time once the answer came.
    assert!(r.elapsed < Duration::from_millis(500), "{r:?}");
}

#[test]
fn expect_silence_needs_exactly_one_target() {
    let r = net_client(&["expect-silence", "--wait-ms", "10"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = net_client(&[
        "expect-silence",
        "--udp-to",
        "127.0.0.1:9",
        "--tcp-to",
        "127.0.0.1:9",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn stats_prints_saves_and_checks_counters() {
    let (addr, queries) = stats_server();
    let addr = addr.to_string();
    let saved = temp_file("stats");
    let saved_arg = saved.to_str().unwrap();
    let r = net_client(&["stats", "--to", &addr, "--save", saved_arg]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = "rx=1 drops=3 no_flow=1 t0.delivered=1 t1.delivered=0";
    assert_eq!(r.stdout, format!("{line}\n"));
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        format!("{line}\n")
    );

    let r = net_client(&[
        "stats-check",
        "--to",
        &addr,
        "--since",
        saved_arg,
        "--rose",
        "rx",
        "--rose",
        "t0.delivered",
        "--same",
        "drops",
        "--same",
        "t1.delivered",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for expected in [
        "stats-check: ok   rose rx: 1 -> 2 (+1)",
        "stats-check: ok   rose t0.delivered: 1 -> 2 (+1)",
        "stats-check: ok   same drops: 3 -> 3 (unchanged)",
        "stats-check: ok   same t1.delivered: 0 -> 0 (unchanged)",
        "stats-check: 4/4 checks held",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?} in {r:?}");
    }

    let r = net_client(&[
        "stats-check",
        "--to",
        &addr,
        "--since",
        saved_arg,
        "--rose",
        "drops",
        "--same",
        "rx",
        "--rose",
        "absent",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("stats-check: FAIL rose drops: 3 -> 3 (unchanged)"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("stats-check: FAIL same rx: 1 -> 3 (+2)"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("stats-check: FAIL rose absent: missing from both lines"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("stats-check: FAILED: 3 of 3 checks did not hold"),
        "{r:?}"
    );
    assert_eq!(queries.load(Ordering::SeqCst), 3);
}

#[test]
fn stats_check_needs_a_check_and_a_readable_saved_line() {
    let (addr, _) = stats_server();
    let addr = addr.to_string();
    let r = net_client(&["stats-check", "--to", &addr, "--since", "/nonexistent"]);
    assert_eq!(r.code, 2, "no --rose or --same: {r:?}");
    let r = net_client(&[
        "stats-check",
        "--to",
        &addr,
        "--since",
        "/nonexistent/x",
        "--rose",
        "rx",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot read /nonexistent/x"), "{r:?}");
    let garbage = temp_file("garbage");
    std::fs::write(&garbage, "not a stats line\n").unwrap();
    let r = net_client(&[
        "stats-check",
        "--to",
        &addr,
        "--since",
        garbage.to_str().unwrap(),
        "--rose",
        "rx",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("does not hold a stats line"), "{r:?}");
}

#[test]
fn stats_from_a_silent_or_garbled_service_fails() {
    let silent = udp_server(UdpMode::DropAll).to_string();
    let r = net_client(&["stats", "--to", &silent, "--timeout-ms", "50"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("no reply from"), "{r:?}");
    assert!(r.stdout.contains("to 4 queries, 50 ms each"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
    // An echo answers "stats", which is not a key=value line.
    let echo = udp_server(UdpMode::Echo).to_string();
    let r = net_client(&["stats", "--to", &echo]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("the reply is not a stats line: \"stats\" is not a key=value pair"),
        "{r:?}"
    );
}

#[test]
fn inject_sends_every_kind_as_raw_frames() {
    let netdev = UdpSocket::bind("127.0.0.1:0").unwrap();
    netdev
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = netdev.local_addr().unwrap().to_string();
    let r = net_client(&[
        "inject",
        "--to",
        &addr,
        "--kind",
        "malformed",
        "--count",
        "26",
        "--interval-ms",
        "0",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("inject: truncated-ethernet: 2\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("inject: other-destination-ip: 2\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .ends_with(&format!("inject: sent 26 malformed frames to {addr}\n")),
        "{r:?}"
    );
    let mut buf = [0u8; 4096];
    for i in 0..26 {
        let n = netdev.recv(&mut buf).unwrap();
        let kind = Malformed::ALL[i % Malformed::ALL.len()];
        assert_eq!(
            &buf[..n],
            &kind.frame((i / 13) as u32)[..],
            "frame {i} ({kind})"
        );
        if kind != Malformed::TruncatedEthernet {
            assert_eq!(
                EthernetFrame::new_checked(&buf[..n]).unwrap().dst_addr(),
                GUEST_MAC
            );
        }
    }
}

#[test]
fn non_loopback_targets_are_refused_before_anything_is_sent() {
    for (args, bad) in [
        (
            vec![
                "udp-echo",
                "--to",
                "10.0.2.15:7",
                "--count",
                "1",
                "--size",
                "8",
            ],
            "10.0.2.15",
        ),
        (
            vec![
                "tcp-echo",
                "--to",
                "192.168.1.1:8",
                "--connections",
                "1",
                "--bytes",
                "1",
            ],
            "192.168.1.1",
        ),
        (
            vec!["expect-silence", "--udp-to", "[2001:db8::1]:7"],
            "2001:db8::1",
        ),
        (vec!["stats", "--to", "0.0.0.0:17777"], "0.0.0.0"),
        (
            vec![
                "inject",
                "--to",
                "10.0.2.2:19000",
                "--kind",
                "malformed",
                "--count",
                "1",
            ],
            "10.0.2.2",
        ),
        (
            vec!["middlebox", "--inject", "127.0.0.1:19000", "--capture", "10.0.2.2:19001", "--case", "nat"],
            "10.0.2.2",
        ),
    ] {
        let r = net_client(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains(&format!("{bad} is not a loopback address")),
            "{args:?}: {r:?}"
        );
        assert!(r.stderr.contains("127.0.0.0/8 or ::1"), "{r:?}");
    }
    let r = net_client(&[
        "udp-echo",
        "--to",
        "localhost:7",
        "--count",
        "1",
        "--size",
        "8",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("host names are not accepted"), "{r:?}");
}

#[test]
fn counts_sizes_and_timeouts_are_bounded() {
    for args in [
        vec![
            "udp-echo",
            "--to",
            "127.0.0.1:7",
            "--count",
            "0",
            "--size",
            "8",
        ],
        vec![
            "udp-echo",
            "--to",
            "127.0.0.1:7",
            "--count",
            "10001",
            "--size",
            "8",
        ],
        vec![
            "udp-echo",
            "--to",
            "127.0.0.1:7",
            "--count",
            "1",
            "--size",
            "3",
        ],
        vec![
            "udp-echo",
            "--to",
            "127.0.0.1:7",
            "--count",
            "1",
            "--size",
            "65508",
        ],
        vec![
            "udp-echo",
            "--to",
            "127.0.0.1:7",
            "--count",
            "1",
            "--size",
            "8",
            "--timeout-ms",
            "0",
        ],
        vec![
            "tcp-echo",
            "--to",
            "127.0.0.1:7",
            "--connections",
            "2049",
            "--bytes",
            "1",
        ],
        vec![
            "expect-silence",
            "--udp-to",
            "127.0.0.1:7",
            "--wait-ms",
            "60001",
        ],
        vec![
            "inject",
            "--to",
            "127.0.0.1:7",
            "--kind",
            "valid",
            "--count",
            "1",
        ],
        vec!["middlebox", "--inject", "127.0.0.1:7", "--capture", "127.0.0.1:8", "--case", "churn", "--flows", "0"],
        vec!["middlebox", "--inject", "127.0.0.1:7", "--capture", "127.0.0.1:8", "--case", "churn", "--flows", "20001"],
        vec!["middlebox", "--inject", "127.0.0.1:7", "--capture", "127.0.0.1:8", "--case", "nat", "--within-ms", "0"],
        vec!["middlebox", "--inject", "127.0.0.1:7", "--capture", "127.0.0.1:8", "--case", "open"],
    ] {
        let r = net_client(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
    }
}

/// A free loopback port, found by binding one and letting it go.
fn free_udp_port() -> String {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string()
}

#[test]
fn middlebox_against_a_silent_netdev_fails_at_the_arp_check() {
    let netdev = UdpSocket::bind("127.0.0.1:0").unwrap();
    netdev.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let inject = netdev.local_addr().unwrap().to_string();
    let capture = free_udp_port();
    let r = net_client(&["middlebox", "--inject", &inject, "--capture", &capture, "--case", "nat", "--within-ms", "400"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.starts_with(
            "middlebox nat: FAIL ARP: the node answers the backend's who-has 10.0.2.15 (from 52:55:0a:00:02:02): nothing like it in the capture within 400 ms (4 sent)\n"
        ),
        "{r:?}"
    );
    assert!(r.stdout.ends_with("middlebox nat: FAILED after 0 passing checks (a case stops at its first failure)\n"), "{r:?}");
    // The backend's ARP request, from the capture address, four times;
    // from the user network's MAC, the backend's link.
    let mut buf = [0u8; 2048];
    for _ in 0..4 {
        let (n, from) = netdev.recv_from(&mut buf).unwrap();
        assert_eq!(from.to_string(), capture);
        let eth = EthernetFrame::new_checked(&buf[..n]).unwrap();
        assert_eq!(eth.ethertype(), smoltcp::wire::EthernetProtocol::Arp);
        assert!(eth.dst_addr().is_broadcast());
        assert_eq!(eth.src_addr(), smoltcp::wire::EthernetAddress([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]));
    }
}

#[test]
fn middlebox_without_qemu_says_so() {
    let (inject, capture) = (free_udp_port(), free_udp_port());
    let r = net_client(&["middlebox", "--inject", &inject, "--capture", &capture, "--case", "deny", "--within-ms", "2000"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&format!("cannot reach QEMU's socket netdev at {inject} (is QEMU running")), "{r:?}");
}

#[test]
fn memcache_load_runs_one_op_or_the_matrix() {
    let to = closed_port_tcp().to_string();
    for args in [
        &["memcache-load", "--to", &to][..],
        &["memcache-load", "--to", &to, "--op", "get", "--matrix"],
        &["memcache-load", "--to", &to, "--op", "get", "--sizes", "100"],
        &["memcache-load", "--to", &to, "--matrix", "--connections", "4"],
        &["memcache-load", "--to", &to, "--matrix", "--sizes", "1048577"],
        &["memcache-load", "--to", &to, "--matrix", "--port-span"],
        &["memcache-load", "--to", &to, "--matrix", "--csv"],
        &["memcache-load", "--to", "127.0.0.1:65535", "--op", "get", "--connections", "2", "--port-span"],
    ] {
        let r = net_client(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
    }
}

#[test]
fn memcache_load_matrix_prints_a_csv_line_per_cell_and_fails_on_errors() {
    let to = closed_port_tcp().to_string();
    let r = net_client(&[
        "memcache-load", "--to", &to, "--matrix", "--sizes", "10,20", "--connection-counts", "1,2", "--requests", "5",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "op,value_bytes,connections,requests,errors,req_per_s,p50_us,p99_us,first_error", "{r:?}");
    assert_eq!(lines.len(), 1 + 8, "{r:?}");
    assert!(lines[1].starts_with("get,10,1,5,5,0.0,0,0,\"connection 0: connect: "), "{r:?}");
    assert!(lines[8].starts_with("set,20,2,5,5,"), "{r:?}");
}

#[test]
fn memcache_load_csv_prints_a_header_and_the_run_and_its_line_on_stderr() {
    let to = closed_port_tcp().to_string();
    let r = net_client(&["memcache-load", "--to", &to, "--op", "get", "--requests", "5", "--csv"]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "op,value_bytes,connections,requests,errors,req_per_s,min_us,p50_us,p99_us,first_error", "{r:?}");
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(lines[1].starts_with("get,100,1,0,5,0.0,0,0,0,\"connection 0: connect: "), "{r:?}");
    assert!(r.stderr.starts_with("memcache-load: get 0 requests, 1 connections"), "{r:?}");
}

#[test]
fn stats_hops_appends_benchmark_rows() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(SERVER_LIFETIME)).unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let line = "hop.driver.count=3 hop.driver.min=1 hop.driver.median=2 hop.driver.p99=4 \
                hop.f0.count=5 hop.f0.min=6 hop.f0.median=7 hop.f0.p99=8 f0.wakeups=9";
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if &buf[..n] == b"hops" {
                let _ = socket.send_to(line.as_bytes(), from);
            }
        }
    });
    let csv = temp_file("bench.csv");
    let csv_arg = csv.to_str().unwrap();
    let rows = ["--csv-row", "driver=hops/net_driver", "--csv-row", "mux=hops/mux", "--csv-row", "f*=hops/tenant"];
    for _ in 0..2 {
        let mut args = vec!["stats", "--hops", "--to", &addr, "--csv", csv_arg];
        args.extend(rows);
        let r = net_client(&args);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.stdout, format!("{line}\n"), "the line alone on stdout");
        assert!(r.stderr.contains("2 rows appended") && r.stderr.contains("(no summary for: mux)"), "{r:?}");
    }
    let rows = "hops,edgeos,net_driver,,latency,guest_ns,3,1,2,4\nhops,edgeos,tenant,,latency,guest_ns,5,6,7,8\n";
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        format!("benchmark,system,case,tenants,metric,unit,samples,min,median,p99\n{rows}{rows}"),
        "one header, then the rows of both queries"
    );

    let r = net_client(&["stats", "--to", &addr, "--csv", csv_arg, "--csv-row", "driver=hops/net_driver"]);
    assert_eq!(r.code, 2, "--csv needs --hops: {r:?}");
    let r = net_client(&["stats", "--hops", "--to", &addr, "--csv", csv_arg, "--csv-row", "driver"]);
    assert_eq!(r.code, 2, "a row needs HOP=BENCHMARK/CASE: {r:?}");
}
