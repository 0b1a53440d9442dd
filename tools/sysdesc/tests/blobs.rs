//! The configuration blobs: they parse back with the PDs' own parsers, say
//! exactly what the generated maps say, come out the same every time, and
//! `check` catches a blob that disagrees with a system description.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{fixture, repo_root, temp_dir, write_tiny_elf};
use edgeos_config::{MuxConfig, Protocol, Protocols, SlotService, TenantConfig};
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
fn cross_check(path: &Path) -> (MuxConfig, Vec<TenantConfig>) {
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
    assert_eq!(mc.slots.len() + mc.templates.len(), mux.children.len());
    assert_eq!(mc.templates.len(), c.templates.len());

    let channel_of = |name: &str| {
        let channel = sys.channels.iter().find(|ch| ch.ends[1].pd.as_str() == name).expect("channel");
        assert_eq!(channel.ends[0].pd.as_str(), "mux");
        channel.ends[0].id.0
    };
    let slot_templates: Vec<usize> =
        c.templates.iter().enumerate().flat_map(|(t, tc)| (0..tc.slots).map(move |_| t)).collect();
    for (k, slot) in mc.slots.iter().enumerate() {
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
        let port = tc_config.services[0].port;
        assert_eq!(Some(layout.service), protocols.map(|protocols| SlotService { protocols, port }), "{name}'s service");
        assert_eq!(layout.per_flow, tc_config.per_flow);
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
        assert_eq!(SlotService { protocols: tc.protocols, port: tc.port }, layout.service);
        tenants.push(tc);
    }
    assert_eq!(g.blobs.len(), 1 + mc.templates.len());
    (mc, tenants)
}

#[test]
fn system_toml_blobs_parse_back_and_match_the_maps() {
    let (mux, tenants) = cross_check(&repo_root().join("system.toml"));
    // What the Makefile forwards host ports to.
    let service = |protocols, port| SlotService { protocols, port };
    assert_eq!(
        mux.templates.iter().map(|t| t.service).collect::<Vec<_>>(),
        [
            service(Protocols::UDP, 7),
            service(Protocols::TCP, 8),
            service(Protocols::UDP, 9),
            service(Protocols::BOTH, 11211),
            service(Protocols::BOTH, 11212),
        ]
    );
    assert_eq!(tenants.iter().map(|t| t.probes).collect::<Vec<_>>(), [false, false, true, false, false], "only the probe template obeys probes");
    assert_eq!(mux.stats_port, 7777);
    // The timer: its interrupt, and the channel the mux calls it on, whose
    // id the blob carries.
    let g = generated(&repo_root().join("system.toml"));
    let timer = g.system.pd("timer").expect("timer PD");
    assert_eq!(timer.irqs.iter().map(|i| (i.irq, i.id.0)).collect::<Vec<_>>(), [(30, 0)]);
    let id = u64::from(mux.timer_channel.expect("the blob names the timer's channel"));
    assert_eq!(id, (mux.slots.len() + mux.templates.len()) as u64 + 1, "after the children's");
    let channel = g.system.channels.iter().find(|c| c.ends[1].pd.as_str() == "timer").expect("mux-timer channel");
    assert_eq!((channel.ends[0].pd.as_str(), channel.ends[0].id.0, channel.ends[0].pp), ("mux", id, true));
    assert!(timer.priority > g.system.pd("mux").expect("mux").priority, "the mux calls up to the timer");
    assert_eq!(mux.slots[0].ctrl, 0x6000_0000);
    assert_eq!(mux.slots[1].rx_buf, (0x6050_0000, 0x1_0000));
    assert_eq!(tenants.len(), 5);
}

#[test]
fn golden_blobs_match_the_maps() {
    cross_check(&fixture("golden/system.toml"));
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
            ["mux_config.bin", "tmpl_udp_echo_config.bin", "tmpl_tcp_echo_config.bin", "tmpl_probe_config.bin", "tmpl_memcached_config.bin", "tmpl_memcached_b_config.bin"]
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

    // A template configured for another port than the mux routes to it.
    let mut opts = options(&g, Vec::new());
    let mut tc = TenantConfig::parse(blob(&g, "tmpl_tcp_echo_config.bin")).expect("parse");
    tc.port = 9;
    let mut bytes = vec![0; TenantConfig::BUFFER_LEN];
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
