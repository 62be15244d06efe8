#!/usr/bin/env bash
# Cold start of every Lambda binary against a one-shot Lambda Runtime API stand-in on loopback, with a
# Python + boto3 handler run the same way as the baseline. Not part of the test suite: run it by hand.
#
#   bash bench/coldstart/run.sh
#
# Discovers every binary of functions/*/Cargo.toml (cargo metadata), builds them in release (nice -n 15,
# CARGO_TARGET_DIR defaults to <repo>/target), installs boto3 into a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/certus/venv-bench, then prints, per subject, the time from exec to the first
# GET /2018-06-01/runtime/invocation/next (median, min–max), peak RSS, binary size and the ratio to the
# baseline. Settings: COLDSTART_RUNS (default 15), COLDSTART_EXTRA="name=/path/to/binary ..." (more binaries,
# e.g. a hello lambda_runtime binary to check the harness), COLDSTART_SKIP_BUILD=1, CERTUS_MOTO_ENDPOINT (the
# endpoint the functions' AWS clients get; default a closed loopback port). Exit status 1 when a target is missed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/certus"
VENV="$CACHE/venv-bench"
RUNS="${COLDSTART_RUNS:-15}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
    echo "installing boto3 into $VENV" >&2
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check boto3 >&2
fi

# Every binary target of every functions/<crate>/Cargo.toml, whether the crate is a workspace member or not.
SUBJECTS=()
shopt -s nullglob
manifests=("$REPO"/functions/*/Cargo.toml)
if [ "${#manifests[@]}" -eq 0 ]; then
    echo "note: no functions/*/Cargo.toml yet; only COLDSTART_EXTRA binaries are measured" >&2
fi
binaries_of() {
    cargo metadata --no-deps --format-version 1 --manifest-path "$1" | python3 -c '
import json, os, sys
manifest = os.path.realpath(sys.argv[1])
for package in json.load(sys.stdin)["packages"]:
    if os.path.realpath(package["manifest_path"]) == manifest:
        for target in package["targets"]:
            if "bin" in target["kind"]:
                print(package["name"], target["name"])
' "$1"
}
declare -A PACKAGE_OF=()
for manifest in "${manifests[@]}"; do
    while read -r package bin; do
        PACKAGE_OF[$bin]=$package
    done < <(binaries_of "$manifest")
done
if [ "${COLDSTART_SKIP_BUILD:-0}" != 1 ] && [ "${#manifests[@]}" -gt 0 ]; then
    # One build for all of them (dependencies compiled once, with the workspace's unified features); when that
    # fails (a crate that is not a workspace member, or one that does not build), one build per crate.
    packages=$(printf -- '-p %s ' $(printf '%s\n' "${PACKAGE_OF[@]}" | sort -u))
    # shellcheck disable=SC2086
    if ! nice -n 15 cargo build --release --manifest-path "$REPO/Cargo.toml" $packages; then
        for manifest in "${manifests[@]}"; do
            nice -n 15 cargo build --release --manifest-path "$manifest" --bins ||
                echo "note: $manifest does not build; its binaries are left out of this run" >&2
        done
    fi
fi
for bin in $(printf '%s\n' "${!PACKAGE_OF[@]}" | sort); do
    if [ ! -x "$CARGO_TARGET_DIR/release/$bin" ]; then
        echo "note: $CARGO_TARGET_DIR/release/$bin is not built; left out" >&2
        continue
    fi
    SUBJECTS+=(--subject "$bin=$CARGO_TARGET_DIR/release/$bin")
done
for extra in ${COLDSTART_EXTRA:-}; do
    SUBJECTS+=(--subject "$extra")
done

HANDLER="$HERE/python-baseline/bootstrap.py"
exec python3 "$HERE/coldstart.py" --runs "$RUNS" --baseline python-boto3 \
    --template "$REPO/infra/template.yaml" --events "$HERE/events" \
    --endpoint "${CERTUS_MOTO_ENDPOINT:-http://127.0.0.1:9}" \
    "${SUBJECTS[@]}" \
    --python "python-boto3=$VENV/bin/python:$HANDLER" \
    --python "python-boto3-clients=$VENV/bin/python:$HANDLER:BASELINE_CLIENTS=1"
