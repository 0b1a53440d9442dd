#!/usr/bin/env bash
# The machine checks of the signalling protocols (docs/ring-model.md):
#  - Spin explores every interleaving of models/ring.pml (the rings) and
#    models/fwp-control.pml (the FWP control blocks), at the bounds the
#    models set, for safety (assertions, deadlock) and, under weak
#    fairness, liveness;
#  - loom runs components/ring/tests/loom_signal.rs, the Rust code of the
#    rings' rule, and components/fwp/tests/loom_control.rs, the Rust code
#    of the control blocks' hand-offs, under the C11 memory model.
# Each deliberately broken variant must be caught: a check passes when the
# correct rule verifies and the broken one yields a counterexample. An
# unexpected counterexample prints its trail. One "N passed, M failed" line
# per check (ci/test.sh counts them); exits non-zero on any failure.
#
# Usage: ci/ring-model.sh [spin|loom]   (both by default)
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
what="${1:-all}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0

# Reports one check: "1 passed, 0 failed: NAME: DETAIL" or the opposite.
report() { # ok name detail
    if [ "$1" = ok ]; then
        echo "1 passed, 0 failed: $2: $3"
    else
        echo "0 passed, 1 failed: $2: $3"
        status=1
    fi
}

# spin_check NAME MODEL MODE EXPECT [SPIN FLAGS...]
#   MODE:   safety (assertions, invalid end states) | live (ltl under weak fairness)
#   EXPECT: holds | caught (the variant must yield a counterexample)
#           | known (a counterexample the docs record as a finding)
spin_check() {
    local name="$1" model="$2" mode="$3" expect="$4"
    shift 4
    local dir="$work/$name" cc pan
    mkdir -p "$dir"
    cp "$repo/models/$model" "$dir/"
    case "$mode" in
        safety) cc=(-DSAFETY -DNOCLAIM) pan=() ;;
        live) cc=(-DNFAIR=3) pan=(-a -f) ;;
    esac
    local start=$SECONDS
    if ! (cd "$dir" && spin -a "$@" "$model" >spin.out 2>&1 &&
        gcc -O2 -w -DCOLLAPSE -DMEMLIM=4096 "${cc[@]}" -o pan pan.c >gcc.out 2>&1); then
        cat "$dir/spin.out" "$dir/gcc.out" 2>/dev/null | sed 's/^/   /'
        report fail "$name" "the model does not build"
        return
    fi
    (cd "$dir" && ./pan -m2000000 "${pan[@]}" >pan.out 2>&1)
    local out="$dir/pan.out" secs=$((SECONDS - start))
    local errors states first
    errors="$(sed -n -E 's/.*errors: ([0-9]+).*/\1/p' "$out" | head -n 1)"
    states="$(sed -n -E 's/^ *([0-9.e+]+) states, stored.*/\1/p' "$out" | head -n 1)"
    first="$(grep -m 1 -E '^pan:1:' "$out" | sed -E 's/^pan:1: //; s/ \(at depth [0-9]+\)//')"
    local detail="spin ${*:-(no flags)}, $mode, ${states:-?} states, ${secs}s"
    # A search stopped by a counterexample is "not completed" too; one that
    # found none must have covered every state.
    if [ -z "$errors" ] || { [ "$errors" -eq 0 ] &&
        grep -q -i -E 'max search depth too small|out of memory|search not completed' "$out"; }; then
        sed 's/^/   /' "$out" | tail -n 20
        report fail "$name" "$detail: the search did not complete"
        return
    fi
    case "$expect" in
        holds)
            if [ "$errors" -eq 0 ]; then
                report ok "$name" "$detail: holds"
            else
                echo "   counterexample ($first); trail (spin -t -p -g -l $* $model):"
                (cd "$dir" && spin -t -p -g -l "$@" "$model" 2>&1) | tail -n 300 | sed 's/^/   /'
                report fail "$name" "$detail: counterexample: $first"
            fi
            ;;
        caught | known)
            if [ "$errors" -gt 0 ]; then
                [ "$expect" = known ] && echo "   KNOWN: $name: see docs/ring-model.md, Findings"
                report ok "$name" "$detail: counterexample found as expected: $first"
            else
                report fail "$name" "$detail: no counterexample: the check no longer catches this variant"
            fi
            ;;
    esac
}

