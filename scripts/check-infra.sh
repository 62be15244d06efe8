#!/usr/bin/env bash
# Local proof of the AWS side without an AWS account: cfn-lint on the SAM template, asl-validator on both
# state machine definitions, the least-privilege check (and its negative fixture), the template's consistency
# with the definitions, the code and docs/serverless.md (on the template as aws-sam-translator transforms it),
# checkov and parliament (every finding not accepted with its reason in docs/serverless.md fails), and the
# self-tests of the local Step Functions runner and the Lambda Runtime API emulator (statemachine/tests). Installs what it needs, cached:
#   cfn-lint and aws-sam-translator (PyPI, pinned) in a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/certus/,
#   checkov and parliament (PyPI, pinned) in a second venv there (their dependencies clash with cfn-lint's),
#   asl-validator and aws-local-stepfunctions (npm, pinned by statemachine/tests/package-lock.json) with
#   `npm ci` into statemachine/tests/node_modules (git-ignored).
# Ends with "check-infra: N passed, N failed"; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
SAM_TRANSLATOR_VERSION=1.115.0
CHECKOV_VERSION=3.3.30
PARLIAMENT_VERSION=1.6.4
cache=${XDG_CACHE_HOME:-$HOME/.cache}/certus
venv="$cache/venv-cfn-lint-$CFN_LINT_VERSION-sam-$SAM_TRANSLATOR_VERSION"
audit_venv="$cache/venv-checkov-$CHECKOV_VERSION-parliament-$PARLIAMENT_VERSION"
sm_tests=statemachine/tests

for cmd in python3 node npm; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "check-infra: $cmd is required" >&2; exit 2; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "check-infra: Node.js 20 or newer is required (found $(node --version))" >&2
  exit 2
fi

install_venv() { # venv, package==version...: a venv with exactly these, made once (marked complete)
  local dir=$1
  shift
  [ -f "$dir/.complete" ] && return 0
  echo "== installing $* into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  touch "$dir/.complete"
}
install_venv "$venv" "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
install_venv "$audit_venv" "checkov==$CHECKOV_VERSION" "parliament==$PARLIAMENT_VERSION"

lock_sum=$(sha256sum "$sm_tests/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$sm_tests/node_modules/.certus-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  echo "== npm ci in $sm_tests"
  (cd "$sm_tests" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$sm_tests/node_modules/.certus-lock-sha256"
fi

passed=0
failed=0
step() { # name, command...: one check counted as passed or failed
  local name=$1
  shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "check-infra: FAILED: $name" >&2; failed=$((failed + 1)); fi
}
counted() { # name, command...: a test runner whose own pass/fail counts are added
  local name=$1 log status p f
  shift
  echo "== $name"
  log=$(mktemp)
  set +e
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  # node --test prints "# pass N" / "# fail N"; unittest prints "Ran N tests" and "FAILED (failures=F, errors=E)".
  if grep -q '^# pass ' "$log"; then
    p=$(awk '/^# pass /{print $3}' "$log")
    f=$(awk '/^# fail /{print $3}' "$log")
  else
    local ran bad
    ran=$(awk '/^Ran [0-9]+ tests?/{print $2}' "$log")
    bad=$({ grep -Eo '(failures|errors)=[0-9]+' "$log" || true; } | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
    p=$((${ran:-0} - bad))
    f=$bad
  fi
  rm -f "$log"
  if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
}

step "cfn-lint infra/template.yaml" "$venv/bin/cfn-lint" infra/template.yaml
step "asl-validator statemachine/*.asl.json" "$sm_tests/node_modules/.bin/asl-validator" \
  --json-path statemachine/certus-assurance.asl.json --json-path statemachine/certus-upload.asl.json
step "least privilege (infra/tests/check_iam.py)" "$venv/bin/python" infra/tests/check_iam.py infra/template.yaml
counted "least-privilege check tests (negative fixture)" "$venv/bin/python" -m unittest -v infra/tests/test_check_iam.py
counted "template consistency (definitions, contract, storage, translated template)" "$venv/bin/python" -m unittest -v infra/tests/test_template.py
counted "IAM: every AWS call of the code against its role" "$venv/bin/python" -m unittest -v infra/tests/test_iam_grants.py
counted "deploy-faithful run: recorded requests as IAM actions (no deployment)" "$venv/bin/python" -m unittest -v infra/tests/test_deployed_requests.py
step "checkov and parliament (accepted findings: docs/serverless.md)" "$venv/bin/python" infra/tests/audit_findings.py \
  "$audit_venv/bin/checkov" "$audit_venv/bin/parliament"
counted "local Step Functions runner self-test" node --test "$sm_tests/selftest.test.mjs"
counted "Lambda Runtime API emulator self-test" node --test "$sm_tests/lambda-runtime.test.mjs"

echo
echo "check-infra: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
