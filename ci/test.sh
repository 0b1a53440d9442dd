#!/usr/bin/env bash
# `make test`: the host tests and the ring protocol's model checks always;
# the QEMU system tests and the benchmark harness at its minimum size
# (BENCH_SIZE=min ci/bench.sh, so `make bench` cannot rot) whenever a
# Microkit SDK is found, otherwise a clear line saying they were skipped.
# Boots QEMU: the caller holds /tmp/edgeos-qemu.lock where others share it.
# Ends with one total line, "total: N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Sums the "test result: ... N passed; M failed" lines of cargo test and the
# "N passed, M failed" lines of qemu-test, ci/ring-model.sh and ci/bench.sh
# in the log so far.
count() {
    sed -n -E 's/^(test result: [a-zA-Z]+\. )?([0-9]+) passed[;,] ([0-9]+) failed.*/\2 \3/p' "$log" |
        awk '{p += $1; f += $2} END {print p + 0, f + 0}'
}

echo "== host tests (cargo test --workspace)"
cargo test --workspace 2>&1 | tee -a "$log"
host_status=${PIPESTATUS[0]}

echo "== ring protocol model checks (ci/ring-model.sh: Spin and loom)"
ci/ring-model.sh 2>&1 | tee -a "$log"
model_status=${PIPESTATUS[0]}

skipped=0
system_status=0
bench_status=0
if sdk="$(ci/find-sdk.sh 2>"$log.sdk")"; then
    echo "== QEMU system tests (SDK: $sdk)"
    make --no-print-directory system-test 2>&1 | tee -a "$log"
    system_status=${PIPESTATUS[0]}
    echo "== benchmark harness at minimum size (BENCH_SIZE=min ci/bench.sh, into target/bench-min/)"
    BENCH_SIZE=min ci/bench.sh 2>&1 | tee -a "$log"
    bench_status=${PIPESTATUS[0]}
else
    skipped=2
    echo "== QEMU system tests and the benchmark harness: SKIPPED: no Microkit SDK 2.3.0"
    sed 's/^/   /' "$log.sdk"
fi
rm -f "$log.sdk"

read -r passed failed < <(count)
if [ "$host_status" -ne 0 ] || [ "$model_status" -ne 0 ] || [ "$system_status" -ne 0 ] || [ "$bench_status" -ne 0 ]; then
    # A build failure runs no test but must still count as a failure.
    [ "$failed" -gt 0 ] || failed=1
fi
if [ "$skipped" -gt 0 ]; then
    echo "total: $passed passed, $failed failed, $skipped skipped"
else
    echo "total: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
