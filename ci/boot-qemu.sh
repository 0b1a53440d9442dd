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
