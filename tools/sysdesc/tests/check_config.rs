//! One test per configuration rule of `sysdesc check --config`: syntax,
//! shape (unknown, missing and mistyped fields) and impossible values. Each
//! fixture breaks one rule; messages are matched by prefix.

mod common;

use common::{check_error, errors, fixture};

#[test]
fn unknown_field() {
    let e = check_error(
        "config_unknown_field.toml",
        "invalid configuration: unknown field `prio`",
        true,
    );
    assert!(e[0].ends_with("config_unknown_field.toml:11:1"), "{e:?}");
    assert!(e[0].contains("(field `mux.prio`)"), "{e:?}");
}

#[test]
fn missing_field() {
    check_error(
        "config_missing_field.toml",
        "invalid configuration: missing field `budget`",
        true,
    );
}

#[test]
fn wrong_type_names_the_field() {
    let e = check_error(
        "config_wrong_type.toml",
        "invalid configuration: invalid type: string \"high\"",
        true,
    );
    assert!(e[0].contains("(field `templates[0].priority`)"), "{e:?}");
}

#[test]
fn negative_value() {
    let e = check_error(
        "config_negative_value.toml",
        "invalid configuration: invalid value: integer `-5`",
        true,
    );
    assert!(e[0].contains("(field `templates[0].budget`)"), "{e:?}");
}

#[test]
fn bad_address() {
    check_error(
        "config_bad_address.toml",
        "invalid configuration: '10.0.2.300/24' is not an IPv4 address",
        true,
    );
}

#[test]
fn gateway_outside_subnet() {
    check_error("config_gateway_outside_subnet.toml", "the gateway must be inside the guest's subnet 10.0.2.15/24: `network.gateway` = \"10.0.3.2\"", true);
}

#[test]
fn unknown_board_lists_known_boards() {
    check_error(
        "config_unknown_board.toml",
        "unknown board 'pi5'; known boards: qemu_virt_aarch64",
        true,
    );
}

#[test]
fn unknown_spawn_policy() {
    check_error(
        "config_unknown_spawn_policy.toml",
        "invalid configuration: unknown variant `eager`",
        true,
    );
}

#[test]
fn pool_larger_than_slots() {
    check_error("config_pool_larger_than_slots.toml", "a warm pool holds between 1 and the template's FWPs, slots and dynamic (1): `templates[0].spawn.pool_size` = 2", true);
}

#[test]
fn buffer_too_small() {
    check_error(
        "config_buffer_too_small.toml",
        "a frame buffer must hold a 1514-byte Ethernet frame: `rings.buffer_size` = 1024",
        true,
    );
}

#[test]
fn dma_not_a_multiple_of_buffers() {
    check_error(
        "config_dma_not_multiple.toml",
        "net_dma must be a non-zero multiple of rings.buffer_size (1536)",
        true,
    );
}

#[test]
fn max_active_beyond_slots() {
    check_error(
        "config_max_active_beyond_slots.toml",
        "between 1 and the template's FWPs, slots and dynamic (1): `templates[0].max_active` = 2",
        true,
    );
}

#[test]
fn duplicate_service() {
    let e = check_error(
        "config_duplicate_service.toml",
        "each udp port is served by one template (also templates[0].services[0])",
        true,
    );
    assert_eq!(e.len(), 1, "tcp/7 and udp/7 are different services: {e:?}");
}

#[test]
fn port_ranges_overlap_like_ports() {
    check_error(
        "config_port_range_overlap.toml",
        "each udp port is served by one template (also templates[0].services[0])",
        true,
    );
}

#[test]
fn only_a_per_flow_template_answers_a_port_range() {
    check_error("config_port_range_not_per_flow.toml", "only a per-flow template answers a port range", true);
}

#[test]
fn only_a_per_flow_template_shares_its_overflow() {
    check_error("config_share_not_per_flow.toml", "only a per-flow template's overflow can share a serving FWP", true);
}

mod click {
    use super::*;

