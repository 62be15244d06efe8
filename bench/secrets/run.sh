#!/usr/bin/env bash
# Benchmark of the built-in secrets scanner (crate shared/secrets) against ripgrep running the same
# rule regexes and against detect-secrets. Not part of the test suite: run it by hand.
#
#   bash bench/secrets/run.sh            # corpus of CORPUS_MB (default 220) MB under BENCH_WORK
#                                        # (our scans: median of BENCH_RUNS, default 3)
#
# It installs what it needs (ripgrep and GNU time from Debian, detect-secrets into a venv under /tmp),
# builds the scan example in release mode, builds a corpus of real source files copied from the
# cargo registry and the Python installation with fake secrets planted at recorded places, runs every
# tool on the same corpus and prints throughput ratios, recall and peak RSS.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CRATE="$REPO/shared/secrets"
SHARED="${CERTUS_SHARED_DIR:-$REPO/../shared}"
export BENCH_WORK="${BENCH_WORK:-/tmp/certus-secrets-bench}"
export CORPUS_MB="${CORPUS_MB:-220}"
export DS_SUBSET_MB="${DS_SUBSET_MB:-5}"
export BENCH_THREADS="${BENCH_THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/target-secrets}"
VENV=/tmp/certus-secrets-bench-venv

if ! command -v rg >/dev/null || [ ! -x /usr/bin/time ]; then
    apt-get update -qq
    apt-get install -y -qq ripgrep time >/dev/null
fi
if [ ! -x "$VENV/bin/detect-secrets" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q detect-secrets
fi

cargo build --release --example scan --manifest-path "$CRATE/Cargo.toml"

export SCAN_BIN="$CARGO_TARGET_DIR/release/examples/scan"
export DETECT_SECRETS="$VENV/bin/detect-secrets"
export GITLEAKS_RULES="$SHARED/data/gitleaks/gitleaks.toml"
if [ ! -f "$GITLEAKS_RULES" ]; then
    echo "note: $GITLEAKS_RULES absent, the gitleaks-rules runs are skipped"
    export GITLEAKS_RULES=""
fi
python3 "$HERE/bench.py"
