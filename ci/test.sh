#!/usr/bin/env bash
# `make test`: the host tests always; the QEMU system tests whenever a
# Microkit SDK is found, otherwise a clear line saying they were skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== host tests (cargo test --workspace)"
cargo test --workspace

if ! sdk="$(ci/find-sdk.sh 2>/tmp/edgeos-find-sdk.$$)"; then
    echo "== QEMU system tests: SKIPPED: no Microkit SDK 2.3.0"
    sed 's/^/   /' /tmp/edgeos-find-sdk.$$
    rm -f /tmp/edgeos-find-sdk.$$
    exit 0
fi
rm -f /tmp/edgeos-find-sdk.$$
echo "== QEMU system tests (SDK: $sdk)"
make --no-print-directory system-test
