#!/usr/bin/env bash
# `make soak`: SOAK_COUNT (10,000 by default) create/serve/destroy cycles
# of the TCP echo template, one FWP per connection, each connection with
# its own bytes (a tenant seeing another's data fails the run). It boots the
# `renew` variant (VARIANT; ci/variants/renew.toml), so the FWP manager
# destroys every FWP whose connection closed and creates a new one.
# Afterwards, once no FWP is left serving, every slot state count, the flow
# table, the mux's driver buffers and the manager's memory, ASIDs, CNode
# slots and live FWPs must be back at their values before the churn.
# Release config by default.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
count="${SOAK_COUNT:-10000}"
variant="${VARIANT-renew}"

. ci/boot-qemu.sh
before="$(mktemp)"
trap 'kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$qemu_log" "$before"' EXIT
# The baseline, once the warm pools are full (polled, with a deadline).
"$client" stats-check --to 127.0.0.1:17777 --within-ms 120000 --equals slots.restoring=0 --equals slots.ready=108 --equals slots.free=916 >/dev/null || true
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
    --rose-by fwp.closed_teardowns="$count" --same fwp.fault_teardowns --same t1.rejected
"$client" stats --to 127.0.0.1:17777
echo "soak: config $config, variant ${variant:-none}, $count connections, each a spawn and a teardown"
