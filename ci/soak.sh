#!/usr/bin/env bash
# `make soak`: SOAK_COUNT (10,000 by default) spawn/teardown cycles of the
# TCP echo template, one FWP per connection, each connection with its own
# bytes (a tenant seeing another's data fails the run). Afterwards, once no
# FWP is left serving (an FWP whose last segment got lost waits for its
# 10 s idle timeout), every slot state count, the flow table and the mux's
# driver buffers must be back at their values before the churn. Release
# config by default.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
count="${SOAK_COUNT:-10000}"

. ci/boot-qemu.sh
before="$(mktemp)"
trap 'kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$qemu_log" "$before"' EXIT
# The baseline, once the warm pools are full (polled, with a deadline).
"$client" stats-check --to 127.0.0.1:17777 --within-ms 120000 --equals slots.restoring=0 --equals slots.ready=104 --equals slots.free=917 >/dev/null || true
"$client" stats --to 127.0.0.1:17777 --save "$before" >/dev/null
"$client" tcp-churn --to 127.0.0.1:15008 --count "$count" --bytes 64
# Guest time runs fast while the guest idles (-icount sleep=off): idle
# timeouts pass within seconds of host time. Poll, with a deadline.
"$client" stats-check --to 127.0.0.1:17777 --within-ms 60000 --equals slots.active=0 >/dev/null || true
"$client" stats-check --to 127.0.0.1:17777 --since "$before" --within-ms 120000 \
    --same mgr.ram_free_mib --same mgr.asid_pools --same mgr.cnode_slots_free --same mgr.live_fwps \
    --same slots.free --same slots.ready --equals slots.active=0 --same slots.restoring \
    --same slots.draining --same slots.faulted --same flows --same buffers_rx_lent \
    --at-most buffers_tx_in_flight=2 \
    --rose fwp.closed_teardowns --rose fwp.scrubbed --same fwp.fault_teardowns --same t1.rejected
echo "soak: config $config, $count connections, each a spawn and a teardown"
