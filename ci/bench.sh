#!/usr/bin/env bash
# `make bench` (issue 12): EdgeOS and the Linux baseline measured on the
# same emulated machine by one command. Runs, one after another, each
# appending its rows to one fresh table (BENCH_CSV, ci/bench-csv.sh's long
# format):
#   hops       ci/bench-hops.sh                  EdgeOS: guest ns per frame in each hop
#   fwp        ci/bench-fwp.sh                   EdgeOS: FWP spawns (warm, cold) and the lifecycle's other steps
#   start      ci/bench-memcached-start.sh       EdgeOS: a memcached FWP from its spawning packet to its first reply
#   linux      ci/linux-guest.sh                 Linux: fork/posix_spawn/vfork/clone + execve, memcached's first reply
#   memcached  ci/bench-memcached-vs-linux.sh    both: memcached with N tenants
# then tools/bench-report writes the table (results.csv), the plots (SVG)
# and summary.md (the headline ratios, the date, QEMU's version and the
# machine) into docs/bench/, and reads them back (check).
#
# BENCH_SIZE=min (`make test`'s stage, so the harness cannot rot): each
# part at its smallest useful size (FRAMES, WARM, ROUNDS, TENANTS, REQUESTS
# below; ci/linux-guest.sh has no size of its own), written to
# target/bench-min/ instead of docs/bench/. BENCH_OUT overrides where the
# report goes.
#
# Every part boots QEMU, one at a time. The caller serialises with other
# QEMU users (`flock /tmp/edgeos-qemu.lock make bench`): this script takes
# no lock, because ci/test.sh already runs inside one, and a second flock
# on the same file from inside would wait forever.
#
# A part that fails is reported and the others still run; the report is
# written from what was measured and names what is missing. Exits 1 if any
# part failed. Ends with "N passed, M failed" over the parts (ci/test.sh
# counts that line); the parts' own output is indented so that no line of
# theirs is counted.
set -uo pipefail
cd "$(dirname "$0")/.."

size="${BENCH_SIZE:-full}"
case "$size" in
    full)
        out="${BENCH_OUT:-docs/bench}"
        scratch=target/bench
        sizes=()
        ;;
    min)
        out="${BENCH_OUT:-target/bench-min}"
        scratch=target/bench-min
        sizes=(FRAMES=500 WARM=50 ROUNDS=10 START_RUNS=10 TENANTS="1 8" REQUESTS=200)
        ;;
    *)
        echo "bench: BENCH_SIZE=$size: it is full or min" >&2
        exit 2
        ;;
esac
mkdir -p "$scratch"
csv="$(realpath "$scratch")/run.csv"
rm -f "$csv"
started=$SECONDS
date="$(date -u +%F)"
# Built first: a report tool that does not compile should not cost a run.
cargo build --quiet --release -p edgeos-bench-report || { echo "bench: cannot build tools/bench-report" >&2; exit 1; }
report=target/release/bench-report
passed=0
failed=0
failures=()

# Runs part $1 (a name) as the command after it; counts and reports it.
part() {
    local name="$1" t0=$SECONDS status
    shift
    echo "== bench: $name ($*)"
    "$@" 2>&1 | sed 's/^/  /'
    status=${PIPESTATUS[0]}
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "== bench: $name: ok ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "== bench: $name: FAILED (exit status $status, $((SECONDS - t0)) s)"
    fi
    return "$status"
}

# The series each part that passed must have left in the table.
expect=()
run_script() {  # a part: ci/NAME.sh with the sizes and the table
    env BENCH_CSV="$csv" "${sizes[@]}" "$@"
}
part hops run_script ci/bench-hops.sh && expect+=(--expect hops/edgeos)
part fwp run_script ci/bench-fwp.sh && expect+=(--expect startup/edgeos --expect fwp/edgeos)
part start run_script ci/bench-memcached-start.sh && expect+=(--expect startup/edgeos)
part linux run_script ci/linux-guest.sh && expect+=(--expect startup/linux)
part memcached run_script ci/bench-memcached-vs-linux.sh &&
    expect+=(--expect memcached-tenants/edgeos --expect memcached-tenants/linux)

# When no part wrote a row, the header alone: an empty table still gives a
# report, which says what is missing.
. ci/bench-csv.sh
bench_csv_append "$csv" </dev/null
# The tool reads QEMU's version and the machine itself.
part report "$report" "$csv" --out "$out" --date "$date"
# Read back: the table parses, every plot is a whole SVG that an XML
# parser accepts, and each part that passed left its rows.
part check "$report" --check "$out" "${expect[@]}"

echo "bench: BENCH_SIZE=$size, $((SECONDS - started)) s; table $csv, report in $out/${failures[*]:+; failed: ${failures[*]}}"
echo "$passed passed, $failed failed (ci/bench.sh parts)"
[ "$failed" -eq 0 ]
