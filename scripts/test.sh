#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs every test.
#   scripts/test.sh            # everything
#   CERTUS_SKIP_TOOLS=1 ...    # without installing the external scanners (their tests then say skipped;
#   CERTUS_SKIP_MOTO=1 ...     # without moto)                                 with CI set they fail instead)
# With CI set, a test may skip only because ../shared is absent: anything this script installs must be there.
set -euo pipefail
cd "$(dirname "$0")/.."
# CI builds once, from a clean clone: incremental compilation state would only take its disk (gigabytes).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# --- system packages: only what is missing, one package at a time, each failure named -----------------------
# command -> Debian package that provides it
declare -A package_of=(
  [git]=git [openssl]=openssl [python3]=python3 [sha256sum]=coreutils [tar]=tar [sqlite3]=sqlite3
  [curl]=curl [docker-registry]=docker-registry [zip]=zip
  [chromium]=chromium [chromedriver]=chromium-driver   # the web console's browser tests
)
apt_updated=
apt_install() { # package: installs one Debian package, or says why it could not
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "test.sh: '$1' is missing and cannot be installed here (needs apt-get as root); install it and re-run" >&2
    return 1
  fi
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null && apt_updated=1; fi
  echo "== installing $1 (apt)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null; then
    echo "test.sh: apt could not install '$1'" >&2
    return 1
  fi
}
install_failed=()
for cmd in "${!package_of[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || apt_install "${package_of[$cmd]}" || install_failed+=("${package_of[$cmd]}")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv || install_failed+=(python3-venv)
fi
# Node.js: Debian's nodejs and npm only when there is no Node.js at all. A Node.js from elsewhere (NodeSource,
# nvm, a tarball) brings its own npm, and Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1; then
  apt_install nodejs || install_failed+=(nodejs)
  command -v npm >/dev/null 2>&1 || apt_install npm || install_failed+=(npm)
elif ! command -v npm >/dev/null 2>&1; then
  if dpkg -S "$(command -v node)" 2>/dev/null | grep -q '^nodejs:' && ! dpkg -s nodejs 2>/dev/null | grep -q nodesource; then
    apt_install npm || install_failed+=(npm)
  else
    echo "test.sh: npm is missing beside $(command -v node) (not Debian's Node.js); install npm with that Node.js" >&2
    install_failed+=(npm)
  fi
