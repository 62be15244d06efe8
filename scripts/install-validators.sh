#!/usr/bin/env bash
# Builds the Python virtualenv holding the outside validators the evidence tests use (pyspdxtools from
# spdx-tools, cyclonedx-python-lib's JSON schema validator) and prints its directory. Idempotent and cached
# like install-trust.sh: rebuilt only when scripts/requirements-validators.txt changes.
#   export CERTUS_VALIDATORS_VENV=$(scripts/install-validators.sh)
# Needs python3 with venv and the PyPI registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
mkdir -p "$cache"

req="$here/requirements-validators.txt"
sum=$(sha256sum "$req" | cut -c1-16)
dir="$cache/venv-validators-$sum"
if [ ! -x "$dir/bin/pyspdxtools" ] || [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir"
