#!/usr/bin/env bash
# `make fwp-memory`: bytes of frames per FWP slot PD, and how the system's
# frames grow with the number of slot PDs. Packs the image for system.toml
# with the TCP echo template's slot PD count set to each of SLOTS (and no
# dynamic FWPs: those are not in the image; the root task reports each
# template's clone slab at boot, `root task: template N's clones: ...`), and reads the
# Microkit tool's own report (every kernel object it allocates, with its
# type): 4 KiB pages and 2 MiB pages, plus page tables (4 KiB each).
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-release}"
counts="${SLOTS:-6 22 30}"
sdk="$(ci/find-sdk.sh)"
make --no-print-directory pds CONFIG="$config" >/dev/null
out="build/qemu_virt_aarch64/$config/cargo/aarch64-sel4/release"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Frames and page tables in a report, in bytes; with a name filter, only
# the objects whose name contains it.
frames() {
    awk -v want="$2" '
        /^\t[0-9]+ - / {
            name = $0; sub(/^[^'"'"']*'"'"'/, "", name); sub(/'"'"'.*/, "", name)
            if (want != "" && index(name, want) == 0) next
            if ($0 ~ /Page\(4 KiB\)/ || $0 ~ / PageTable: /) bytes += 4096
            else if ($0 ~ /Page\(2 MiB\)/) bytes += 2097152
        }
        END { print bytes + 0 }' "$1"
}

echo "slots  frames (KiB)  per added slot (KiB)"
previous=""
for n in $counts; do
    # The TCP echo template is the second; its slot count is the variable.
    awk -v n="$n" '/^\[\[templates\]\]/ {t = 0} /^name = "tcp_echo"/ {t = 1}
        t && /^slots = / {print "slots = " n; next} t && /^dynamic = / {print "dynamic = 0"; next} {print}' \
        system.toml >"$work/system.toml"
    cargo run --quiet --release -p edgeos-sysdesc -- generate --config "$work/system.toml" -o "$work/system.xml" >/dev/null 2>&1
    cargo run --quiet --release -p edgeos-sysdesc -- blobs --config "$work/system.toml" -o "$work/blobs" >/dev/null 2>&1
    "$sdk/bin/microkit" "$work/system.xml" --search-path "$work/blobs" --search-path "$out" \
        --board qemu_virt_aarch64 --config "$config" -o "$work/loader.img" -r "$work/report.txt" >/dev/null
    total=$(( $(frames "$work/report.txt" "") / 1024 ))
    # The other templates' slot PDs: their prototypes (their dynamic FWPs
    # are created at run time, outside the image).
    others=$(awk '/^name = /{name = $3} /^slots = /{if (name != "\"tcp_echo\"") s += $3} END {print s + 0}' system.toml)
    slots=$(( n + others ))
    if [ -n "$previous" ]; then
        read -r prev_slots prev_total <<<"$previous"
        echo "$slots  $total  $(( (total - prev_total) / (slots - prev_slots) ))"
    else
        echo "$slots  $total  -"
    fi
    previous="$slots $total"
done
# One slot's own frames, by name: its ELF copy, stack, IPC buffer, control
# region, rings and buffers, and its page tables.
echo "fwp_05's own frames: $(( $(frames "$work/report.txt" "fwp_05_") / 1024 + $(frames "$work/report.txt" "ipcbuf_fwp_05") / 1024 )) KiB" \
     "(ELF $(( $(frames "$work/report.txt" "elf_fwp_05_") / 1024 )), regions $(( $(frames "$work/report.txt" "mr_fwp_05_") / 1024 )) KiB);" \
     "shared by a template's slots: its image, $(( $(frames "$work/report.txt" "mr_tmpl_tcp_echo_image") / 1024 )) KiB"
