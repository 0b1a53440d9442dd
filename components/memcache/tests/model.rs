//! Random command sequences through the TCP protocol, each reply checked
//! against a model: a `HashMap` with memcached's semantics and no
//! eviction (the arena is far larger than anything the sequences store).

use std::collections::HashMap;

use edgeos_memcache::protocol::{Conn, OUT_MIN};
use edgeos_memcache::store::MAX_RELATIVE;
use edgeos_memcache::{OwnedIndex, Store};
use proptest::prelude::*;

const START: u64 = 1_700_000_000;
const KEYS: [&str; 4] = ["a", "b", "key-c", "d"];

#[derive(Debug, Clone)]
enum Op {
    Store {
        cmd: &'static str,
        key: usize,
        flags: u32,
        exptime: i64,
        value: Vec<u8>,
        noreply: bool,
    },
    Cas {
        key: usize,
        value: Vec<u8>,
        current: bool,
        wrong: u64,
    },
    Get {
        keys: Vec<usize>,
        cas: bool,
    },
    Gat {
        exptime: i64,
        key: usize,
    },
    Delete {
        key: usize,
    },
    Delta {
        key: usize,
        incr: bool,
        delta: u64,
    },
    Touch {
        key: usize,
        exptime: i64,
    },
    Flush {
        delay: i64,
    },
    Advance {
        secs: u64,
    },
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9]{1,20}".prop_map(String::into_bytes),
        "[a-z]{0,8}".prop_map(String::into_bytes),
        Just(b"18446744073709551615".to_vec()),
    ]
}

fn exptime() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        1i64..4,
        Just(100),
        Just(-1),
        Just(START as i64 + 3),
        Just(MAX_RELATIVE + 1)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        4 => (prop::sample::select(vec!["set", "add", "replace", "append", "prepend"]), key.clone(), any::<u32>(), exptime(), value(), prop::bool::weighted(0.1))
            .prop_map(|(cmd, key, flags, exptime, value, noreply)| Op::Store { cmd, key, flags, exptime, value, noreply }),
        1 => (key.clone(), value(), any::<bool>(), any::<u64>()).prop_map(|(key, value, current, wrong)| Op::Cas { key, value, current, wrong }),
        3 => (prop::collection::vec(key.clone(), 1..4), any::<bool>()).prop_map(|(keys, cas)| Op::Get { keys, cas }),
        1 => (exptime(), key.clone()).prop_map(|(exptime, key)| Op::Gat { exptime, key }),
        1 => key.clone().prop_map(|key| Op::Delete { key }),
        2 => (key.clone(), any::<bool>(), prop_oneof![0u64..20, Just(u64::MAX)]).prop_map(|(key, incr, delta)| Op::Delta { key, incr, delta }),
        1 => (key.clone(), exptime()).prop_map(|(key, exptime)| Op::Touch { key, exptime }),
        1 => prop_oneof![Just(0i64), 1i64..4].prop_map(|delay| Op::Flush { delay }),
        2 => (0u64..4).prop_map(|secs| Op::Advance { secs }),
    ]
}

#[derive(Debug, Clone)]
struct MItem {
    value: Vec<u8>,
    flags: u32,
    /// None: never; Some(0): already expired; Some(t): invalid from t.
    expires: Option<u64>,
    set_at: u64,
    cas: u64,
}

#[derive(Default)]
struct Model {
    items: HashMap<usize, MItem>,
    now: u64,
    cas_id: u64,
    oldest_cas: u64,
    oldest_live: Option<u64>,
    flushed_through: Option<u64>,
}

fn expiry(exptime: i64, now: u64) -> Option<u64> {
    match exptime {
        0 => None,
        e if e < 0 => Some(0),
        e if e <= MAX_RELATIVE => Some(now + e as u64),
        e => Some(e as u64),
    }
}

/// The numeric value memcached's strtoull finds in the values these tests
/// generate: leading digits, then nothing or a space (decr's padding).
fn numeric(v: &[u8]) -> Option<u64> {
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || v.get(digits).is_some_and(|&b| b != b' ') {
        return None;
    }
    std::str::from_utf8(&v[..digits]).unwrap().parse().ok()
}

