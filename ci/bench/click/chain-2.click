// `make bench-click`'s baseline: the least a forwarding chain needs, the
// IPv4 header checked (and found) and the NAT. Every datagram to the node's
// port (20007 in the benchmark) is translated to 10.0.2.2 (QEMU's user network, i.e. the
// host's 127.0.0.1), where the benchmark's echo server answers; the answer
// comes back translated. 2 elements between the endpoints.
FromRing -> CheckIPHeader(14) -> IPRewriter(pattern 10.0.2.15 - 10.0.2.2 - 0 0) -> ToRing;
