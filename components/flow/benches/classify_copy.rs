//! The multiplexer's per-frame receive cost: classify a UDP frame, then copy
//! it into the tenant's buffer, for small, medium and full-size frames.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgeos_flow::testing::{fuzz_table, udp_sized, Ends, ME};
use edgeos_flow::{classify, copy_frame, Classified};

fn classify_then_copy(c: &mut Criterion) {
    let table = fuzz_table();
    let mut group = c.benchmark_group("classify_copy");
    for len in [64usize, 512, 1500] {
        // UDP port 7 is a service of the fuzz table, so every frame is delivered.
        let frame = udp_sized(&Ends::inbound(&ME), 5000, 7, len);
        assert!(matches!(classify(&frame, &ME, &table), Classified::Deliver { .. }));
        let mut slot = [0u8; 2048];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &frame[..], |b, frame| {
            b.iter(|| {
                let verdict = classify(black_box(frame), &ME, &table);
                if let Classified::Deliver { .. } = verdict {
                    black_box(copy_frame(frame, &mut slot));
                }
                verdict
            })
        });
    }
    group.finish();
}

criterion_group!(benches, classify_then_copy);
criterion_main!(benches);
