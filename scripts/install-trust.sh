#!/usr/bin/env bash
# Builds the Python virtualenv that runs the real Certus-Trust (../shared/data/certus-trust, a test-time
# peer: started on loopback by the tests, never copied or linked) and prints its directory. Idempotent and
# cached like install-tools.sh: the venv is rebuilt only when scripts/requirements-trust.txt changes.
#   export CERTUS_TRUST_VENV=$(scripts/install-trust.sh)
# Needs python3 (3.11+) with venv and the PyPI registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
mkdir -p "$cache"

req="$here/requirements-trust.txt"
sum=$(sha256sum "$req" | cut -c1-16)
dir="$cache/venv-trust-$sum"
if [ ! -x "$dir/bin/uvicorn" ] || [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir"
