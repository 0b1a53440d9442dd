#!/usr/bin/env bash
# `make bench-memcached`: requests per second and p50/p99 latency of get
# and set against memcached tenant A (host port 15211), from the host's
# closed-loop load generator (`net-client memcache-load`, every reply
# checked). RUNS runs of each op, interleaved (get, set, echo, get, ...) in
# one boot so all see the same machine; prints every run and the median of
# each figure over the runs. "echo" is the path's floor: the UDP echo
# tenant's round trip for as many datagrams of the value's size (host ->
# slirp -> driver -> mux -> FWP and back, no cache work). REQUESTS per run, CONNECTIONS at once,
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
# Each run's figures go to $results as "op rate p50 p99" (echo has no rate).
for run in $(seq 1 "$runs"); do
    for op in get set; do
        status=0
        line="$("$client" memcache-load --to 127.0.0.1:15211 --op "$op" --requests "$requests" \
            --connections "$connections" --value-size "$value_size")" || status=$?
        echo "run $run: $line"
        [ "$status" -eq 0 ] || exit "$status"
        echo "$line" | sed -E "s/.*: ([0-9.]+) req\/s, latency p50 ([0-9]+) us p99 ([0-9]+) us.*/$op \1 \2 \3/" >> "$results"
    done
    line="$("$client" udp-echo --to 127.0.0.1:15007 --count "$requests" --size "$value_size")"
    echo "run $run: $line"
    echo "$line" | sed -E 's/.*rtt median ([0-9]+) us p99 ([0-9]+) us.*/echo - \1 \2/' >> "$results"
done
# Medians over the runs of each op (RUNS is odd by default: a real run's figure).
for op in get set echo; do
    grep "^$op " "$results" | awk -v op="$op" '
        { rate[NR] = $2; p50[NR] = $3; p99[NR] = $4 }
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END {
            r = (op == "echo") ? "-" : sprintf("%.1f req/s", median(rate, NR))
            printf "bench-memcached: %-4s median of %d runs: %s, p50 %d us, p99 %d us\n", op, NR, r, median(p50, NR), median(p99, NR)
        }'
done
# The guest's side, in guest ns (= instructions under -icount): per frame
# in the driver, the mux and every FWP that served (hop.f<slot>: the UDP
# echo's and tenant A's; the mux lists only slots that served frames, and
# dynamic FWPs' slot numbers follow every slot PD's). Each FWP keeps its
# first 1,024 samples.
"$client" stats --hops --to 127.0.0.1:17777 | tr ' ' '\n' |
    grep -E "^hop\.(driver|mux|f[0-9]+)\.(count|median|p99)=" | sed 's/^/  /'
echo "bench-memcached: config $config, $requests requests per run, $connections connection(s), $value_size-byte values, tenant A"
