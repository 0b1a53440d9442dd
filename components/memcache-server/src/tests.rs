//! Unit checks of the sizes the configuration relies on.

use super::*;

#[test]
fn a_thousand_idle_connections_cost_less_than_a_64_mib_store() {
    assert!(connection_memory(1024) < 64 << 20, "{}", connection_memory(1024));
    assert!(connection_memory(1024) > 1024 * (SOCKET_RX_BUFFER + SOCKET_TX_BUFFER));
}

