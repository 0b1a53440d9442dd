//! Reply bytes as memcached 1.6 writes them, one test per command and
//! error case, fed whole, byte by byte, and pipelined.

use super::*;
use std::vec::Vec;
use crate::store::{Key, OwnedIndex, StoreOp};

const NOW: u64 = 1_700_000_000;

struct Server {
    arena: Vec<u8>,
    index: std::boxed::Box<OwnedIndex<32>>,
}

impl Server {
    fn new(arena: usize) -> Self {
        Server {
            arena: std::vec![0; arena],
            index: std::boxed::Box::new(OwnedIndex::new()),
        }
    }

    fn store(&mut self, item_max: usize) -> Store<'_> {
        Store::new(&mut self.arena, self.index.index(), item_max)
    }
}

/// Feeds `input` in pieces of `step` bytes like a TCP receiver would,
/// collecting every reply; returns the replies and whether it closed.
fn feed(
    store: &mut Store<'_>,
    input: &[u8],
    step: usize,
    now: u64,
) -> (Vec<u8>, bool) {
    feed_conn_at(&mut Conn::new(), store, input, step, now)
}

/// [`feed`] on a connection the caller keeps.
fn feed_conn(conn: &mut Conn, store: &mut Store<'_>, input: &[u8], step: usize) -> (Vec<u8>, bool) {
    feed_conn_at(conn, store, input, step, NOW)
}

fn feed_conn_at(conn: &mut Conn, store: &mut Store<'_>, input: &[u8], step: usize, now: u64) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    let mut out = [0u8; OUT_MIN];
    for piece in input.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            let p = conn.process(store, &buf, now, &mut out);
            replies.extend_from_slice(&out[..p.written]);
            buf.drain(..p.consumed);
            if p.close {
                return (replies, true);
            }
            if p.consumed == 0 && p.written == 0 {
                break;
            }
        }
    }
    (replies, false)
}

/// Replies to `input` fed whole; checks byte-by-byte feeding agrees.
fn talk(input: &str) -> std::string::String {
    let whole = {
        let mut server = Server::new(64 * 1024);
        let mut store = server.store(1024);
        feed(&mut store, input.as_bytes(), usize::MAX, NOW)
    };
    let bytewise = {
        let mut server = Server::new(64 * 1024);
        let mut store = server.store(1024);
        feed(&mut store, input.as_bytes(), 1, NOW)
    };
    assert_eq!(whole, bytewise, "splitting changed the replies");
    std::string::String::from_utf8(whole.0).unwrap()
}

