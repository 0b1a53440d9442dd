#!/usr/bin/env bash
# `make bench-memcached-tenants` (issue 11): memcached latency and
# throughput with N = 1, 10, 100 and 1,000 tenants at once, each its own
# FWP, under the same total load. Boots the memcached-tenants variant
# (ci/variants/memcached-tenants.toml: every connection to port 11212 gets
# its own memcached FWP, with its own store), and for each N opens N
# connections one after another (each after the one before has its first
# reply: an FWP spawned and answering), then drives RATE gets per second
# spread evenly over all N (net-client memcache-load --rate: each
# connection sends at RATE/N, one request in flight), REQUESTS in all,
# every reply checked byte for byte. Between runs it waits until every
# FWP of the template has exited and the warm pools are full again.
#
# Prints, per N: throughput, request latency p50/p99, and connect to first
# reply p50/p99 (the FWP's spawn and its first answer). RUNS passes over
# all N, in one boot. Release config by default. Host wall-clock figures
# through QEMU's user networking (see docs/benchmarks.md). Always stops
# the QEMU it started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
variant=memcached-tenants
runs="${RUNS:-1}"
rate="${RATE:-400}"
requests="${REQUESTS:-4000}"
tenants="${TENANTS:-1 10 100 1000}"
# Template 4 of system.toml is memcached_b, per connection in the variant.
template=t4

. ci/boot-qemu.sh
"$client" stats --to 127.0.0.1:17777 --save target/bench-tenants-stats-0.txt >/dev/null
ready="$(tr ' ' '\n' < target/bench-tenants-stats-0.txt | sed -n 's/^slots\.ready=//p')"
for run in $(seq 1 "$runs"); do
    for n in $tenants; do
        line="$("$client" memcache-load --to 127.0.0.1:15212 --op get --connections "$n" --one-at-a-time \
            --rate "$rate" --requests "$requests" --keys 1 --value-size 100 --timeout-ms 30000)"
        echo "run $run, $n tenants: $line"
        case "$line" in *FAILED*) exit 1 ;; esac
        # What the run cost the node: spawns, refusals and frames dropped
        # on the way (a dropped segment costs its connection a TCP
        # retransmission, which shows in the p99). Counters since the boot.
        "$client" stats --to 127.0.0.1:17777 | tr ' ' '\n' |
            grep -E "^(fwp\.spawned_(warm|cold)|fwp\.refused_[a-z]+|drops|tx_no_buffer|$template\.(dropped_full|rejected))=" |
            tr '\n' ' ' | sed 's/^/  counters so far: /; s/ $/\n/'
        # The guest's own side, in guest ns (instructions under -icount):
        # the driver's and the mux's time per frame and the mux's per
        # event, over the first samples each keeps since the boot.
        "$client" stats --hops --to 127.0.0.1:17777 | tr ' ' '\n' |
            grep -E "^hop\.(driver|mux|event)\.(count|median|p99)=" |
            tr '\n' ' ' | sed 's/^/  guest so far: /; s/ $/\n/'
        # Every FWP of the run has exited and the pools are refilled.
        "$client" stats-check --to 127.0.0.1:17777 --within-ms 300000 --equals "$template.active=0" \
            --equals slots.restoring=0 --equals "slots.ready=$ready" >/dev/null
    done
done
# Nothing leaked over all the runs: the manager's memory, ASIDs and CNode
# slots, every slot count and the flow table are back.
"$client" stats-check --to 127.0.0.1:17777 --since target/bench-tenants-stats-0.txt --within-ms 60000 \
    --same mgr.ram_free_mib --same mgr.asid_pools --same mgr.cnode_slots_free --same mgr.live_fwps \
    --same slots.free --same slots.ready --same slots.active --same flows | tail -1
echo "bench-memcached-tenants: config $config, variant $variant, $requests gets of 100 B per run at $rate req/s in all, $runs pass(es)"
