#!/usr/bin/env bash
# `make bench-hops`: guest time per frame in each hop (driver, mux, tenant)
# over a closed-loop UDP echo of FRAMES frames. Builds and boots the image
# in CONFIG (release by default: no kernel printing, no debug overhead)
# under -icount, where a guest nanosecond is one instruction, then reads the
# PDs' summaries from the multiplexer's stats port. Always stops the QEMU it
# started. With BENCH_CSV set, also appends the three hops' rows to that
# table (benchmark hops; case net_driver, mux, and tenant for the UDP echo
# tenant's slot; `make bench`, tools/bench-report). FRAMES=500 is a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
frames="${FRAMES:-12000}"
size="${SIZE:-64}"

. ci/boot-qemu.sh
# net-client sends at most 10,000 datagrams a run.
left="$frames"
while [ "$left" -gt 0 ]; do
    n=$(( left > 10000 ? 10000 : left ))
    "$client" udp-echo --to 127.0.0.1:15007 --count "$n" --size "$size"
    left=$(( left - n ))
done
"$client" stats --to 127.0.0.1:17777 | tr ' ' '\n' | grep -E '^(rx|tx)=' | sed 's/^/  /'
# Only tenant A's slot serves frames in this run: it is the one fN summary.
csv_args=()
if [ -n "${BENCH_CSV:-}" ]; then
    csv_args=(--csv "$BENCH_CSV" --csv-row driver=hops/net_driver --csv-row mux=hops/mux --csv-row 'f*=hops/tenant')
fi
"$client" stats --hops --to 127.0.0.1:17777 "${csv_args[@]}" | tr ' ' '\n' | grep -E '^hop\.(driver|mux|f[0-9]+)\.' | sed 's/^/  /'
echo "bench-hops: config $config, $frames UDP echoes of $size bytes; hop figures are guest ns (= instructions under -icount) per frame"
