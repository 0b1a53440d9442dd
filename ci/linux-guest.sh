#!/usr/bin/env bash
# `make bench-linux`: the Linux baseline for the FWP spawn figures (issue
# 12). Boots Debian's arm64 kernel with a busybox initramfs on the same
# emulated machine as `make run` (virt with virtualization=on, Cortex-A53,
# 2 GiB, -icount shift=0) and runs tools/linux-bench in it: fork, posix_spawn,
# vfork and namespaced clone, each + execve + waitpid of a minimal static
# child, and a real service: Debian's memcached from exec to its first reply
# to `version` over loopback. Guest ns are instructions under -icount, as in
# docs/benchmarks.md.
# Everything fetched or built goes to build/linux-guest/ (git-ignored).
# Always stops the QEMU it started. LINUX_GUEST_TIMEOUT (seconds, default
# 1200) bounds the wait for the guest's end marker.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/linux-guest
timeout_s="${LINUX_GUEST_TIMEOUT:-1200}"
end_marker=LINUX-GUEST-BENCH-END
mkdir -p "$out/debs"

# --- Debian arm64 packages: the kernel, a static busybox, memcached ----------
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
if ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
    apt-get update
fi
# The metapackage depends on the real, versioned image (linux-image-6.1.0-N-arm64).
kernel_pkg="$(apt-cache depends linux-image-arm64:arm64 |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.[^:]*-arm64(:arm64)?$/ && !found++ { sub(/:arm64$/, "", $2); print $2 }')"
[ -n "$kernel_pkg" ] || { echo "linux-guest: no linux-image-6.1.*-arm64 behind linux-image-arm64:arm64" >&2; exit 1; }
# memcached is dynamically linked: its library packages come too (its other
# dependencies, adduser, perl and the like, serve its Debian service scripts).
memcached_libs="$(apt-cache depends memcached:arm64 |
    awk '$1 == "Depends:" && $2 ~ /^lib/ { sub(/:arm64$/, "", $2); print $2 }' | sort -u)"
for pkg in "$kernel_pkg" busybox-static memcached $memcached_libs; do
    if ! compgen -G "$out/debs/${pkg}_*_arm64.deb" >/dev/null; then
        # As root, apt's _apt sandbox user cannot write here; download as root.
        (cd "$out/debs" && apt-get download -o APT::Sandbox::User=root "$pkg:arm64")
    fi
done
rm -rf "$out/debs-extracted"
for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/debs-extracted"
done
kernel_version="${kernel_pkg#linux-image-}"
vmlinuz="$out/debs-extracted/boot/vmlinuz-$kernel_version"
busybox="$out/debs-extracted/bin/busybox"
memcached_version="$(dpkg-deb -f "$out"/debs/memcached_*_arm64.deb Version)"

# --- The benchmark, static for aarch64 --------------------------------------
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-musl; then
    rustup target add aarch64-unknown-linux-musl
fi
# Linked with rustc's own rust-lld: the musl target ships musl's crt objects
# and libc.a ("self-contained"), so only an aarch64 ELF linker is missing,
# and rust-lld comes with every toolchain. (Debian's aarch64-linux-gnu-gcc
# links the same objects too; rust-lld needs no cross toolchain.) Stripped,
# and with panic = "abort", which makes the child no_std: a 5 KiB ELF (see
# tools/linux-bench/src/bin/exit-child.rs).
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
CARGO_PROFILE_RELEASE_DEBUG=0 \
CARGO_PROFILE_RELEASE_STRIP=symbols \
CARGO_PROFILE_RELEASE_PANIC=abort \
    cargo build --quiet --release --locked -p edgeos-linux-bench \
        --target aarch64-unknown-linux-musl --target-dir "$out/cargo"
bench_bin="$out/cargo/aarch64-unknown-linux-musl/release"

# --- The initramfs -------------------------------------------------------------
tree="$out/initramfs-tree"
rm -rf "$tree"
mkdir -p "$tree"/{bin,bench,proc,sys,dev}
cp "$busybox" "$tree/bin/busybox"
for applet in sh mount poweroff uname dmesg grep cat ls mkdir ifconfig; do
    ln -s busybox "$tree/bin/$applet"
done
cp "$bench_bin/linux-bench" "$bench_bin/exit-child" "$tree/bench/"

# memcached, its ELF interpreter and the libraries it needs, transitively (by
# their DT_NEEDED entries, as the loader resolves them), at the paths they
# have in Debian, where the loader looks without an ld.so.cache. Only these
# files: the whole packages (libc6's gconv modules, openssl's engines) would
# triple the initramfs.
extracted="$out/debs-extracted"
copy_from_extracted() {  # a path relative to the root; a symlink and its target
    local path="$1" target
    if [ -e "$tree/$path" ] || [ -L "$tree/$path" ]; then return 0; fi
    mkdir -p "$tree/$(dirname "$path")"
    cp -P "$extracted/$path" "$tree/$path"
    if [ -L "$extracted/$path" ]; then
        target="$(readlink "$extracted/$path")"
        case "$target" in
            /*) copy_from_extracted "${target#/}" ;;
            *) copy_from_extracted "$(dirname "$path")/$target" ;;
        esac
    fi
}
library_path() {  # where the loader finds a DT_NEEDED name
    local dir
    for dir in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
        if [ -e "$extracted/$dir/$1" ]; then echo "$dir/$1"; return 0; fi
    done
    return 1
}
interpreter="$(readelf -l "$extracted/usr/bin/memcached" | sed -n 's|.*program interpreter: /\(.*\)\]$|\1|p')"
[ -n "$interpreter" ] || { echo "linux-guest: memcached names no ELF interpreter" >&2; exit 1; }
copy_from_extracted "$interpreter"
pending=(usr/bin/memcached)
while (( ${#pending[@]} )); do
    file="${pending[0]}"
    pending=("${pending[@]:1}")
    copy_from_extracted "$file"
    for name in $(readelf -d "$extracted/$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
        path="$(library_path "$name")" || {
            echo "linux-guest: $name, needed by $file, is in none of: memcached $memcached_libs" >&2
            exit 1
        }
        [ -e "$tree/$path" ] || pending+=("$path")
    done
done
# memcached started as root must be told a user to run as (-u root), and
# looks it up with getpwnam: glibc reads /etc/passwd without nsswitch.conf.
mkdir -p "$tree/etc"
echo 'root:x:0:0:root:/root:/bin/sh' >"$tree/etc/passwd"
cp tools/linux-bench/initramfs/init "$tree/init"
# No `cpio` on the machine: a small newc writer in Python 3. Uncompressed,
# so the guest spends nothing on inflating it.
python3 tools/linux-bench/initramfs/make-cpio.py "$tree" "$out/initramfs.cpio" \
    --char-device /dev/console:5:1
echo "linux-guest: kernel $kernel_pkg ($(dpkg-deb -f "$out"/debs/"${kernel_pkg}"_*_arm64.deb Version)), memcached $memcached_version, initramfs $(stat -c %s "$out/initramfs.cpio") bytes"

# --- Boot on make run's machine, wait for the end marker ---------------------
log="$out/qemu.log"
: >"$log"
qemu-system-aarch64 -machine virt,virtualization=on -cpu cortex-a53 -m size=2G -nographic \
    -icount shift=0,align=off,sleep=off \
    -kernel "$vmlinuz" -initrd "$out/initramfs.cpio" -append "console=ttyAMA0 quiet" \
    </dev/null >"$log" 2>&1 &
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
