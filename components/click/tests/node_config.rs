//! The node's own Click configuration (`click/firewall-nat.click`, a
//! template of `system.toml`) parses, and does what its comments say.

const NODE_CONFIG: &str = include_str!("../../../click/firewall-nat.click");

#[test]
fn the_nodes_firewall_nat_configuration_parses() {
    if let Err(e) = edgeos_click::check(NODE_CONFIG) {
        panic!("{}", e.in_file("click/firewall-nat.click"));
    }
}
