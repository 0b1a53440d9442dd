#!/usr/bin/env bash
# Usage: ci/overlay-sdk.sh SDK BOARD CONFIG ROOT_TASK_ELF OUT
#
# Makes OUT a Microkit SDK tree for one board and config that is SDK in
# every file but one: elf/initialiser.elf is ROOT_TASK_ELF, our root task.
# The Microkit tool reads the initialiser from $MICROKIT_SDK/board/BOARD/
# CONFIG/elf/ and has no flag to name another, so the image is built with
# MICROKIT_SDK=OUT. Everything else is a symbolic link into SDK (the tool
# follows them); the config directory keeps its name, since the tool
# derives the kernel configuration from it.
set -euo pipefail
sdk="$1" board="$2" config="$3" root_task="$4" out="$5"
[ -f "$root_task" ] || { echo "overlay-sdk: no root task ELF at $root_task" >&2; exit 1; }
src="$sdk/board/$board/$config"
[ -d "$src" ] || { echo "overlay-sdk: $sdk has no board $board in config $config" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/board/$board/$config/elf"
for entry in "$sdk"/*; do
    [ "$(basename "$entry")" = board ] || ln -s "$(realpath "$entry")" "$out/"
done
for entry in "$src"/*; do
    [ "$(basename "$entry")" = elf ] || ln -s "$(realpath "$entry")" "$out/board/$board/$config/"
done
for entry in "$src"/elf/*; do
    [ "$(basename "$entry")" = initialiser.elf ] || ln -s "$(realpath "$entry")" "$out/board/$board/$config/elf/"
done
cp "$root_task" "$out/board/$board/$config/elf/initialiser.elf"
