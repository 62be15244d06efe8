//! The Sigstore conformance suite's bundle-verification cases (`../shared/data/sigstore-conformance`),
//! run through this crate the way the suite's client runs them: `key.pub` selects keyed
//! verification, otherwise the certificate identity and issuer come from the case's `identity` /
//! `issuer` files or the suite's defaults.
//!
//! Every case has an expectation: accepted, or rejected with an error naming the check its README
//! says it targets. Cases this verifier cannot yet handle are listed in `UNSUPPORTED` with the
//! reason; such a case must still never be a `_fail` case that is accepted, and it must not start
//! meeting its expectation while listed (so the list stays honest).

use std::path::Path;

use certus_verify::{
    verify_artifact, Artifact, IdentityPolicy, PublicKey, Signature, TrustMaterial, TrustedRoot,
};
use sha2::{Digest, Sha256};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Runs one case; with `by_digest` the verifier gets only the artifact's SHA-256, not its bytes.
fn run_case(
    suite: &Path,
    production_root: &Path,
    case: &Path,
    by_digest: bool,
) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let artifact_path = if case.join("artifact").exists() {
        case.join("artifact")
    } else {
        suite.join("a.txt")
    };
    let artifact = read(&artifact_path)?;
    let root_path = if case.join("trusted_root.json").exists() {
        case.join("trusted_root.json")
    } else {
        production_root.to_path_buf()
    };
    let root = TrustedRoot::from_json(&read(&root_path)?).map_err(|e| e.to_string())?;
    let signature =
        Signature::parse(&read(&case.join("bundle.sigstore.json"))?).map_err(|e| e.to_string())?;
    let key = if case.join("key.pub").exists() {
        let pem = String::from_utf8(read(&case.join("key.pub"))?).map_err(|e| e.to_string())?;
        Some(PublicKey::from_pem(&pem).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let text = |name: &str, default: &str| -> Result<String, String> {
        match std::fs::read_to_string(case.join(name)) {
            Ok(s) => Ok(s.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default.to_owned()),
            Err(e) => Err(e.to_string()),
        }
    };
    let policy = IdentityPolicy {
        identity: text("identity", DEFAULT_IDENTITY)?,
        issuer: text("issuer", DEFAULT_ISSUER)?,
    };
    let trust = TrustMaterial {
        key: key.as_ref(),
        trusted_root: Some(&root),
        identity: if key.is_some() { None } else { Some(&policy) },
    };
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let artifact = if by_digest {
        Artifact::Sha256Digest(&digest)
    } else {
        Artifact::Bytes(&artifact)
    };
    verify_artifact(&signature, Some(artifact), &trust)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// What a case must produce: acceptance, or a rejection whose message contains every fragment.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Accept,
    Reject(&'static [&'static str]),
}

use Expect::{Accept, Reject};

