//! Packets per second through element chains: the 3- and 6-element chains
//! of issue 15, each step of the 6-element chain (so one element's cost is
//! the difference between two), and the firewall and NAT on an
//! established flow. Each iteration copies the 64-byte frame into the
//! buffer first (DecIPTTL would otherwise count the TTL down to expiry);
//! `0-endpoints` (FromRing -> ToRing) measures that copy and the walk.
//!
//! `cargo bench -p edgeos-click --bench chain`; docs/click.md has the figures.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgeos_click::testing::{bench_frame, BENCH_CHAINS};
use edgeos_click::{Graph, Packet, Verdict};

fn chains(c: &mut Criterion) {
    let frame = bench_frame();
    let mut group = c.benchmark_group("click");
    group.throughput(Throughput::Elements(1));
    for (name, config) in BENCH_CHAINS {
        let mut graph: Graph = Graph::new();
        graph.configure(config).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(frame.len(), buf.len());
        // Every chain transmits the frame (the NAT's first push makes its mapping).
        buf.copy_from_slice(&frame);
        assert!(
            matches!(
                graph.push(&mut Packet::whole(&mut buf)),
                Verdict::Transmit { .. }
            ),
            "{name}"
        );
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(&frame));
                let mut pkt = Packet::whole(&mut buf);
                graph.push(&mut pkt)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, chains);
criterion_main!(benches);
