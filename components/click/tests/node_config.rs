//! The node's own Click configuration (`click/firewall-nat.click`, a
//! template of `system.toml`) parses, and does what its comments say.

const NODE_CONFIG: &str = include_str!("../../../click/firewall-nat.click");

#[test]
fn the_nodes_firewall_nat_configuration_parses() {
    if let Err(e) = edgeos_click::check(NODE_CONFIG) {
        panic!("{}", e.in_file("click/firewall-nat.click"));
    }
}

#[test]
fn the_benchmark_chains_parse_with_the_element_counts_they_claim() {
    for (file, text, elements) in [
        ("chain-2.click", include_str!("../../../ci/bench/click/chain-2.click"), 2),
        ("chain-3.click", include_str!("../../../ci/bench/click/chain-3.click"), 3),
        ("chain-6.click", include_str!("../../../ci/bench/click/chain-6.click"), 6),
    ] {
        let summary = edgeos_click::check(text).unwrap_or_else(|e| panic!("{}", e.in_file(file)));
        // The endpoints, FromRing and ToRing, are not counted.
        assert_eq!(summary.elements - 2, elements, "{file}");
    }
}
