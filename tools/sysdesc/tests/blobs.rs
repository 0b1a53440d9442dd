//! The configuration blobs: they parse back with the PDs' own parsers, say
//! exactly what the generated maps say, come out the same every time, and
//! `check` catches a blob that disagrees with a system description.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{fixture, repo_root, temp_dir, write_tiny_elf};
use edgeos_config::{ManagerConfig, MuxConfig, Protocol, Protocols, SlotService, TenantConfig};
use edgeos_sysdesc::check::{self, CheckOptions};
use edgeos_sysdesc::commands::{self, load_generate_check, Generated};
use edgeos_sysdesc::config::{self, Protocol as ConfigProtocol};
use edgeos_sysdesc::model::{Map, Perms, ProtectionDomain, System};
use edgeos_sysdesc::{boards, Diagnostics, Severity};

fn generated(path: &Path) -> Generated {
    let (generated, diags) = load_generate_check(path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    generated.expect("a model")
}

fn blob<'a>(g: &'a Generated, file: &str) -> &'a [u8] {
    &g.blobs
        .iter()
        .find(|b| b.file == file)
        .unwrap_or_else(|| panic!("no {file}"))
        .bytes
}

fn map<'a>(pd: &'a ProtectionDomain, mr: &str) -> &'a Map {
    pd.maps
        .iter()
        .find(|m| m.mr == mr)
        .unwrap_or_else(|| panic!("'{}' does not map {mr}", pd.name))
}

fn size(sys: &System, mr: &str) -> u64 {
    sys.memory_region(mr)
        .unwrap_or_else(|| panic!("no region {mr}"))
        .size
}

