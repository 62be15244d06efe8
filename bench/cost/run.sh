#!/usr/bin/env bash
# Cost per scan on AWS: runs one typical 4-tool scan locally (secrets, sbom, semgrep, bandit; release build) and
# feeds its bundle (stage durations, events, bundle files, job record size) to cost_model.py, which walks the
# state machine definitions and prices the scan. Not part of the test suite: run it by hand.
#
#   bash bench/cost/run.sh [SOURCE]      # SOURCE: a git repository or URL, default this repository
#
# Needs semgrep and bandit on PATH or in CERTUS_ASSURANCE_TOOLS_BIN_DIR (scripts/test.sh installs them into
# ${XDG_CACHE_HOME:-$HOME/.cache}/certus/tools-bin, used when present). COST_SKIP_BUILD=1 reuses the binary;
# COST_INIT_MS (default 10) is the cold-start init per invocation from bench/coldstart.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
WORK="${COST_WORK:-/tmp/certus-cost}"
SOURCE="${1:-$REPO}"
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/certus/tools-bin"
if [ -z "${CERTUS_ASSURANCE_TOOLS_BIN_DIR:-}" ] && [ -d "$TOOLS" ]; then
    export CERTUS_ASSURANCE_TOOLS_BIN_DIR="$TOOLS"
fi

# The sbom tool matches advisories, so it needs a database: the demo's unless one is given.
export CERTUS_ASSURANCE_ADVISORY_DB="${CERTUS_ASSURANCE_ADVISORY_DB:-$REPO/examples/advisories}"

if [ "${COST_SKIP_BUILD:-0}" != 1 ]; then
    nice -n 15 cargo build --release --manifest-path "$REPO/Cargo.toml" -p certus
fi
rm -rf "$WORK/bundle"
mkdir -p "$WORK"
status=0
start=$(date +%s.%N)
"$CARGO_TARGET_DIR/release/certus" scan "$SOURCE" --manifest "$HERE/manifest.json" --profile typical \
    --out "$WORK/bundle" --data-dir "$WORK/data" --json >/dev/null || status=$?
wall=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
if [ "$status" -gt 1 ]; then
    echo "the scan failed (exit $status)" >&2
    exit "$status"
fi
python3 "$HERE/cost_model.py" --bundle "$WORK/bundle" --init-ms "${COST_INIT_MS:-10}" --wall-seconds "$wall"
