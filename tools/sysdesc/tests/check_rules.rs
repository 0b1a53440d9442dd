//! One test per rule of `sysdesc check`: each fixture breaks the rule once,
//! and the expected message is matched by prefix (locations are checked to
//! be in the fixture, not to an exact line).

mod common;

use common::{check, check_error, check_success, errors, temp_dir, write_tiny_elf};

#[test]
fn valid_fixtures_pass() {
    check_success("valid_minimal.xml");
    check_success("valid_minimal.toml");
}

mod schedule {
    use super::*;

    #[test]
    fn overcommitted_config() {
        check_error(
            "schedule_overcommitted.toml",
            "budget/period must sum to at most 1 per CPU: CPU 0 sums to 2.100 over 6 PDs, over by 1.100; biggest: 'fwp_00' 0.400 (400/1000 µs), 'fwp_01' 0.400 (400/1000 µs), 'tmpl_echo' 0.400 (400/1000 µs)",
            true,
        );
    }

    #[test]
    fn dynamic_fwps_count_like_their_prototype() {
        // The PDs alone sum to 0.9; three clones of fwp_00 add 0.1 each,
        // and the FWP manager (the root task, counted with the PDs) 0.1.
        check_error(
            "schedule_dynamic_overcommitted.toml",
            "budget/period must sum to at most 1 per CPU: CPU 0 sums to 1.350 over 7 PDs and 3 dynamic FWPs, over by 0.350; biggest: 'mux' 0.300 (300/1000 µs), 'net_driver' 0.200 (200/1000 µs), 'the FWP manager (root task)' 0.150",
            true,
        );
    }

    #[test]
    fn best_effort_fwps_reserve_nothing_and_are_left_out() {
        check_success("schedule_best_effort.toml");
    }

    #[test]
    fn children_count() {
        check_error("schedule_overcommitted.xml", "budget/period must sum to at most 1 per CPU: CPU 0 sums to 1.500 over 4 PDs, over by 0.500; biggest: 'fwp_01' 0.900", true);
    }

    #[test]
    fn default_budget_is_a_full_period() {
        // No budget: Microkit's 1000 µs, and the period defaults to the budget.
        check_error("schedule_default_budget.xml", "budget/period must sum to at most 1 per CPU: CPU 0 sums to 2.200 over 4 PDs, over by 1.200; biggest: 'net_driver' 1.000 (1000/1000 µs)", true);
    }
}

mod priority {
    use super::*;

    #[test]
    fn fwp_above_mux() {
        check_error("priority_fwp_above_mux.xml", "sDDF priority order needs every FWP below the mux: FWP 'fwp_01' has priority 200, mux 'mux' has 200", true);
        let e = check_error(
            "priority_fwp_above_mux.toml",
            "sDDF priority order needs every FWP below the mux: FWP 'fwp_00' has priority 200",
            true,
        );
        assert_eq!(e.len(), 4, "both slots and both template PDs: {e:?}");
    }

    #[test]
    fn mux_above_driver() {
        check_error("priority_mux_above_driver.xml", "sDDF priority order needs every mux below the driver: mux 'mux' has priority 250, driver 'net_driver' has 250", true);
        let e = check_error(
            "priority_mux_above_driver.toml",
            "sDDF priority order needs every mux below the driver",
            true,
        );
        // The mux calls the driver (Connect), which is now a downward call.
        assert!(e.iter().any(|m| m.starts_with("protected procedure calls must go to a strictly higher priority: 'mux' (priority 251) calls 'net_driver' (priority 250)")), "{e:?}");
    }

    #[test]
    fn protected_call_downward() {
        check_error("priority_ppc_downward.xml", "protected procedure calls must go to a strictly higher priority: 'net_driver' (priority 250) calls 'mux' (priority 200)", true);
    }
}

mod isolation {
    use super::*;

    #[test]
    fn shared_by_tenants() {
        check_error("isolation_shared_by_tenants.xml", "tenants must not share memory: region 'fwp_00_ctrl' is mapped by tenants 'fwp_00' and 'fwp_01'", true);
    }

    #[test]
    fn shared_beyond_mux() {
        check_error("isolation_shared_beyond_mux.xml", "a tenant's region may be shared only with the mux: region 'fwp_00_ctrl' of tenant 'fwp_00' is also mapped by 'net_driver'", true);
    }

    #[test]
    fn dma_in_tenant() {
        let e = check_error("isolation_dma_in_tenant.xml", "DMA regions may be mapped only by the driver and the mux: region 'net_dma' is mapped by 'fwp_00'", true);
        assert_eq!(e.len(), 1, "one mistake, one error: {e:?}");
    }

    #[test]
    fn device_in_tenant() {
        let e = check_error("isolation_device_in_tenant.xml", "a device region must not be mapped into a tenant: region 'uart' (phys_addr 0x9000000) is mapped by tenant 'fwp_00'", true);
        assert_eq!(e.len(), 1, "{e:?}");
    }
}

mod limits {
    use super::*;

