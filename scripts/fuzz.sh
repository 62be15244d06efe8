#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with cargo-fuzz (libFuzzer) for a bounded time and fails on the first
# crash. Seed corpora are generated here from the repository's examples and small synthesized inputs.
#
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=3600 scripts/fuzz.sh manifest_parse archive_extract
#   FUZZ_JOBS=2 …                        libFuzzer workers per target (default 1)
#   FUZZ_SANITIZER=address …             sanitizer (default none: the code is safe Rust; address is ~2x slower)
#
# Uses the nightly toolchain when rustup has one, else the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs
# unstable flags; without a sanitizer stable builds them fine); installs cargo-fuzz when missing. Crashes land in fuzz/artifacts/<target>/;
# the corpus grows in fuzz/corpus/<target>/ and is reused by later runs. Executions per target are printed at
# the end and written to fuzz/artifacts/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-1}
sanitizer=${FUZZ_SANITIZER:-none}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$repo/target/fuzz}

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
  if [ "$sanitizer" != none ]; then
    echo "fuzz.sh: sanitizer '$sanitizer' needs a nightly toolchain" >&2
    exit 2
  fi
fi

all_targets=(manifest_parse submit_request signature_parse bundle_index archive_extract tool_output gitleaks_rules
  webhook_registrations webhook_body scan_cache_index)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi

seeds=$repo/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
seed() { # target name -- writes stdin as one seed file
  mkdir -p "$seeds/$1"
  cat >"$seeds/$1/$2"
}
with_selector() { # selector-byte (octal) file -> stdout
  printf "\\$1"
  cat "$2"
}

# Manifests: the example's, and the shapes the parser must refuse.
cp examples/demo-app/certus-manifest.json "$seeds/manifest_parse/" 2>/dev/null || {
  mkdir -p "$seeds/manifest_parse"
  cp examples/demo-app/certus-manifest.json "$seeds/manifest_parse/"
}
printf '{"product":"p","version":"1","profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}},{"id":"semgrep","optional":true}],"thresholds":{"critical":0,"high":1}}],"bundle":{"runtimeCeilingMinutes":5}}' | seed manifest_parse small.json
printf '{"product":"p","product":"q","profiles":[]}' | seed manifest_parse duplicate.json
printf '{"profiles":[{"name":"x","tools":["--config=/etc/passwd","semgrep --help"]}]}' | seed manifest_parse injected.json

# Submit bodies.
printf '{"workspace_id":"ws","component_id":"c","assessment_id":"a","source_type":"git","git_url":"https://example.invalid/r.git","branch":"main","manifest_path":"certus.json","manifest_signature_path":"certus.json.sig"}' | seed submit_request git.json
printf '{"workspace_id":"ws","component_id":"c","assessment_id":"a","source_type":"directory","directory_path":"/src","manifest":{"product":"p","profiles":[]},"profile":"light"}' | seed submit_request directory.json
printf '{"workspace_id":"ws","component_id":"c","assessment_id":"a","source_type":"archive","archive_path":"a.tgz","manifest_uri":"https://example.invalid/m.json","manifest_signature_uri":"https://example.invalid/m.sig"}' | seed submit_request uri.json
printf '{"workspace_id":"","git_url":"ext::sh -c id","source_type":"svn"}' | seed submit_request hostile.json

# Signatures: a real cosign-format signature (openssl), bundle-shaped JSON, a trusted-root shape, a key.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if command -v openssl >/dev/null; then
  openssl ecparam -genkey -name prime256v1 -noout -out "$work/key.pem" 2>/dev/null
  openssl ec -in "$work/key.pem" -pubout -out "$work/key.pub" 2>/dev/null
  openssl dgst -sha256 -sign "$work/key.pem" examples/demo-app/certus-manifest.json | base64 -w0 >"$work/sig"
  with_selector 000 "$work/sig" | seed signature_parse cosign.sig
  with_selector 002 "$work/key.pub" | seed signature_parse key.pem
  b64sig=$(cat "$work/sig")
  printf '\000{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"aGludA=="},"tlogEntries":[]},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"%s"}}' "$b64sig" | seed signature_parse bundle-v03.json
  printf '\000{"base64Signature":"%s","cert":"","rekorBundle":{"SignedEntryTimestamp":"AAAA","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}}' "$b64sig" | seed signature_parse cosign-bundle.json
