#!/usr/bin/env bash
# `make bench-memcached-vs-linux` (issue 12): memcached with N tenants on
# EdgeOS against N memcached processes on Linux, on the same emulated
# machine (make run's: virt, Cortex-A53, 2 GiB, one virtio-net device
# behind QEMU's user network, -icount shift=0,align=off,sleep=off), from
# the same host-side load generator with the same command.
#
# EdgeOS: the memcached-tenants variant (as `make bench-memcached-tenants`):
# every connection to host port 15212 gets its own memcached FWP. One boot
# per pass runs every N, and between N the script waits until every FWP
# has exited and the warm pools are full again.
# Linux: ci/linux-guest-image.sh's guest with N memcached 1.6.18 processes
# (-t 1 -m 2), one per guest port, each forwarded from host port
# LINUX_HOST_PORT + i (default 16000 + i). One boot per N: idle servers of
# a larger N would run their maintainer threads beside a smaller N's.
# LINUX_MAX_TENANTS (default 800) is the most that fit: a memcached takes
# 1.24 MiB of the guest's 1,907 MiB before its first item and its first
# item a 1 MiB slab page, and with 900 the kernel's out-of-memory killer
# ended some during the load. Linux skips a larger N.
#
# The load, for each N: `net-client memcache-load --op get --keys 1
# --value-size 100 --connections N --one-at-a-time --rate RATE --requests
# REQUESTS`: each connection stores its key, then RATE gets per second in
# all (default 400), spread evenly over the N connections, REQUESTS (4,000)
# in all, every reply checked byte for byte. Against Linux, --port-span
# sends connection i to its own server. A run with any error fails the
# script. Passes alternate which system goes first. TENANTS (default
# "1 8 32 800 1000": 800 is the most Linux holds, 1,000 the most EdgeOS's
# variant does) and RUNS (default 1) choose the runs; SYSTEMS ("edgeos
# linux") may leave one out.
#
# Appends the figures to BENCH_CSV (default
# target/bench-memcached-vs-linux.csv; ci/bench-csv.sh's long format): per
# system and N, latency in us (min, p50, p99) and throughput in req/s.
# Host wall-clock figures through QEMU's user networking. Always stops the
# QEMU it started.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
variant=memcached-tenants
runs="${RUNS:-1}"
rate="${RATE:-400}"
requests="${REQUESTS:-4000}"
tenants="${TENANTS:-1 8 32 800 1000}"
systems="${SYSTEMS:-edgeos linux}"
csv="${BENCH_CSV:-target/bench-memcached-vs-linux.csv}"
linux_host_port="${LINUX_HOST_PORT:-16000}"
linux_guest_port=11211
linux_timeout_s="${LINUX_GUEST_TIMEOUT:-1200}"
linux_max="${LINUX_MAX_TENANTS:-800}"
# Template 4 of system.toml is memcached_b, per connection in the variant.
template=t4

. ci/bench-csv.sh
# A thousand connections (and, for Linux, a thousand forwarded ports): a
# socket each in the client and in QEMU, past the common soft limit of
# 1,024 open files. Both inherit this shell's limit, raised to the hard one.
hard_files="$(ulimit -Hn)"
[ "$hard_files" = unlimited ] && hard_files=65536
ulimit -n "$hard_files"

cargo build --quiet --release -p edgeos-net-client
client=target/release/net-client

# One run against $3 (HOST:PORT) for system $1 with $2 tenants, more
# memcache-load options after; its figures go to the CSV.
load() {
    local system="$1" n="$2" to="$3" out line
    shift 3
    line="$(mktemp)"
    out="$("$client" memcache-load --to "$to" --op get --connections "$n" --one-at-a-time --rate "$rate" \
        --requests "$requests" --keys 1 --value-size 100 --timeout-ms 30000 --csv "$@" 2>"$line")" || {
        echo "pass $pass, $system, $n tenants: $(cat "$line")" >&2
        rm -f "$line"
        return 1
    }
    echo "pass $pass, $system, $n tenants: $(cat "$line")"
    rm -f "$line"
    # op,value_bytes,connections,requests,errors,req_per_s,min_us,p50_us,p99_us,first_error
    tail -1 <<<"$out" | awk -F, -v sys="$system" -v n="$n" '{
        printf "memcached-tenants,%s,get-100B,%s,latency,us,%s,%s,%s,%s\n", sys, n, $4, $7, $8, $9
        printf "memcached-tenants,%s,get-100B,%s,throughput,req_per_s,%s,,%s,\n", sys, n, $4, $6
    }' | bench_csv_append "$csv"
}