    #[test]
    fn a_broken_graph_is_named_with_its_file_line_and_column() {
        let e = check_error("click_bad_graph.toml", "template 'nat': Click configuration: unknown element class \"Clasifier\"", true);
        let file = fixture("click_bad_graph.click");
        assert!(e[0].contains(&format!("at {}:3:9", file.display())), "{e:?}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = check_error("click_missing_file.toml", "template 'nat': cannot read its Click configuration", true);
        assert!(e[0].contains("no_such_file.click"), "{e:?}");
    }

    #[test]
    fn a_click_template_runs_one_chain_per_flow() {
        check_error("click_not_per_flow.toml", "a Click template runs one chain per flow: it needs per_flow = true", true);
    }
}

#[test]
fn not_toml() {
    check_error("config_not_toml.toml", "invalid configuration:", true);
}

#[test]
fn too_many_slots_is_not_generated() {
    check_error("config_too_many_slots.toml", "more FWP slots and template PDs than Microkit allows next to the driver, the mux and the timer (63): `templates` = 1001 slots and template PDs in all", true);
}

#[test]
fn unreadable_file() {
    let diags = edgeos_sysdesc::commands::check_config(&fixture("does_not_exist.toml"), &[]);
    assert!(errors(&diags)[0].starts_with("cannot read the configuration:"));
}

#[test]
fn template_without_service() {
    let e = check_error(
        "config_template_without_service.toml",
        "every template needs one service: the mux spawns its FWPs for packets to it: `templates[0].services` = []",
        true,
    );
    assert_eq!(e.len(), 1, "the blobs' own refusal is not repeated: {e:?}");
}

#[test]
fn two_services_in_a_template() {
    check_error(
        "config_two_services.toml",
        "a template answers one port, over tcp, udp or both: at most one service per protocol, all on the same port: `templates[0].services` = 2 services",
        true,
    );
}

#[test]
fn item_size_beyond_the_store() {
    check_error(
        "config_item_size_beyond_memory.toml",
        "an item limit fits the store, the private memory (0x1000 bytes): `templates[1].item_size_max` = 0x2000",
        true,
    );
}

#[test]
fn store_and_memory_size() {
    check_error(
        "config_store_and_memory_size.toml",
        "a memcached template's private region is its store (store_mb) and its connections (max_connections): keep store_mb and remove memory_size, which sizes the region of a template without a store: `templates[1].memory_size` = 0x10000",
        true,
    );
}

#[test]
fn store_in_both_units() {
    check_error(
        "config_store_in_both_units.toml",
        "a store is given once, in MiB or in KiB: keep store_mb (4) or store_kb, and remove the other: `templates[1].store_kb` = 64",
        true,
    );
}

#[test]
fn store_mb_out_of_range() {
    check_error(
        "config_store_mb_out_of_range.toml",
        "a store is 1 to 4095 MiB (memcached's -m; items are addressed by 32-bit offsets): `templates[1].store_mb` = 4096",
        true,
    );
}

#[test]
fn max_connections_without_store() {
    check_error(
        "config_max_connections_without_store.toml",
        "max_connections (memcached's -c) is a memcached template's: it needs a store (store_mb): `templates[1].max_connections` = 64",
        true,
    );
}

#[test]
fn max_connections_out_of_range() {
    let limit = edgeos_memcache_server::MAX_CONNECTIONS;
    let e = check_error(
        "config_max_connections_out_of_range.toml",
        &format!("a memcached template serves 1 to {limit} TCP connections at once (edgeos_memcache_server::MAX_CONNECTIONS): `templates[1].max_connections` = 0"),
        true,
    );
    assert_eq!(e.len(), 1, "the blobs' own refusal is not repeated: {e:?}");
}

#[test]
fn item_size_over_1mib() {
    check_error(
        "config_item_size_over_1mib.toml",
        "an item limit is 0 (the program's own, 1 MiB) or 0x400 to 0x100000 bytes (1 KiB, memcached's smallest -I, to 1 MiB, its default and this program's largest): `templates[1].item_size_max` = 0x200000",
        true,
    );
}

#[test]
fn item_size_beyond_a_store_in_kib() {
    check_error(
        "config_item_size_beyond_store.toml",
        "an item limit fits the store (store_kb, 0x10000 bytes): `templates[1].item_size_max` = 0x20000",
        true,
    );
}

#[test]
fn default_item_size_beyond_a_store_in_kib() {
    check_error(
        "config_default_item_size_beyond_store.toml",
        "the program's own item limit (1 MiB) does not fit the store (store_kb, 0x10000 bytes): give an item_size_max of 0x400 to 0x10000: `templates[1].item_size_max` = 0",
        true,
    );
}

#[test]
fn image_too_small() {
    check_error(
        "config_image_too_small.toml",
        "a checkpoint image holds a header and the program's writable segments: at least a page: `templates[1].image_size` = 0x800",
        true,
    );
}

#[test]
fn per_flow_needs_a_service() {
    check_error(
        "config_per_flow.toml",
        "every template needs one service: the mux spawns its FWPs for packets to it: `templates[0].services` = []",
        true,
    );
}

#[test]
fn slot_buffers_not_whole_buffers() {
    check_error(
        "config_buffers_not_multiple.toml",
        "a slot's buffer region must be a non-zero multiple of rings.buffer_size (2048): `templates[0].rx_buffers_size` = 0x10400",
        true,
    );
}

#[test]
fn stats_port_served_by_a_template() {
    check_error(
        "config_stats_port_served.toml",
        "the mux answers its counters on this UDP port, so no template may serve it (templates[0].services[0] does): `mux.stats_port` = 7",
        true,
    );
}

mod dynamic {
    use super::*;

