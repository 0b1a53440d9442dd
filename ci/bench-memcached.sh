#!/usr/bin/env bash
# `make bench-memcached`: requests per second and p50/p99 latency of get
# and set against memcached tenant A (host port 15211), from the host's
# closed-loop load generator (`net-client memcache-load`, every reply
# checked). RUNS runs of each op, interleaved (get, set, get, set, ...) in
# one boot so both see the same machine; prints every run and the median of
# each figure over the runs. REQUESTS per run, CONNECTIONS at once,
# VALUE_SIZE-byte values. Release config by default. Host wall-clock
# figures through QEMU's user networking: compare runs of one boot, not
# absolute numbers across machines. Always stops the QEMU it started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
runs="${RUNS:-5}"
requests="${REQUESTS:-2000}"
connections="${CONNECTIONS:-1}"
value_size="${VALUE_SIZE:-100}"

. ci/boot-qemu.sh
results="$(mktemp)"
trap 'kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$qemu_log" "$results"' EXIT
for run in $(seq 1 "$runs"); do
    for op in get set; do
        line="$("$client" memcache-load --to 127.0.0.1:15211 --op "$op" --requests "$requests" \
            --connections "$connections" --value-size "$value_size")"
        echo "run $run: $line"
        echo "$line" >> "$results"
    done
done
# Medians over the runs of each op (RUNS is odd by default: a real run's figure).
for op in get set; do
    grep "memcache-load: $op " "$results" | sed -E 's/.*: ([0-9.]+) req\/s, latency p50 ([0-9]+) us p99 ([0-9]+) us.*/\1 \2 \3/' |
        awk -v op="$op" -v runs="$runs" '
            { rate[NR] = $1; p50[NR] = $2; p99[NR] = $3 }
            function median(a, n,   i, j, t) {
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            END { printf "bench-memcached: %s median of %d runs: %.1f req/s, p50 %d us, p99 %d us\n", op, NR, median(rate, NR), median(p50, NR), median(p99, NR) }'
done
echo "bench-memcached: config $config, $requests requests per run, $connections connection(s), $value_size-byte values, tenant A"
