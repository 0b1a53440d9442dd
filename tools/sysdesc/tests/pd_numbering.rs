//! PD numbers as the Microkit tool gives them (`System::pd_index`): the
//! manager's blob names the mux and each prototype by them, and the root
//! task finds a PD's objects by its scheduling context's badge, 0x100 +
//! number. The tool (2.3.0, `sdf.rs`'s `pd_flatten`) numbers top-level PDs
//! in document order, each followed by its children, depth first.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{elfs_out_of_step, sdk_and_built, temp_dir};
use edgeos_config::ManagerConfig;
use edgeos_sysdesc::commands::load_generate_check;
use edgeos_sysdesc::{emit, parse_sdf, Diagnostics};

const NESTED: &str = r#"<system>
    <protection_domain name="a"><program_image path="a.elf" />
        <protection_domain name="a_0" id="0"><program_image path="a.elf" />
            <protection_domain name="a_0_0" id="0"><program_image path="a.elf" /></protection_domain>
        </protection_domain>
        <protection_domain name="a_1" id="1"><program_image path="a.elf" /></protection_domain>
    </protection_domain>
    <protection_domain name="b"><program_image path="b.elf" /></protection_domain>
</system>"#;

#[test]
fn pds_are_numbered_depth_first_in_document_order() {
    let mut diags = Diagnostics::new(None);
    let sys = parse_sdf::parse(NESTED, &mut diags).expect("parses");
    let numbers: Vec<_> = ["a", "a_0", "a_0_0", "a_1", "b", "c"].iter().map(|n| sys.pd_index(n)).collect();
    assert_eq!(numbers, [Some(0), Some(1), Some(2), Some(3), Some(4), None]);
}

/// A small system of the project's own programs, with dynamic FWPs.
const SMALL: &str = r#"
[driver]
priority = 250
budget = 2000
period = 10000
stack_size = 0x10000

[mux]
priority = 200
budget = 2500
period = 10000
stack_size = 0x40000

[timer]
priority = 254
budget = 100
period = 10000

[[templates]]
name = "udp_echo"
program = "tenant_echo.elf"
priority = 100
budget = 2000
period = 100000
stack_size = 0x4000
image_size = 0x20000
services = [{ protocol = "udp", port = 7 }]
slots = 2
dynamic = 1

[[templates]]
name = "tcp_echo"
program = "tenant_echo.elf"
priority = 100
budget = 500
period = 100000
stack_size = 0x4000
image_size = 0x20000
per_flow = true
services = [{ protocol = "tcp", port = 8 }]
slots = 1
dynamic = 2
"#;

/// The badge of every `sched_context_<pd>` in a capDL spec the tool wrote.
fn badges(spec: &serde_json::Value) -> BTreeMap<String, u64> {
    let objects = spec["objects"].as_array().expect("objects");
    objects
        .iter()
        .filter_map(|o| {
            let pd = o["name"].as_str()?.strip_prefix("sched_context_")?;
            Some((pd.to_string(), o["object"]["SchedContext"]["extra"]["badge"].as_u64()?))
        })
        .collect()
}

#[test]
fn the_microkit_tool_numbers_pds_as_sysdesc_does() {
    let programs = ["net_driver.elf", "mux.elf", "timer.elf", "tenant_echo.elf"];
    let Some((sdk, elfs)) = sdk_and_built("PD numbering against the Microkit tool", &programs) else {
        return;
    };
    let dir = temp_dir("pd-numbering");
    let config = dir.join("system.toml");
    std::fs::write(&config, SMALL).expect("write");
    let (generated, diags) = load_generate_check(&config, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let g = generated.expect("generated");
    let xml = dir.join("system.xml");
    std::fs::write(&xml, emit::emit(&g.system)).expect("write");
    for b in &g.blobs {
        std::fs::write(dir.join(&b.file), &b.bytes).expect("write blob");
    }
    let spec = dir.join("spec.json");
    let out = Command::new(sdk.join("bin/microkit"))
        .arg(&xml)
        .args(["--board", "qemu_virt_aarch64", "--config", "debug", "-o"])
        .arg(dir.join("loader.img"))
        // Else the tool writes report.txt into the current directory.
        .arg("-r")
        .arg(dir.join("report.txt"))
        .arg("--capdl-json")
        .arg(&spec)
        .arg("--search-path")
        .args([dir.to_path_buf(), elfs.clone()])
        .output()
        .expect("run the Microkit tool");
    if !out.status.success() {
        if let Some(why) = elfs_out_of_step(&sdk, &elfs, &dir) {
            println!("note: PD numbering against the Microkit tool skipped: the built ELFs do not match system.xml ({why})");
            return;
        }
        panic!("the Microkit tool rejected the system: {}", String::from_utf8_lossy(&out.stderr));
    }
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&spec).expect("spec")).expect("JSON");
    let badges = badges(&spec);

    // Every PD's scheduling context carries 0x100 + sysdesc's number.
    let pds = g.system.all_pds();
    assert_eq!(pds.len(), 3 + 3 + 2, "driver, mux, timer, 3 slots, 2 template PDs");
    for r in &pds {
        let name = r.pd.name.as_str();
        let index = g.system.pd_index(name).expect("index") as u64;
        assert_eq!(badges.get(name), Some(&(0x100 + index)), "{name}");
    }
    // And the manager's blob names the mux and the prototypes so.
    let file = g.blobs.iter().find(|b| b.file == "fwp_manager.bin").expect("manager blob");
    let manager = ManagerConfig::parse(&file.bytes).expect("parses");
    let pd_of = |badge: u64| badges.iter().find(|(_, b)| **b == badge).map(|(pd, _)| pd.as_str());
    assert_eq!(pd_of(0x100 + u64::from(manager.mux_pd)), Some("mux"));
    let prototypes: Vec<_> = manager.templates.iter().map(|t| pd_of(0x100 + u64::from(t.prototype_pd))).collect();
    assert_eq!(prototypes, [Some("fwp_00"), Some("fwp_02")], "each template's first slot");
}