/// Every address, id and service in the blobs of the configuration at
/// `path` against the model generated from it, and against the
/// configuration itself.
fn cross_check(path: &Path) -> (MuxConfig, Vec<TenantConfig>, Option<ManagerConfig>) {
    let g = generated(path);
    let sys = &g.system;
    let mut diags = Diagnostics::new(None);
    let loaded = config::load(path, &mut diags).expect("configuration");
    let c = &loaded.config;
    let mux = sys.pd("mux").expect("mux");

    let bytes = blob(&g, "mux_config.bin");
    let mc = MuxConfig::parse(bytes).expect("mux_config.bin parses");
    let region = sys.memory_region("mux_config").expect("mux_config region");
    assert_eq!(region.prefill_path.as_deref(), Some("mux_config.bin"));
    assert!(bytes.len() as u64 <= region.size, "the blob fits its region");
    let m = map(mux, "mux_config");
    assert_eq!(
        (m.perms, m.setvar_vaddr.as_deref(), m.setvar_size.as_deref()),
        (Perms::R, Some("mux_config_vaddr"), Some("mux_config_size"))
    );
    assert_eq!(mc.ip, c.network.address.address.octets());
    assert_eq!(mc.mac, c.network.mac.0);
    assert_eq!(mc.stats_port, c.mux.stats_port);
    let statics = mc.slots.iter().take_while(|s| s.dynamic.is_none()).count();
    assert_eq!(statics + mc.templates.len(), mux.children.len());
    assert_eq!(mc.templates.len(), c.templates.len());
    assert_eq!(mc.slots.len() as u64, c.templates.iter().map(|t| t.fwps()).sum::<u64>(), "every FWP has a slot");

    let channel_of = |name: &str| {
        let channel = sys.channels.iter().find(|ch| ch.ends[1].pd.as_str() == name).expect("channel");
        assert_eq!(channel.ends[0].pd.as_str(), "mux");
        channel.ends[0].id.0
    };
    let slot_templates: Vec<usize> =
        c.templates.iter().enumerate().flat_map(|(t, tc)| (0..tc.slots).map(move |_| t)).collect();
    for (k, slot) in mc.slots.iter().enumerate().take(statics) {
        let name = format!("fwp_{k:02}");
        let child = &mux.children[k];
        assert_eq!(child.pd.name.as_str(), name);
        assert_eq!(u64::from(slot.child_id), child.id, "{name}'s child id");
        assert_eq!(channel_of(&name), u64::from(slot.channel), "{name}'s channel");
        assert_eq!(usize::from(slot.template), slot_templates[k], "{name}'s template");

        // The mux's maps: exactly the blob's addresses, and the buffer
        // regions' sizes its lengths.
        let m = map(mux, &format!("{name}_ctrl"));
        assert_eq!((m.vaddr, m.perms), (slot.ctrl, Perms::RW), "the mux zeroes a slot's control region");
        for (ring, vaddr) in ["rx_free", "rx_used", "tx_free", "tx_used"].iter().zip(slot.rings) {
            let m = map(mux, &format!("{name}_{ring}"));
            assert_eq!(m.vaddr, vaddr, "{name}_{ring}");
            assert_eq!(m.perms, Perms::RW);
        }
        for (part, (vaddr, len)) in [("rx_buf", slot.rx_buf), ("tx_buf", slot.tx_buf)] {
            let mr = format!("{name}_{part}");
            assert_eq!(map(mux, &mr).vaddr, vaddr, "{mr} in the mux");
            assert_eq!(size(sys, &mr), u64::from(len), "{mr}'s size");
        }
        assert!(
            mux.maps.iter().all(|m| !m.mr.starts_with(&name) || m.setvar_vaddr.is_none()),
            "no setvar for {name} in the mux"
        );
        // The slot reads its template's image, and has no configuration:
        // that is how its init knows it is a slot.
        let template = &c.templates[slot_templates[k]].name;
        let m = map(&child.pd, &format!("tmpl_{template}_image"));
        assert_eq!((m.perms, m.setvar_vaddr.as_deref()), (Perms::R, Some("tmpl_image_vaddr")));
        assert!(child.pd.maps.iter().all(|m| m.setvar_vaddr.as_deref() != Some("tenant_config_vaddr")));
    }

    let mut tenants = Vec::new();
    for (t, layout) in mc.templates.iter().enumerate() {
        let tc_config = &c.templates[t];
        let name = format!("tmpl_{}", tc_config.name);
        let child = mux.children.iter().find(|ch| ch.pd.name.as_str() == name).expect("template PD");
        assert_eq!(u64::from(layout.child_id), child.id, "{name}'s child id");
        assert_eq!(channel_of(&name), u64::from(layout.channel), "{name}'s channel");
        let protocols = Protocols::of(tc_config.services.iter().map(|s| match s.protocol {
            ConfigProtocol::Udp => Protocol::Udp,
            ConfigProtocol::Tcp => Protocol::Tcp,
        }));
        let (port, last_port) = (tc_config.services[0].port, tc_config.services[0].last());
        assert_eq!(Some(layout.service), protocols.map(|protocols| SlotService { protocols, port, last_port }), "{name}'s service");
        assert_eq!(layout.per_flow, tc_config.per_flow);
        assert_eq!(layout.middlebox, tc_config.click.is_some());
        assert_eq!(u64::from(layout.max_active), tc_config.max_active());
        assert_eq!(u64::from(layout.idle_timeout_ms), tc_config.idle_timeout_ms);
        // The mux reads the template PD's ready block and rings.
        assert_eq!((map(mux, &format!("{name}_ctrl")).vaddr, map(mux, &format!("{name}_ctrl")).perms), (layout.ctrl, Perms::R));
        for (ring, vaddr) in ["rx_free", "rx_used", "tx_free", "tx_used"].iter().zip(layout.rings) {
            let m = map(mux, &format!("{name}_{ring}"));
            assert_eq!((m.vaddr, m.perms), (vaddr, Perms::R), "{name}_{ring}");
        }
        let m = map(&child.pd, &format!("{name}_image"));
        assert_eq!((m.perms, m.setvar_size.as_deref()), (Perms::RW, Some("tmpl_image_size")));
        assert_eq!(size(sys, &format!("{name}_image")), tc_config.image_size);

        // The template PD's own blob.
        let file = format!("{name}_config.bin");
        let bytes = blob(&g, &file);
        let tc = TenantConfig::parse(bytes).expect("tenant blob parses");
        let region = sys.memory_region(&format!("{name}_config")).expect("config region");
        assert_eq!(region.prefill_path.as_deref(), Some(file.as_str()));
        assert!(bytes.len() as u64 <= region.size);
        let m = map(&child.pd, &format!("{name}_config"));
        assert_eq!((m.perms, m.setvar_vaddr.as_deref()), (Perms::R, Some("tenant_config_vaddr")));
        assert_eq!(tc.ip, mc.ip);
        assert_eq!(tc.mac, mc.mac);
        assert_eq!(tc.prefix_len, c.network.address.prefix);
        assert_eq!(tc.gateway, c.network.gateway.octets());
        assert_eq!(SlotService { protocols: tc.protocols, port: tc.port, last_port: tc.last_port }, layout.service);
        // A memcached template's store and connections, which its private
        // region holds (as does each slot's, the same size).
        assert_eq!(u64::from(tc.item_size_max), tc_config.item_size_max);
        assert_eq!((u64::from(tc.max_connections), tc.store_size), (tc_config.max_connections(), tc_config.store_size()));
        if tc_config.private_memory_size() > 0 {
            assert_eq!(size(sys, &format!("{name}_mem")), tc_config.private_memory_size(), "{name}'s private region");
        }
        tenants.push(tc);
    }
    let manager = dynamic(&g, c, &mc, statics);
    assert_eq!(g.blobs.len(), 1 + usize::from(manager.is_some()) + mc.templates.len());
    (mc, tenants, manager)
}

