#!/usr/bin/env bash
# Installs cargo-deny (pinned) from crates.io into a cached root and prints the path of the binary.
# Idempotent: built once per version, like scripts/install-tools.sh caches the scanners. Needs only the
# crates.io registry (cargo install --locked builds from source; no prebuilt download).
set -euo pipefail

version=0.20.2
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
root="$cache/cargo-deny-$version"
bin="$root/bin/cargo-deny"

if [ ! -x "$bin" ] || [ ! -f "$root/.complete" ]; then
  rm -rf "$root"
  mkdir -p "$root"
  # Its own target dir, so the workspace's CARGO_TARGET_DIR is neither used nor filled.
  CARGO_TARGET_DIR="$root/build" cargo install --locked --quiet --root "$root" cargo-deny --version "$version" >&2
  rm -rf "$root/build"
  touch "$root/.complete"
fi
echo "$bin"