#[test]
fn set_and_get() {
    assert_eq!(
        talk("set k 42 0 5\r\nhello\r\nget k\r\n"),
        "STORED\r\nVALUE k 42 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(talk("get nope\r\n"), "END\r\n");
    assert_eq!(
        talk("set k 0 0 0\r\n\r\nget k\r\n"),
        "STORED\r\nVALUE k 0 0\r\n\r\nEND\r\n"
    );
}

#[test]
fn gets_carries_the_cas_unique() {
    assert_eq!(
        talk("set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\ngets a b c\r\n"),
        "STORED\r\nSTORED\r\nVALUE a 0 1 1\r\n1\r\nVALUE b 0 1 2\r\n2\r\nEND\r\n"
    );
}

#[test]
fn multi_get_with_extra_spaces() {
    assert_eq!(
        talk("set a 0 0 1\r\n1\r\nget  a   a \r\n"),
        "STORED\r\nVALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n"
    );
}

#[test]
fn add_replace_append_prepend() {
    assert_eq!(
        talk("add k 0 0 1\r\nb\r\nadd k 0 0 1\r\nx\r\nreplace n 0 0 1\r\nx\r\nappend k 0 0 1\r\nc\r\nprepend k 0 0 1\r\na\r\nappend n 0 0 1\r\nx\r\nreplace k 5 0 3\r\nxyz\r\nget k\r\n"),
        "STORED\r\nNOT_STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\nNOT_STORED\r\nSTORED\r\nVALUE k 5 3\r\nxyz\r\nEND\r\n"
    );
}

#[test]
fn cas() {
    assert_eq!(
        talk("cas k 0 0 1 1\r\nx\r\nset k 0 0 1\r\nx\r\ncas k 0 0 1 99\r\ny\r\ncas k 0 0 1 1\r\nz\r\ngets k\r\n"),
        "NOT_FOUND\r\nSTORED\r\nEXISTS\r\nSTORED\r\nVALUE k 0 1 2\r\nz\r\nEND\r\n"
    );
    assert_eq!(
        talk("cas k 0 0 1 x\r\n"),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(talk("cas k 0 0 1\r\n"), "ERROR\r\n");
}

#[test]
fn delete() {
    assert_eq!(
        talk("set k 0 0 1\r\nx\r\ndelete k\r\ndelete k\r\n"),
        "STORED\r\nDELETED\r\nNOT_FOUND\r\n"
    );
    assert_eq!(
        talk("set k 0 0 1\r\nx\r\ndelete k 0\r\ndelete k 0 noreply\r\ndelete k noreply\r\n"),
        "STORED\r\nDELETED\r\n"
    );
    assert_eq!(
        talk("delete k 5\r\n"),
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    );
    assert_eq!(talk("delete\r\n"), "ERROR\r\n");
}

#[test]
fn incr_decr() {
    assert_eq!(
        talk("incr n 1\r\nset n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nget n\r\nincr n 18446744073709551615\r\nincr n 2\r\n"),
        "NOT_FOUND\r\nSTORED\r\n15\r\n0\r\nVALUE n 0 2\r\n0 \r\nEND\r\n18446744073709551615\r\n1\r\n"
    );
    assert_eq!(
        talk("set t 0 0 1\r\nx\r\nincr t 1\r\n"),
        "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    assert_eq!(
        talk("incr n x\r\n"),
        "CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert_eq!(
        talk("incr n -1\r\n"),
        "CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert_eq!(
        talk("set n 0 0 1\r\n1\r\nincr n 1 noreply\r\nget n\r\n"),
        "STORED\r\nVALUE n 0 1\r\n2\r\nEND\r\n"
    );
}

#[test]
fn touch_and_gat() {
    assert_eq!(
        talk("touch k 10\r\nset k 3 0 1\r\nx\r\ntouch k 10\r\n"),
        "NOT_FOUND\r\nSTORED\r\nTOUCHED\r\n"
    );
    assert_eq!(
        talk("set k 3 0 1\r\nx\r\ngat 10 k\r\ngats 0 k n\r\n"),
        "STORED\r\nVALUE k 3 1\r\nx\r\nEND\r\nVALUE k 3 1 1\r\nx\r\nEND\r\n"
    );
    assert_eq!(
        talk("touch k x\r\n"),
        "CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(
        talk("gat x k\r\n"),
        "CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(talk("gat 10\r\n"), "ERROR\r\n");
    assert_eq!(
        talk("set k 0 0 1\r\nx\r\ngat -1 k\r\nget k\r\n"),
        "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nEND\r\n"
    );
}

#[test]
fn flush_all_version_verbosity() {
    assert_eq!(
        talk("set k 0 0 1\r\nx\r\nflush_all\r\nget k\r\n"),
        "STORED\r\nOK\r\nEND\r\n"
    );
    assert_eq!(
        talk("flush_all 0\r\nflush_all noreply\r\nflush_all 10 noreply\r\nflush_all x\r\n"),
        "OK\r\nCLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(talk("version\r\n"), std::format!("VERSION {VERSION}\r\n"));
    assert_eq!(
        talk("verbosity 1\r\nverbosity 1 noreply\r\nverbosity\r\n"),
        "OK\r\nERROR\r\n"
    );
}

#[test]
fn stats_lists_the_counters() {
    let reply = talk("set k 0 0 1\r\nx\r\nget k\r\nget n\r\nstats\r\n");
    let stats = reply
        .strip_prefix("STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nEND\r\n")
        .unwrap();
    for line in [
        "STAT get_hits 1\r\n",
        "STAT get_misses 1\r\n",
        "STAT cmd_get 2\r\n",
        "STAT cmd_set 1\r\n",
        "STAT curr_items 1\r\n",
        "STAT total_items 1\r\n",
        "STAT bytes 2\r\n",
        "STAT evictions 0\r\n",
    ] {
        assert!(stats.contains(line), "{line:?} not in {stats}");
    }
    assert!(stats.starts_with("STAT uptime 0\r\nSTAT time 1700000000\r\n") && stats.ends_with("END\r\n"));
    assert!(stats.len() < 1536, "fits the bound the executor reserves");
    assert_eq!(
        talk("get n\r\nstats reset\r\nstats\r\n")
            .matches("STAT get_misses 0\r\n")
            .count(),
        1
    );
    assert_eq!(talk("stats items\r\n"), "ERROR\r\n");
}

#[test]
fn uptime_counts_from_the_first_request() {
    let mut server = Server::new(4096);
    let mut store = server.store(1024);
    feed(&mut store, b"get k\r\n", usize::MAX, NOW);
    let (stats, _) = feed(&mut store, b"stats\r\n", usize::MAX, NOW + 42);
    let stats = std::string::String::from_utf8(stats).unwrap();
    assert!(stats.starts_with("STAT uptime 42\r\nSTAT time 1700000042\r\n"), "{stats}");
}

#[test]
fn unknown_and_empty_lines_are_errors_and_the_connection_goes_on() {
    assert_eq!(
        talk("bogus\r\n\r\nGET k\r\nmg k v\r\nversion\n"),
        std::format!("ERROR\r\nERROR\r\nERROR\r\nERROR\r\nVERSION {VERSION}\r\n")
    );
}

#[test]
fn noreply_suppresses_replies() {
    assert_eq!(
        talk("set k 0 0 1 noreply\r\nx\r\nadd k 0 0 1 noreply\r\nx\r\ntouch k 0 noreply\r\ndelete k noreply\r\nincr k 1 noreply\r\nget k\r\n"),
        "END\r\n"
    );
    assert_eq!(
        talk("set k 0 0 1 noreply\r\nxyz"),
        "",
        "even the bad chunk error, as memcached does"
    );
}

#[test]
fn keys_too_long_or_with_control_bytes() {
    let long = "k".repeat(251);
    assert_eq!(
        talk(&std::format!("get {long}\r\n")),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(talk(&std::format!("get {}\r\n", &long[..250])), "END\r\n");
    assert_eq!(
        talk("get a\x01b\r\n"),
        "CLIENT_ERROR bad command line format\r\n"
    );
    // memcached does not swallow the block after a bad storage line: the
    // data line is read as a command.
    assert_eq!(
        talk(&std::format!("set {long} 0 0 1\r\nx\r\n")),
        "CLIENT_ERROR bad command line format\r\nERROR\r\n"
    );
    assert_eq!(
        talk("set k x 0 1\r\nx\r\n"),
        "CLIENT_ERROR bad command line format\r\nERROR\r\n"
    );
    assert_eq!(
        talk("set k 0 0 -1\r\n"),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(
        talk("set k 4294967296 0 1\r\n"),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(
        talk("incr a\x7f 1\r\ntouch a\x02 1\r\ndelete \x03\r\n"),
        "CLIENT_ERROR bad command line format\r\n".repeat(3)
    );
}

#[test]
fn a_bad_data_chunk_is_swallowed_and_stores_nothing() {
    // The block is "xyz"; the "\r\n" after it is an empty line (ERROR).
    assert_eq!(
        talk("set k 0 0 1\r\nxyz\r\nget k\r\n"),
        "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"
    );
    assert_eq!(
        talk("set k 0 0 1\r\nx\r\nset k 0 0 1\r\nyz\nget k\r\n"),
        "STORED\r\nCLIENT_ERROR bad data chunk\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    );
}

#[test]
fn a_bad_data_chunk_takes_exactly_bytes_plus_two() {
    // "xy\r" is the block (1 byte + 2 that should be \r\n); "\nget k" follows.
    assert_eq!(
        talk("set k 0 0 1\r\nxy\r\nget k\r\n"),
        "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"
    );
}

#[test]
fn an_oversize_value_is_refused_and_its_data_swallowed() {
    let value = "v".repeat(5000);
    let input = std::format!("set k 0 0 1\r\nx\r\nset k 0 0 5000\r\n{value}\r\nget k\r\nadd j 0 0 5000 noreply\r\n{value}\r\nget j\r\n");
    assert_eq!(
        talk(&input),
        "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\nEND\r\n"
    );
}

#[test]
fn an_overlong_line_closes_the_connection() {
    let mut server = Server::new(1024);
    let mut store = server.store(1024);
    let line = "g".repeat(MAX_LINE + 1);
    let (reply, closed) = feed(&mut store, line.as_bytes(), 100, NOW);
    assert_eq!(
        (reply.as_slice(), closed),
        (&b"CLIENT_ERROR line too long\r\n"[..], true)
    );
    let ok = std::format!("get {}\r\n", "k ".repeat((MAX_LINE - 8) / 2));
    assert_eq!(
        feed(&mut store, ok.as_bytes(), 7, NOW),
        (b"END\r\n".to_vec(), false)
    );
}

#[test]
fn quit_closes_after_the_earlier_replies() {
    let mut server = Server::new(1024);
    let mut store = server.store(1024);
    let (reply, closed) = feed(
        &mut store,
        b"version\r\nquit\r\nversion\r\n",
        usize::MAX,
        NOW,
    );
    assert_eq!(reply, std::format!("VERSION {VERSION}\r\n").into_bytes());
    assert!(closed);
}

#[test]
fn a_full_output_buffer_pauses_without_losing_requests() {
    let mut server = Server::new(64 * 1024);
    let mut store = server.store(8192);
    let value = "x".repeat(1500);
    let input = std::format!("set a 0 0 1500\r\n{value}\r\nget a\r\nget a\r\nget a\r\n");
    let mut conn = Conn::new();
    let mut out = [0u8; OUT_MIN];
    let mut input = input.as_bytes();
    let mut replies = 0;
    while !input.is_empty() {
        let p = conn.process(&mut store, input, NOW, &mut out);
        assert!(p.consumed > 0);
        input = &input[p.consumed..];
        replies += 1;
    }
    assert_eq!(
        replies, 3,
        "one get reply per buffer (the set rides with the first)"
    );
    assert_eq!(store.stats().get_hits, 3);
}

#[test]
fn a_get_reply_larger_than_the_whole_buffer_streams_out() {
    let mut server = Server::new(64 * 1024);
    let mut store = server.store(8192);
    let value = "x".repeat(3000);
    let input = std::format!("set a 0 0 3000\r\n{value}\r\nget a\r\nversion\r\n");
    let (reply, _) = feed(&mut store, input.as_bytes(), usize::MAX, NOW);
    assert_eq!(
        std::string::String::from_utf8(reply).unwrap(),
        std::format!("STORED\r\nVALUE a 0 3000\r\n{value}\r\nEND\r\nVERSION {VERSION}\r\n")
    );
}

#[test]
fn the_largest_values_stream_in_and_out_byte_for_byte_at_any_split() {
    let mut server = Server::new(512 * 1024);
    let mut store = server.store(200 * 1024);
    let a: std::vec::Vec<u8> = (0..150_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let b: std::vec::Vec<u8> = (0..40_000u32).map(|i| (i * 13) as u8).collect();
    let mut input = std::vec::Vec::new();
    for (k, v) in [("a", &a), ("b", &b)] {
        input.extend_from_slice(std::format!("set {k} 5 0 {}\r\n", v.len()).as_bytes());
        input.extend_from_slice(v);
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b"append b 0 0 3\r\nxyz\r\nget a b nope b\r\nversion\r\n");
    let mut expected = std::vec::Vec::new();
    expected.extend_from_slice(b"STORED\r\nSTORED\r\nSTORED\r\n");
    let b2: std::vec::Vec<u8> = b.iter().copied().chain(*b"xyz").collect();
    for (k, v) in [("a", &a), ("b", &b2), ("b", &b2)] {
        expected.extend_from_slice(std::format!("VALUE {k} 5 {}\r\n", v.len()).as_bytes());
        expected.extend_from_slice(v);
        expected.extend_from_slice(b"\r\n");
    }
    expected.extend_from_slice(std::format!("END\r\nVERSION {VERSION}\r\n").as_bytes());
    for step in [usize::MAX, 8192, 1460, 97, 1] {
        let (reply, closed) = feed(&mut store, &input, step, NOW);
        assert!(!closed);
        assert!(reply == expected, "split every {step} bytes");
        store.verify().unwrap();
        assert_eq!(store.stats().bytes, store.live_bytes() as u64, "no stream holds store bytes");
        assert!(store.delete(Key::new(b"a").unwrap(), NOW) && store.delete(Key::new(b"b").unwrap(), NOW));
    }
}

#[test]
fn a_streamed_value_that_does_not_end_in_crlf_is_refused_and_freed() {
    let mut server = Server::new(64 * 1024);
    let mut store = server.store(8192);
    let input = std::format!("set a 0 0 5000\r\n{}XXget a\r\n", "v".repeat(5000));
    let (reply, _) = feed(&mut store, input.as_bytes(), 1000, NOW);
    assert_eq!(std::string::String::from_utf8(reply).unwrap(), "CLIENT_ERROR bad data chunk\r\nEND\r\n");
    store.verify().unwrap();
    assert_eq!(store.live_bytes(), 0);
}

#[test]
fn a_connection_abandoned_mid_value_gives_the_store_its_bytes_back() {
    let mut server = Server::new(64 * 1024);
    let mut store = server.store(16 * 1024);
    store.store(StoreOp::Set, Key::new(b"big").unwrap(), 0, 0, &[7u8; 10_000], NOW).unwrap();
    let mut out = [0u8; OUT_MIN];
    // Half a set.
    let mut receiving = Conn::new();
    let p = receiving.process(&mut store, b"set x 0 0 9000\r\nabc", NOW, &mut out);
    assert_eq!(p.consumed, 19);
    assert!(receiving.is_streaming());
    // Half a get.
    let mut sending = Conn::new();
    let p = sending.process(&mut store, b"get big\r\n", NOW, &mut out);
    assert_eq!((p.consumed, p.written), (0, OUT_MIN), "the line stays until the reply is done");
    assert!(sending.is_streaming());
    // The reading keeps the old value's bytes through a delete.
    assert!(store.delete(Key::new(b"big").unwrap(), NOW));
    assert_eq!(store.live_bytes(), 10_003 + 9_001);
    receiving.abandon(&mut store);
    sending.abandon(&mut store);
    store.verify().unwrap();
    assert_eq!(store.live_bytes(), 0);
}

#[test]
fn a_value_the_store_has_no_room_for_gets_memcacheds_out_of_memory() {
    let mut server = Server::new(8 * 1024);
    let mut store = server.store(8 * 1024);
    let mut out = [0u8; OUT_MIN];
    let mut first = Conn::new();
    let _ = first.process(&mut store, b"set x 0 0 6000\r\n", NOW, &mut out);
    assert!(first.is_streaming());
    // 6 KiB of the 8 KiB arena are reserved: a second 6 KiB value cannot fit.
    let mut second = Conn::new();
    let input = std::format!("set y 0 0 6000\r\n{}\r\nversion\r\n", "y".repeat(6000));
    let (reply, _) = feed_conn(&mut second, &mut store, input.as_bytes(), 700);
    assert_eq!(
        std::string::String::from_utf8(reply).unwrap(),
        std::format!("SERVER_ERROR out of memory storing object\r\nVERSION {VERSION}\r\n")
    );
    first.abandon(&mut store);
    store.verify().unwrap();
}

#[test]
fn lf_only_lines_are_accepted() {
    assert_eq!(
        talk("set k 0 0 1\nx\r\nget k\n"),
        "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    );
}

#[test]
fn expiry_through_the_protocol() {
    let mut server = Server::new(1024);
    let mut store = server.store(1024);
    assert_eq!(
        feed(&mut store, b"set k 0 5 1\r\nx\r\n", 3, NOW).0,
        b"STORED\r\n"
    );
    assert_eq!(
        feed(&mut store, b"get k\r\n", 3, NOW + 4).0,
        b"VALUE k 0 1\r\nx\r\nEND\r\n"
    );
    assert_eq!(feed(&mut store, b"get k\r\n", 3, NOW + 5).0, b"END\r\n");
}

#[test]
fn eviction_through_the_protocol() {
    let mut server = Server::new(64);
    let mut store = server.store(64);
    // 26 arena bytes per item: a third does not fit beside two.
    let (a, b, c) = ("a".repeat(25), "b".repeat(25), "c".repeat(25));
    let input = std::format!("set a 0 0 25\r\n{a}\r\nset b 0 0 25\r\n{b}\r\nget a\r\nset c 0 0 25\r\n{c}\r\nget b\r\nget c\r\n");
    assert_eq!(
        std::string::String::from_utf8(feed(&mut store, input.as_bytes(), 5, NOW).0).unwrap(),
        std::format!("STORED\r\nSTORED\r\nVALUE a 0 25\r\n{a}\r\nEND\r\nSTORED\r\nEND\r\nVALUE c 0 25\r\n{c}\r\nEND\r\n")
    );
    assert_eq!(store.stats().evictions, 1);
}
