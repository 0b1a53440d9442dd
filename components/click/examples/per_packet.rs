//! Pushes the benchmark frame through one of `testing::BENCH_CHAINS` N
//! times, for counting instructions under valgrind (this machine's perf
//! has no hardware counters):
//!
//! ```sh
//! cargo build --release -p edgeos-click --example per_packet
//! for n in 1000 11000; do
//!   valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
//!     target/release/examples/per_packet 6-unstrip $n 2>&1 | grep 'I *refs'
//! done   # (difference) / 10000 = instructions per packet
//! ```
//!
//! With no arguments it prints every chain's name.

use std::hint::black_box;

use edgeos_click::testing::{bench_frame, BENCH_CHAINS};
use edgeos_click::{Graph, Packet, Verdict};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        for (name, _) in BENCH_CHAINS {
            println!("{name}");
        }
        return;
    };
    let n: u64 = args
        .next()
        .map_or(1000, |s| s.parse().expect("a packet count"));
    let (_, config) = BENCH_CHAINS
        .iter()
        .find(|(c, _)| *c == name)
        .expect("a chain name");
    let mut graph: Graph = Graph::new();
    graph.configure(config).unwrap();
    let frame = bench_frame();
    let mut buf = [0u8; 64];
    let mut sent = 0u64;
    for _ in 0..n {
        buf.copy_from_slice(black_box(&frame));
        if let Verdict::Transmit { .. } = graph.push(&mut Packet::whole(&mut buf)) {
            sent += 1;
        }
    }
    assert_eq!(sent, n);
}
