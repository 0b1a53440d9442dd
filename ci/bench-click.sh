#!/usr/bin/env bash
# `make bench-click`: guest instructions per frame through Click chains of
# 2, 3 and 6 elements (ci/bench/click/chain-N.click, each a NAT towards the
# host), and so per element, under -icount (a guest ns is an instruction).
#
# For each chain: boots the release image of variant click-chain-N, runs
# an echo server on the host's 127.0.0.1:20007 (the chain's backend: the
# guest reaches it as 10.0.2.2 through QEMU's user network), and sends
# FRAMES 64-byte UDP echoes to the Click template's port through the
# host forward (127.0.0.1:15020 -> guest 20007): every datagram goes
# through the flow's FWP twice (out translated, back translated), and every
# byte comes back checked. Then it reads the FWP's own per-frame summary
# (hop.fN, its first 1,024 frames) from the mux's stats port. Always stops
# the QEMU and the echo server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
frames="${FRAMES:-2000}"

echo_server() {
    exec /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 20007))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
'
}

for chain in ${CHAINS:-2 3 6}; do
    (
        variant="click-chain-$chain"
        . ci/boot-qemu.sh
        echo_server &
        echo_pid=$!
        trap 'kill "$echo_pid" 2>/dev/null; kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$qemu_log"' EXIT
        "$client" udp-echo --to 127.0.0.1:15020 --count "$frames" --size 64 | tail -1
        echo "chain-$chain ($chain elements):"
        hops="$("$client" stats --hops --to 127.0.0.1:17777)"
        if ! tr ' ' '\n' <<<"$hops" | grep -E '^hop\.f[0-9]+\.' | sed 's/^/  /'; then
            echo "bench-click: no FWP's summary in the hops line: $hops" >&2
            exit 1
        fi
        "$client" stats --to 127.0.0.1:17777 | tr ' ' '\n' | grep -E '^(mbox\.|t5\.(delivered|sent|rejected)=)' | sed 's/^/  /'
    )
done
echo "bench-click: config $config, $frames UDP echoes of 64 bytes through each chain; hop.fN figures are guest ns (= instructions under -icount) per frame in the flow's FWP"
