#!/usr/bin/env bash
# `make bench-memcached-start` (issue 12): a memcached FWP from the packet
# that spawns it to its first reply, the EdgeOS side of `make
# bench-linux`'s "memcached from exec to its first reply". Boots the image
# (release config by default) and runs ci/bench/memcached_start.py: START_RUNS
# times (100 by default), tenant B (scaled to zero when idle) has no FWP,
# and one memcached `version` datagram spawns one, which answers. The
# figure is the multiplexer's own (`hop.first_reply_t4`, guest ns =
# instructions under -icount). With BENCH_CSV set, appends it there as a
# `startup` row. Always stops the QEMU it started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
runs="${START_RUNS:-100}"

. ci/boot-qemu.sh
result="$(/usr/bin/python3 ci/bench/memcached_start.py --runs "$runs")"
echo "$result"
echo "bench-memcached-start: config $config; figures are guest ns (= instructions under -icount)"
if [ -n "${BENCH_CSV:-}" ]; then
    . ci/bench-csv.sh
    sed -E 's/.*min ([0-9]+) median ([0-9]+) p99 ([0-9]+) \(count ([0-9]+)\).*/startup,edgeos,memcached-first-reply,,latency,guest_ns,\4,\1,\2,\3/' <<<"$result" |
        bench_csv_append "$BENCH_CSV"
fi
