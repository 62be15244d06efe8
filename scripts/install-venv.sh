#!/usr/bin/env bash
# Builds a cached Python virtualenv from scripts/requirements-NAME.txt and prints its directory. Idempotent:
# the venv is rebuilt only when that file changes (its digest is in the venv's name) or when PROGRAM is
# missing from it. Used by install-trust.sh and install-validators.sh.
#   scripts/install-venv.sh NAME PROGRAM
# Needs python3 (3.11+) with venv and the PyPI registry.
set -euo pipefail

name=$1
program=$2
here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
mkdir -p "$cache"

req="$here/requirements-$name.txt"
sum=$(sha256sum "$req" | cut -c1-16)
dir="$cache/venv-$name-$sum"
if [ ! -x "$dir/bin/$program" ] || [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir"