    #[test]
    fn too_many_pds() {
        let e = check_error(
            "limits_too_many_pds.toml",
            "Microkit allows at most 63 protection domains: this system has 64 (1 too many)",
            true,
        );
        // 62 children: child ids 0..=61 fit, but the mux's channel ids run to 62.
        assert!(!e.iter().any(|m| m.starts_with("child ids")), "{e:?}");
        assert!(
            e.iter().any(|m| m
                .starts_with("channel ids must be 0..=61 (Microkit's PD_MAX_ID): id 62 in 'mux'")),
            "{e:?}"
        );
    }

    #[test]
    fn channel_id_out_of_range() {
        check_error(
            "limits_id_out_of_range.xml",
            "channel ids must be 0..=61 (Microkit's PD_MAX_ID): id 62 in 'net_driver'",
            true,
        );
    }

    #[test]
    fn child_id_out_of_range() {
        check_error(
            "limits_child_id_out_of_range.xml",
            "child ids must be 0..=61 (Microkit's PD_MAX_ID): id 62 in 'mux'",
            true,
        );
    }

    #[test]
    fn duplicate_channel_id() {
        check_error(
            "limits_duplicate_channel_id.xml",
            "channel/irq ids must be unique in a PD: id 0 is used twice in 'net_driver'",
            true,
        );
    }

    #[test]
    fn name_too_long() {
        check_error("limits_name_too_long.xml", "a PD name is at most 64 bytes (the Microkit tool truncates longer ones silently): 'fwp_01_xxx", true);
    }

    #[test]
    fn unaligned_size() {
        check_error("limits_unaligned_size.xml", "size of memory region 'fwp_00_ctrl' (non-zero, whole pages) must be a multiple of 0x1000: 0x1800", true);
        check_error("limits_unaligned_ctrl_size.toml", "size of memory region 'fwp_00_ctrl' (non-zero, whole pages) must be a multiple of 0x1000: 0x1800", true);
    }

    #[test]
    fn unaligned_vaddr() {
        check_error("limits_unaligned_vaddr.xml", "vaddr of the map of 'fwp_01_ctrl' in 'mux' (its page size) must be a multiple of 0x1000: 0x60001800", true);
    }

    #[test]
    fn unaligned_phys_addr() {
        check_error(
            "limits_unaligned_phys_addr.xml",
            "phys_addr of memory region 'uart' must be a multiple of 0x1000: 0x9000800",
            true,
        );
    }

    #[test]
    fn stack_size() {
        check_error(
            "limits_stack_size.xml",
            "stack_size must be 0x1000..=0x1000000 bytes: stack_size=\"0x800\" on 'mux'",
            true,
        );
        check_error(
            "limits_stack_size.toml",
            "stack_size must be 0x1000..=0x1000000 bytes: stack_size=\"0x2000000\" on 'mux'",
            true,
        );
    }

    #[test]
    fn budget_over_period() {
        check_error(
            "limits_budget_over_period.xml",
            "budget must not exceed period (200 µs): budget=\"300\" on 'mux'",
            true,
        );
        check_error(
            "limits_budget_over_period.toml",
            "budget must not exceed period (250 µs): budget=\"300\" on 'mux'",
            true,
        );
    }

    #[test]
    fn priority_too_high() {
        check_error(
            "limits_priority_too_high.xml",
            "priority must be 0..=254 (255 is the monitor's): priority=\"255\" on 'net_driver'",
            true,
        );
        check_error(
            "limits_priority_too_high.toml",
            "priority must be 0..=254 (255 is the monitor's): priority=\"255\" on 'net_driver'",
            true,
        );
    }
}

mod layout {
    use super::*;

    #[test]
    fn maps_overlap() {
        check_error("layout_maps_overlap.xml", "maps in one PD must not overlap: 'fwp_01_ctrl' [0x60000000..0x60001000) overlaps 'fwp_00_ctrl' [0x60000000..0x60001000) in 'mux'", true);
    }

    #[test]
    fn above_stack() {
        check_error("layout_above_stack.xml", "maps must end below the PD's stack at 0xffffffc000: 'fwp_01_ctrl' [0xfffffff000..0x10000000000) in 'mux'", true);
    }

    #[test]
    fn overlaps_program_image() {
        let dir = temp_dir("layout-image");
        write_tiny_elf(&dir.join("tiny.elf"), 0x20_0000, 0x2800, &[]);
        let diags = check("layout_overlaps_image.xml", &[dir.to_path_buf()]);
        let e = errors(&diags);
        let prefix = "maps must not overlap the program image: 'fwp_01_ctrl' [0x201000..0x202000) overlaps segment pages [0x200000..0x203000) of '";
        assert!(
            e.iter()
                .any(|m| m.starts_with(prefix) && m.contains("tiny.elf' in 'mux' @ ")),
            "{e:#?}"
        );
        // The other PDs' images are not in the search path: notes, not errors.
        let notes: Vec<_> = diags
            .items()
            .iter()
            .filter(|d| d.severity() == edgeos_sysdesc::Severity::Note)
            .map(ToString::to_string)
            .collect();
        assert!(notes.iter().any(|n| n.starts_with("program image 'net_driver.elf' of 'net_driver' not checked against its maps: not found in ")), "{notes:#?}");
    }

