#!/usr/bin/env bash
# Makes sure the protection domains' pinned nightly (with rust-src, for
# -Z build-std) is installed: rustup does not install it on demand here.
set -euo pipefail
channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$(dirname "$0")/../protection-domains/rust-toolchain.toml")"
if ! rustup run "$channel" rustc --print sysroot >/dev/null 2>&1 \
    || [ ! -d "$(rustup run "$channel" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "installing Rust $channel with rust-src for the protection domains" >&2
    rustup toolchain install "$channel" --profile minimal --component rust-src >&2
fi
echo "$channel"
