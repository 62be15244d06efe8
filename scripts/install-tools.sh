#!/usr/bin/env bash
# Installs the external scanners the test suite exercises into cached virtualenvs and prints the bin
# directory that holds them (one link per tool). Idempotent: a venv is rebuilt only when its pinned
# requirements change. Needs python3 with venv and the PyPI registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/certus}
mkdir -p "$cache"

venv_for() { # requirements-file -> venv dir (built if missing or stale)
  local req=$1 sum dir
  sum=$(sha256sum "$req" | cut -c1-16)
  dir="$cache/venv-$(basename "$req" .txt)-$sum"
  if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    touch "$dir/.complete"
  fi
  echo "$dir"
}

tools=$(venv_for "$here/requirements-tools.txt")
secrets=$(venv_for "$here/requirements-detect-secrets.txt")

bin="$cache/tools-bin"
mkdir -p "$bin"
for t in semgrep bandit checkov; do ln -sfn "$tools/bin/$t" "$bin/$t"; done
ln -sfn "$secrets/bin/detect-secrets" "$bin/detect-secrets"
echo "$bin"
