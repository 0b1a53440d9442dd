#!/usr/bin/env bash
# ci/system-test.sh LOG_DIR QEMU_COMMAND...: boots the image once per spec
# in ci/system-tests/ under the qemu-test runner, which kills the QEMU it
# started whatever happens. The Makefile passes the same QEMU command that
# `make run` uses. SPECS (e.g. `SPECS=memcached make system-test`) picks
# specs by name; by default every one runs.
set -euo pipefail
log_dir="$1"
shift
cd "$(dirname "$0")/.."
command -v "$1" >/dev/null || {
    echo "$1 is missing (Debian: apt-get install qemu-system-arm)" >&2
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
status=0
specs=()
for name in ${SPECS:-}; do specs+=("ci/system-tests/$name.toml"); done
[ "${#specs[@]}" -gt 0 ] || specs=(ci/system-tests/*.toml)
for spec in "${specs[@]}"; do
    echo "-- $(basename "$spec")"
    log="$log_dir/$(basename "$spec" .toml).log"
    "$runner" --spec "$spec" --log "$log" -- "$@" || status=1
done
exit "$status"