/// The dynamic FWPs: after the static slots in the mux's blob, one per
/// template's `dynamic` in template order, each with a channel id of its
/// own that no channel of the mux has, and regions clear of the mux's maps;
/// the manager's blob says the same and names the prototypes by their
/// Microkit index.
fn dynamic(g: &Generated, c: &config::Config, mc: &MuxConfig, statics: usize) -> Option<ManagerConfig> {
    let sys = &g.system;
    let mux = sys.pd("mux").expect("mux");
    let dynamic = &mc.slots[statics..];
    let expected: Vec<usize> = c.templates.iter().enumerate().flat_map(|(t, tc)| (0..tc.dynamic).map(move |_| t)).collect();
    assert_eq!(dynamic.iter().map(|s| usize::from(s.template)).collect::<Vec<_>>(), expected, "dynamic FWPs in template order");
    if dynamic.is_empty() {
        assert!(mc.manager.is_none() && sys.memory_region("fwp_manager").is_none());
        assert!(g.blobs.iter().all(|b| b.file != "fwp_manager.bin"));
        return None;
    }
    let region = sys.memory_region("fwp_manager").expect("fwp_manager region");
    assert_eq!((region.size, region.prefill_path.as_deref()), (0x11000, Some("fwp_manager.bin")));
    let m = map(mux, "fwp_manager");
    assert_eq!((m.perms, m.cached), (Perms::RW, true));
    let link = mc.manager.expect("the mux's blob names the manager");
    assert_eq!(link.comm, m.vaddr + 0x10000, "the shared page follows the blob's sixteen pages");

    let bytes = blob(g, "fwp_manager.bin");
    assert_eq!(bytes.len() as u64, region.size, "the file covers the whole region");
    let manager = ManagerConfig::parse(bytes).expect("fwp_manager.bin parses");
    assert!(bytes[manager.buffer_len()..].iter().all(|b| *b == 0), "zeros after the blob");
    assert_eq!(usize::from(manager.mux_pd), sys.pd_index("mux").expect("index"));
    assert_eq!((manager.comm, manager.mux_signal), (link.comm, link.signal));

    let used = sys.channel_ids("mux");
    let mut ids = vec![link.signal];
    let mut taken: Vec<(u64, u64)> = mux
        .maps
        .iter()
        .map(|m| (m.vaddr, m.vaddr + size(sys, &m.mr)))
        .collect();
    assert_eq!(manager.fwps.len(), dynamic.len());
    for (k, (slot, fwp)) in dynamic.iter().zip(&manager.fwps).enumerate() {
        assert_eq!((slot.dynamic, slot.child_id), (Some(k as u16), 0), "dynamic FWP {k}");
        assert_eq!(slot.channel, fwp.signal);
        ids.push(slot.channel);
        let template = &manager.templates[usize::from(fwp.template)];
        let addresses = [slot.ctrl, slot.rings[0], slot.rings[1], slot.rings[2], slot.rings[3], slot.rx_buf.0, slot.tx_buf.0];
        assert_eq!(addresses, fwp.mux, "dynamic FWP {k}'s addresses");
        assert_eq!((slot.rx_buf.1, slot.tx_buf.1), (template.regions[5].size, template.regions[6].size));
        for (vaddr, region) in fwp.mux.iter().zip(&template.regions) {
            let range = (*vaddr, vaddr + u64::from(region.size));
            assert!(taken.iter().all(|(a, b)| range.1 <= *a || *b <= range.0), "dynamic FWP {k}'s {range:x?} overlaps");
            taken.push(range);
        }
        // Its prototype: the first slot of the same template, whose own
        // maps are the template's regions.
        let proto = &sys.all_pds()[usize::from(template.prototype_pd)];
        let first_slot = mc.slots.iter().position(|s| s.template == slot.template).expect("a static slot");
        assert_eq!(proto.pd.name.as_str(), format!("fwp_{first_slot:02}"));
        let setvars = ["fwp_ctrl_vaddr", "rx_free_vaddr", "rx_used_vaddr", "tx_free_vaddr", "tx_used_vaddr", "rx_buf_vaddr", "tx_buf_vaddr"];
        for (region, setvar) in template.regions.iter().zip(setvars) {
            let m = proto.pd.maps.iter().find(|m| m.vaddr == region.vaddr).expect("the prototype maps it");
            assert_eq!(m.setvar_vaddr.as_deref(), Some(setvar), "{}", m.mr);
            assert_eq!(size(sys, &m.mr), u64::from(region.size), "{}", m.mr);
        }
    }
    // The manager's id is its own; the dynamic FWPs share the others.
    assert!(ids[1..].iter().all(|id| *id != ids[0]), "the manager's id is its own: {ids:?}");
    assert!(ids.iter().all(|id| *id <= 61 && !used.contains(&u64::from(*id))), "{ids:?} against {used:?}");
    Some(manager)
}

