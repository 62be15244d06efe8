#!/usr/bin/env bash
# Incremental rescans of the `bench/scan-large` tree (≥ 110k files, ≥ 1.2 GB) after a history of pushes, each
# changing 0.1 %–1 % of the files, against a full scan (cold cache) and a `certus scan --no-cache` scan of the
# same tree. Not part of the test suite: run it by hand.
#
#   bash bench/incremental/run.sh
#
# Installs GNU time, builds `certus` in release (nice -n 15; CARGO_TARGET_DIR defaults to <repo>/target),
# assembles the tree with bench/scan-large's recipe under INCR_WORK (default /tmp/certus-incremental; hard
# links, so a push writes each changed file to a new inode and never touches what it links to), then prints
# wall times (median of INCR_RUNS, default 3), ratios to the full scan, and checks that every incremental
# rescan reports exactly the findings of a `--no-cache` scan of the same tree. Exit status 1 when the
# acceptance target (a rescan after a push changing ≤ 1 % of the files ≤ 5 % of the full scan) is missed or a
# finding differs. INCR_SKIP_BUILD=1 reuses the built binary. INCR_HISTORY=N adds N more pushes of 0.1 % to
# the git part, a rescan and plain git's fetch and checkout after each (what a kept checkout costs over a long
# history, git's own housekeeping included in the peer).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED="${CERTUS_SHARED_DIR:-$REPO/../shared}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
export SCAN_WORK="${INCR_WORK:-/tmp/certus-incremental}"

if [ ! -x /usr/bin/time ]; then
    apt-get update -qq
    apt-get install -y -qq time >/dev/null
fi
if [ "${INCR_SKIP_BUILD:-0}" != 1 ]; then
    nice -n 15 cargo build --release --manifest-path "$REPO/Cargo.toml" -p certus
fi

export CERTUS_BIN="$CARGO_TARGET_DIR/release/certus"
export SCAN_MANIFEST="$REPO/bench/scan-large/manifest.json"
export SCAN_LARGE_DIR="$REPO/bench/scan-large"
if [ -d "$SHARED/data/rustsec-advisory-db" ]; then
    export CERTUS_ASSURANCE_ADVISORY_DB="$SHARED/data/rustsec-advisory-db"
else
    export CERTUS_ASSURANCE_ADVISORY_DB="$REPO/examples/advisories"
fi
mkdir -p "$SCAN_WORK"
python3 "$HERE/incremental.py"