/// Per case: the outcome its README asks for (for a rejection, fragments of the error that show
/// the targeted check failed).
const EXPECTATIONS: &[(&str, Expect)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        Reject(&["x509CertificateChain is empty"]),
    ),
    (
        "bundle-from-wrong-instance_fail",
        Reject(&["does not chain to a trusted Fulcio CA"]),
    ),
    (
        "bundle-invalid-base64-signature_fail",
        Reject(&["bundle message signature is not valid base64"]),
    ),
    ("bundle-malformed-json_fail", Reject(&["EOF while parsing"])),
    (
        "bundle-negative-log-index_fail",
        Reject(&["logIndex is negative"]),
    ),
    (
        "bundle-unknown-version_fail",
        Reject(&["unknown media type"]),
    ),
    (
        "bundle-with-root-cert_fail",
        Reject(&["is a self-signed root certificate"]),
    ),
    ("bundle-with-sct-with-extensions", Accept),
    (
        "checkpoint-bad-keyhint_fail",
        Reject(&["checkpoint is invalid: no valid signature by the log"]),
    ),
    // A checkpoint of another tree: its size (checked before the root hash) already differs.
    (
        "checkpoint-wrong-roothash_fail",
        Reject(&["checkpoint is invalid", "differs from the proof"]),
    ),
    (
        "dsse-invalid-sig_fail",
        Reject(&["signature verification failed"]),
    ),
    (
        "dsse-mismatch-envelope_fail",
        Reject(&["entry body does not match", "payload hash differs"]),
    ),
    // The logged envelope hash covers the signature, so a different signature changes it.
    (
        "dsse-mismatch-sig_fail",
        Reject(&["entry body does not match", "envelope hash differs"]),
    ),
    ("happy-path-intoto-in-dsse-v3", Accept),
    ("happy-path-v0.1", Accept),
    ("happy-path-v0.2", Accept),
    ("happy-path-v0.3", Accept),
    ("happy-path-v0.3-new-mediaType", Accept),
    (
        "inclusion-proof-corrupted-hash_fail",
        Reject(&["inclusion proof is invalid"]),
    ),
    (
        "incorrect-public-key_fail",
        Reject(&["the verifier differs from the bundle's signer"]),
    ),
    (
        "integrated-time-in-future_fail",
        Reject(&["integrated time", "outside the certificate validity"]),
    ),
    // The certificate's notBefore lies after the log's integrated time.
    (
        "intoto-expired-certificate_fail",
        Reject(&["integrated time", "outside the certificate validity"]),
    ),
    (
        "intoto-log-entry-mismatch_fail",
        Reject(&["the signature differs from the bundle"]),
    ),
    (
        "intoto-missing-inclusion-proof_fail",
        Reject(&["inclusion proof is invalid", "requires an inclusion proof"]),
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        Reject(&["integrated time", "outside the certificate validity"]),
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        Reject(&["RFC 3161 timestamp", "outside the certificate validity"]),
    ),
    ("intoto-with-custom-trust-root", Accept),
    (
        "invalid-checkpoint-signature_fail",
        Reject(&["checkpoint is invalid: no valid signature by the log"]),
    ),
    (
        "invalid-ct-key_fail",
        Reject(&["certificate transparency check failed"]),
    ),
    (
        "invalid-inclusion-proof_fail",
        Reject(&["inclusion proof is invalid"]),
    ),
    ("managed-key-and-trusted-root", Accept),
    ("managed-key-happy-path", Accept),
    (
        "managed-key-no-key_fail",
        Reject(&["a public key is required"]),
    ),
    // The case's key.pub is not valid base64: loading the wrong key fails, as in the suite's client.
    (
        "managed-key-wrong-key_fail",
        Reject(&["public key is malformed"]),
    ),
    (
        "message-digest-mismatch_fail",
        Reject(&["message digest is not the blob's SHA-256"]),
    ),
    ("rekor2-checkpoint-cosigned", Accept),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        Reject(&["checkpoint is invalid: no valid signature by the log"]),
    ),
    (
        "rekor2-checkpoint-missing-origin_fail",
        Reject(&["checkpoint is invalid: the note body needs"]),
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        Reject(&["checkpoint is invalid: the note body needs"]),
    ),
    (
        "rekor2-checkpoint-missing-size_fail",
        Reject(&["checkpoint is invalid: the note body needs"]),
    ),
    ("rekor2-checkpoint-multiple-cosigs", Accept),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        Reject(&["checkpoint is invalid: no valid signature by the log"]),
    ),
    ("rekor2-checkpoint-origin-not-first", Accept),
    ("rekor2-checkpoint-two-sigs-cosigned", Accept),
    ("rekor2-checkpoint-two-sigs-from-origin", Accept),
    ("rekor2-dsse-happy-path", Accept),
    (
        "rekor2-dsse-invalid-sig_fail",
        Reject(&["signature verification failed"]),
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        Reject(&["entry body does not match", "artifact digest differs"]),
    ),
    (
        "rekor2-dsse-mismatch-sig_fail",
        Reject(&["entry body does not match", "the signature differs"]),
    ),
    ("rekor2-happy-path", Accept),
    (
        "rekor2-no-inclusion-proof_fail",
        Reject(&["inclusion proof is invalid", "requires an inclusion proof"]),
    ),
    (
        "rekor2-no-timestamp_fail",
        Reject(&["needs a signed timestamp"]),
    ),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        Reject(&["timestamp authority's validity window in the trusted root"]),
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        Reject(&["timestamp authority certificate", "is not valid at"]),
    ),
    (
        "rekor2-timestamp-payload-mismatch_fail",
        Reject(&["timestamp does not cover the signature"]),
    ),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        Reject(&["no timestamp authority of the trusted root signed"]),
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        Reject(&["no timestamp authority of the trusted root signed"]),
    ),
    ("rekor2-timestamp-with-embedded-cert", Accept),
    ("rekor2-timestamp-with-expired-cert-chain", Accept),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        Reject(&["RFC 3161 timestamp", "outside the certificate validity"]),
    ),
    ("rekor2-timestamp-without-embedded-cert", Accept),
    (
        "set-invalid-signature_fail",
        Reject(&["signed entry timestamp is invalid"]),
    ),
    (
        "signature-mismatch_fail",
        Reject(&["signature verification failed"]),
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        Reject(&["tlogs[1].publicKey.validFor.start is missing"]),
    ),
    ("trust-root-tlog-validity-end-inclusive", Accept),
    ("trust-root-tsa-validity-end-inclusive", Accept),
    (
        "wrong-hashedrekord-artifact_fail",
        Reject(&["the artifact hash differs"]),
    ),
    (
        "wrong-hashedrekord-cert-and-sig_fail",
        Reject(&["entry body does not match", "the signature differs"]),
    ),
    (
        "wrong-hashedrekord-entry_fail",
        Reject(&["entry body does not match", "artifact hash differs"]),
    ),
    (
        "wrong-material_fail",
        Reject(&["message digest is not the blob's SHA-256"]),
    ),
];