#[test]
fn system_toml_blobs_parse_back_and_match_the_maps() {
    let (mux, tenants, manager) = cross_check(&repo_root().join("system.toml"));
    // What the Makefile forwards host ports to.
    let service = |protocols, port| SlotService { protocols, port, last_port: port };
    assert_eq!(
        mux.templates.iter().map(|t| t.service).collect::<Vec<_>>(),
        [
            service(Protocols::UDP, 7),
            service(Protocols::TCP, 8),
            service(Protocols::UDP, 9),
            service(Protocols::BOTH, 11211),
            service(Protocols::BOTH, 11212),
            SlotService { protocols: Protocols::BOTH, port: 20000, last_port: 20099 },
        ]
    );
    assert_eq!(tenants.iter().map(|t| t.probes).collect::<Vec<_>>(), [false, false, true, false, false, false], "only the probe template obeys probes");
    assert_eq!(mux.templates.iter().map(|t| t.middlebox).collect::<Vec<_>>(), [false, false, false, false, false, true], "only the Click template forwards");
    assert_eq!(tenants[5].click_len as usize, std::fs::read(repo_root().join("click/firewall-nat.click")).unwrap().len());
    // The memcached tenants: -m 64 -c 1024 -I 1m, and -m 16 -c 64 -I 256k.
    let memcached = |t: &TenantConfig| (t.store_size, t.max_connections, t.item_size_max);
    assert_eq!(
        tenants.iter().map(memcached).collect::<Vec<_>>(),
        [(0, 0, 0), (0, 0, 0), (0, 0, 0), (64 << 20, 1024, 0x10_0000), (16 << 20, 64, 0x4_0000), (0, 0, 0)]
    );
    assert_eq!(mux.stats_port, 7777);
    // The timer: its interrupt, and the channel the mux calls it on, whose
    // id the blob carries.
    let g = generated(&repo_root().join("system.toml"));
    let timer = g.system.pd("timer").expect("timer PD");
    assert_eq!(timer.irqs.iter().map(|i| (i.irq, i.id.0)).collect::<Vec<_>>(), [(30, 0)]);
    let id = u64::from(mux.timer_channel.expect("the blob names the timer's channel"));
    let statics = mux.slots.iter().filter(|s| s.dynamic.is_none()).count();
    assert_eq!(id, (statics + mux.templates.len()) as u64 + 1, "after the children's");
    let channel = g.system.channels.iter().find(|c| c.ends[1].pd.as_str() == "timer").expect("mux-timer channel");
    assert_eq!((channel.ends[0].pd.as_str(), channel.ends[0].id.0, channel.ends[0].pp), ("mux", id, true));
    assert!(timer.priority > g.system.pd("mux").expect("mux").priority, "the mux calls up to the timer");
    assert_eq!(mux.slots[0].ctrl, 0x6000_0000);
    assert_eq!(mux.slots[1].rx_buf, (0x6050_0000, 0x1_0000));
    assert_eq!(tenants.len(), 6);

    // 6 slot PDs and 1,018 dynamic FWPs. Microkit numbers the PDs
    // net_driver, mux, fwp_00..fwp_05 (one per template: the prototypes),
    // tmpl_*, timer. Tenant A's memcached (fwp_03, PD 5) has no dynamic
    // FWP, so the manager prototypes no clone on it.
    let manager = manager.expect("system.toml has dynamic FWPs");
    assert_eq!((statics, mux.slots.len()), (6, 1024));
    assert_eq!(manager.mux_pd, 1);
    assert_eq!(manager.templates.iter().map(|t| t.prototype_pd).collect::<Vec<_>>(), [2, 3, 4, 6, 7]);
    // The manager signals on the first id after the timer's, dynamic FWPs
    // share the next ones (15..=61), round robin; their windows follow the
    // children's, 4 MiB apart.
    assert_eq!((manager.mux_signal, manager.comm), (14, 0x5a01_0000));
    let first_window = manager.fwps[0].mux[0];
    for (k, fwp) in manager.fwps.iter().enumerate() {
        assert_eq!(fwp.signal, 15 + (k % 47) as u8);
        assert_eq!(fwp.mux[0], first_window + 0x40_0000 * k as u64, "dynamic FWP {k}'s window");
        assert_eq!(fwp.mux[5] - fwp.mux[0], 0x10_0000, "the slots' offsets");
    }
}