# loom_check NAME PACKAGE TEST PREEMPTIONS RUSTFLAGS DIR: every test of
# PACKAGE's tests/TEST.rs must pass, exploring every interleaving with at
# most PREEMPTIONS preemptions. In a build with a deliberately broken rule,
# the tests that must catch it expect loom's failure (should_panic), so
# "passed" there means caught. The test's own "test result: ... N passed;
# M failed" line is the check's summary.
loom_check() {
    local name="$1" package="$2" test="$3" preemptions="$4" flags="$5" dir="$6" log="$work/$1.loom"
    local start=$SECONDS
    RUSTFLAGS="$flags" LOOM_MAX_PREEMPTIONS="$preemptions" \
        cargo test -q -p "$package" --test "$test" --release --target-dir "$dir" \
        -- --test-threads=2 >"$log" 2>&1
    local rc=$? secs=$((SECONDS - start))
    if grep -q -E '^test result: ' "$log"; then
        grep -E '^test result: ' "$log" |
            sed "s/\$/ [$name, RUSTFLAGS=\"$flags\", LOOM_MAX_PREEMPTIONS=$preemptions, ${secs}s]/"
        [ "$rc" -eq 0 ] || { grep -v -E '^\s+([0-9]+:|at )' "$log" | tail -n 60 | sed 's/^/   /'; status=1; }
    else
        tail -n 40 "$log" | sed 's/^/   /'
        report fail "$name" "loom test did not build or run"
    fi
}

if [ "$what" = all ] || [ "$what" = spin ]; then
    if ! command -v spin >/dev/null || ! command -v gcc >/dev/null; then
        report fail "spin" "spin or gcc not found (Debian: apt-get install spin gcc)"
    else
        echo "-- models/ring.pml: the rings' rule between the mux and an FWP"
        spin_check ring-honest-safety ring.pml safety holds
        spin_check ring-honest-live ring.pml live holds
        spin_check ring-hostile-safety ring.pml safety holds -DHOSTILE
        spin_check ring-hostile-live ring.pml live holds -DHOSTILE
        spin_check ring-broken-recheck ring.pml safety caught -DBROKEN_RECHECK
        spin_check ring-broken-take-before-commit ring.pml safety caught -DBROKEN_TAKE_BEFORE_COMMIT
        spin_check ring-broken-tenant-idle ring.pml live caught -DHOSTILE -DBROKEN_TENANT_IDLE
        echo "-- models/fwp-control.pml: the FWP control blocks' hand-offs"
        spin_check fwp-honest-safety fwp-control.pml safety holds
        spin_check fwp-honest-live fwp-control.pml live holds
        spin_check fwp-hostile-fwp-safety fwp-control.pml safety holds -DHOSTILE_FWP
        spin_check fwp-hostile-fwp-live fwp-control.pml live holds -DHOSTILE_FWP
        spin_check fwp-hostile-template-safety fwp-control.pml safety holds -DHOSTILE_TEMPLATE
        spin_check fwp-hostile-template-live fwp-control.pml live holds -DHOSTILE_TEMPLATE
        spin_check fwp-broken-signal-first fwp-control.pml safety caught -DBROKEN_SIGNAL_FIRST
        spin_check fwp-smp-exit-race fwp-control.pml safety known -DSMP
        spin_check fwp-smp-fixed-safety fwp-control.pml safety holds -DSMP -DFIX_EXIT_RECHECK
        spin_check fwp-smp-fixed-live fwp-control.pml live holds -DSMP -DFIX_EXIT_RECHECK
    fi
fi

if [ "$what" = all ] || [ "$what" = loom ]; then
    # Own target directories: RUSTFLAGS differ from the workspace build's
    # and from each other, and would otherwise rebuild everything each time.
    echo "-- components/ring/tests/loom_signal.rs: signal.rs under loom"
    # At most five preemptions: about 70,000 executions in all (7 s); six
    # take 20 s.
    loom_check loom-rule edgeos-ring loom_signal 5 "--cfg loom" target/loom
    echo "   (with ring_broken_recheck each test expects loom's deadlock: passing means the bug is caught)"
    loom_check loom-broken-recheck edgeos-ring loom_signal 5 "--cfg loom --cfg ring_broken_recheck" target/loom-broken
    echo "-- components/fwp/tests/loom_control.rs: the control blocks' hand-offs (control.rs) under loom"
    # At most three preemptions: about 85,000 executions (10 s); four take
    # 740,000 (75 s).
    loom_check loom-fwp-control edgeos-fwp loom_control 3 "--cfg loom" target/loom
    echo "   (with fwp_broken_signal_first each test expects loom's deadlock: passing means the bug is caught)"
    loom_check loom-fwp-broken-signal-first edgeos-fwp loom_control 3 \
        "--cfg loom --cfg fwp_broken_signal_first" target/loom-broken-signal-first
    echo "   (with fwp_broken_clear_before_stop the two teardown tests expect their assertion: passing means the bug is caught)"
    loom_check loom-fwp-broken-clear-before-stop edgeos-fwp loom_control 3 \
        "--cfg loom --cfg fwp_broken_clear_before_stop" target/loom-broken-clear-before-stop
fi

exit "$status"
