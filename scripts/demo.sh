#!/usr/bin/env bash
# The main job on the embedded default: scan the example project with its manifest, write the evidence
# bundle, and verify the bundle (every file's digest, the signed attestation). Exit 0 when the scan ran and its bundle verifies
# (the example is built to breach its thresholds, so the scan's own verdict is 1 = thresholds breached).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p certus
certus="${CARGO_TARGET_DIR:-target}/debug/certus"
out=$(mktemp -d)/bundle
export CERTUS_ASSURANCE_ADVISORY_DB=${CERTUS_ASSURANCE_ADVISORY_DB:-examples/advisories}
export CERTUS_ASSURANCE_ARTIFACT_ROOT=${CERTUS_ASSURANCE_ARTIFACT_ROOT:-$(dirname "$out")/data}

set +e
"$certus" scan examples/demo-app --manifest examples/demo-app/certus-manifest.json --out "$out" "$@"
verdict=$?
set -e
if [ "$verdict" -gt 1 ]; then
  echo "demo: the scan ended with an error (exit $verdict)" >&2
  exit "$verdict"
fi

echo
echo "Verifying the bundle: every digest, the signed attestation, the manifest digest:"
"$certus" verify-bundle "$out"
echo "Open $out/report.md for the human report."