fi
printf '\000{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"MIIB"},"tlogEntries":[{"logIndex":"1","logId":{"keyId":"AA=="},"kindVersion":{"kind":"hashedrekord","version":"0.0.1"},"integratedTime":"1","inclusionProof":{"logIndex":"1","rootHash":"AA==","treeSize":"2","hashes":["AA=="],"checkpoint":{"envelope":"x"}},"canonicalizedBody":"e30="}]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA==","keyid":""}]}}' | seed signature_parse bundle-keyless.json
printf '\001{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"baseUrl":"https://rekor.example.invalid","hashAlgorithm":"SHA2_256","publicKey":{"rawBytes":"AA==","keyDetails":"PKIX_ECDSA_P256_SHA_256","validFor":{"start":"2021-01-01T00:00:00Z"}},"logId":{"keyId":"AA=="}}],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}' | seed signature_parse trusted-root.json

# Bundle index + attestation (separated by a NUL byte).
printf '{"version":1,"files":[{"path":"scan.json","size":2,"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},{"path":"../canary.txt","size":18,"sha256":"4a2c2a0e082d3c568d8dbd162b871e4eb32d2df850d35251e447afe40fc01eab"}]}\000{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"k","sig":"AA=="}]}' | seed bundle_index index.json

# Archives of the example project, plus hostile members.
mkdir -p "$work/arch/tree/sub"
cp -r examples/demo-app/. "$work/arch/tree/"
ln -s ../../etc/passwd "$work/arch/tree/sub/out-link"
tar -C "$work/arch" -cf "$work/a.tar" tree
tar -C "$work/arch" -czf "$work/a.tgz" tree
tar -C "$work/arch" -cf "$work/evil.tar" --absolute-names "$work/arch/tree/README.md" 2>/dev/null || true
(cd "$work/arch" && zip -qry "$work/a.zip" tree)
with_selector 000 "$work/a.tar" | seed archive_extract demo.tar
with_selector 001 "$work/a.tgz" | seed archive_extract demo.tgz
with_selector 002 "$work/a.zip" | seed archive_extract demo.zip
[ -s "$work/evil.tar" ] && with_selector 000 "$work/evil.tar" | seed archive_extract absolute.tar

# Tool output: SARIF (semgrep), bandit, checkov and detect-secrets JSON.
printf '\000{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep","rules":[{"id":"r1","properties":{"security-severity":"7.5"}}]}},"results":[{"ruleId":"r1","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/main.py"},"region":{"startLine":3,"endLine":4,"snippet":{"text":"x"}}}}]},{"ruleId":"r1","message":{"text":"out"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///etc/passwd"}}}]}]}]}' | seed tool_output semgrep.sarif
printf '\001{"results":[{"filename":"/scan/src/app/main.py","test_id":"B105","test_name":"hardcoded_password_string","issue_severity":"LOW","issue_confidence":"MEDIUM","issue_text":"t","line_number":3,"line_range":[3,4],"code":"x"},{"filename":"../../etc/passwd","test_id":"B1","issue_severity":"HIGH","issue_text":"t","line_number":1}],"errors":[]}' | seed tool_output bandit.json
printf '\002{"check_type":"terraform","results":{"failed_checks":[{"check_id":"CKV_AWS_1","check_name":"n","file_path":"/main.tf","file_line_range":[1,5],"severity":"HIGH","guideline":"g"}]},"summary":{"failed":1}}' | seed tool_output checkov.json
printf '\003{"version":"1.5.0","results":{"app/settings.py":[{"type":"Secret Keyword","filename":"app/settings.py","hashed_secret":"0123","is_verified":false,"line_number":2}],"/etc/shadow":[{"type":"x","line_number":1}]}}' | seed tool_output detect-secrets.json

# gitleaks rules: the shipped rule set and a small hand-written one.
cp shared/secrets/rules/default.toml "$seeds/gitleaks_rules/" 2>/dev/null || {
  mkdir -p "$seeds/gitleaks_rules"
  cp shared/secrets/rules/default.toml "$seeds/gitleaks_rules/"
}
printf '[[rules]]\nid = "demo"\ndescription = "d"\nregex = '"'''"'(?i)token\\s*=\\s*([a-z0-9]{16,})'"'''"'\nsecretGroup = 1\nentropy = 3.0\nkeywords = ["token"]\n[[rules.allowlists]]\nregexes = ['"'''"'example'"'''"']\nstopwords = ["dummy"]\n' | seed gitleaks_rules small.toml

