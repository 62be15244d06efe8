#!/usr/bin/env bash
# End-to-end `certus scan` (release, built-in scanners: secrets + sbom) of a large real tree (≥ 110k files,
# ≥ 1.2 GB) against the floor of reading and hashing the same tree. Not part of the test suite: run it by hand.
#
#   bash bench/scan-large/run.sh
#
# Installs GNU time, builds `certus` in release (nice -n 15; CARGO_TARGET_DIR defaults to <repo>/target),
# assembles the tree once under SCAN_WORK (default /tmp/certus-scan-large; hard links of the cargo registry
# sources, Python's standard library, /usr/share, /usr/lib), then runs SCAN_RUNS (default 3) interleaved rounds of
# `find | xargs cat`, `find | xargs sha256sum` and `certus scan` (warm cache) and prints medians, min–max,
# ratios and the time per stage. The advisory database is the RustSec snapshot in ../shared when present.
# Exit status 1 when a target is missed. SCAN_SKIP_BUILD=1 reuses the built binary.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED="${CERTUS_SHARED_DIR:-$REPO/../shared}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
export SCAN_WORK="${SCAN_WORK:-/tmp/certus-scan-large}"

if [ ! -x /usr/bin/time ]; then
    apt-get update -qq
    apt-get install -y -qq time >/dev/null
fi
if [ "${SCAN_SKIP_BUILD:-0}" != 1 ]; then
    nice -n 15 cargo build --release --manifest-path "$REPO/Cargo.toml" -p certus
fi

export CERTUS_BIN="$CARGO_TARGET_DIR/release/certus"
export SCAN_MANIFEST="$HERE/manifest.json"
if [ -d "$SHARED/data/rustsec-advisory-db" ]; then
    export CERTUS_ASSURANCE_ADVISORY_DB="$SHARED/data/rustsec-advisory-db"
else
    export CERTUS_ASSURANCE_ADVISORY_DB="$REPO/examples/advisories"
fi
mkdir -p "$SCAN_WORK"
python3 "$HERE/scan_large.py"
