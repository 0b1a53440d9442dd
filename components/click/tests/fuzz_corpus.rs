//! Replays the fuzz corpora as regression tests on stable: every file under
//! `fuzz/corpus/parse` goes through `testing::check_config` and every file
//! under `fuzz/corpus/graph` through `testing::check_graph`, the checks
//! the fuzz targets run.
//!
//! The hand-made seeds (the sample configurations, and the seed frames
//! through each sample graph) are built here;
//! `cargo test -p edgeos-click --test fuzz_corpus -- --ignored` writes them
//! into the corpora as `seed-*` files.

use std::path::{Path, PathBuf};

use edgeos_click::testing::{self, check_config, check_graph, BENCH_CHAINS, FUZZ_CONFIGS};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn parse_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = FUZZ_CONFIGS
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("seed-config-{i}"), c.as_bytes().to_vec()))
        .collect();
    for (name, config) in BENCH_CHAINS {
        seeds.push((format!("seed-chain-{name}"), config.as_bytes().to_vec()));
    }
    seeds
}

fn graph_seeds() -> Vec<(String, Vec<u8>)> {
    let frames = testing::seed_frames();
    let all: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    (0..FUZZ_CONFIGS.len() as u8)
        .map(|i| {
            (
                format!("seed-graph-{i}"),
                testing::graph_input(i, &all).to_vec(),
            )
        })
        .collect()
}

fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let dir = corpus_dir(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} fails its invariants", path.display());
        n += 1;
    }
    n
}

#[test]
fn the_parse_corpus_holds() {
    let n = replay("parse", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            check_config(text);
        }
    });
    assert!(n >= parse_seeds().len());
}

#[test]
fn the_graph_corpus_holds() {
    let n = replay("graph", check_graph);
    assert!(n >= graph_seeds().len());
}

#[test]
fn the_seeds_hold() {
    for (_, s) in parse_seeds() {
        check_config(std::str::from_utf8(&s).unwrap());
    }
    for (_, s) in graph_seeds() {
        check_graph(&s);
    }
}

#[test]
#[ignore = "writes the seed files into fuzz/corpus"]
fn write_seeds() {
    for (target, seeds) in [("parse", parse_seeds()), ("graph", graph_seeds())] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
