#!/usr/bin/env bash
# Starts a local moto server (fake S3, KMS, DynamoDB, Step Functions) for the AWS tests and prints its endpoint.
# It runs through moto_server_patched.py (beside this script), which makes DynamoDB item operations atomic and
# KMS Sign honour MessageType=DIGEST, as the real services do; everything else is moto unchanged.
#
#   eval "$(shared/aws/tests/start-moto.sh 5099)"     # sets CERTUS_MOTO_ENDPOINT and MOTO_PID
#   CERTUS_MOTO_ENDPOINT=http://127.0.0.1:5099 cargo test
#
# Stop it with:  kill "$MOTO_PID"   (the pid is also in ${CERTUS_MOTO_PIDFILE}).
# The venv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/certus/venv-moto and is reused across runs.
# Only loopback is used: the server binds 127.0.0.1.
set -euo pipefail

MOTO_VERSION="5.2.5"
port="${1:-5099}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/certus"
venv="$cache/venv-moto"
log="$cache/moto-$port.log"
pidfile="${CERTUS_MOTO_PIDFILE:-$cache/moto-$port.pid}"
endpoint="http://127.0.0.1:$port"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mkdir -p "$cache"
if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "installing moto[server]==$MOTO_VERSION into $venv (1-3 minutes)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi

if curl -fsS -o /dev/null "$endpoint/moto-api/" 2>/dev/null; then
    echo "a server already answers on $endpoint; reusing it" >&2
else
    nohup "$venv/bin/python" "$here/moto_server_patched.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 60); do
        if curl -fsS -o /dev/null "$endpoint/moto-api/" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    if ! curl -fsS -o /dev/null "$endpoint/moto-api/" 2>/dev/null; then
        echo "moto did not start on $endpoint; see $log" >&2
        exit 1
    fi
fi

echo "export CERTUS_MOTO_ENDPOINT=$endpoint"
if [ -f "$pidfile" ]; then
    echo "export MOTO_PID=$(cat "$pidfile")"
fi
