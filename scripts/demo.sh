#!/usr/bin/env bash
# The main job on the embedded defaults, end to end, one line per step:
#   1. the example manifest is checked against its contract (docs/manifest.schema.json), and a demo owner key
#      (made once, under the data directory) signs it the cosign way;
#   2. the demo app is scanned with verification required: the signature is checked before any scanner runs
#      (profile `builtin`: the scanners built into certus, nothing to install);
#   3. its findings and verdict (the app is built to breach its thresholds: planted fake secrets, pinned
#      vulnerable packages);
#   4. its evidence bundle is verified file by file, with the attestation's and the manifest's keys;
#   5. a clean app scanned under the same signed manifest passes its gate, the embedded Certus-Trust gate
#      permits its upload, and the bundle is staged under raw and promoted to golden;
#   6. the job's audit trail;
#   7. the same manifest changed by one byte is refused before any scanner starts.
# Exits 0 only when every step behaved as shown. Extra arguments go to both scans (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p certus
certus="${CARGO_TARGET_DIR:-target}/debug/certus"
export CERTUS_ASSURANCE_ARTIFACT_ROOT=${CERTUS_ASSURANCE_ARTIFACT_ROOT:-${XDG_DATA_HOME:-$HOME/.local/share}/certus-demo}
export CERTUS_ASSURANCE_ADVISORY_DB=${CERTUS_ASSURANCE_ADVISORY_DB:-examples/advisories}
export CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED=true
unset CERTUS_ASSURANCE_TRUST_BASE_URL # the embedded Certus-Trust gate
data=$CERTUS_ASSURANCE_ARTIFACT_ROOT
keys=$data/demo-owner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$keys"
chmod 700 "$keys"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
# The test id of the last job, from a scan's --json summary.
test_id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["test_id"])'; }

step "1. the manifest owner signs the scan manifest (cosign sign-blob format: base64 DER ECDSA P-256)"
if [ ! -f "$keys/owner.pem" ]; then
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$keys/owner.pem" 2>/dev/null)
  openssl pkey -in "$keys/owner.pem" -pubout -out "$keys/owner.pub" 2>/dev/null
  echo "made a demo owner key (once): $keys/owner.pem"
fi
manifest=examples/demo-app/certus-manifest.json
"$certus" manifest validate "$manifest" || fail "the manifest does not meet its contract (docs/manifest.schema.json)"
openssl dgst -sha256 -sign "$keys/owner.pem" "$manifest" | base64 -w0 >"$work/manifest.sig"
echo "signed $manifest -> manifest.sig ($(wc -c <"$work/manifest.sig") bytes, key $keys/owner.pub)"

step "2-3. scan examples/demo-app with verification required; its findings and verdict"
set +e
"$certus" scan examples/demo-app --manifest "$manifest" --signature "$work/manifest.sig" --key "$keys/owner.pub" \
  --require-signature --profile builtin --out "$work/demo-bundle" "$@" | tee "$work/scan1.txt"
verdict=${PIPESTATUS[0]}
set -e
[ "$verdict" -eq 1 ] || fail "the demo app should breach its thresholds (exit 1), got exit $verdict"
grep -q "signature: PASS" "$work/scan1.txt" || fail "the scan did not show the manifest signature verified"

step "4. verify the bundle: every file's digest, the signed attestation (pinned to this install's key), the manifest signature"
# An auditor pins Assurance's public key obtained out of band; here it is derived from this install's key.
openssl pkey -in "$data/keys/assurance-signing.pem" -pubout -out "$work/assurance.pub" 2>/dev/null
"$certus" verify-bundle "$work/demo-bundle" --key "$work/assurance.pub" --manifest-key "$keys/owner.pub" ||
  fail "the bundle did not verify"

step "5. a clean app under the same signed manifest: the gate passes, Certus-Trust permits, raw -> golden"
"$certus" scan examples/clean-app --manifest "$manifest" --signature "$work/manifest.sig" --key "$keys/owner.pub" \
  --require-signature --profile builtin --json >"$work/clean.json" ||
  fail "the clean app should pass its gate"
clean_id=$(test_id_of <"$work/clean.json")
echo "clean app: PASSED ($clean_id)"
"$certus" upload-request "$clean_id" --tier basic >"$work/upload.json" || fail "the upload was not permitted and published"
python3 - "$work/upload.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
print(f"Certus-Trust: permitted ({job['upload_permission_id']}), upload {job['upload_status']}")
PY
raw=$(find "$data" -path "*raw*/$clean_id/incoming/*" -type f | wc -l)
golden=$(find "$data" -path "*golden*/$clean_id/golden/*" -type f | wc -l)
echo "published: $raw object(s) in raw, $golden in golden"
[ "$raw" -gt 0 ] && [ "$raw" -eq "$golden" ] || fail "raw and golden should hold the same, non-empty set"

step "6. the audit trail of that job"
"$certus" audit show "$clean_id" --format table 2>/dev/null || "$certus" audit show "$clean_id"

step "7. the same manifest changed by one byte is refused before any scanner starts"
sed 's/"demo-app"/"demo-apq"/' "$manifest" >"$work/tampered.json"
set +e
"$certus" scan examples/demo-app --manifest "$work/tampered.json" --signature "$work/manifest.sig" \
  --key "$keys/owner.pub" --require-signature --profile builtin >"$work/tampered.txt" 2>&1
refused=$?
set -e
grep -E "signature|refused|verification" "$work/tampered.txt" | head -3
[ "$refused" -eq 2 ] || fail "the tampered manifest should be refused (exit 2), got exit $refused"
if grep -q "tool_start\|running [0-9]* tool" "$work/tampered.txt"; then fail "a scanner started on a tampered manifest"; fi
echo "refused: no scanner started"

echo
echo "demo: every step behaved as shown"
