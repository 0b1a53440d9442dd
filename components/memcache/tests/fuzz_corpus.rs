//! Replays the fuzz corpus as a regression test on stable: every file
//! under `fuzz/corpus/tcp` goes through the same invariant check the fuzz
//! target runs (`edgeos_memcache::testing::check_tcp`).
//!
//! The hand-made seeds (one per command and error path) are built here;
//! `cargo test -p edgeos-memcache --test fuzz_corpus -- --ignored` writes
//! them into the corpus as `seed-*` files.

use std::path::{Path, PathBuf};

use edgeos_memcache::testing::{check_tcp, SENTINEL_KEY};

/// The first byte picks where `check_tcp` cuts the stream; the seeds cut
/// early so the split lands inside the first command.
fn seed(cut: u8, text: &str) -> Vec<u8> {
    let mut v = vec![cut];
    v.extend_from_slice(text.as_bytes());
    v
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let big = "v".repeat(5000);
    vec![
        ("set-get", seed(7, "set k 1 0 5\r\nhello\r\nget k\r\ngets k k2\r\n")),
        ("add-replace", seed(3, "add k 0 0 1\r\nx\r\nreplace k 0 0 2\r\nyy\r\nreplace n 0 0 1\r\nz\r\n")),
        ("append-prepend", seed(9, "set k 0 0 1\r\nb\r\nappend k 0 0 1\r\nc\r\nprepend k 0 0 1\r\na\r\nget k\r\n")),
        ("cas", seed(2, "set k 0 0 1\r\nx\r\ngets k\r\ncas k 0 0 1 1\r\ny\r\ncas k 0 0 1 1\r\nz\r\n")),
        ("incr-decr", seed(5, "set n 0 0 2\r\n10\r\nincr n 95\r\ndecr n 200\r\nincr n 18446744073709551615\r\nincr x 1\r\n")),
        ("touch-gat", seed(4, "set k 0 100 1\r\nx\r\ntouch k 10\r\ngat 0 k\r\ngats -1 k\r\nget k\r\n")),
        ("delete", seed(1, "set k 0 0 1\r\nx\r\ndelete k 0\r\ndelete k noreply\r\ndelete k 5\r\n")),
        ("flush", seed(6, "set k 0 0 1\r\nx\r\nflush_all 2\r\nflush_all\r\nflush_all noreply\r\nget k\r\n")),
        ("misc", seed(2, "stats\r\nstats reset\r\nversion\r\nverbosity 1\r\nbogus\r\n\r\nquit\r\n")),
        ("bad-chunk", seed(12, "set k 0 0 1\r\nxyz\r\nget k\r\n")),
        ("too-large", seed(20, &format!("set k 0 0 5000\r\n{big}\r\nget k\r\n"))),
        ("bad-lines", seed(3, "set k x 0 1\r\nx\r\nincr k y\r\ntouch k z\r\nget a\x01b\r\n")),
        ("evict", seed(30, &"set kNN 0 0 1000\r\n".repeat(20).replace("1000\r\n", &format!("1000\r\n{}\r\n", "e".repeat(1000))))),
    ]
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tcp")
}

#[test]
fn the_corpus_holds_every_invariant() {
    let Ok(entries) = std::fs::read_dir(corpus_dir()) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| check_tcp(&bytes)).is_err() {
            panic!("{} breaks an invariant", path.display());
        }
    }
    eprintln!("replayed {} corpus files", paths.len());
}

#[test]
fn hand_made_seeds_hold_every_invariant() {
    for (name, input) in seeds() {
        assert!(
            std::panic::catch_unwind(|| check_tcp(&input)).is_ok(),
            "{name}"
        );
    }
}

#[test]
fn naming_the_sentinel_is_what_it_takes_to_change_it() {
    // The check would fail if an input could change the sentinel without
    // naming it; naming it is allowed to, and the check notices.
    let key = std::str::from_utf8(SENTINEL_KEY).unwrap();
    let input = seed(0, &format!("set {key} 0 0 1\r\nx\r\n"));
    assert!(std::panic::catch_unwind(|| check_tcp(&input)).is_err());
}

#[test]
fn the_corpus_is_small_enough_to_commit() {
    let Ok(entries) = std::fs::read_dir(corpus_dir()) else {
        return;
    };
    let sizes: Vec<u64> = entries
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    assert!(sizes.len() <= 150, "{} files", sizes.len());
    assert!(sizes.iter().sum::<u64>() < 1 << 20, "over 1 MiB");
}

#[test]
#[ignore = "writes the seed files; run by hand after changing the seeds"]
fn write_seeds() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, input) in seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), input).unwrap();
    }
}
