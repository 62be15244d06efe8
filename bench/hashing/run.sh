#!/usr/bin/env bash
# Bundle digesting (certus-core's compute_index / sha256_file) against sha256sum on the same files, and peak
# RSS while hashing a 2 GB file and while uploading it as a bundle file to S3 (moto on loopback) through
# certus-aws's S3ArtifactStore. Not part of the test suite: run it by hand.
#
#   bash bench/hashing/run.sh
#
# Installs hyperfine and GNU time, builds certus-bench-hashing in release (nice -n 15; CARGO_TARGET_DIR defaults
# to <repo>/target), writes the data once under HASH_WORK (default /tmp/certus-hashing: one 2 GiB file of random
# bytes and a bundle-like directory of 1600 files, 575 MB), starts moto on port HASH_MOTO_PORT (default 5204)
# unless CERTUS_MOTO_ENDPOINT is set, and prints medians, min–max and ratios. HASH_RUNS (default 5) timing runs,
# UPLOAD_RUNS (default 3) uploads. Exit status 1 when a target is missed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
export HASH_WORK="${HASH_WORK:-/tmp/certus-hashing}"

if ! command -v hyperfine >/dev/null || [ ! -x /usr/bin/time ]; then
    apt-get update -qq
    apt-get install -y -qq hyperfine time >/dev/null
fi
if [ "${HASH_SKIP_BUILD:-0}" != 1 ]; then
    nice -n 15 cargo build --release --manifest-path "$REPO/Cargo.toml" -p certus-bench-hashing
fi
export BENCH_BIN="$CARGO_TARGET_DIR/release/certus-bench-hashing"

started_moto=""
if [ -z "${CERTUS_MOTO_ENDPOINT:-}" ]; then
    port="${HASH_MOTO_PORT:-5204}"
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
        CERTUS_MOTO_ENDPOINT="http://127.0.0.1:$port"   # already running: used, left running
    else
        eval "$("$REPO/shared/aws/tests/start-moto.sh" "$port")"
        started_moto="${MOTO_PID:-}"
    fi
fi
stop_moto() {
    if [ -n "$started_moto" ]; then
        kill "$started_moto" 2>/dev/null || true
    fi
}
trap stop_moto EXIT

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export CERTUS_MOTO_ENDPOINT
mkdir -p "$HASH_WORK"
python3 "$HERE/hashing.py"
