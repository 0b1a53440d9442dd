#!/usr/bin/env bash
# `make bench-fwp`: the FWP lifecycle's cost in guest time (instructions
# under -icount), from the mux's own samples, in two runs of the TCP echo
# template (one FWP per connection, a warm pool of 2):
#  - ci/variants/bench-fwp.toml: FWPs reused as the static slot PDs were:
#    warm spawns (a parked FWP started at its serving entry point), cold
#    spawns (restore, then serve), warm-pool refills (restore, then park),
#    teardowns (stop, ring reset, zeroing), and a refill's start to the
#    restore's first instruction (refill_entry);
#  - ci/variants/bench-fwp-renew.toml: every FWP that ended destroyed and
#    created anew by the FWP manager: a renewal from the mux's request to
#    the creation's completion (renew), and a created FWP's first start to
#    its first instruction (created_entry).
# In both, handoff: from an event's last start to the end of the mux's
# handling of it (the mux's own share of every start's latency).
# Each spawn is timed from the mux's TCB write to the FWP's first
# instruction in its serving loop (its CNTPCT_EL0 reading). WARM
# sequential connections are warm spawns (the pool refills behind each);
# ROUNDS rounds of 3 concurrent connections drain the pool, so the third
# is cold. Also prints the host-side churn rate. Release config by default.
# Always stops the QEMU it started. WARM=50 ROUNDS=10 is a quick run.
# With BENCH_CSV set, also appends the summaries as rows to that table
# (`make bench`, tools/bench-report): benchmark startup for the spawns
# (case fwp-warm-spawn, fwp-cold-spawn, and fwp-warm-spawn-sequential: the
# warm spawns of the sequential connections alone), fwp for the rest (case refill,
# teardown, handoff, renew, created-entry, refill-entry); the renew
# variant's cases end in -renew (fwp-warm-spawn-renew). A summary a variant
# does not have (renew with reuse) gives no row.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
warm="${WARM:-2500}"
rounds="${ROUNDS:-1400}"

for variant in bench-fwp bench-fwp-renew; do
    (
        . ci/boot-qemu.sh
        echo "== variant $variant"
        "$client" tcp-churn --to 127.0.0.1:15008 --count "$warm" --bytes 64
        suffix=""
        [ "$variant" = bench-fwp-renew ] && suffix=-renew
        # The warm spawns so far are the sequential connections' alone: an
        # FWP started while no other starts or serves.
        sequential=(stats --hops --to 127.0.0.1:17777)
        [ -n "${BENCH_CSV:-}" ] && sequential+=(--csv "$BENCH_CSV" --csv-row "spawn_warm=startup/fwp-warm-spawn-sequential$suffix")
        "$client" "${sequential[@]}" | tr ' ' '\n' | grep -E '^hop\.spawn_warm\.' | sed 's/^/  sequential only: /'
        failed=0
        for round in $(seq 1 "$rounds"); do
            if ! "$client" tcp-echo --to 127.0.0.1:15008 --connections 3 --bytes 64 >/dev/null; then
                failed=$(( failed + 1 ))
            fi
        done
        # A benchmark, not a test: a failed round is reported, and the figures stand.
        echo "bench-fwp: $failed of $rounds rounds of 3 concurrent connections had a connection fail"
        "$client" stats --to 127.0.0.1:17777 | tr ' ' '\n' | grep -E '^(fwp\.|slots\.|flows=|mgr\.)' | sed 's/^/  /'
        csv_args=()
        if [ -n "${BENCH_CSV:-}" ]; then
            csv_args=(--csv "$BENCH_CSV"
                --csv-row "spawn_warm=startup/fwp-warm-spawn$suffix"
                --csv-row "spawn_cold=startup/fwp-cold-spawn$suffix")
            for hop in refill teardown handoff renew created_entry refill_entry; do
                csv_args+=(--csv-row "$hop=fwp/${hop//_/-}$suffix")
            done
        fi
        "$client" stats --hops --to 127.0.0.1:17777 "${csv_args[@]}" | tr ' ' '\n' |
            grep -E '^hop\.(spawn_warm|spawn_cold|refill|teardown|renew|created_entry|refill_entry|handoff)\.' | sed 's/^/  /'
    )
done
echo "bench-fwp: config $config, $warm sequential and $rounds x 3 concurrent TCP connections per variant; figures are guest ns (= instructions under -icount)"
