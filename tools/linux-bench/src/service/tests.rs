use super::*;
use std::net::TcpListener;
use std::thread;

const HZ: u64 = 1_000_000_000; // the host's counter: CLOCK_MONOTONIC ns

fn deadline_in_ms(ms: u64) -> Deadline {
    Deadline::after(counter::ticks(), ms * HZ / 1000)
}

/// A loopback port nothing listens on (just freed by the kernel).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn loopback(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
}

/// Starts listening on `port` after `delay`, takes one connection, reads
/// the request and answers with `reply` (nothing when empty), then keeps
/// the connection open for `hold`.
fn fake_server(
    port: u16,
    delay: Duration,
    reply: &'static [u8],
    hold: Duration,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        thread::sleep(delay);
        let listener = TcpListener::bind(loopback(port)).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 64];
        let length = stream.read(&mut request).unwrap();
        stream.write_all(reply).unwrap();
        thread::sleep(hold);
        request[..length].to_vec()
    })
}

#[test]
fn parses_memcached_version_line() {
    assert_eq!(
        parse_version_reply(b"VERSION 1.6.18\r\n"),
        Reply::Version("1.6.18")
    );
    assert_eq!(
        parse_version_reply(b"VERSION 1.6.18\r\nmore"),
        Reply::Version("1.6.18")
    );
}

#[test]
fn a_line_without_its_end_is_incomplete() {
    assert_eq!(parse_version_reply(b""), Reply::Incomplete);
    assert_eq!(parse_version_reply(b"VERSION 1.6"), Reply::Incomplete);
    assert_eq!(parse_version_reply(b"VERSION 1.6.18\r"), Reply::Incomplete);
}

#[test]
fn other_lines_are_unexpected() {
    assert_eq!(
        parse_version_reply(b"ERROR\r\n"),
        Reply::Unexpected("ERROR".into())
    );
    assert_eq!(
        parse_version_reply(b"VERSION \r\n"),
        Reply::Unexpected("VERSION ".into())
    );
    assert_eq!(
        parse_version_reply(b"\xffVERSION 1\r\n"),
        Reply::Unexpected("\u{fffd}VERSION 1".into())
    );
}

#[test]
fn deadline_has_time_left_only_before_its_end() {
    let deadline = Deadline::after(100, 50);
    assert_eq!(deadline.remaining(100), Some(50));
    assert_eq!(deadline.remaining(149), Some(1));
    assert_eq!(deadline.remaining(150), None);
    assert_eq!(deadline.remaining(1_000), None);
    assert_eq!(
        Deadline::after(u64::MAX - 1, 10).remaining(u64::MAX - 1),
        Some(1)
    );
}

#[test]
fn retries_until_the_server_listens_then_reads_its_version() {
    let port = free_port();
    let server = fake_server(
        port,
        Duration::from_millis(50),
        b"VERSION 1.6.18-test\r\n",
        Duration::ZERO,
    );
    let reply = first_reply(loopback(port), deadline_in_ms(5_000), HZ, || None).unwrap();
    assert_eq!(reply.version, "1.6.18-test");
    assert!(reply.refused > 0, "connected before the server listened");
    assert_eq!(server.join().unwrap(), b"version\r\n");
}

#[test]
fn a_server_that_exits_before_listening_fails_at_once() {
    let started = counter::ticks();
    let reply = first_reply(loopback(free_port()), deadline_in_ms(60_000), HZ, || {
        Some(0x100)
    });
    let error = reply.unwrap_err();
    assert!(error.contains("exited (wait status 0x100)"), "{error}");
    assert!(
        counter::ticks() - started < 10 * HZ,
        "waited for the deadline"
    );
}

#[test]
fn nothing_listening_fails_at_the_deadline() {
    let error = first_reply(loopback(free_port()), deadline_in_ms(100), HZ, || None).unwrap_err();
    assert!(error.contains("nothing accepted"), "{error}");
}

#[test]
fn a_silent_server_fails_at_the_deadline() {
    let port = free_port();
    let server = fake_server(port, Duration::ZERO, b"", Duration::from_millis(500));
    thread::sleep(Duration::from_millis(20));
    let error = first_reply(loopback(port), deadline_in_ms(100), HZ, || None).unwrap_err();
    assert!(error.contains("no reply"), "{error}");
    server.join().unwrap();
}

#[test]
fn a_reply_other_than_version_is_an_error() {
    let port = free_port();
    let server = fake_server(port, Duration::ZERO, b"ERROR\r\n", Duration::ZERO);
    let error = first_reply(loopback(port), deadline_in_ms(5_000), HZ, || None).unwrap_err();
    assert!(error.contains("\"ERROR\""), "{error}");
    server.join().unwrap();
}

#[test]
fn a_program_that_exits_fails_its_first_run() {
    let options = Options {
        program: "/bin/false",
        runs: 1,
        warmup: 0,
        first_port: free_port(),
        deadline_ms: 60_000,
    };
    let error = measure(&options, HZ)
        .err()
        .expect("/bin/false never replies");
    assert!(error.starts_with("run 0: server exited"), "{error}");
}
