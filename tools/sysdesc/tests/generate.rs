//! Generation for N slots: names, ids and addresses generalise from fwp_00,
//! and every template gets a template PD at the same addresses as its slots.

mod common;

use common::temp_dir;
use edgeos_sysdesc::commands::{load_and_check, load_generate_check};
use edgeos_sysdesc::generate::manager;
use edgeos_sysdesc::model::{Map, ProtectionDomain};
use edgeos_sysdesc::Diagnostics;

const HEAD: &str = r#"
[driver]
priority = 250
budget = 200
period = 1000

[mux]
priority = 200
budget = 300
period = 1000
"#;

/// Templates of `slots[k]` slots and `dynamic[k]` (or no) dynamic FWPs
/// each; template 1 has 3 MiB of rx buffers, so its windows in the mux span
/// two 4 MiB steps.
fn config(slots: &[u64], dynamic: &[u64]) -> String {
    let mut text = HEAD.to_string();
    for (k, n) in slots.iter().enumerate() {
        let big = if k == 1 { "rx_buffers_size = 0x300000\n" } else { "" };
        let d = dynamic.get(k).copied().unwrap_or(0);
        text.push_str(&format!(
            "\n[[templates]]\nname = \"t{k}\"\nprogram = \"t.elf\"\npriority = 100\nbudget = 10\nperiod = 1000\nslots = {n}\ndynamic = {d}\n{big}services = [{{ protocol = \"udp\", port = {} }}]\n",
            k + 1
        ));
    }
    text
}

fn map<'a>(pd: &'a ProtectionDomain, mr: &str) -> Option<&'a Map> {
    pd.maps.iter().find(|m| m.mr == mr)
}

