// The node's firewall and NAT (issue 15), a Click template of system.toml.
// Every flow to 10.0.2.15, TCP or UDP, ports 20000-20099, gets its own FWP
// running this graph. Clients may reach ports 20000-20049, except the
// blocked host 10.0.2.66; what passes is translated to the backend
// 10.0.2.100 (same ports) with the node's own address as its source, so
// the backend's replies come back to this FWP, which translates them back
// to the client. UDP to port 20007 is passed on to a tenant of this node,
// the UDP echo on port 7, its client's address kept; the echo's answers
// come back through this FWP too, as from port 20007. Everything else is
// dropped, and counted by the graph.
from :: FromRing;
to   :: ToRing;
fw   :: IPFilter(deny src host 10.0.2.66,
                 1 src host 10.0.2.100 || src host 10.0.2.15,
                 2 udp && dst port 20007,
                 0 (tcp || udp) && dst port 20000-20049,
                 deny all);
nat  :: IPRewriter(pattern 10.0.2.15 - 10.0.2.100 - 0 0,
                   drop,
                   pattern - - 10.0.2.15 7 0 0);
from -> Strip(14) -> CheckIPHeader -> fw;
fw[0] -> [0]nat;
fw[1] -> [1]nat;
fw[2] -> [2]nat;
nat -> DecIPTTL -> Unstrip(14) -> to;
