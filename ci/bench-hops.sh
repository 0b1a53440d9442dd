#!/usr/bin/env bash
# `make bench-hops`: guest time per frame in each hop (driver, mux, tenant)
# over a closed-loop UDP echo of FRAMES frames. Builds and boots the image
# in CONFIG (release by default: no kernel printing, no debug overhead)
# under -icount, where a guest nanosecond is one instruction, then reads the
# PDs' summaries from the multiplexer's stats port. Always stops the QEMU it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
frames="${FRAMES:-12000}"
size="${SIZE:-64}"

make --no-print-directory image CONFIG="$config" >/dev/null
cargo build --quiet --release -p edgeos-net-client
client=target/release/net-client
qemu_cmd="$(make --no-print-directory -n run CONFIG="$config" | tail -1)"

log="$(mktemp)"
setsid bash -c "exec $qemu_cmd" </dev/null >"$log" 2>&1 &
qemu_pid=$!
trap 'kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$log"' EXIT

# The stats port answers once the mux runs; the tenants are up by then.
for _ in $(seq 1 120); do
    if "$client" stats --to 127.0.0.1:17777 --timeout-ms 500 >/dev/null 2>&1; then break; fi
done
# net-client sends at most 10,000 datagrams a run.
left="$frames"
while [ "$left" -gt 0 ]; do
    n=$(( left > 10000 ? 10000 : left ))
    "$client" udp-echo --to 127.0.0.1:15007 --count "$n" --size "$size"
    left=$(( left - n ))
done
"$client" stats --to 127.0.0.1:17777 | tr ' ' '\n' | grep -E '^(rx|tx|hop\.)' | sed 's/^/  /'
echo "bench-hops: config $config, $frames UDP echoes of $size bytes; hop figures are guest ns (= instructions under -icount) per frame"
