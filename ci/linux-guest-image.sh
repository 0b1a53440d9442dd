# Sourced by the Linux baseline scripts (ci/linux-guest.sh, `make
# bench-linux`; ci/bench-memcached-vs-linux.sh): builds the Linux guest
# for the machine `make run` emulates and defines how to boot it.
#
# Debian 12's arm64 kernel, busybox-static and memcached (with the
# libraries it loads), fetched with apt-get download, and tools/linux-bench
# built static for aarch64, packed with tools/linux-bench/initramfs/init
# into an uncompressed initramfs. Its init runs the startup benchmark, or,
# given `edgeos.mode=memcached` on the kernel command line, serves N
# memcached over virtio-net (see the init). Everything fetched or built
# goes to build/linux-guest/ (git-ignored).
#
# Defines: $linux_out (that directory), $linux_kernel_pkg, $linux_memcached_version,
# and the array $linux_qemu: QEMU with make run's machine, the kernel and
# the initramfs, without -append or a network (the caller adds them).
linux_out=build/linux-guest
mkdir -p "$linux_out/debs"

# --- Debian arm64 packages: the kernel, a static busybox, memcached ----------
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
if ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
    apt-get update
fi
# The metapackage depends on the real, versioned image (linux-image-6.1.0-N-arm64).
linux_kernel_pkg="$(apt-cache depends linux-image-arm64:arm64 |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.[^:]*-arm64(:arm64)?$/ && !found++ { sub(/:arm64$/, "", $2); print $2 }')"
[ -n "$linux_kernel_pkg" ] || { echo "linux-guest: no linux-image-6.1.*-arm64 behind linux-image-arm64:arm64" >&2; exit 1; }
# memcached is dynamically linked: its library packages come too (its other
# dependencies, adduser, perl and the like, serve its Debian service scripts).
memcached_libs="$(apt-cache depends memcached:arm64 |
    awk '$1 == "Depends:" && $2 ~ /^lib/ { sub(/:arm64$/, "", $2); print $2 }' | sort -u)"
for pkg in "$linux_kernel_pkg" busybox-static memcached $memcached_libs; do
    if ! compgen -G "$linux_out/debs/${pkg}_*_arm64.deb" >/dev/null; then
        # As root, apt's _apt sandbox user cannot write here; download as root.
        (cd "$linux_out/debs" && apt-get download -o APT::Sandbox::User=root "$pkg:arm64")
    fi
done
extracted="$linux_out/debs-extracted"
rm -rf "$extracted"
for deb in "$linux_out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$extracted"
done
kernel_version="${linux_kernel_pkg#linux-image-}"
linux_memcached_version="$(dpkg-deb -f "$linux_out"/debs/memcached_*_arm64.deb Version)"

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
        --target aarch64-unknown-linux-musl --target-dir "$linux_out/cargo"
bench_bin="$linux_out/cargo/aarch64-unknown-linux-musl/release"

# --- The initramfs -------------------------------------------------------------
tree="$linux_out/initramfs-tree"
rm -rf "$tree"
mkdir -p "$tree"/{bin,bench,proc,sys,dev,modules}
cp "$extracted/bin/busybox" "$tree/bin/busybox"
for applet in sh mount poweroff uname dmesg grep cat ls mkdir ifconfig route insmod awk wc sleep pidof tr; do
    ln -s busybox "$tree/bin/$applet"
done
cp "$bench_bin/linux-bench" "$bench_bin/exit-child" "$tree/bench/"

# memcached, its ELF interpreter and the libraries it needs, transitively (by
# their DT_NEEDED entries, as the loader resolves them), at the paths they
# have in Debian, where the loader looks without an ld.so.cache. Only these
# files: the whole packages (libc6's gconv modules, openssl's engines) would
# triple the initramfs.
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

# The network mode's driver: Debian builds virtio-mmio and virtio-net as
# modules. The package ships no modules.dep (depmod makes it at install),
# so each module's dependencies come from its own .modinfo `depends=`;
# /modules/load-order lists them dependencies first, for init's insmod.
modules_dir="$extracted/lib/modules/$kernel_version/kernel"
module_path() {  # a module's .ko under $modules_dir; '-' and '_' are alike
    local file
    file="$(find "$modules_dir" -name "$(echo "$1" | tr - _).ko" -o -name "$(echo "$1" | tr _ -).ko" | head -1)"
    [ -n "$file" ] || { echo "linux-guest: no module $1 in $linux_kernel_pkg" >&2; return 1; }
    echo "$file"
}
add_module() {  # a module after the ones it depends on, once
    local file dep
    file="$(module_path "$1")" || exit 1
    [ -e "$tree/modules/$(basename "$file")" ] && return 0
    for dep in $(readelf -p .modinfo "$file" | sed -n 's/.*depends=//p' | tr , ' '); do
        add_module "$dep"
    done
    cp "$file" "$tree/modules/"
    basename "$file" >>"$tree/modules/load-order"
}
add_module virtio_mmio
add_module virtio_net

cp tools/linux-bench/initramfs/init "$tree/init"
# No `cpio` on the machine: a small newc writer in Python 3. Uncompressed,
# so the guest spends nothing on inflating it.
python3 tools/linux-bench/initramfs/make-cpio.py "$tree" "$linux_out/initramfs.cpio" \
    --char-device /dev/console:5:1
echo "linux-guest: kernel $linux_kernel_pkg ($(dpkg-deb -f "$linux_out"/debs/"${linux_kernel_pkg}"_*_arm64.deb Version)), memcached $linux_memcached_version, initramfs $(stat -c %s "$linux_out/initramfs.cpio") bytes"

# make run's machine (Makefile QEMU_MACHINE, CLOCK=icount: 1 instruction =
# 1 guest ns), entered at the kernel instead of the seL4 loader.
linux_qemu=(qemu-system-aarch64 -machine virt,virtualization=on -cpu cortex-a53 -m size=2G -nographic
    -icount shift=0,align=off,sleep=off
    -kernel "$extracted/boot/vmlinuz-$kernel_version" -initrd "$linux_out/initramfs.cpio")
