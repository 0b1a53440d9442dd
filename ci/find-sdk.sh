#!/usr/bin/env bash
# Prints the Microkit SDK 2.3.0 directory to use, looked up in the README's
# order: $MICROKIT_SDK, .sdk/microkit-sdk-2.3.0 in the checkout, then
# /opt/microkit-sdk-2.3.0. With none found it says which paths it tried and
# exits 1; it never falls back to anything else.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
tried=()
for candidate in "${MICROKIT_SDK:-}" "$root/.sdk/microkit-sdk-2.3.0" /opt/microkit-sdk-2.3.0; do
    [ -n "$candidate" ] || continue
    tried+=("$candidate")
    if [ -x "$candidate/bin/microkit" ]; then
        echo "$candidate"
        exit 0
    fi
done
{
    echo "no Microkit SDK 2.3.0 found; tried:"
    [ -n "${MICROKIT_SDK:-}" ] || echo "  \$MICROKIT_SDK (not set)"
    for t in "${tried[@]}"; do echo "  $t (no bin/microkit)"; done
    echo "Get the official release microkit-sdk-2.3.0-linux-x86-64.tar.gz from the seL4/microkit"
    echo "GitHub releases, unpack it, and set MICROKIT_SDK=/path/to/microkit-sdk-2.3.0"
    echo "(or unpack it into .sdk/ in this checkout, or at /opt)."
} >&2
exit 1
