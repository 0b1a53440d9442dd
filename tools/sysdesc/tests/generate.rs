//! Generation for N slots: names, ids and addresses generalise from fwp_00.

mod common;

use common::temp_dir;
use edgeos_sysdesc::commands::load_and_check;
use edgeos_sysdesc::model::{Map, ProtectionDomain};

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

/// `n` one-slot templates; every third has 3 MiB of rx buffers, so its
/// window in the mux spans two 4 MiB steps.
fn config(n: usize) -> String {
    let mut text = HEAD.to_string();
    for k in 0..n {
        let big = if k % 3 == 1 {
            "rx_buffers_size = 0x300000\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "\n[[templates]]\nname = \"t{k}\"\nprogram = \"t.elf\"\npriority = 100\nbudget = 40\nperiod = 1000\n{big}services = [{{ protocol = \"udp\", port = {} }}]\n",
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
    std::fs::write(&path, config(11)).expect("write");
    let (model, diags) = load_and_check(&path, &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let (_, sys) = model.expect("model");
    let mux = sys.pd("mux").expect("mux");
    assert_eq!(mux.children.len(), 11);
    let config = map(mux, "mux_config").expect("mux_config in the mux");
    assert_eq!(config.setvar_vaddr.as_deref(), Some("mux_config_vaddr"));
    assert_eq!(config.setvar_size.as_deref(), Some("mux_config_size"));
    assert_eq!(
        sys.memory_region("mux_config")
            .and_then(|r| r.prefill_path.as_deref()),
        Some("mux_config.bin")
    );
    let mut previous_end = 0x6000_0000;
    for (n, child) in mux.children.iter().enumerate() {
        let name = format!("fwp_{n:02}");
        let slot = &child.pd;
        assert_eq!(slot.name.as_str(), name);
        assert_eq!(child.id, n as u64);
        assert_eq!(
            child.setvar_id, None,
            "the mux learns child ids from its blob"
        );

        // The slot's own view: the same addresses in every slot.
        let expected = [
            ("ctrl", 0x6000_0000, "fwp_ctrl_vaddr", true),
            ("config", 0x6000_1000, "tenant_config_vaddr", false),
            ("rx_free", 0x6001_0000, "rx_free_vaddr", true),
            ("rx_used", 0x6001_4000, "rx_used_vaddr", true),
            ("tx_free", 0x6001_8000, "tx_free_vaddr", true),
            ("tx_used", 0x6001_c000, "tx_used_vaddr", true),
            ("rx_buf", 0x6010_0000, "rx_buf_vaddr", true),
        ];
        for (part, vaddr, setvar, write) in expected {
            let mr = format!("{name}_{part}");
            let m = map(slot, &mr).unwrap_or_else(|| panic!("{mr} in {name}"));
            assert_eq!(
                (m.vaddr, m.setvar_vaddr.as_deref()),
                (vaddr, Some(setvar)),
                "{mr}"
            );
            assert_eq!(m.perms.write, write, "{mr}");
        }
        let rx = map(slot, &format!("{name}_rx_buf")).expect("rx_buf");
        assert_eq!(rx.setvar_size.as_deref(), Some("rx_buf_size"));
        let tx = map(slot, &format!("{name}_tx_buf")).expect("tx_buf");
        assert_eq!(
            (tx.setvar_vaddr.as_deref(), tx.setvar_size.as_deref()),
            (Some("tx_buf_vaddr"), Some("tx_buf_size"))
        );
        let big = n % 3 == 1;
        assert_eq!(tx.vaddr, if big { 0x6040_0000 } else { 0x6020_0000 });
        assert_eq!(
            sys.memory_region(&format!("{name}_config"))
                .and_then(|r| r.prefill_path.clone()),
            Some(format!("{name}_config.bin"))
        );

        // The mux's view: the same window at the slot's base, no setvars,
        // bases 4 MiB-aligned and in slot order.
        let base = map(mux, &format!("{name}_ctrl"))
            .expect("ctrl in mux")
            .vaddr;
        assert_eq!(base % 0x40_0000, 0, "{name}");
        assert!(
            base >= previous_end,
            "{name}'s window overlaps the previous one"
        );
        for m in &slot.maps {
            let in_mux = map(mux, &m.mr);
            if m.mr.ends_with("_config") {
                assert!(in_mux.is_none(), "the mux does not map {}", m.mr);
                continue;
            }
            let in_mux = in_mux.unwrap_or_else(|| panic!("{} in the mux", m.mr));
            assert_eq!(in_mux.vaddr - base, m.vaddr - 0x6000_0000, "{}", m.mr);
            assert_eq!(
                (&in_mux.setvar_vaddr, &in_mux.setvar_size),
                (&None, &None),
                "{}",
                m.mr
            );
            assert_eq!(in_mux.perms.write, !m.mr.ends_with("_ctrl"), "{}", m.mr);
        }
        let size = sys
            .memory_region(&format!("{name}_tx_buf"))
            .expect("tx_buf")
            .size;
        previous_end = map(mux, &format!("{name}_tx_buf"))
            .expect("tx_buf in mux")
            .vaddr
            + size;

        let ch = sys
            .channels
            .iter()
            .find(|c| c.ends[1].pd.as_str() == name)
            .expect("channel");
        assert_eq!(
            (
                ch.ends[0].pd.as_str(),
                ch.ends[0].id.0,
                ch.ends[0].setvar_id.as_deref()
            ),
            ("mux", n as u64 + 1, None)
        );
        assert_eq!(
            (ch.ends[1].id.0, ch.ends[1].setvar_id.as_deref()),
            (0, Some("mux_channel"))
        );
    }
}

#[test]
fn more_slots_than_the_mux_drives_are_refused() {
    let dir = temp_dir("too-many-for-mux");
    let path = dir.join("system.toml");
    let n = edgeos_config::MUX_SLOT_CAPACITY + 1;
    std::fs::write(&path, config(n)).expect("write");
    let (_, diags) = load_and_check(&path, &[]);
    let text = format!("{:?}", diags.items());
    assert!(diags.has_errors());
    assert!(text.contains("the mux drives at most"), "{text}");
}
