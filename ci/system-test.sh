#!/usr/bin/env bash
# ci/system-test.sh LOG_DIR: boots an image once per spec in ci/system-tests/
# under the qemu-test runner, which kills the QEMU it started whatever
# happens, with the command `make run` uses (`make qemu-command`). A spec
# that names a `variant` boots that variant's image (ci/variants/), built
# and checked here first. SPECS (e.g. `SPECS=memcached make system-test`)
# picks specs by name; by default every one runs. BOARD and CONFIG come
# from the Makefile. A spec with `host_addresses` runs in a network
# namespace of its own (unshare; util-linux and iproute2), with those
# addresses on its lo: QEMU's user network sends the guest's frames for a
# 10.0.2.0/24 address other than the gateway's to that address on the
# host, so a client can be the host behind it (the click spec's backend,
# 10.0.2.100) without touching the host's own network, and none of those
# frames leave the machine.
set -euo pipefail
log_dir="$1"
cd "$(dirname "$0")/.."
command -v qemu-system-aarch64 >/dev/null || {
    echo "qemu-system-aarch64 is missing (Debian: apt-get install qemu-system-arm)" >&2
    exit 1
}
# The scale spec holds 1,000 connections: a socket each in QEMU (its
# user-mode network) and in the client, past the common soft limit of 1,024
# open files. Both inherit this shell's limit, raised to the hard one (a
# hard limit of "unlimited" cannot be the soft limit for open files).
hard_files="$(ulimit -Hn)"
[ "$hard_files" = unlimited ] && hard_files=65536
ulimit -n "$hard_files"
cargo build --quiet --release -p edgeos-qemu-test -p edgeos-net-client
runner=target/release/qemu-test
make_var=(--no-print-directory BOARD="${BOARD:?}" CONFIG="${CONFIG:?}")
status=0
specs=()
for name in ${SPECS:-}; do specs+=("ci/system-tests/$name.toml"); done
[ "${#specs[@]}" -gt 0 ] || specs=(ci/system-tests/*.toml)
built=" "
for spec in "${specs[@]}"; do
    variant="$(sed -n -E 's/^variant = "([a-z0-9_-]+)"$/\1/p' "$spec")"
    clock="$(sed -n -E 's/^clock = "(icount|real)"$/\1/p' "$spec")"
    addresses="$(sed -n -E 's/^host_addresses = \[(.*)\]$/\1/p' "$spec" | tr -d '" ' | tr ',' ' ')"
    echo "-- $(basename "$spec")${variant:+ (variant $variant)}${clock:+ (clock $clock)}${addresses:+ (own network namespace, lo also $addresses)}"
    if [ -n "$variant" ] && [[ "$built" != *" $variant "* ]]; then
        make "${make_var[@]}" image system-check VARIANT="$variant" || { status=1; continue; }
        built+="$variant "
    fi
    read -r -a qemu <<<"$(make "${make_var[@]}" -s qemu-command VARIANT="$variant" CLOCK="${clock:-icount}")"
    log="$log_dir/$(basename "$spec" .toml).log"
    run=("$runner" --spec "$spec" --log "$log" -- "${qemu[@]}")
    if [ -n "$addresses" ]; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        run=(unshare --map-root-user --net sh -c \
            'ip link set lo up && for a in $1; do ip addr add "$a/32" dev lo || exit 2; done && shift && exec "$@"' \
            sh "$addresses" "${run[@]}")
    fi
    "${run[@]}" || status=1
done
exit "$status"