    #[test]
    fn dynamic_fwps_need_a_slot_to_clone() {
        let e = check_error(
            "config_dynamic_without_slot.toml",
            "dynamic FWPs are clones of the template's first slot PD (its prototype): a template with dynamic FWPs needs slots >= 1: `templates[0].dynamic` = 2",
            true,
        );
        assert_eq!(e.len(), 1, "not also 'a template needs at least one slot': {e:?}");
    }

    #[test]
    fn more_dynamic_fwps_than_the_manager_lists() {
        check_error(
            "config_too_many_dynamic.toml",
            "the FWP manager's blob lists at most 1024 dynamic FWPs (edgeos_config::MAX_MANAGED_FWPS): `templates` = 1025 dynamic FWPs in all",
            true,
        );
    }

    #[test]
    fn slots_and_dynamic_fwps_count_against_the_mux_capacity() {
        check_error(
            "config_too_many_fwps.toml",
            "the mux drives at most 1024 FWPs, slots and dynamic (edgeos_config::MUX_SLOT_CAPACITY): `templates` = 10 slots and 1020 dynamic FWPs in all",
            true,
        );
    }

    #[test]
    fn only_dynamic_fwps_are_renewed() {
        check_error(
            "config_renew_without_dynamic.toml",
            "only FWPs the manager creates (`dynamic`) can be destroyed and created anew; this template has none",
            true,
        );
    }

    #[test]
    fn a_best_effort_template_reserves_nothing() {
        check_error(
            "config_best_effort_reserving.toml",
            "a best-effort template's budget is its period (1000): it reserves nothing: `templates[0].budget` = 100",
            true,
        );
    }

    #[test]
    fn a_best_effort_template_runs_below_every_reservation() {
        check_error(
            "config_best_effort_above_reservations.toml",
            "a best-effort template runs below every reservation (priority < 100): `templates[0].priority` = 100",
            true,
        );
    }

    #[test]
    fn the_manager_and_the_dynamic_fwps_need_free_mux_channel_ids() {
        let e = check_error(
            "config_dynamic_channels_exhausted.toml",
            "the FWP manager, and the dynamic FWPs (sharing ids), signal the mux on channel ids (0..=61) that no channel of system.xml uses for the mux: `templates` = 2 ids needed, 1 free",
            true,
        );
        assert_eq!(e.len(), 1, "the blobs' own refusal is not repeated: {e:?}");
    }
}
