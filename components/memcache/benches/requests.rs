//! The memcached tenant's own cost per request on the host: parse, execute
//! against the store and write the reply (`Conn::process`), for a get hit,
//! a get miss and a set of 100-byte values, in a store sized as tenant A's
//! (256 KiB, 1024 items) holding 1000 items, which the sets replace.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use edgeos_memcache::protocol::OUT_MIN;
use edgeos_memcache::{Conn, OwnedIndex, Store};

const ITEMS: usize = 1024;
const NOW: u64 = 1_800_000_000;

fn set_request(key: usize) -> Vec<u8> {
    let mut request = format!("set key:{key} 0 0 100\r\n").into_bytes();
    request.extend_from_slice(&[b'v'; 100]);
    request.extend_from_slice(b"\r\n");
    request
}

fn requests(c: &mut Criterion) {
    let mut arena = vec![0u8; 256 * 1024];
    let mut index = OwnedIndex::<ITEMS>::new();

    let mut store = Store::new(&mut arena, index.index(), 8 * 1024);
    let mut conn = Conn::new();
    let mut out = vec![0u8; OUT_MIN];
    for key in 0..1000 {
        let progress = conn.process(&mut store, &set_request(key), NOW, &mut out);
        assert_eq!(&out[..progress.written], b"STORED\r\n");
    }
    let mut group = c.benchmark_group("memcache_request");
    let hit = b"get key:500\r\n".to_vec();
    let miss = b"get nokey\r\n".to_vec();
    let sets: Vec<Vec<u8>> = (0..1000).map(set_request).collect();
    for (name, request) in [("get_hit", &hit), ("get_miss", &miss)] {
        group.bench_function(name, |b| {
            b.iter(|| conn.process(&mut store, black_box(request), NOW, &mut out).written)
        });
    }
    let mut next = 0;
    group.bench_function("set_100", |b| {
        b.iter(|| {
            next = (next + 1) % sets.len();
            conn.process(&mut store, black_box(&sets[next]), NOW, &mut out).written
        })
    });
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