# Push-trigger registrations (selector 0: JSON, 1: TOML).
printf '\000{"registrations":[{"name":"app","provider":"github","repository":"acme/app","secret":"env://CERTUS_HOOK_SECRET","branches":["main","release/*"],"workspace_id":"ws","component_id":"app","assessment_id":"push","manifest_path":"certus.json","profile":"light"}]}' | seed webhook_registrations github.json
printf '\001[[registrations]]\nname = "app"\nprovider = "gitlab"\nrepository = "acme/app"\nsecret = "env://CERTUS_HOOK_SECRET"\nbranches = ["main"]\nworkspace_id = "ws"\ncomponent_id = "app"\nassessment_id = "push"\nmanifest_path = "certus.json"\n' | seed webhook_registrations gitlab.toml

# Webhook bodies (selector 0: GitHub push, 1: GitLab push hook, 2: CodeCommit EventBridge event).
commit=0123456789abcdef0123456789abcdef01234567
printf '\000{"ref":"refs/heads/main","before":"%s","after":"%s","deleted":false,"repository":{"full_name":"acme/app"}}' "$commit" "$commit" | seed webhook_body github.json
printf '\000{"ref":"refs/tags/v1","after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"full_name":"acme/app"}}' | seed webhook_body github-delete.json
printf '\001{"object_kind":"push","ref":"refs/heads/release/1","after":"%s","checkout_sha":"%s","project":{"path_with_namespace":"acme/app"}}' "$commit" "$commit" | seed webhook_body gitlab.json
# A SHA-256 repository's commit id (64 hex digits) is a commit too.
printf '\001{"object_kind":"push","ref":"refs/heads/main","after":"%s%s","project":{"path_with_namespace":"acme/app"}}' "$commit" "${commit:0:24}" | seed webhook_body gitlab-sha256.json
printf '\002{"version":"0","id":"ev-1","detail-type":"CodeCommit Repository State Change","source":"aws.codecommit","resources":["arn:aws:codecommit:eu-west-1:123456789012:infra"],"detail":{"event":"referenceUpdated","repositoryName":"infra","referenceType":"branch","referenceName":"main","commitId":"%s"}}' "$commit" | seed webhook_body codecommit.json

# Scan-cache index bodies (the target adds header and seal; selector 0: results, 1: results delta, 2: file
# table, 3: file-table delta bound to a base of its own): LEB128 lengths and counts, front-coded paths.
zeros() { head -c "$1" /dev/zero; }
{ printf '\000\001s\002\000\003a/b'; zeros 32; printf '\000'; zeros 32; printf '\002\001c'; zeros 32; printf '\001x'; zeros 32; } |
  seed scan_cache_index results.bin
{ printf '\001\001s'; zeros 32; printf '\001\000\001a'; zeros 32; printf '\000'; zeros 32; } | seed scan_cache_index delta.bin
{ printf '\002\002c0\002\000\001a\001'; zeros 16; printf '\001'; zeros 32; printf '\000\001\001b\001'; zeros 16; printf '\002'; zeros 32; printf '\001'; } |
  seed scan_cache_index table.bin
{ printf '\003\002c1\001\000\003a/c\001'; zeros 16; printf '\004'; zeros 32; printf '\000\001\000\001c'; } | seed scan_cache_index table-delta.bin

cd fuzz
cargo "${toolchain[@]}" fuzz build -s "$sanitizer" -a
summary=$repo/fuzz/artifacts/summary.txt
mkdir -p "$repo/fuzz/artifacts"
: >"$summary"
failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log=$(mktemp)
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  echo "== $target: ${seconds}s"
  if cargo "${toolchain[@]}" fuzz run -s "$sanitizer" -a "$target" "corpus/$target" "$seeds/$target" -- \
    -max_total_time="$seconds" "${parallel[@]}" -rss_limit_mb=2048 -max_len=262144 \
    -timeout=20 -print_final_stats=1 -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    failed=1
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 >&2 || true
  fi
  runs=$( (grep -h "stat::number_of_executed_units" "$log" fuzz-*.log 2>/dev/null || true) | awk '{s += $2} END {print s + 0}')
  rm -f fuzz-*.log
  corpus=$(find "corpus/$target" -type f | wc -l)
  printf '%-16s %-6s %12s executions  %6s corpus files  %ss\n' "$target" "$result" "$runs" "$corpus" "$seconds" | tee -a "$summary"
  rm -f "$log"
done
exit "$failed"