    #[test]
    fn no_search_path_is_a_note() {
        let diags = check("valid_minimal.xml", &[]);
        let notes: Vec<_> = diags.items().iter().map(ToString::to_string).collect();
        assert_eq!(
            notes,
            ["program images not checked against maps: no --search-path given"]
        );
    }
}

mod sdf {
    use super::*;

    #[test]
    fn not_xml() {
        check_error("sdf_not_xml.xml", "invalid XML:", true);
    }

    #[test]
    fn hex_channel_id_would_panic_microkit() {
        check_error("sdf_hex_channel_id.xml", "attribute 'id' on <end> must be a decimal integer (the Microkit tool parses it without hex or '_' and panics on anything else): '0x1'", true);
    }

    #[test]
    fn unknown_attribute() {
        check_error(
            "sdf_unknown_attribute.xml",
            "attribute 'cache' is not allowed on <map>",
            true,
        );
    }

    #[test]
    fn missing_program_image() {
        check_error(
            "sdf_missing_program_image.xml",
            "<protection_domain> needs a <program_image>",
            true,
        );
    }

    #[test]
    fn not_modelled_is_a_warning() {
        let diags = check("sdf_not_modelled.xml", &[]);
        assert!(!diags.has_errors(), "{:#?}", errors(&diags));
        let first = diags.items()[0].to_string();
        assert!(first.starts_with("attribute 'smc' on <protection_domain> is not modelled by sysdesc; its checks ignore it @ "), "{first}");
        assert_eq!(
            diags.items()[0].severity(),
            edgeos_sysdesc::Severity::Warning
        );
    }

    #[test]
    fn bad_number() {
        check_error("sdf_bad_number.xml", "attribute 'size' on <memory_region> must be a non-negative integer, decimal or 0x hex: '4k'", true);
    }
}

mod symbols {
    use super::*;

    #[test]
    fn missing_and_unpatched_setvars() {
        let dir = temp_dir("symbols");
        write_tiny_elf(
            &dir.join("tiny.elf"),
            0x20_0000,
            0x1000,
            &[
                "fwp_00_ctrl_vaddr",
                "mux_config_vaddr",
                "mux_config_size",
                "counter",
            ],
        );
        let diags = check("symbols_setvars.xml", &[dir.to_path_buf()]);
        let all: Vec<_> = diags
            .items()
            .iter()
            .map(|d| format!("{}: {d}", d.severity()))
            .collect();
        let has = |prefix: &str| all.iter().any(|m| m.starts_with(prefix));
        assert!(has("error: every setvar must name a symbol of the PD's program image: 'fwp_01_ctrl_vaddr' is not in 'tiny.elf' of 'mux' @ "), "{all:#?}");
        assert!(has("error: every setvar must name a symbol of the PD's program image: 'driver_channel' is not in 'tiny.elf' of 'mux' @ "), "{all:#?}");
        assert!(!has("error: every setvar must name a symbol of the PD's program image: 'fwp_00_ctrl_vaddr'"), "{all:#?}");
        assert!(has("warning: a setvar-like symbol is patched by nothing, so it keeps its built-in value: 'mux_config_vaddr' in 'tiny.elf' of 'mux'"), "{all:#?}");
        assert!(has("warning: a setvar-like symbol is patched by nothing, so it keeps its built-in value: 'mux_config_size'"), "{all:#?}");
        assert!(!all.iter().any(|m| m.contains("'counter'")), "{all:#?}");
    }
}

mod checkpoint {
    use super::*;
    use edgeos_sysdesc::commands::check_system;

    /// system.xml against tiny programs; `tenant_echo.elf` with a writable
    /// segment of `memsz` bytes.
    fn errors_with(memsz: u64) -> Vec<String> {
        let dir = temp_dir(&format!("checkpoint-{memsz:x}"));
        for program in ["net_driver.elf", "mux.elf", "timer.elf"] {
            write_tiny_elf(&dir.join(program), 0x20_0000, 0x1000, &[]);
        }
        write_tiny_elf(&dir.join("tenant_echo.elf"), 0x20_0000, memsz, &[]);
        errors(&check_system(&common::repo_root().join("system.xml"), "qemu_virt_aarch64", &[dir.to_path_buf()]))
            .into_iter()
            .filter(|e| e.starts_with("a template's checkpoint"))
            .collect()
    }

    #[test]
    fn a_checkpoint_larger_than_its_image_region_is_refused() {
        assert_eq!(errors_with(0x1_0000), Vec::<String>::new(), "64 KiB fits the 128 KiB images");
        let e = errors_with(0x2_0000);
        assert_eq!(e.len(), 3, "one per template PD: {e:#?}");
        assert!(
            e[0].starts_with("a template's checkpoint must fit its image region: 'tmpl_udp_echo' needs 0x20080 bytes, 'tmpl_udp_echo_image' has 0x20000 (raise the template's image_size) @ "),
            "{e:#?}"
        );
    }
}