edgeos_pass() (
    . ci/boot-qemu.sh
    "$client" stats --to 127.0.0.1:17777 --save target/bench-vs-linux-stats-0.txt >/dev/null
    ready="$(tr ' ' '\n' <target/bench-vs-linux-stats-0.txt | sed -n 's/^slots\.ready=//p')"
    for n in $tenants; do
        load edgeos "$n" 127.0.0.1:15212
        # The next N starts as the first did: every FWP of this one has
        # exited and the warm pools are refilled.
        "$client" stats-check --to 127.0.0.1:17777 --within-ms 300000 --equals "$template.active=0" \
            --equals slots.restoring=0 --equals "slots.ready=$ready" >/dev/null
    done
)

# Boots Linux with $1 memcached and runs the load against them.
linux_run() (
    local n="$1" forwards="" i log
    for ((i = 0; i < n; i++)); do
        forwards+=",hostfwd=tcp:127.0.0.1:$((linux_host_port + i))-10.0.2.15:$((linux_guest_port + i))"
    done
    log="$(mktemp)"
    # The NIC as EdgeOS's (Makefile QEMU_NET): virtio-net-device (MMIO),
    # the same MAC, QEMU's user network; no hub and no injection socket.
    "${linux_qemu[@]}" -append "console=ttyAMA0 quiet edgeos.mode=memcached edgeos.tenants=$n edgeos.port=$linux_guest_port" \
        -netdev "user,id=user0$forwards" -device virtio-net-device,netdev=user0,mac=52:54:00:12:34:56 \
        </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    trap 'kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$log"' EXIT
    started=$SECONDS
    until grep -q LINUX-GUEST-MEMCACHED-READY "$log"; do
        if ! kill -0 "$qemu_pid" 2>/dev/null || (( SECONDS - started >= linux_timeout_s )); then
            echo "bench-memcached-vs-linux: Linux with $n memcached not ready after $(( SECONDS - started ))s; its console:" >&2
            tr -d '\r' <"$log" | tail -40 >&2
            exit 1
        fi
        sleep 1
    done
    tr -d '\r' <"$log" | grep -E '^linux-guest:' | sed "s/^/  ready after $(( SECONDS - started ))s: /"
    local failed=0
    grep -q 'linux-guest: FAILED' "$log" && failed=1
    load linux "$n" "127.0.0.1:$linux_host_port" --port-span || failed=1
    # The kernel's out-of-memory killer says so on the console (quiet
    # still shows errors): a memcached it ended fails the run.
    if grep -q 'Out of memory' "$log"; then
        echo "bench-memcached-vs-linux: the Linux guest ran out of memory with $n memcached:" >&2
        tr -d '\r' <"$log" | grep 'Out of memory' | head -5 >&2
        failed=1
    fi
    exit "$failed"
)

linux_pass() {
    local n
    for n in $tenants; do
        if (( n > linux_max )); then
            echo "pass $pass, linux, $n tenants: skipped, more than LINUX_MAX_TENANTS=$linux_max memcached"
            continue
        fi
        linux_run "$n"
    done
}

case " $systems " in *" linux "*) . ci/linux-guest-image.sh ;; esac
for pass in $(seq 1 "$runs"); do
    order="$systems"
    # Even passes reverse the order: neither system always goes first.
    if (( pass % 2 == 0 )); then order="$(tr ' ' '\n' <<<"$systems" | tac | tr '\n' ' ')"; fi
    for system in $order; do
        case "$system" in
            edgeos) edgeos_pass ;;
            linux) linux_pass ;;
            *) echo "bench-memcached-vs-linux: SYSTEMS: $system is neither edgeos nor linux" >&2; exit 2 ;;
        esac
    done
done
echo "bench-memcached-vs-linux: $requests gets of 100 B per run at $rate req/s in all, tenants $tenants, $runs pass(es); figures in $csv"
