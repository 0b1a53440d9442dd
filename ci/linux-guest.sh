#!/usr/bin/env bash
# `make bench-linux`: the Linux baseline for the FWP spawn figures (issue
# 12). Boots Debian's arm64 kernel with a busybox initramfs on the same
# emulated machine as `make run` (virt with virtualization=on, Cortex-A53,
# 2 GiB, -icount shift=0) and runs tools/linux-bench in it: fork, posix_spawn,
# vfork and namespaced clone, each + execve + waitpid of a minimal static
# child, and a real service: Debian's memcached from exec to its first reply
# to `version` over loopback. Guest ns are instructions under -icount, as in
# docs/benchmarks.md.
# Everything fetched or built goes to build/linux-guest/ (git-ignored;
# ci/linux-guest-image.sh).
# Always stops the QEMU it started. LINUX_GUEST_TIMEOUT (seconds, default
# 1200) bounds the wait for the guest's end marker. With BENCH_CSV=FILE the
# figures are also appended to that benchmark table (ci/bench-csv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
timeout_s="${LINUX_GUEST_TIMEOUT:-1200}"
end_marker=LINUX-GUEST-BENCH-END

. ci/linux-guest-image.sh
out="$linux_out"

# --- Boot on make run's machine, wait for the end marker ---------------------
log="$out/qemu.log"
: >"$log"
# No network device: the startup benchmark uses loopback only.
"${linux_qemu[@]}" -append "console=ttyAMA0 quiet" </dev/null >"$log" 2>&1 &
qemu_pid=$!
trap 'kill -KILL "$qemu_pid" 2>/dev/null || true' EXIT
started=$SECONDS
until grep -q "$end_marker" "$log"; do
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
        echo "linux-guest: QEMU exited before the end marker; its output:" >&2
        tr -d '\r' <"$log" | tail -40 >&2
        exit 1
    fi
    if (( SECONDS - started >= timeout_s )); then
        echo "linux-guest: no end marker after ${timeout_s}s; QEMU's output so far:" >&2
        tr -d '\r' <"$log" | tail -40 >&2
        exit 1
    fi
    sleep 1
done
echo "linux-guest: end marker after $(( SECONDS - started ))s wall time"
# poweroff -f ends QEMU by itself; give it a moment, the trap kills it otherwise.
for _ in $(seq 1 10); do
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 1
done
tr -d '\r' <"$log" | grep -E '^linux-(guest|bench):' | tee "$out/result.txt"
grep -q 'linux-guest: linux-bench exit status 0' "$out/result.txt"
# With BENCH_CSV, the figures also go to the benchmark table: one row per
# method, in guest ns.
if [ -n "${BENCH_CSV:-}" ]; then
    . ci/bench-csv.sh
    rows="$(sed -n 's/^linux-bench: \(.*[^ ]\) *runs=\([0-9]*\) min=\([0-9]*\) median=\([0-9]*\) p99=\([0-9]*\) ns$/\1,\2,\3,\4,\5/p' "$out/result.txt" |
        awk -F, 'BEGIN {
            method["fork+execve+waitpid"] = "fork+execve"
            method["posix_spawn+waitpid"] = "posix_spawn"
            method["vfork+execve+waitpid"] = "vfork+execve"
            method["clone(NEWPID|NEWNS|NEWNET|NEWUTS|NEWIPC)+execve+waitpid"] = "clone-namespaces+execve"
            method["memcached exec until first VERSION reply (127.0.0.1)"] = "memcached-first-reply"
        }
        ($1 in method) { printf "startup,linux,%s,,latency,guest_ns,%s,%s,%s,%s\n", method[$1], $2, $3, $4, $5; n++ }
        END { if (n != 5) { print "linux-guest: " n " of 5 methods found for BENCH_CSV" > "/dev/stderr"; exit 1 } }')"
    bench_csv_append "$BENCH_CSV" <<<"$rows"
    echo "linux-guest: figures appended to $BENCH_CSV"
fi
