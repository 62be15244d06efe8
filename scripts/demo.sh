#!/usr/bin/env bash
# The main job on the embedded default: scan the example project with its manifest, write the evidence
# bundle, and check every file of the bundle against its index. Exit 0 when the scan ran and its bundle verifies
# (the example is built to breach its thresholds, so the scan's own verdict is 1 = thresholds breached).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p certus
out=$(mktemp -d)/bundle
export CERTUS_ASSURANCE_ADVISORY_DB=${CERTUS_ASSURANCE_ADVISORY_DB:-examples/advisories}
export CERTUS_ASSURANCE_ARTIFACT_ROOT=${CERTUS_ASSURANCE_ARTIFACT_ROOT:-$(dirname "$out")/data}

set +e
target/debug/certus scan examples/demo-app --manifest examples/demo-app/certus-manifest.json --out "$out" "$@"
verdict=$?
set -e
if [ "$verdict" -gt 1 ]; then
  echo "demo: the scan ended with an error (exit $verdict)" >&2
  exit "$verdict"
fi

echo
echo "Checking every file of the bundle against its index (SHA-256, size, nothing extra or missing):"
python3 - "$out" <<'PY'
import json, sys, hashlib, pathlib
root = pathlib.Path(sys.argv[1])
index = json.loads((root / "bundle-index.json").read_text())
listed = {e["path"] for e in index["files"]}
on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"bundle-index.json"}
bad = [e["path"] for e in index["files"] if hashlib.sha256((root / e["path"]).read_bytes()).hexdigest() != e["sha256"]]
if bad or listed != on_disk:
    sys.exit(f"bundle index mismatch: changed={bad} unlisted={sorted(on_disk - listed)} missing={sorted(listed - on_disk)}")
print(f"  {len(listed)} files, every digest matches ({root})")
PY
echo "Open $out/report.md for the human report."