#[test]
fn golden_blobs_match_the_maps() {
    let (_, _, manager) = cross_check(&fixture("golden/system.toml"));
    // The largest window (template 'big', 4 MiB of rx buffers) sets the
    // stride for all.
    let manager = manager.expect("the golden input has dynamic FWPs");
    let bases: Vec<u64> = manager.fwps.iter().map(|f| f.mux[0]).collect();
    assert_eq!(bases, [0x61c0_0000, 0x6240_0000, 0x62c0_0000]);
    assert_eq!(manager.fwps.iter().map(|f| f.template).collect::<Vec<_>>(), [0, 0, 1], "'echo' and 'big' are the managed templates");
}

#[test]
fn blobs_are_deterministic_and_written_as_generated() {
    let config = repo_root().join("system.toml");
    let g = generated(&config);
    let dir = temp_dir("blobs-determinism");
    let mut runs = Vec::new();
    for run in ["a", "b"] {
        let out = dir.join(run);
        let (diags, written) = commands::blobs_to_dir(&config, &out);
        assert!(!diags.has_errors(), "{:#?}", diags.items());
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["mux_config.bin", "fwp_manager.bin", "tmpl_udp_echo_config.bin", "tmpl_tcp_echo_config.bin", "tmpl_probe_config.bin", "tmpl_memcached_config.bin", "tmpl_memcached_b_config.bin", "tmpl_firewall_nat_config.bin"]
        );
        let files: Vec<_> = written
            .iter()
            .map(|p| std::fs::read(p).expect("read"))
            .collect();
        let in_memory: Vec<_> = g.blobs.iter().map(|b| b.bytes.clone()).collect();
        assert_eq!(files, in_memory);
        runs.push(files);
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn blobs_refuse_a_bad_configuration() {
    let dir = temp_dir("blobs-refuse");
    let (diags, written) =
        commands::blobs_to_dir(&fixture("config_template_without_service.toml"), &dir);
    assert!(diags.has_errors());
    assert!(written.is_empty());
    assert_eq!(std::fs::read_dir(&*dir).map(|d| d.count()).unwrap_or(0), 0);
}

fn options(g: &Generated, search_paths: Vec<std::path::PathBuf>) -> CheckOptions {
    CheckOptions {
        board: boards::board("qemu_virt_aarch64").expect("board"),
        search_paths,
        blobs: g
            .blobs
            .iter()
            .map(|b| (b.file.clone(), b.bytes.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn messages(system: &System, options: &CheckOptions, severity: Severity) -> Vec<String> {
    let mut diags = Diagnostics::new(None);
    check::check(system, options, &mut diags);
    diags
        .items()
        .iter()
        .filter(|d| d.severity() == severity)
        .map(ToString::to_string)
        .collect()
}

fn pd_mut<'a>(sys: &'a mut System, name: &str) -> &'a mut ProtectionDomain {
    let mux = sys
        .protection_domains
        .iter_mut()
        .find(|p| p.name.as_str() == "mux")
        .expect("mux");
    if name == "mux" {
        return mux;
    }
    &mut mux
        .children
        .iter_mut()
        .find(|c| c.pd.name.as_str() == name)
        .expect("slot")
        .pd
}

fn map_mut<'a>(pd: &'a mut ProtectionDomain, mr: &str) -> &'a mut Map {
    pd.maps.iter_mut().find(|m| m.mr == mr).expect("map")
}

#[test]
fn check_finds_blobs_that_disagree_with_the_maps() {
    let g = generated(&repo_root().join("system.toml"));
    let opts = options(&g, Vec::new());
    assert_eq!(
        messages(&g.system, &opts, Severity::Error),
        Vec::<String>::new()
    );
    let has = |errors: &[String], text: &str| {
        assert!(
            errors.iter().any(|e| e
                .starts_with("a configuration blob must match the system description: ")
                && e.contains(text)),
            "no error with {text:?}: {errors:#?}"
        );
    };

    // The mux maps slot 1's rx buffers elsewhere than its blob says.
    let mut sys = g.system.clone();
    map_mut(pd_mut(&mut sys, "mux"), "fwp_01_rx_buf").vaddr = 0x6070_0000;
    has(
        &messages(&sys, &opts, Severity::Error),
        "'mux_config.bin' for 'mux': slot 1's rx buffer region at 0x60500000: 'mux' maps nothing there",
    );

    // The slot takes its rx free ring for its rx used ring.
    let mut sys = g.system.clone();
    let slot = pd_mut(&mut sys, "fwp_00");
    map_mut(slot, "fwp_00_rx_free").setvar_vaddr = Some("rx_used_vaddr".into());
    map_mut(slot, "fwp_00_rx_used").setvar_vaddr = Some("rx_free_vaddr".into());
    has(
        &messages(&sys, &opts, Severity::Error),
        "slot 0's rx_free ring at 0x60010000: 'fwp_00' maps region 'fwp_00_rx_free' as 'rx_used_vaddr', not as its rx_free ring ('rx_free_vaddr')",
    );

    // A buffer region whose size is not the blob's length.
    let mut sys = g.system.clone();
    sys.memory_regions
        .iter_mut()
        .find(|r| r.name == "fwp_00_tx_buf")
        .expect("region")
        .size = 0x2_0000;
    has(
        &messages(&sys, &opts, Severity::Error),
        "slot 0's tx buffer region at 0x60200000: the blob says 0x10000 bytes, region 'fwp_00_tx_buf' has 0x20000",
    );

    // A memcached template's private region a page short of its
    // connection area, index and store (tenant B's: in 4 KiB pages).
    let mut sys = g.system.clone();
    let region = sys.memory_regions.iter_mut().find(|r| r.name == "tmpl_memcached_b_mem").expect("region");
    region.size -= 0x1000;
    has(
        &messages(&sys, &opts, Severity::Error),
        "'tmpl_memcached_b_config.bin' for 'tmpl_memcached_b': a store of 0x1000000 bytes after the connection area for 64 connections and its index needs",
    );

    // A template configured for another port than the mux routes to it.
    let mut opts = options(&g, Vec::new());
    let mut tc = TenantConfig::parse(blob(&g, "tmpl_tcp_echo_config.bin")).expect("parse");
    (tc.port, tc.last_port) = (9, 9);
    // The whole region, as `sysdesc blobs` writes it.
    let mut bytes = vec![0; blob(&g, "tmpl_tcp_echo_config.bin").len()];
    tc.emit(&mut bytes).expect("emit");
    opts.blobs.insert("tmpl_tcp_echo_config.bin".into(), bytes);
    has(
        &messages(&g.system, &opts, Severity::Error),
        "'tmpl_tcp_echo_config.bin' for 'tmpl_tcp_echo': the template serves tcp port 9, the mux's blob routes tcp port 8 to it",
    );

    // A stale blob of another version.
    let mut opts = options(&g, Vec::new());
    let mut stale = blob(&g, "mux_config.bin").to_vec();
    stale[4] = 9;
    opts.blobs.insert("mux_config.bin".into(), stale);
    let errors = messages(&g.system, &opts, Severity::Error);
    assert!(
        errors.iter().any(|e| e.starts_with(
            "a configuration blob must be readable: 'mux_config.bin' of region 'mux_config': configuration blob version 9"
        )),
        "{errors:#?}"
    );
}

#[test]
fn check_of_system_xml_finds_the_blobs_through_the_search_path() {
    let xml = repo_root().join("system.xml");
    let dir = temp_dir("blobs-search");
    let errors = |diags: &Diagnostics| -> Vec<String> {
        diags
            .items()
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .map(ToString::to_string)
            .collect()
    };
    let before = errors(&commands::check_system(
        &xml,
        "qemu_virt_aarch64",
        &[dir.to_path_buf()],
    ));
    for file in ["mux_config.bin", "tmpl_udp_echo_config.bin", "tmpl_tcp_echo_config.bin"] {
        assert!(
            before.iter().any(|e| e.starts_with(&format!(
                "a prefill file must be in a search path: '{file}'"
            ))),
            "{before:#?}"
        );
    }
    let (diags, _) = commands::blobs_to_dir(&repo_root().join("system.toml"), &dir);
    assert!(!diags.has_errors());
    let after = commands::check_system(&xml, "qemu_virt_aarch64", &[dir.to_path_buf()]);
    assert_eq!(errors(&after), Vec::<String>::new());
    // Without a search path the blobs are not checked, and a note says so.
    let none = commands::check_system(&xml, "qemu_virt_aarch64", &[]);
    assert!(none
        .items()
        .iter()
        .any(|d| d.to_string()
            == "configuration blobs not checked against maps: no --search-path given"));
}

#[test]
fn maps_without_setvars_warn_unless_a_blob_gives_their_address() {
    let g = generated(&repo_root().join("system.toml"));
    let dir = temp_dir("blobs-unaddressed");
    let mux_symbols = [
        "driver_channel",
        "mux_config_size",
        "mux_config_vaddr",
        "net_dma_size",
        "net_dma_vaddr",
        "net_rx_free_vaddr",
        "net_rx_used_vaddr",
        "net_tx_free_vaddr",
        "net_tx_used_vaddr",
    ];
    write_tiny_elf(&dir.join("mux.elf"), 0x20_0000, 0x1000, &mux_symbols);
    let opts = options(&g, vec![dir.to_path_buf()]);
    let unaddressed = |sys: &System| -> Vec<String> {
        messages(sys, &opts, Severity::Warning)
            .into_iter()
            .filter(|w| w.starts_with("a map's address must reach the PD"))
            .collect()
    };
    assert_eq!(unaddressed(&g.system), Vec::<String>::new());

    // A map the mux's blob does not describe, without a setvar.
    let mut sys = g.system.clone();
    let mux = pd_mut(&mut sys, "mux");
    let mut extra = map_mut(mux, "fwp_00_ctrl").clone();
    extra.mr = "fwp_00_config".into();
    extra.vaddr = 0x5900_0000;
    mux.maps.push(extra);
    assert_eq!(
        unaddressed(&sys),
        ["a map's address must reach the PD through a setvar_vaddr or a configuration blob: 'fwp_00_config' at 0x59000000 in 'mux' has neither"]
    );
}

/// `g`'s options with the manager's blob edited (padded to its region, as
/// `sysdesc blobs` writes it).
fn with_manager(g: &Generated, edit: impl FnOnce(&mut ManagerConfig)) -> CheckOptions {
    let mut opts = options(g, Vec::new());
    let mut manager = ManagerConfig::parse(blob(g, "fwp_manager.bin")).expect("parse");
    edit(&mut manager);
    let mut bytes = vec![0; 0x11000];
    manager.emit(&mut bytes).expect("emit");
    opts.blobs.insert("fwp_manager.bin".into(), bytes);
    opts
}

/// `g`'s options with the mux's blob edited.
fn with_mux(g: &Generated, edit: impl FnOnce(&mut MuxConfig)) -> CheckOptions {
    let mut opts = options(g, Vec::new());
    let mut mux = MuxConfig::parse(blob(g, "mux_config.bin")).expect("parse");
    edit(&mut mux);
    let mut bytes = vec![0; mux.buffer_len()];
    mux.emit(&mut bytes).expect("emit");
    opts.blobs.insert("mux_config.bin".into(), bytes);
    opts
}

fn assert_has(errors: &[String], text: &str) {
    assert!(errors.iter().any(|e| e.contains(text)), "no error with {text:?}: {errors:#?}");
}

#[test]
fn check_finds_a_manager_blob_that_disagrees_with_the_system() {
    let g = generated(&repo_root().join("system.toml"));
    let errors = |sys: &System, opts: &CheckOptions| messages(sys, opts, Severity::Error);
    let mismatch = "a configuration blob must match the system description: 'fwp_manager.bin' for 'mux': ";

    // A map of the mux in dynamic FWP 0's window.
    let mut sys = g.system.clone();
    let mux = pd_mut(&mut sys, "mux");
    let mut extra = map_mut(mux, "fwp_00_ctrl").clone();
    // Where the manager's blob puts dynamic FWP 0's rx free ring (after
    // every template's window; regions in `REGION_COUNT` order).
    let rx_free = ManagerConfig::parse(blob(&g, "fwp_manager.bin")).expect("parse").fwps[0].mux[1];
    extra.vaddr = rx_free;
    mux.maps.push(extra);
    assert_has(
        &errors(&sys, &options(&g, Vec::new())),
        &format!(
            "a dynamic FWP's regions must lie where the mux maps nothing else, below its stack: 'fwp_manager.bin' puts dynamic FWP 0's rx_free ring [{rx_free:#x}..{:#x}) over 'fwp_00_ctrl' [{rx_free:#x}..{:#x}) in 'mux'",
            rx_free + 0x4000,
            rx_free + 0x1000
        ),
    );
    // A dynamic FWP's buffers up in the mux's stack.
    let top = with_manager(&g, |m| m.fwps[42].mux[6] = 0xff_ffff_0000);
    assert_has(
        &errors(&g.system, &top),
        "puts dynamic FWP 42's tx buffer region [0xffffff0000..0x10000000000) over its stack, guard page and IPC buffer from 0xffffbfe000 in 'mux'",
    );

    // Ids: dynamic FWPs may share one, but not the manager's; and the
    // manager not the timer's.
    let shared = with_manager(&g, |m| m.fwps[1].signal = m.fwps[0].signal);
    assert!(errors(&g.system, &shared).iter().all(|e| !e.contains("channel id")), "dynamic FWPs share ids");
    let on_manager = with_manager(&g, |m| m.fwps[1].signal = m.mux_signal);
    assert_has(
        &errors(&g.system, &on_manager),
        "the FWP manager needs a channel id of 'mux' of its own, and dynamic FWPs ids no channel of 'mux' uses: 'fwp_manager.bin' gives dynamic FWP 1 id 14, which the manager also has",
    );
    let mut sys = g.system.clone();
    let timer = sys.channels.iter_mut().find(|c| c.ends[1].pd.as_str() == "timer").expect("mux-timer channel");
    timer.ends[0].id.0 = 14;
    assert_has(&errors(&sys, &options(&g, Vec::new())), "gives the manager id 14, which a channel or irq of 'mux' also has");

    // PD numbers: the mux's, and a prototype that is no slot.
    let driver = with_manager(&g, |m| m.mux_pd = 0);
    assert_has(
        &errors(&g.system, &driver),
        "'fwp_manager.bin' for 'net_driver': its mux is PD index 0 ('net_driver'), which does not map region 'fwp_manager'",
    );
    let not_child = with_manager(&g, |m| m.templates[0].prototype_pd = 0);
    assert_has(&errors(&g.system, &not_child), &format!("{mismatch}template 0's prototype is PD index 0 ('net_driver'), which is no child of 'mux'"));
    let template_pd = with_manager(&g, |m| m.templates[0].prototype_pd = 8);
    assert_has(
        &errors(&g.system, &template_pd),
        &format!("{mismatch}dynamic FWP 0 (the mux's slot 6): the mux's blob runs it as template 0, its prototype 'tmpl_udp_echo' as no slot"),
    );

    // The prototype maps its rx free ring as something else.
    let mut sys = g.system.clone();
    map_mut(pd_mut(&mut sys, "fwp_00"), "fwp_00_rx_free").setvar_vaddr = Some("rx_used_vaddr".into());
    assert_has(
        &errors(&sys, &options(&g, Vec::new())),
        &format!("{mismatch}template 0's prototype 'fwp_00': its rx_free ring at 0x60010000: it maps 'fwp_00_rx_free' there, not as its rx_free ring ('rx_free_vaddr')"),
    );

    // The shared page on the blob's.
    let on_blob = with_manager(&g, |m| m.comm = 0x5a00_0000);
    assert_has(
        &errors(&g.system, &on_blob),
        &format!("{mismatch}the shared page at 0x5a000000 must be a page of region 'fwp_manager' after the blob: [0x5a010000..0x5a011000)"),
    );

    // The mux's blob puts dynamic FWP 3's rx buffers elsewhere.
    // (Slots 0..=5 are the six templates' slot PDs.)
    let moved = with_mux(&g, |m| m.slots[6 + 3].rx_buf.0 += 0x1000);
    let rx_buf = ManagerConfig::parse(blob(&g, "fwp_manager.bin")).expect("parse").fwps[3].mux[5];
    assert_has(
        &errors(&g.system, &moved),
        &format!("{mismatch}dynamic FWP 3 (the mux's slot 9): its rx buffer region is at {rx_buf:#x} here, {:#x} in the mux's blob", rx_buf + 0x1000),
    );

    // A file that stops before the region's last page.
    let mut short = options(&g, Vec::new());
    let bytes = blob(&g, "fwp_manager.bin");
    let len = ManagerConfig::parse(bytes).expect("parse").buffer_len();
    short.blobs.insert("fwp_manager.bin".into(), bytes[..len].to_vec());
    assert_has(
        &errors(&g.system, &short),
        &format!("a prefill file must reach its region's last page (the Microkit tool panics otherwise): 'fwp_manager.bin' has {len:#x} bytes, the last page of region 'fwp_manager' starts at 0x10000"),
    );

    // Dynamic FWPs with no manager to create them.
    let mut sys = g.system.clone();
    sys.memory_regions.retain(|r| r.name != "fwp_manager");
    pd_mut(&mut sys, "mux").maps.retain(|m| m.mr != "fwp_manager");
    let orphans = errors(&sys, &options(&g, Vec::new()));
    assert_has(&orphans, "'mux_config.bin' for 'mux': it lists 1018 dynamic FWPs, but no region 'mux' maps holds an FWP manager's blob");
    assert_has(&orphans, "'mux_config.bin' for 'mux': the FWP manager's shared page at 0x5a010000: 'mux' maps nothing there");
}
