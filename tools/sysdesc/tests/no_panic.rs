//! The parsers and the whole pipeline never panic, whatever they are fed:
//! arbitrary bytes, TOML-ish text with arbitrary keys and numbers, and the
//! project's system.xml with attribute values replaced at random.

mod common;

use edgeos_sysdesc::check::{self, CheckOptions};
use edgeos_sysdesc::{blobs, boards, config, emit, generate, parse_sdf, Diagnostics};
use proptest::prelude::*;

/// Runs everything downstream of a successful parse.
fn pipeline_from_config(text: &str) {
    let mut diags = Diagnostics::new(None);
    if let Some(loaded) = config::parse(text, &mut diags) {
        let system = generate::generate(&loaded);
        // The blobs, when they can be made, and the checks of them.
        let blobs = blobs::blobs(&loaded)
            .map(|all| all.into_iter().map(|b| (b.file, b.bytes)).collect())
            .unwrap_or_default();
        check::check(
            &system,
            &CheckOptions {
                board: loaded.board,
                search_paths: Vec::new(),
                blobs,
            },
            &mut diags,
        );
        let xml = emit::emit(&system);
        let mut again = Diagnostics::new(None);
        let parsed = parse_sdf::parse(&xml, &mut again);
        assert_eq!(parsed.as_ref(), Some(&system), "emit/parse round trip");
    }
    for d in diags.items() {
        let _ = d.to_string();
    }
}

fn pipeline_from_xml(text: &str) {
    let mut diags = Diagnostics::new(None);
    if let Some(system) = parse_sdf::parse(text, &mut diags) {
        let board = boards::board("qemu_virt_aarch64").expect("known board");
        check::check(
            &system,
            &CheckOptions {
                board,
                search_paths: Vec::new(),
                blobs: Default::default(),
            },
            &mut diags,
        );
        let _ = emit::emit(&system);
    }
    for d in diags.items() {
        let _ = d.to_string();
    }
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..300).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n:#x}")),
        Just("0x1000".to_string()),
        Just("\"x\"".to_string()),
        Just("true".to_string()),
    ]
}

const KEYS: &[&str] = &[
    "priority",
    "budget",
    "period",
    "stack_size",
    "slots",
    "dynamic",
    "ctrl_size",
    "memory_size",
    "store_mb",
    "store_kb",
    "max_connections",
    "item_size_max",
    "buffer_size",
    "net_dma_size",
    "queue_size",
    "virtio_dma_size",
    "rx_buffers_size",
    "tx_buffers_size",
    "stats_port",
    "name",
    "program",
    "pool_size",
    "port",
    "bogus",
];

fn toml_ish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => (prop::sample::select(KEYS), number()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(&["[driver]", "[mux]", "[rings]", "[network]", "[[templates]]", "[bogus]"][..]).prop_map(str::to_string),
        1 => Just("name = \"t\"\nprogram = \"t.elf\"".to_string()),
        1 => Just("spawn = { policy = \"warm_pool\", pool_size = 2 }".to_string()),
        1 => Just("services = [{ protocol = \"udp\", port = 7 }]".to_string()),
        1 => "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

/// A valid base with numeric fields replaced, so generation and every check run.
fn mutated_config() -> impl Strategy<Value = String> {
    (
        (number(), number(), number(), number(), number(), number(), number(), number()),
        (number(), number(), number(), number(), number(), number()),
    )
        .prop_map(|((a, b, c, d, e, f, g, h), (i, j, k, l, m, n))| {
            format!(
                "[driver]\npriority = {a}\nbudget = {b}\nperiod = {c}\nstack_size = {d}\n\n[mux]\npriority = 200\nbudget = 3\nperiod = 10\nstats_port = {k}\n\n\
                 [rings]\nqueue_size = {e}\n\n[[templates]]\nname = \"t\"\nprogram = \"t.elf\"\npriority = 1\nbudget = 1\nperiod = 10\nctrl_size = {f}\nmemory_size = {g}\n\
                 rx_buffers_size = {i}\ntx_buffers_size = {j}\nservices = [{{ protocol = \"udp\", port = 7 }}]\nslots = {h}\ndynamic = {l}\n\
                 \n[[templates]]\nname = \"m\"\nprogram = \"m.elf\"\npriority = 1\nbudget = 1\nperiod = 10\nstore_mb = {m}\nmax_connections = {n}\n\
                 services = [{{ protocol = \"tcp\", port = 11211 }}]\n"
            )
        })
}

fn mutated_xml() -> impl Strategy<Value = String> {
    let base = std::fs::read_to_string(common::repo_root().join("system.xml")).unwrap_or_default();
    let values: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut from = 0;
        while let Some(i) = base[from..].find("=\"") {
            let start = from + i + 2;
            let Some(len) = base[start..].find('"') else {
                break;
            };
            v.push((start, start + len));
            from = start + len;
        }
        v
    };
    let n = values.len().max(1);
    prop::collection::vec((0..n, number()), 1..6).prop_map(move |edits| {
        let mut text = base.clone();
        let mut edits: Vec<_> = edits
            .into_iter()
            .filter_map(|(i, v)| values.get(i).map(|r| (*r, v)))
            .collect();
        edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.0));
        edits.dedup_by_key(|(r, _)| r.0);
        for ((s, e), v) in edits {
            text.replace_range(s..e, v.trim_matches('"'));
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        pipeline_from_config(&text);
        pipeline_from_xml(&text);
    }

    #[test]
    fn toml_ish_text(text in toml_ish()) {
        pipeline_from_config(&text);
    }

    #[test]
    fn configurations_with_arbitrary_numbers(text in mutated_config()) {
        pipeline_from_config(&text);
    }

    #[test]
    fn system_xml_with_arbitrary_values(text in mutated_xml()) {
        pipeline_from_xml(&text);
    }
}