impl Model {
    fn next_cas(&mut self) -> u64 {
        self.cas_id += 1;
        self.cas_id
    }

    fn valid(&self, it: &MItem) -> bool {
        let expired = matches!(it.expires, Some(t) if t <= self.now);
        let flushed = (self.oldest_cas != 0 && it.cas < self.oldest_cas)
            || matches!(self.oldest_live, Some(t) if t <= self.now && it.set_at <= t)
            || matches!(self.flushed_through, Some(t) if it.set_at <= t);
        !expired && !flushed
    }

    /// The valid item under `key` (an invalid one is forgotten, as the
    /// store forgets it when a command meets it).
    fn live(&mut self, key: usize) -> Option<&mut MItem> {
        if self.items.get(&key).is_some_and(|it| !self.valid(it)) {
            self.items.remove(&key);
        }
        self.items.get_mut(&key)
    }

    fn put(&mut self, key: usize, value: Vec<u8>, flags: u32, expires: Option<u64>) {
        let cas = self.next_cas();
        self.items.insert(
            key,
            MItem {
                value,
                flags,
                expires,
                set_at: self.now,
                cas,
            },
        );
    }

    fn apply(&mut self, op: &Op) -> (Vec<u8>, Vec<u8>) {
        let mut req = Vec::new();
        let reply: Vec<u8>;
        match op {
            Op::Store {
                cmd,
                key,
                flags,
                exptime,
                value,
                noreply,
            } => {
                req.extend(
                    format!(
                        "{cmd} {} {flags} {exptime} {}{}\r\n",
                        KEYS[*key],
                        value.len(),
                        if *noreply { " noreply" } else { "" }
                    )
                    .bytes(),
                );
                req.extend(value);
                req.extend(b"\r\n");
                let now = self.now;
                let exists = self.live(*key).is_some();
                let word = match (*cmd, exists) {
                    ("set", _) | ("add", false) | ("replace", true) => {
                        self.put(*key, value.clone(), *flags, expiry(*exptime, now));
                        "STORED"
                    }
                    ("append" | "prepend", true) => {
                        let old = self.items[key].clone();
                        let joined = if *cmd == "append" {
                            [&old.value[..], value].concat()
                        } else {
                            [&value[..], &old.value[..]].concat()
                        };
                        self.put(*key, joined, old.flags, old.expires);
                        "STORED"
                    }
                    _ => "NOT_STORED",
                };
                reply = if *noreply {
                    vec![]
                } else {
                    format!("{word}\r\n").into_bytes()
                };
            }
            Op::Cas {
                key,
                value,
                current,
                wrong,
            } => {
                let now = self.now;
                let found = self.live(*key).map(|it| it.cas);
                let unique = match (found, current) {
                    (Some(c), true) => c,
                    _ => *wrong,
                };
                req.extend(format!("cas {} 9 0 {} {unique}\r\n", KEYS[*key], value.len()).bytes());
                req.extend(value);
                req.extend(b"\r\n");
                let word = match found {
                    None => "NOT_FOUND",
                    Some(c) if c != unique => "EXISTS",
                    Some(_) => {
                        self.put(*key, value.clone(), 9, expiry(0, now));
                        "STORED"
                    }
                };
                reply = format!("{word}\r\n").into_bytes();
            }
            Op::Get { keys, cas } => {
                let names: Vec<&str> = keys.iter().map(|&k| KEYS[k]).collect();
                req.extend(
                    format!(
                        "{} {}\r\n",
                        if *cas { "gets" } else { "get" },
                        names.join(" ")
                    )
                    .bytes(),
                );
                let mut r = Vec::new();
                for &k in keys {
                    if let Some(it) = self.live(k) {
                        r.extend(
                            format!("VALUE {} {} {}", KEYS[k], it.flags, it.value.len()).bytes(),
                        );
                        if *cas {
                            r.extend(format!(" {}", it.cas).bytes());
                        }
                        r.extend(b"\r\n");
                        r.extend(&it.value);
                        r.extend(b"\r\n");
                    }
                }
                r.extend(b"END\r\n");
                reply = r;
            }
            Op::Gat { exptime, key } => {
                req.extend(format!("gats {exptime} {}\r\n", KEYS[*key]).bytes());
                let now = self.now;
                let mut r = Vec::new();
                if let Some(it) = self.live(*key) {
                    it.expires = expiry(*exptime, now);
                    r.extend(
                        format!(
                            "VALUE {} {} {} {}\r\n",
                            KEYS[*key],
                            it.flags,
                            it.value.len(),
                            it.cas
                        )
                        .bytes(),
                    );
                    r.extend(&it.value);
                    r.extend(b"\r\n");
                }
                r.extend(b"END\r\n");
                reply = r;
            }
            Op::Delete { key } => {
                req.extend(format!("delete {}\r\n", KEYS[*key]).bytes());
                let found = self.live(*key).is_some();
                self.items.remove(key);
                reply = if found {
                    b"DELETED\r\n".to_vec()
                } else {
                    b"NOT_FOUND\r\n".to_vec()
                };
            }
            Op::Delta { key, incr, delta } => {
                req.extend(
                    format!(
                        "{} {} {delta}\r\n",
                        if *incr { "incr" } else { "decr" },
                        KEYS[*key]
                    )
                    .bytes(),
                );
                let now = self.now;
                reply = match self
                    .live(*key)
                    .map(|it| (numeric(&it.value), it.value.len()))
                {
                    None => b"NOT_FOUND\r\n".to_vec(),
                    Some((None, _)) => {
                        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n".to_vec()
                    }
                    Some((Some(v), old_len)) => {
                        let new = if *incr {
                            v.wrapping_add(*delta)
                        } else {
                            v.saturating_sub(*delta)
                        };
                        let mut digits = new.to_string().into_bytes();
                        if digits.len() <= old_len {
                            digits.resize(old_len, b' ');
                        }
                        let cas = self.next_cas();
                        let it = self.items.get_mut(key).unwrap();
                        it.value = digits;
                        it.cas = cas;
                        it.set_at = now;
                        format!("{new}\r\n").into_bytes()
                    }
                };
            }
            Op::Touch { key, exptime } => {
                req.extend(format!("touch {} {exptime}\r\n", KEYS[*key]).bytes());
                let now = self.now;
                reply = match self.live(*key) {
                    Some(it) => {
                        it.expires = expiry(*exptime, now);
                        b"TOUCHED\r\n".to_vec()
                    }
                    None => b"NOT_FOUND\r\n".to_vec(),
                };
            }
            Op::Flush { delay } => {
                req.extend(format!("flush_all {delay}\r\n").bytes());
                let at = if *delay > 0 {
                    self.now + *delay as u64
                } else {
                    self.now
                };
                if let Some(t) = self.oldest_live.filter(|&t| t <= self.now) {
                    self.flushed_through = self.flushed_through.max(Some(t));
                }
                self.oldest_live = at.checked_sub(1);
                if at <= self.now + 1 {
                    self.oldest_cas = self.next_cas();
                }
                reply = b"OK\r\n".to_vec();
            }
            Op::Advance { secs } => {
                self.now += secs;
                reply = vec![];
            }
        }
        (req, reply)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn replies_match_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut arena = vec![0u8; 1 << 20];
        let mut index = OwnedIndex::<256>::new();

        let mut store = Store::new(&mut arena, index.index(), 1 << 16);
        let mut model = Model { now: START, ..Model::default() };
        let mut conn = Conn::new();
        let mut out = vec![0u8; OUT_MIN];
        for op in &ops {
            let (req, expected) = model.apply(op);
            let p = conn.process(&mut store, &req, model.now, &mut out);
            prop_assert_eq!(p.consumed, req.len());
            prop_assert_eq!(
                String::from_utf8_lossy(&out[..p.written]),
                String::from_utf8_lossy(&expected),
                "after {:?}", op
            );
            store.verify().unwrap();
        }
        prop_assert_eq!(store.stats().evictions, 0);
    }
}
