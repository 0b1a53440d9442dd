# Sourced by the benchmark scripts: boots the image of $config and
# $variant (a ci/variants/ name; empty: system.toml), built first, in the
# background with `make run`'s QEMU command, stops it by its process group
# whatever happens, and waits for the stats port to answer. Defines $client
# (net-client) and $qemu_log.
make --no-print-directory image CONFIG="$config" VARIANT="${variant:-}" >/dev/null
cargo build --quiet --release -p edgeos-net-client
client=target/release/net-client
qemu_cmd="$(make --no-print-directory -s qemu-command CONFIG="$config" VARIANT="${variant:-}")"
qemu_log="$(mktemp)"
setsid bash -c "exec $qemu_cmd" </dev/null >"$qemu_log" 2>&1 &
qemu_pid=$!
trap 'kill -KILL -- -"$qemu_pid" 2>/dev/null || kill -KILL "$qemu_pid" 2>/dev/null; rm -f "$qemu_log"' EXIT
# The stats port answers once the mux runs; the templates are ready by then.
for _ in $(seq 1 120); do
    if "$client" stats --to 127.0.0.1:17777 --timeout-ms 500 >/dev/null 2>&1; then break; fi
done
# With dynamic FWPs, the boot goes on creating them after the mux answers
# (a benchmark started then would time the creations too): wait until the
# FWP manager reports all of them live. (Release images print nothing on
# the console, so the stats line is what tells.)
system_toml="$(make --no-print-directory -s print-system-toml CONFIG="$config" VARIANT="${variant:-}")"
dynamic="$(python3 -c 'import sys, tomllib; c = tomllib.load(open(sys.argv[1], "rb")); print(sum(t.get("dynamic", 0) for t in c.get("templates", [])))' "$system_toml")"
if [ "$dynamic" -gt 0 ]; then
    "$client" stats-check --to 127.0.0.1:17777 --within-ms 600000 --equals "mgr.live_fwps=$dynamic" >/dev/null
fi
