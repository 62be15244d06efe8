#!/usr/bin/env bash
# The deploy-faithful local run (infra/tests/deployed_run.py): every function packaged as `sam build` would
# (scripts/package-functions.sh), run through the Lambda Runtime API emulator with its template environment
# and its own IAM user on a moto of its own with IAM enforced, every AWS request recorded and checked against
# the function's role. Ends with the unittest summary and "deployed-run: N passed, N failed".
#   scripts/deployed-run.sh [PACKAGES_DIR]    # packages are (re)built into PACKAGES_DIR (default: a temp dir)
# With CI set, a missing prerequisite (node, git, the node runner's modules) fails the run; otherwise it is
# skipped with the reason. The per-function table of AWS actions observed against those granted is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
SAM_TRANSLATOR_VERSION=1.115.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/certus
infra_venv="$cache/venv-cfn-lint-$CFN_LINT_VERSION-sam-$SAM_TRANSLATOR_VERSION"

missing() { # reason: fail under CI, skip otherwise (as certus-testkit's require does)
  if [ -n "${CI:-}" ]; then
    echo "deployed-run: $1" >&2
    echo "deployed-run: 0 passed, 1 failed"
    exit 1
  fi
  echo "deployed-run: skipped: $1" >&2
  exit 0
}
for cmd in node git python3 cargo; do
  command -v "$cmd" >/dev/null 2>&1 || missing "$cmd is required"
done
[ -d statemachine/tests/node_modules/aws-local-stepfunctions ] ||
  missing "statemachine/tests/node_modules absent (scripts/check-infra.sh installs it)"

work=$(mktemp -d)
moto_pidfile="$work/moto.pid"
cleanup() {
  if [ -f "$moto_pidfile" ]; then kill "$(cat "$moto_pidfile")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The Trust contract's development server (`certus trust serve`) stands in for Certus-Trust, as in demo.sh.
cargo build --quiet -p certus
export CERTUS_BIN="${CARGO_TARGET_DIR:-target}/debug/certus"

packages=${1:-$work/packages}
start=$SECONDS
scripts/package-functions.sh "$packages"
echo "== packaged in $((SECONDS - start)) s"

# A moto of this run only: IAM enforcement (reset-auth) is server-wide.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
eval "$(CERTUS_MOTO_PIDFILE=$moto_pidfile shared/aws/tests/start-moto.sh "$port")"

export CERTUS_PACKAGES=$packages
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