/// Cases the verifier cannot yet meet, with the reason. Each is still run: a listed case that
/// meets its expectation fails the test (remove it from here), and an accepted `_fail` case
/// always fails it.
const UNSUPPORTED: &[(&str, &str)] = &[];

#[test]
fn conformance_suite() {
    let Some(shared) = certus_testkit::shared_dir("data/sigstore-conformance") else {
        return;
    };
    let suite = shared.join("data/sigstore-conformance");
    let production_root = shared.join("data/sigstore/sigstore_trusted_root.json");
    let mut cases: Vec<String> = std::fs::read_dir(suite.join("bundle-verify"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    let mut listed: Vec<&str> = EXPECTATIONS.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(
        cases, listed,
        "every case of the suite needs an expectation"
    );
    let (mut accepted, mut rejected, mut unsupported) = (Vec::new(), Vec::new(), Vec::new());
    let mut problems = Vec::new();
    for (name, expect) in EXPECTATIONS {
        let case = suite.join("bundle-verify").join(name);
        let outcome = run_case(&suite, &production_root, &case, false);
        // Given only the artifact's digest, the verdict is the same.
        let by_digest = run_case(&suite, &production_root, &case, true);
        if by_digest.is_ok() != outcome.is_ok() {
            problems.push(format!(
                "{name}: by digest {by_digest:?}, by bytes {outcome:?}"
            ));
        }
        let met = match (expect, &outcome) {
            (Accept, Ok(())) => true,
            (Reject(fragments), Err(message)) => fragments.iter().all(|f| message.contains(f)),
            _ => false,
        };
        let why_unsupported = UNSUPPORTED.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
        if name.ends_with("_fail") && outcome.is_ok() {
            problems.push(format!("{name}: a _fail case was ACCEPTED"));
        }
        match (met, why_unsupported) {
            (true, None) => match &outcome {
                Ok(()) => accepted.push(*name),
                Err(_) => rejected.push(*name),
            },
            (true, Some(_)) => problems.push(format!(
                "{name}: meets its expectation now; remove it from UNSUPPORTED"
            )),
            (false, Some(reason)) => {
                println!("unsupported {name}: {reason} (now: {outcome:?})");
                unsupported.push(*name);
            }
            (false, None) => problems.push(format!("{name}: expected {expect:?}, got {outcome:?}")),
        }
    }
    println!("accepted ({}): {}", accepted.len(), accepted.join(" "));
    println!(
        "rejected for the targeted reason ({}): {}",
        rejected.len(),
        rejected.join(" ")
    );
    println!(
        "unsupported ({}): {}",
        unsupported.len(),
        unsupported.join(" ")
    );
    assert!(
        problems.is_empty(),
        "conformance problems:\n{}",
        problems.join("\n")
    );
}