fi
if [ ${#install_failed[@]} -gt 0 ]; then
  echo "test.sh: could not install: ${install_failed[*]}" >&2
  exit 2
fi

# The outside validators the evidence tests check SBOMs with (pyspdxtools, cyclonedx-python-lib).
echo "== installing the SBOM validators (cached)"
CERTUS_VALIDATORS_VENV=$(scripts/install-validators.sh)
export CERTUS_VALIDATORS_VENV

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
  CERTUS_MOTO_PIDFILE=$(mktemp)
  export CERTUS_MOTO_PIDFILE
  eval "$(shared/aws/tests/start-moto.sh "$moto_port")"
  trap 'kill "$(cat "$CERTUS_MOTO_PIDFILE")" 2>/dev/null || true; rm -f "$CERTUS_MOTO_PIDFILE"' EXIT
fi

# Tests that read ../shared (real gitleaks rules, RustSec snapshot, Sigstore fixtures) find it here when present.
# The real Certus-Trust among them runs from a venv this script builds.
if [ -d ../shared ]; then
  CERTUS_SHARED_DIR="$(cd ../shared && pwd)"
  export CERTUS_SHARED_DIR
  echo "== installing the real Certus-Trust's Python dependencies (cached)"
  CERTUS_TRUST_VENV=$(scripts/install-trust.sh)
  export CERTUS_TRUST_VENV
fi

# The SAM template (cfn-lint, least privilege) and the state machines (asl-validator, the local runner's
# self-test); also installs the node runner the state-machine tests execute the definitions with.
echo "== infrastructure checks"
infra_log=$(mktemp)
infra_status=0
scripts/check-infra.sh 2>&1 | tee "$infra_log" || infra_status=$?
read -r infra_passed infra_failed < <(grep -Eo 'check-infra: [0-9]+ passed, [0-9]+ failed' "$infra_log" |
  awk '{print $2, $4}')
rm -f "$infra_log"
if [ "$infra_status" -ne 0 ] && [ "${infra_failed:-0}" -eq 0 ]; then infra_failed=1; fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (all features, and the CLI without the AWS adapters)"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
cargo clippy -p certus --all-targets --quiet -- -D warnings
echo "== cargo doc (public docs link nothing private or missing)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet
echo "== cargo deny (licenses, bans, sources; advisories against ../shared's RustSec snapshot)"
scripts/deny.sh

# Every test binary runs even when an earlier one fails (--no-fail-fast); the failures are listed at the end.
echo "== cargo test"
log=$(mktemp)
CERTUS_SKIP_LOG=$(mktemp)
export CERTUS_SKIP_LOG
set +e
cargo test --workspace --all-features --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
read -r passed failed < <(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
  awk '{p += $4; f += $6} END {print p + 0, f + 0}')
failures=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' || true)
skips=$(sort "$CERTUS_SKIP_LOG" | uniq -c || true)
rm -f "$log" "$CERTUS_SKIP_LOG"

# README command 1, the main job, exits 0 only when every step of its story behaved as shown.
echo "== scripts/demo.sh"
demo_failed=0
demo_log=$(mktemp)
CERTUS_ASSURANCE_ARTIFACT_ROOT=$(mktemp -d) scripts/demo.sh >"$demo_log" 2>&1 || demo_failed=1
if [ "$demo_failed" -eq 0 ]; then tail -n 12 "$demo_log"; else cat "$demo_log"; fi
rm -f "$demo_log"
[ "$demo_failed" -eq 0 ] || failures=$(printf '%s\nscripts/demo.sh' "$failures")

# The deploy-faithful run: every function packaged as `sam build` makes it, run through a Lambda Runtime API
# emulator with its template environment and its own role's IAM user on moto with IAM enforced, every AWS
# request checked against that role (scripts/deployed-run.sh, infra/tests/deployed_run.py).
echo "== deploy-faithful run (packaged functions, their own IAM roles)"
deployed_status=0
deployed_log=$(mktemp)
scripts/deployed-run.sh 2>&1 | tee "$deployed_log" || deployed_status=$?
read -r deployed_passed deployed_failed < <(grep -Eo 'deployed-run: [0-9]+ passed, [0-9]+ failed' "$deployed_log" |
  awk '{print $2, $4}')
rm -f "$deployed_log"
if [ "$deployed_status" -ne 0 ] && [ "${deployed_failed:-0}" -eq 0 ]; then deployed_failed=1; fi
[ "$deployed_status" -eq 0 ] || failures=$(printf '%s\nscripts/deployed-run.sh' "$failures")

# A short fuzzing pass over every parser of untrusted input (longer runs: scripts/fuzz.sh, see SECURITY.md).
echo "== fuzzing (${CERTUS_FUZZ_SECONDS:-10}s per target)"
fuzz_status=0
FUZZ_SECONDS=${CERTUS_FUZZ_SECONDS:-10} scripts/fuzz.sh || fuzz_status=$?

passed=$((passed + ${infra_passed:-0} + 1 - demo_failed + ${deployed_passed:-0}))
failed=$((failed + ${infra_failed:-0} + demo_failed + ${deployed_failed:-0}))
echo
if [ -n "$skips" ]; then
  echo "skipped (test: reason):"
  echo "$skips"
fi
if [ -n "$failures" ]; then
  echo "failed tests:"
  echo "$failures" | sed 's/^/  /'
fi
[ "$fuzz_status" -eq 0 ] || echo "fuzzing failed (exit $fuzz_status)"
echo "$passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$fuzz_status" -ne 0 ]; then status=$fuzz_status; fi
if [ "$status" -eq 0 ] && { [ "${infra_failed:-0}" -ne 0 ] || [ "$demo_failed" -ne 0 ] ||
  [ "${deployed_failed:-0}" -ne 0 ]; }; then status=1; fi
exit "$status"
