#!/usr/bin/env bash
# `make bench-memcached-limits` (issue 13): get and set against memcached
# tenant A (host port 15211) at memcached's own limits, from the host's
# closed-loop load generator (`net-client memcache-load --matrix`): values
# of 100 B, 10 KiB and 500 KiB, each over 1, 64 and 1,024 connections at
# once. Per (op, size, connections): requests per second, p50/p99 latency,
# and errors (every get's value is checked byte for byte against what was
# set). The connections are opened once, one after another, and held for
# the whole run; get keys are a pool per size stored first (16 MiB at most
# per size, so every get hits in A's 64 MiB store). Prints the CSV as each
# cell completes, then a table; keeps the CSV in
# target/bench-memcached-limits.csv. Exits 1 if any request failed. One
# cell is at the edge by design: 1,024 sets of 500 KiB at once put 500 MiB
# in flight against a 64 MiB store, and real memcached (which reserves an
# item's memory when its command line arrives) refuses some of them with
# "SERVER_ERROR out of memory storing object"; the cell's errors and
# first_error show it.
#
# REQUESTS per cell (default 2048; at least one per connection), SIZES and
# COUNTS (comma-separated) change the matrix. Release config by default.
# Host wall-clock figures through QEMU's user networking (see
# docs/benchmarks.md). Always stops the QEMU it started.
#
# TARGET=HOST:PORT boots nothing and runs the same matrix against a server
# already listening there: a real memcached to compare with, e.g.
# `memcached -m 64 -c 1054 -I 1m -p 15311` and TARGET=127.0.0.1:15311
# (1,054: memcached counts its listening connections and reserved
# descriptors toward -c; measured, -c 1054 serves 1,024 clients).
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
requests="${REQUESTS:-2048}"
sizes="${SIZES:-100,10240,512000}"
counts="${COUNTS:-1,64,1024}"
target="${TARGET:-}"
csv=target/bench-memcached-limits.csv

# 1,024 connections: a socket each in the client and in QEMU (its user
# network), past the common soft limit of 1,024 open files. Both inherit
# this shell's limit, raised to the hard one.
hard_files="$(ulimit -Hn)"
[ "$hard_files" = unlimited ] && hard_files=65536
ulimit -n "$hard_files"

booted=false
if [ -z "$target" ]; then
    . ci/boot-qemu.sh
    booted=true
    target=127.0.0.1:15211
    against="config $config, tenant A"
else
    cargo build --quiet --release -p edgeos-net-client
    client=target/release/net-client
    against="$target (no boot)"
fi
mkdir -p target
status=0
"$client" memcache-load --to "$target" --matrix --requests "$requests" --sizes "$sizes" \
    --connection-counts "$counts" --timeout-ms 60000 | tee "$csv" || status=$?
awk -F, 'NR > 1 {
    printf "bench-memcached-limits: %s %7s B x %4s connections: %9.1f req/s, p50 %7d us, p99 %7d us, %s errors\n",
        $1, $2, $3, $6, $7, $8, $5
}' "$csv"
if "$booted"; then
    # The guest's side, in guest ns (= instructions under -icount): per
    # frame in the driver, the mux and every FWP that served, over the
    # first samples each keeps.
    "$client" stats --hops --to 127.0.0.1:17777 | tr ' ' '\n' |
        grep -E "^hop\.(driver|mux|f[0-9]+)\.(count|median|p99)=" | sed 's/^/  /'
fi
echo "bench-memcached-limits: $against, $requests requests per cell, sizes $sizes, connections $counts"
exit "$status"
