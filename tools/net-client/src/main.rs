//! Command-line entry point; see the library docs and the README for what
//! each command does.
//!
//! Exit status: 0 when the check held, 1 when it did not (or a local
//! failure stopped it), 2 for a bad command line, including any target
//! that is not on loopback.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::builder::RangedU64ValueParser;
use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use edgeos_net_client::stats::{self, Answer, Check, Stats};
use edgeos_net_client::tcp_churn;
use edgeos_net_client::{inject, memcache_load, middlebox, silence, tcp_echo, udp_echo, Error, Loopback};

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Host-side network probes for EdgeOS system tests. Every target must be
/// on loopback (127.0.0.0/8 or ::1): the ports QEMU forwards to the guest.
///
/// Exits 0 if the check held, 1 if it did not, 2 for a bad command line.
#[derive(Debug, Parser)]
#[command(name = "net-client", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send numbered datagrams one at a time; every reply must equal its
    /// datagram byte for byte.
    UdpEcho {
        /// The UDP echo service, e.g. 127.0.0.1:15007.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// Datagrams to send.
        #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(udp_echo::MAX_COUNT)))]
        count: u32,
        /// Bytes per datagram (the first 4 carry the sequence number).
        #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(udp_echo::MIN_SIZE as u64..=udp_echo::MAX_SIZE as u64))]
        size: usize,
        /// How long to wait for each reply before resending (3 resends).
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = timeout_ms())]
        timeout_ms: u64,
    },
    /// Open concurrent TCP connections; each sends its own bytes in several
    /// writes and must read exactly those bytes back.
    TcpEcho {
        /// The TCP echo service, e.g. 127.0.0.1:15008.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// Concurrent connections.
        #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(tcp_echo::MAX_CONNECTIONS)))]
        connections: u32,
        /// Bytes each connection sends and expects back.
        #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=tcp_echo::MAX_BYTES as u64))]
        bytes: usize,
        /// Deadline for each connection's whole exchange.
        #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = timeout_ms())]
        timeout_ms: u64,
        /// Keep every connection open until all have echoed, then query
        /// this stats service (e.g. 127.0.0.1:17777) while they are all
        /// open, and check `--while-open-at-least`.
        #[arg(long, value_name = "ADDR", requires = "while_open_at_least")]
        while_open_stats: Option<Loopback>,
        /// A counter that must be at least this while every connection is
        /// open (e.g. `t1.active=100`: that many FWPs live at once).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_equals, requires = "while_open_stats")]
        while_open_at_least: Option<(String, u64)>,
        /// Open each connection only once the one before has had its bytes
        /// back (they all stay open): QEMU's forwarded ports accept with a
        /// listen backlog of one, so hundreds of simultaneous connects are
        /// dropped by the host's kernel before the guest sees them.
        #[arg(long)]
        one_at_a_time: bool,
        /// A shell command (`sh -c`) run while every connection is open,
        /// after `--while-open-at-least`; it must exit 0 (e.g. probes that
        /// fault FWPs beside the thousand serving ones, and their checks).
        #[arg(long, value_name = "COMMAND")]
        while_open_run: Option<String>,
        /// After the hold, every connection echoes `--bytes` more on the
        /// same connection before closing: its server still serves.
        #[arg(long)]
        again_after_hold: bool,
    },
    /// Send one UDP datagram with this text from a fresh port; await nothing.
    Send {
        /// The service, e.g. 127.0.0.1:15009.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// The datagram's text, e.g. probe:spin.
        #[arg(long)]
        text: String,
    },
    /// Many short TCP echo connections one after another, each with its own
    /// bytes: against a per-flow template, a spawn and a teardown each.
    TcpChurn {
        /// The TCP echo service, e.g. 127.0.0.1:15008.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// Connections.
        #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(tcp_churn::MAX_COUNT)))]
        count: u32,
        /// Bytes each connection sends and expects back.
        #[arg(long, default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..=tcp_echo::MAX_BYTES as u64))]
        bytes: usize,
        /// Deadline for each connection's whole exchange.
        #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = timeout_ms())]
        timeout_ms: u64,
    },
    /// Closed-loop memcached load: requests per second and latency
    /// percentiles of get or set, every reply checked byte for byte; with
    /// `--matrix`, get and set over every value size and connection count,
    /// one CSV line each.
    #[command(group(ArgGroup::new("mode").required(true).args(["op", "matrix"])))]
    MemcacheLoad {
        /// The memcached tenant's TCP port, e.g. 127.0.0.1:15211.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// The request measured.
        #[arg(long, value_enum)]
        op: Option<OpArg>,
        /// Requests measured, over all connections (with `--matrix`: per
        /// cell, and at least one per connection).
        #[arg(long, default_value_t = 2000, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(memcache_load::MAX_REQUESTS)))]
        requests: u32,
        /// Connections at once, each with one request in flight.
        #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(memcache_load::MAX_CONNECTIONS)))]
        connections: u32,
        /// Bytes of each value.
        #[arg(long, default_value_t = 100, value_parser = RangedU64ValueParser::<usize>::new().range(0..=memcache_load::MAX_VALUE as u64))]
        value_size: usize,
        /// Distinct keys per connection.
        #[arg(long, default_value_t = 50, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(memcache_load::MAX_KEYS)))]
        keys: u32,
        /// Deadline for each reply.
        #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = timeout_ms())]
        timeout_ms: u64,
        /// Requests per second over all connections, spread evenly over
        /// them and in time (each still waits for its previous reply).
        #[arg(long, value_name = "PER_SEC", conflicts_with = "matrix")]
        rate: Option<f64>,
        /// Open the connections one after another, each after the one
        /// before has its first reply, and measure connect to first reply.
        #[arg(long, conflicts_with = "matrix")]
        one_at_a_time: bool,
        /// Connection i goes to the port of --to plus i: one server per
        /// connection (N memcached processes on N consecutive ports).
        #[arg(long, conflicts_with = "matrix")]
        port_span: bool,
        /// Print a CSV header and the run's line
        /// (op,value_bytes,connections,requests,errors,req_per_s,min_us,p50_us,p99_us,first_error)
        /// on stdout, and the usual line on stderr.
        #[arg(long, conflicts_with = "matrix")]
        csv: bool,
        /// Get and set cells over every `--sizes` and `--connection-counts`:
        /// a CSV header, then one line per cell as it completes
        /// (op,value_bytes,connections,requests,errors,req_per_s,p50_us,p99_us,first_error).
        #[arg(long, conflicts_with_all = ["op", "connections", "value_size", "keys"])]
        matrix: bool,
        /// The matrix's value sizes in bytes.
        #[arg(long, value_delimiter = ',', default_value = "100,10240,512000", conflicts_with = "op",
              value_parser = RangedU64ValueParser::<usize>::new().range(0..=memcache_load::MAX_VALUE as u64))]
        sizes: Vec<usize>,
        /// The matrix's connection counts; the most of them are opened
        /// once, one after another, and held for the whole run.
        #[arg(long, value_delimiter = ',', default_value = "1,64,1024", conflicts_with = "op",
              value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(memcache_load::MAX_CONNECTIONS)))]
        connection_counts: Vec<u32>,
        /// Most keys in the matrix's pool of one value size (shared by
        /// every connection).
        #[arg(long, default_value_t = 1024, conflicts_with = "op",
              value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(memcache_load::MAX_KEYS)))]
        pool_keys: u32,
        /// Most bytes of values in the pool of one size. The default, 16
        /// MiB, keeps the pools of the default sizes (26 MiB together)
        /// well inside tenant A's 64 MiB store: no get misses for eviction.
        #[arg(long, value_name = "BYTES", default_value_t = 16 << 20, conflicts_with = "op")]
        pool_bytes: usize,
    },
    /// Send one probe and succeed only if nothing comes back.
    #[command(group(ArgGroup::new("target").required(true).args(["udp_to", "tcp_to"])))]
    ExpectSilence {
        /// Send one UDP datagram to this address.
        #[arg(long, value_name = "ADDR")]
        udp_to: Option<Loopback>,
        /// Connect to this address and write a probe.
        #[arg(long, value_name = "ADDR")]
        tcp_to: Option<Loopback>,
        /// How long to listen for a reply.
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = timeout_ms())]
        wait_ms: u64,
    },
    /// Query the multiplexer's stats service and print its line.
    Stats {
        /// The stats service, e.g. 127.0.0.1:17777.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// How long to wait for the reply before resending (3 resends).
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = timeout_ms())]
        timeout_ms: u64,
        /// Also write the line to this file, for a later stats-check.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Ask for the time summaries (per-frame hops, FWP spawn and
        /// teardown latencies) instead of the counters.
        #[arg(long)]
        hops: bool,
        /// Also append the summaries named by --csv-row to this benchmark
        /// table (`make bench`'s CSV; the header comes first in a new file).
        #[arg(long, value_name = "FILE", requires = "hops", requires = "csv_row")]
        csv: Option<PathBuf>,
        /// A row for --csv: HOP=BENCHMARK/CASE, e.g. driver=hops/net_driver
        /// (a `*` ending HOP stands for a slot number: f*=hops/tenant).
        /// Summaries the line lacks are named on stderr and give no row.
        #[arg(long, value_name = "HOP=BENCHMARK/CASE", requires = "csv")]
        csv_row: Vec<stats::HopRow>,
    },
    /// Query the stats again and compare counters with a saved line.
    StatsCheck {
        /// The stats service, e.g. 127.0.0.1:17777.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// A line written by `stats --save` (needed by --rose and --same).
        #[arg(long, value_name = "FILE", required_unless_present_any = ["equals", "at_most"])]
        since: Option<PathBuf>,
        /// A counter that must have increased (repeatable).
        #[arg(long, value_name = "KEY", requires = "since", required_unless_present_any = ["rose_by", "same", "equals", "at_most"])]
        rose: Vec<String>,
        /// A counter that must have increased by exactly this much
        /// (repeatable).
        #[arg(long, value_name = "KEY=N", value_parser = parse_equals, requires = "since")]
        rose_by: Vec<(String, u64)>,
        /// A counter that must be unchanged (repeatable).
        #[arg(long, value_name = "KEY", requires = "since")]
        same: Vec<String>,
        /// A counter that must have this value now (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_equals)]
        equals: Vec<(String, u64)>,
        /// A counter that must be at most this now (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_equals)]
        at_most: Vec<(String, u64)>,
        /// How long to wait for the reply before resending (3 resends).
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = timeout_ms())]
        timeout_ms: u64,
        /// Query again (every 250 ms) until the checks hold, for at most
        /// this long: for a state the guest reaches on its own, such as an
        /// idle teardown. 0: one query.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        within_ms: u64,
    },
    /// Send raw Ethernet frames into the guest's NIC through QEMU's UDP
    /// socket netdev.
    Inject {
        /// QEMU's socket netdev (its localaddr), e.g. 127.0.0.1:19000.
        #[arg(long, value_name = "ADDR")]
        to: Loopback,
        /// Which frames.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Frames to send.
        #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(inject::MAX_COUNT)))]
        count: u32,
        /// Pause after each frame.
        #[arg(long, value_name = "MS", default_value_t = 1, value_parser = RangedU64ValueParser::<u64>::new().range(0..=inject::MAX_INTERVAL.as_millis() as u64))]
        interval_ms: u64,
        /// Send from this local address instead of any loopback port.
        #[arg(long, value_name = "ADDR")]
        from: Option<Loopback>,
    },
    /// Check the node's Click firewall and NAT from the wire: play its
    /// clients through QEMU's socket netdev, injecting their frames and
    /// capturing every frame the node transmits, and be its backend with
    /// sockets at 10.0.2.100 (an address this host must have), which QEMU's
    /// user network connects the node to.
    Middlebox {
        /// QEMU's socket netdev (its localaddr), e.g. 127.0.0.1:19000.
        #[arg(long, value_name = "ADDR")]
        inject: Loopback,
        /// Where QEMU sends the hub's frames (the netdev's udp peer), e.g.
        /// 127.0.0.1:19001; bound here, and injected from.
        #[arg(long, value_name = "ADDR")]
        capture: Loopback,
        /// What to check.
        #[arg(long, value_enum)]
        case: CaseArg,
        /// Flows of the churn case.
        #[arg(long, default_value_t = 100, value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(middlebox::MAX_FLOWS)))]
        flows: u32,
        /// How long each awaited frame may take to leave the node, from the
        /// first send of the frame that causes it (sent up to 4 times).
        #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = timeout_ms())]
        within_ms: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CaseArg {
    /// A UDP request and reply, and a TCP SYN, SYN-ACK and RST, each
    /// translated exactly both ways.
    Nat,
    /// Datagrams the configuration refuses never leave the node.
    Deny,
    /// A datagram passed on to a tenant of the node (the UDP echo) comes
    /// back through the middlebox, translated.
    Local,
    /// `--flows` short TCP flows, each its own FWP, all served.
    Churn,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    /// A deterministic mix of malformed frames: truncated headers, wrong
    /// lengths and checksums, IPv4 options, fragments, oversized, unknown
    /// EtherType, another destination IP.
    Malformed,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OpArg {
    /// `get` of keys the run stores first.
    Get,
    /// `set`.
    Set,
}

/// `tcp-echo --while-open-stats`: the counter is at least its bound while
/// every connection is open (`true` without the option).
fn while_open_check(connections: u32, stats: Option<Loopback>, at_least: &Option<(String, u64)>) -> bool {
    let (Some(stats), Some((key, least))) = (stats, at_least) else { return true };
    match stats::query(stats, Duration::from_millis(2_000)) {
        Ok(stats::Answer::Line { stats, .. }) => {
            let now = stats.get(key);
            let held = now.is_some_and(|n| n >= *least);
            let verdict = if held { "ok  " } else { "FAIL" };
            println!("tcp-echo: {verdict} while all {connections} connections are open: {key} = {now:?}, at least {least}");
            held
        }
        other => {
            println!("tcp-echo: FAIL while all connections are open: the stats service answered {other:?}");
            false
        }
    }
}

/// `tcp-echo --while-open-run`: runs `command` while every connection is
/// open; its output joins ours.
fn run_while_open(connections: u32, command: &str) -> bool {
    match std::process::Command::new("sh").arg("-c").arg(command).status() {
        Ok(status) if status.success() => {
            println!("tcp-echo: ok   while all {connections} connections are open: `{command}` succeeded");
            true
        }
        Ok(status) => {
            println!("tcp-echo: FAIL while all {connections} connections are open: `{command}` ended with {status}");
            false
        }
        Err(e) => {
            println!("tcp-echo: FAIL while all {connections} connections are open: cannot run sh: {e}");
            false
        }
    }
}

/// `KEY=VALUE` of `--equals`.
fn parse_equals(arg: &str) -> Result<(String, u64), String> {
    let (key, value) = arg.split_once('=').ok_or_else(|| format!("{arg:?} is not KEY=VALUE"))?;
    let value = value.parse().map_err(|e| format!("{arg:?}: the value is not a counter: {e}"))?;
    Ok((key.to_string(), value))
}

fn timeout_ms() -> RangedU64ValueParser<u64> {
    RangedU64ValueParser::<u64>::new().range(1..=edgeos_net_client::MAX_TIMEOUT.as_millis() as u64)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILED),
        Err(Error::Limit(why)) => {
            eprintln!("net-client: error: {why}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("net-client: error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Runs one command, printing its report; `Ok(true)` if its check held.
fn run(command: Command) -> Result<bool, Error> {
    let ms = Duration::from_millis;
    match command {
        Command::UdpEcho {
            to,
            count,
            size,
            timeout_ms,
        } => {
            let report = udp_echo::run(udp_echo::UdpEcho {
                target: to,
                count,
                size,
                timeout: ms(timeout_ms),
            })?;
            println!("{report}");
            Ok(report.success())
        }
        Command::TcpEcho {
            to,
            connections,
            bytes,
            timeout_ms,
            while_open_stats,
            while_open_at_least,
            one_at_a_time,
            while_open_run,
            again_after_hold,
        } => {
            let params =
                tcp_echo::TcpEcho { target: to, connections, bytes, timeout: ms(timeout_ms), one_at_a_time, again_after_hold };
            let (report, held) = tcp_echo::run_holding(params, || {
                let counted = while_open_check(connections, while_open_stats, &while_open_at_least);
                counted && while_open_run.as_deref().is_none_or(|command| run_while_open(connections, command))
            })?;
            println!("{report}");
            Ok(report.success() && held)
        }
        Command::Send { to, text } => {
            let port = edgeos_net_client::send::run(to, &text)?;
            println!("send: {} bytes to {to} from port {port}", text.len());
            Ok(true)
        }
        Command::TcpChurn { to, count, bytes, timeout_ms } => {
            let report = tcp_churn::run(tcp_churn::TcpChurn { target: to, count, bytes, timeout: ms(timeout_ms) })?;
            println!("{report}");
            Ok(report.success())
        }
        Command::MemcacheLoad {
            to,
            op,
            requests,
            connections,
            value_size,
            keys,
            timeout_ms,
            rate,
            one_at_a_time,
            port_span,
            csv,
            matrix,
            sizes,
            connection_counts,
            pool_keys,
            pool_bytes,
        } => {
            if matrix {
                let matrix = memcache_load::matrix::Matrix {
                    target: to,
                    sizes,
                    connection_counts,
                    requests,
                    pool_keys,
                    pool_bytes,
                    timeout: ms(timeout_ms),
                };
                println!("{}", memcache_load::matrix::CSV_HEADER);
                let cells = memcache_load::matrix::run(&matrix, |cell| println!("{cell}"))?;
                return Ok(cells.iter().all(memcache_load::matrix::Cell::success));
            }
            let op = match op {
                Some(OpArg::Get) => memcache_load::Op::Get,
                Some(OpArg::Set) => memcache_load::Op::Set,
                None => return Err(Error::Limit("--op or --matrix is required".into())),
            };
            let params = memcache_load::MemcacheLoad {
                target: to,
                op,
                requests,
                connections,
                value_size,
                keys,
                timeout: ms(timeout_ms),
                rate,
                one_at_a_time,
                port_span,
            };
            let report = memcache_load::run(params)?;
            if csv {
                eprintln!("{report}");
                println!("{}\n{}", memcache_load::CSV_HEADER, report.csv_row());
            } else {
                println!("{report}");
            }
            Ok(report.success())
        }
        Command::ExpectSilence {
            udp_to,
            tcp_to,
            wait_ms,
        } => {
            let probe = match (udp_to, tcp_to) {
                (Some(udp), _) => silence::Probe::Udp(udp),
                (None, Some(tcp)) => silence::Probe::Tcp(tcp),
                (None, None) => {
                    return Err(Error::Limit(
                        "one of --udp-to and --tcp-to is required".into(),
                    ))
                }
            };
            let report = silence::run(probe, ms(wait_ms))?;
            println!("{report}");
            Ok(report.success())
        }
        Command::Stats {
            to,
            timeout_ms,
            save,
            hops,
            csv,
            csv_row,
        } => {
            let request = if hops { stats::HOPS_QUERY } else { stats::QUERY };
            let Some((text, line)) = answered(stats::query_with(to, request, ms(timeout_ms))?, "stats") else {
                return Ok(false);
            };
            println!("{text}");
            if let Some(path) = csv {
                let (rows, missing) = stats::hop_rows(&line, &csv_row);
                stats::append_rows(&path, &rows)?;
                // stderr: stdout stays the line alone.
                let lacking: Vec<&str> = missing.iter().map(|row| row.hop.as_str()).collect();
                eprintln!(
                    "stats: {} rows appended to {}{}",
                    rows.len(),
                    path.display(),
                    if lacking.is_empty() { String::new() } else { format!(" (no summary for: {})", lacking.join(", ")) }
                );
            }
            if let Some(path) = save {
                std::fs::write(&path, format!("{text}\n")).map_err(|e| Error::Io {
                    what: format!("write {}", path.display()),
                    source: e,
                })?;
            }
            Ok(true)
        }
        Command::StatsCheck {
            to,
            since,
            rose,
            rose_by,
            same,
            equals,
            at_most,
            timeout_ms,
            within_ms,
        } => {
            let before = match since {
                Some(since) => match saved(&since)? {
                    Some(before) => before,
                    None => return Ok(false),
                },
                None => Stats::default(),
            };
            let checks: Vec<Check> = rose
                .into_iter()
                .map(Check::Rose)
                .chain(rose_by.into_iter().map(|(key, by)| Check::RoseBy(key, by)))
                .chain(same.into_iter().map(Check::Same))
                .chain(equals.into_iter().map(|(key, value)| Check::Equals(key, value)))
                .chain(at_most.into_iter().map(|(key, value)| Check::AtMost(key, value)))
                .collect();
            let deadline = Instant::now() + ms(within_ms);
            loop {
                let answer = match stats::query(to, ms(timeout_ms))? {
                    // A mux busy with a burst (a thousand teardowns) may
                    // answer late: within the deadline, ask again.
                    stats::Answer::Silent(_) if Instant::now() < deadline => continue,
                    answer => answer,
                };
                let Some((text, after)) = answered(answer, "stats-check") else {
                    return Ok(false);
                };
                let results = stats::compare(&before, &after, &checks);
                let held = results.iter().filter(|r| r.holds()).count();
                if held < results.len() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(250));
                    continue;
                }
                println!("stats-check: now: {text}");
                for result in &results {
                    println!("stats-check: {result}");
                }
                if held == results.len() {
                    println!("stats-check: {held}/{} checks held", results.len());
                    return Ok(true);
                }
                println!(
                    "stats-check: FAILED: {} of {} checks did not hold",
                    results.len() - held,
                    results.len()
                );
                return Ok(false);
            }
        }
        Command::Inject {
            to,
            kind: KindArg::Malformed,
            count,
            interval_ms,
            from,
        } => {
            let report = inject::run(inject::Inject {
                target: to,
                kind: inject::Kind::Malformed,
                count,
                interval: ms(interval_ms),
                from,
            })?;
            println!("{report}");
            Ok(report.success())
        }
        Command::Middlebox { inject, capture, case, flows, within_ms } => {
            let case = match case {
                CaseArg::Nat => middlebox::Case::Nat,
                CaseArg::Deny => middlebox::Case::Deny,
                CaseArg::Local => middlebox::Case::Local,
                CaseArg::Churn => middlebox::Case::Churn { flows },
            };
            let report = middlebox::run(middlebox::Middlebox { inject, capture, case, within: ms(within_ms) })?;
            println!("{report}");
            Ok(report.success())
        }
    }
}

/// The line and counters of a stats answer, or `None` after saying why
/// there are none.
fn answered(answer: Answer, command: &str) -> Option<(String, Stats)> {
    match answer {
        Answer::Line { text, stats } => Some((text, stats)),
        Answer::Malformed(why) => {
            println!("{command}: FAILED: the reply is not a stats line: {why}");
            None
        }
        Answer::Silent(why) => {
            println!("{command}: FAILED: {why}");
            None
        }
    }
}

/// The counters saved by `stats --save`, or `None` after saying why the
/// file does not hold a stats line.
fn saved(path: &Path) -> Result<Option<Stats>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        what: format!("read {}", path.display()),
        source: e,
    })?;
    match Stats::parse(&text) {
        Ok(stats) => {
            println!("stats-check: saved: {}", text.trim_end());
            Ok(Some(stats))
        }
        Err(e) => {
            println!(
                "stats-check: FAILED: {} does not hold a stats line: {e}",
                path.display()
            );
            Ok(None)
        }
    }
}
