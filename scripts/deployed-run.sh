#!/usr/bin/env bash
# The deploy-faithful local run (infra/tests/deployed_run.py): every function packaged as `sam build` would
# (scripts/package-functions.sh), run through the Lambda Runtime API emulator with its template environment
# and its own IAM user on a moto of its own with IAM enforced, every AWS request recorded and checked against
# the function's role. Ends with the unittest summary, the per-function table of AWS actions observed against
# those granted, and "deployed-run: N passed, N failed".
#   scripts/deployed-run.sh [PACKAGES_DIR]    # packages are (re)built into PACKAGES_DIR (default: a temp dir)
# As root, the run itself (moto, the functions, git daemon, Trust) happens in a network namespace of its own
# with only loopback up, so nothing it starts can reach another host; otherwise on the host's network.
# With CI set, a missing prerequisite (node, git, the node runner's modules) fails the run; otherwise it is
# skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
SAM_TRANSLATOR_VERSION=1.115.0
# The WebSocket API's stand-in and the test's client (infra/tests/deployed_run.py): a real WebSocket
# implementation, installed beside the infra venv (PyPI, pinned).
WEBSOCKETS_VERSION=15.0.1
cache=${XDG_CACHE_HOME:-$HOME/.cache}/certus
infra_venv="$cache/venv-cfn-lint-$CFN_LINT_VERSION-sam-$SAM_TRANSLATOR_VERSION"

if [ "${1:-}" = --inside ]; then # the run itself: moto of its own, the tests, the summary
  work=$2
  moto_pidfile="$work/moto.pid"
  trap 'if [ -f "$moto_pidfile" ]; then kill "$(cat "$moto_pidfile")" 2>/dev/null || true; fi' EXIT
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  eval "$(CERTUS_MOTO_PIDFILE=$moto_pidfile shared/aws/tests/start-moto.sh "$port")"
  export CERTUS_DEPLOYED_REPORT="$work/actions.md"
  start=$SECONDS
  status=0
  log="$work/run.log"
  "$infra_venv/bin/python" -m unittest -v infra/tests/deployed_run.py 2>&1 | tee "$log" || status=$?
  echo "== ran in $((SECONDS - start)) s"
  if [ -f "$CERTUS_DEPLOYED_REPORT" ]; then
    echo "== AWS actions per function: observed against granted"
    cat "$CERTUS_DEPLOYED_REPORT"
  fi
  ran=$(awk '/^Ran [0-9]+ tests?/{print $2}' "$log")
  bad=$({ grep -Eo '(failures|errors)=[0-9]+' "$log" || true; } | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  echo "deployed-run: $((${ran:-0} - bad)) passed, $bad failed"
  exit "$status"
fi

missing() { # reason: fail under CI, skip otherwise (as certus-testkit's require does)
  if [ -n "${CI:-}" ]; then
    echo "deployed-run: $1" >&2
    echo "deployed-run: 0 passed, 1 failed"
    exit 1
  fi
  echo "deployed-run: skipped: $1" >&2
  exit 0
}
for cmd in node git python3 cargo openssl; do
  command -v "$cmd" >/dev/null 2>&1 || missing "$cmd is required"
done
[ -d statemachine/tests/node_modules/aws-local-stepfunctions ] ||
  missing "statemachine/tests/node_modules absent (scripts/check-infra.sh installs it)"
[ -x "$infra_venv/bin/python" ] || missing "$infra_venv absent (scripts/check-infra.sh installs it)"

websockets_dir="$cache/py-websockets-$WEBSOCKETS_VERSION"
if [ ! -f "$websockets_dir/.complete" ]; then
  echo "== installing websockets $WEBSOCKETS_VERSION (PyPI)"
  rm -rf "$websockets_dir"
  "$infra_venv/bin/pip" install --quiet --disable-pip-version-check --target "$websockets_dir" \
    "websockets==$WEBSOCKETS_VERSION"
  touch "$websockets_dir/.complete"
fi
export PYTHONPATH=$websockets_dir
# The scanner task's tools (semgrep, bandit, checkov, detect-secrets), from the pinned requirements files the
# scanner image installs.
CERTUS_TOOLS_BIN_DIR=$(scripts/install-tools.sh)
export CERTUS_TOOLS_BIN_DIR

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Trust contract's development server (`certus trust serve`) stands in for Certus-Trust, as in demo.sh.
cargo build --quiet -p certus
export CERTUS_BIN="${CARGO_TARGET_DIR:-target}/debug/certus"

packages=${1:-$work/packages}
start=$SECONDS
scripts/package-functions.sh "$packages"
echo "== packaged in $((SECONDS - start)) s"
export CERTUS_PACKAGES=$packages

# moto's venv is installed (network) out here; the run may have none.
if [ ! -x "$cache/venv-moto/bin/python" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  eval "$(CERTUS_MOTO_PIDFILE=$work/install-moto.pid shared/aws/tests/start-moto.sh "$port")"
  kill "$(cat "$work/install-moto.pid")"
fi

if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
  echo "== network: loopback only (a network namespace of its own)"
  unshare -n sh -c 'ip link set lo up && exec "$0" --inside "$1"' "$0" "$work"
else
  echo "== network: the host's (a namespace of its own needs root, ip and unshare)"
  "$0" --inside "$work"
fi