#[test]
fn n_slots_follow_the_naming_and_layout_rules() {
    let dir = temp_dir("n-slots");
    let path = dir.join("system.toml");
    let slots = [4, 3, 4];
    std::fs::write(&path, config(&slots, &[])).expect("write");
    let (model, diags) = load_and_check(&path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let (_, sys) = model.expect("model");
    let mux = sys.pd("mux").expect("mux");
    assert_eq!(mux.children.len(), 11 + 3);
    let config = map(mux, "mux_config").expect("mux_config in the mux");
    assert_eq!(config.setvar_vaddr.as_deref(), Some("mux_config_vaddr"));
    assert_eq!(config.setvar_size.as_deref(), Some("mux_config_size"));
    assert_eq!(sys.memory_region("mux_config").and_then(|r| r.prefill_path.as_deref()), Some("mux_config.bin"));
    let template_of: Vec<usize> = slots.iter().enumerate().flat_map(|(t, n)| (0..*n).map(move |_| t)).collect();
    let mut previous_end = 0x6000_0000;
    for (n, child) in mux.children.iter().enumerate() {
        let pd = &child.pd;
        let template = n >= 11;
        let t = if template { n - 11 } else { template_of[n] };
        let name = if template { format!("tmpl_t{t}") } else { format!("fwp_{n:02}") };
        assert_eq!(pd.name.as_str(), name);
        assert_eq!(child.id, n as u64, "slots first, then template PDs");
        assert_eq!(child.setvar_id, None, "the mux learns child ids from its blob");

        // The PD's own view: the same addresses in a template PD and every
        // slot, because slots run on the template PD's checkpoint.
        let expected = [
            ("ctrl", 0x6000_0000, "fwp_ctrl_vaddr", true),
            ("rx_free", 0x6001_0000, "rx_free_vaddr", true),
            ("rx_used", 0x6001_4000, "rx_used_vaddr", true),
            ("tx_free", 0x6001_8000, "tx_free_vaddr", true),
            ("tx_used", 0x6001_c000, "tx_used_vaddr", true),
            ("rx_buf", 0x6010_0000, "rx_buf_vaddr", true),
        ];
        for (part, vaddr, setvar, write) in expected {
            let mr = format!("{name}_{part}");
            let m = map(pd, &mr).unwrap_or_else(|| panic!("{mr} in {name}"));
            assert_eq!((m.vaddr, m.setvar_vaddr.as_deref()), (vaddr, Some(setvar)), "{mr}");
            assert_eq!(m.perms.write, write, "{mr}");
        }
        let tx = map(pd, &format!("{name}_tx_buf")).expect("tx_buf");
        assert_eq!((tx.setvar_vaddr.as_deref(), tx.setvar_size.as_deref()), (Some("tx_buf_vaddr"), Some("tx_buf_size")));
        assert_eq!(tx.vaddr, if t == 1 { 0x6040_0000 } else { 0x6020_0000 });
        let image = map(pd, &format!("tmpl_t{t}_image")).expect("image");
        assert_eq!((image.vaddr, image.setvar_vaddr.as_deref()), (0x7800_0000, Some("tmpl_image_vaddr")));
        assert_eq!(image.perms.write, template, "only the template PD writes its checkpoint");
        let config = map(pd, &format!("{name}_config"));
        assert_eq!(config.is_some(), template, "only the template PD has a configuration");
        if let Some(config) = config {
            assert_eq!((config.vaddr, config.setvar_vaddr.as_deref()), (0x6000_1000, Some("tenant_config_vaddr")));
            assert_eq!(
                sys.memory_region(&format!("{name}_config")).and_then(|r| r.prefill_path.clone()),
                Some(format!("{name}_config.bin"))
            );
        }

        // The mux's view: the same window at the PD's base, no setvars,
        // bases 4 MiB-aligned and in child order. It drives a slot's rings
        // and buffers and zeroes its control region; it only reads a
        // template PD's ready block and rings, and never maps its buffers.
        let base = map(mux, &format!("{name}_ctrl")).expect("ctrl in mux").vaddr;
        assert_eq!(base % 0x40_0000, 0, "{name}");
        assert!(base >= previous_end, "{name}'s window overlaps the previous one");
        for m in &pd.maps {
            let in_mux = map(mux, &m.mr);
            let private = m.mr.ends_with("_config") || m.mr.ends_with("_image") || (template && m.mr.contains("_buf"));
            if private {
                assert!(in_mux.is_none(), "the mux does not map {}", m.mr);
                continue;
            }
            let in_mux = in_mux.unwrap_or_else(|| panic!("{} in the mux", m.mr));
            assert_eq!(in_mux.vaddr - base, m.vaddr - 0x6000_0000, "{}", m.mr);
            assert_eq!((&in_mux.setvar_vaddr, &in_mux.setvar_size), (&None, &None), "{}", m.mr);
            assert_eq!(in_mux.perms.write, !template, "{}", m.mr);
        }
        previous_end = base + 0x40_0000;

        let ch = sys.channels.iter().find(|c| c.ends[1].pd.as_str() == name).expect("channel");
        assert_eq!((ch.ends[0].pd.as_str(), ch.ends[0].id.0, ch.ends[0].setvar_id.as_deref()), ("mux", n as u64 + 1, None));
        assert_eq!((ch.ends[1].id.0, ch.ends[1].setvar_id.as_deref()), (0, Some("mux_channel")));
    }
}

#[test]
fn more_slots_than_the_mux_drives_are_refused() {
    let dir = temp_dir("too-many-for-mux");
    let path = dir.join("system.toml");
    // Slot PDs (Microkit bounds those) and dynamic FWPs together.
    let n = edgeos_config::MUX_SLOT_CAPACITY as u64 + 1;
    std::fs::write(&path, config(&[9, 1, 1], &[n - 11])).expect("write");
    let (_, diags) = load_and_check(&path, &[]);
    let text = format!("{:?}", diags.items());
    assert!(diags.has_errors());
    assert!(text.contains("the mux drives at most"), "{text}");
}

#[test]
fn dynamic_fwps_have_no_pd_only_a_window_in_the_mux_and_an_id() {
    let dir = temp_dir("dynamic");
    let path = dir.join("system.toml");
    std::fs::write(&path, config(&[2, 1], &[3, 2])).expect("write");
    let mut diags = Diagnostics::new(Some(&path));
    let loaded = edgeos_sysdesc::config::load(&path, &mut diags).expect("configuration");
    let (model, diags) = load_and_check(&path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let (_, sys) = model.expect("model");

    // No PD, region, map or channel per dynamic FWP: the 3 slots and 2
    // template PDs only, and one region for the manager.
    let mux = sys.pd("mux").expect("mux");
    assert_eq!(mux.children.len(), 3 + 2);
    assert_eq!(sys.channels.len(), 1 + 5, "the driver's and the children's");
    let manager = sys.memory_region("fwp_manager").expect("the manager's region");
    assert_eq!((manager.size, manager.prefill_path.as_deref()), (0x11000, Some("fwp_manager.bin")));
    let m = map(mux, "fwp_manager").expect("the mux maps it");
    assert_eq!((m.vaddr, m.perms.write, m.setvar_vaddr.as_deref()), (0x5a00_0000, true, None));
    assert!(sys.memory_regions.iter().all(|r| !r.name.starts_with("fwp_03")), "no region of a 4th FWP");

    // Their windows: above every map of the mux, the largest window
    // (template 1's, 3 MiB of rx buffers) apart; their ids the free ones
    // after the manager's.
    let plan = manager::plan(&loaded, &sys).expect("ids enough").expect("dynamic FWPs");
    let top = mux.maps.iter().map(|m| m.vaddr + sys.memory_region(&m.mr).expect("region").size).max().expect("maps");
    assert!(plan.window >= top && plan.window % 0x40_0000 == 0, "{:#x} above {top:#x}", plan.window);
    assert_eq!(plan.stride, 0x80_0000);
    assert_eq!((plan.signal, plan.comm), (6, 0x5a01_0000));
    let fwps: Vec<_> = plan.fwps.iter().map(|f| (f.index, f.template_index, f.channel, f.mux_base)).collect();
    let at = |k: u64| plan.window + k * plan.stride;
    assert_eq!(fwps, [(0, 0, 7, at(0)), (1, 0, 8, at(1)), (2, 0, 9, at(2)), (3, 1, 10, at(3)), (4, 1, 11, at(4))]);

    // Without dynamic FWPs, no manager.
    std::fs::write(&path, config(&[2, 1], &[])).expect("write");
    let (model, _) = load_and_check(&path, &[]);
    assert!(model.expect("model").1.memory_region("fwp_manager").is_none());
}

#[test]
fn slots_take_fwp_stack_size_and_the_template_pd_keeps_stack_size() {
    let dir = temp_dir("fwp-stack");
    let path = dir.join("system.toml");
    let mut text = config(&[2, 1], &[]);
    // t0: a 1 MiB stack for its initialisation, 64 KiB in each FWP; t1
    // gives no fwp_stack_size, so its slots have its stack_size.
    text = text.replacen("slots = 2\n", "slots = 2\nstack_size = 0x100000\nfwp_stack_size = 0x10000\n", 1);
    text = text.replacen("slots = 1\n", "slots = 1\nstack_size = 0x8000\n", 1);
    std::fs::write(&path, text).expect("write");
    let (model, diags) = load_and_check(&path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let (_, sys) = model.expect("model");
    let mux = sys.pd("mux").expect("mux");
    let stacks: Vec<(&str, u64)> = mux.children.iter().map(|c| (c.pd.name.as_str(), c.pd.stack_size)).collect();
    assert_eq!(
        stacks,
        [("fwp_00", 0x10000), ("fwp_01", 0x10000), ("fwp_02", 0x8000), ("tmpl_t0", 0x100000), ("tmpl_t1", 0x8000)]
    );
}

#[test]
fn a_slot_stack_outside_the_limits_is_reported() {
    let dir = temp_dir("fwp-stack-bad");
    let path = dir.join("system.toml");
    let text = config(&[1], &[]).replacen("slots = 1\n", "slots = 1\nfwp_stack_size = 0x1800\n", 1);
    std::fs::write(&path, text).expect("write");
    let (_, diags) = load_and_check(&path, &[]);
    let errors: Vec<String> = diags.items().iter().map(|d| d.to_string()).collect();
    assert!(errors.iter().any(|e| e.contains("fwp_00") && e.contains("stack_size")), "{errors:#?}");
}

#[test]
fn a_memcached_templates_private_region_is_its_connection_area_index_and_store_in_large_pages() {
    let dir = temp_dir("memcached-region");
    let path = dir.join("system.toml");
    // t0: a 2 MiB store served over 3 connections; t1: a region of its own size.
    let mut text = config(&[1, 1], &[]);
    text = text.replacen("slots = 1\n", "slots = 1\nstore_mb = 2\nmax_connections = 3\n", 1);
    text = text.replacen("dynamic = 0\nrx_buffers_size", "dynamic = 0\nmemory_size = 0x3000\nrx_buffers_size", 1);
    std::fs::write(&path, text).expect("write");
    let (generated, diags) = load_generate_check(&path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let generated = generated.expect("model");
    let sys = &generated.system;
    let area = edgeos_memcache_server::connection_memory(3) as u64;
    let index = edgeos_memcache_server::index_memory(2 << 20) as u64;
    // No dynamic FWP clones t0's slot: 2 MiB pages, the size rounded up to them.
    let expected = ((2 << 20) + area + index).next_multiple_of(0x20_0000);
    assert_eq!(sys.memory_region("fwp_00_mem").and_then(|r| r.page_size), Some(0x20_0000));
    assert_eq!(sys.memory_region("fwp_01_mem").and_then(|r| r.page_size), None, "a 12 KiB region");
    for (pd, mr, size) in [
        ("fwp_00", "fwp_00_mem", expected),
        ("tmpl_t0", "tmpl_t0_mem", expected),
        ("fwp_01", "fwp_01_mem", 0x3000),
        ("tmpl_t1", "tmpl_t1_mem", 0x3000),
    ] {
        assert_eq!(sys.memory_region(mr).map(|r| r.size), Some(size), "{mr}");
        let pd = sys.pd(pd).expect("pd");
        let m = map(pd, mr).expect("the private region is mapped");
        assert_eq!(
            (m.vaddr, m.setvar_vaddr.as_deref(), m.setvar_size.as_deref()),
            (edgeos_sysdesc::generate::MEMORY_VADDR, Some("fwp_mem_vaddr"), Some("fwp_mem_size"))
        );
    }
    // The template PD's blob says how the program lays the region out.
    let tenant = |file: &str| {
        let blob = generated.blobs.iter().find(|b| b.file == file).expect("blob");
        edgeos_config::TenantConfig::parse(&blob.bytes).expect("parses")
    };
    let t0 = tenant("tmpl_t0_config.bin");
    assert_eq!((t0.max_connections, t0.store_size, t0.item_size_max), (3, 2 << 20, 0));
    let t1 = tenant("tmpl_t1_config.bin");
    assert_eq!((t1.max_connections, t1.store_size), (0, 0));
}
