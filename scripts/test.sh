#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs every test.
#   scripts/test.sh            # everything
#   CERTUS_SKIP_TOOLS=1 ...    # without installing the external scanners (their tests then say skipped)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1"); }
missing=()
for cmd in cargo git openssl python3 sha256sum tar sqlite3 curl docker-registry node npm zip; do need "$cmd"; done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq git openssl python3 python3-venv coreutils tar sqlite3 curl docker-registry nodejs npm zip >/dev/null
  else
    echo "test.sh: missing tools: ${missing[*]}" >&2
    exit 2
  fi
fi

if [ -z "${CERTUS_SKIP_TOOLS:-}" ]; then
  echo "== installing external scanners (cached)"
  bin=$(scripts/install-tools.sh)
  export CERTUS_TOOLS_BIN_DIR="$bin"
  export CERTUS_ASSURANCE_TOOLS_BIN_DIR="$bin"
fi

# A real moto server (S3, KMS, DynamoDB, Step Functions) on loopback for the AWS adapter tests; stopped when
# the script exits.
if [ -z "${CERTUS_SKIP_MOTO:-}" ]; then
  echo "== starting moto (S3, KMS, DynamoDB, Step Functions) on loopback"
  moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export CERTUS_MOTO_PIDFILE=$(mktemp)
  eval "$(shared/aws/tests/start-moto.sh "$moto_port")"
  trap 'kill "$(cat "$CERTUS_MOTO_PIDFILE")" 2>/dev/null || true; rm -f "$CERTUS_MOTO_PIDFILE"' EXIT
fi

# Tests that read ../shared (real gitleaks rules, RustSec snapshot, Sigstore fixtures) find it here when present.
if [ -d ../shared ]; then export CERTUS_SHARED_DIR="$(cd ../shared && pwd)"; fi

# The SAM template (cfn-lint, least privilege) and the state machines (asl-validator, the local runner's
# self-test); also installs the node runner the state-machine tests execute the definitions with.
echo "== infrastructure checks"
infra_log=$(mktemp)
scripts/check-infra.sh 2>&1 | tee "$infra_log"
read -r infra_passed infra_failed < <(grep -Eo 'check-infra: [0-9]+ passed, [0-9]+ failed' "$infra_log" |
  awk '{print $2, $4}')
rm -f "$infra_log"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (all features, and the CLI without the AWS adapters)"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
cargo clippy -p certus --all-targets --quiet -- -D warnings
echo "== cargo test"
log=$(mktemp)
set +e
cargo test --workspace --all-features 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
read -r passed failed < <(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
  awk '{p += $4; f += $6} END {print p + 0, f + 0}')
rm -f "$log"

# A short fuzzing pass over every parser of untrusted input (longer runs: scripts/fuzz.sh, see SECURITY.md).
echo "== fuzzing (${CERTUS_FUZZ_SECONDS:-10}s per target)"
fuzz_status=0
FUZZ_SECONDS=${CERTUS_FUZZ_SECONDS:-10} scripts/fuzz.sh || fuzz_status=$?

passed=$((passed + ${infra_passed:-0}))
failed=$((failed + ${infra_failed:-0}))
echo
echo "$passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$fuzz_status" -ne 0 ]; then status=$fuzz_status; fi
exit "$status"
